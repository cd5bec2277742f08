"""How long a run trains: a number of steps and, optionally, seconds of training time.

Shared by every trainer (PPO, self-play, language-model RL): the run stops after the step that
spends either, and its schedules (learning-rate anneal, entropy schedule) follow `fraction`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """How long a run trains: `steps` steps (a PPO run's environment steps summed over environments,
    an RL run's updates) and, if given, `seconds` of training time (summed over resumed sessions).
    The run stops after the update that spends either; schedules follow `fraction`."""

    steps: int
    seconds: float | None = None

    @classmethod
    def of(cls, steps: int, seconds: float | None = None) -> Budget:
        """`steps` steps, and `seconds` (None or 0: no time limit)."""
        return cls(steps, seconds if seconds else None)

    def fraction(self, steps: int, seconds: float) -> float:
        """The share of the budget spent after `steps` steps and `seconds` of training, in [0, 1]."""
        frac = steps / self.steps if self.steps > 0 else 1.0
        if self.seconds is not None:
            frac = max(frac, seconds / self.seconds)
        return min(1.0, frac)

    def spent(self, steps: int, seconds: float, batch_size: int) -> bool:
        """Whether no further update fits: another batch would pass `steps`, or the time is up."""
        return steps + batch_size > self.steps or (self.seconds is not None and seconds >= self.seconds)
