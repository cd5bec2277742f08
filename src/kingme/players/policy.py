"""`policy:NAME_OR_PATH[:sample][:T]`: a trained network playing checkers.

Spec grammar (options come after the model, in any order):
- ``policy:PATH``            the most probable legal move of the network stored at PATH;
- ``policy:PATH:sample``     a move sampled from the policy (temperature 1);
- ``policy:PATH:T``          a move sampled at temperature T > 0 (``:sample:T`` says the same);
- ``policy:default``         the model shipped with the repository (`DEFAULT_MODEL`).

The network, its checkpoint format and the checkers observation/action encoding belong to the
self-play module, which registers the real loader with
``kingme.players.register_player_kind("policy", factory)``; it can reuse `parse_policy_spec` and
`resolve_model_path` here so the errors stay the same. Until it does, `load_unregistered_policy`
reports a clear one-line error: no shipped model yet, a missing file, or no loader.

A policy player must implement ``choose_batch(boards) -> moves`` (`kingme.players.BatchPlayer`):
the arena then plays all of its games in lockstep and asks for every board in one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kingme.common import UserError

# Where `policy:default` will live once the training issue ships a model (the self-play module may
# point this elsewhere when it registers its loader).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "data" / "policy_default.safetensors"

USAGE = "policy:NAME_OR_PATH[:sample][:T]"


@dataclass(frozen=True)
class PolicySpec:
    model: str  # "default" or a path
    sample: bool  # sample from the policy instead of taking its most probable move
    temperature: float  # softmax temperature when sampling

    @property
    def is_default(self) -> bool:
        return self.model == "default"


def parse_policy_spec(arg: str) -> PolicySpec:
    """Split the text after ``policy:`` into model and options (UserError if malformed)."""
    parts = arg.split(":")
    sample = False
    temperature = 1.0
    # options are read from the right, so a path may itself contain ':'
    while len(parts) > 1:
        tok = parts[-1].strip()
        if tok == "sample":
            sample = True
        else:
            try:
                t = float(tok)
            except ValueError:
                break
            if not t > 0 or t == float("inf"):
                raise UserError(f"policy:{arg}: temperature must be a positive number, not {tok!r}")
            sample, temperature = True, t
        parts.pop()
    model = ":".join(parts).strip()
    if not model:
        raise UserError(f"policy:{arg}: no model given; expected {USAGE}")
    return PolicySpec(model, sample, temperature)


def resolve_model_path(spec: PolicySpec, default: Path = DEFAULT_MODEL) -> Path:
    """The model file (or folder) a spec names; UserError if it does not exist."""
    if spec.is_default:
        if not default.exists():
            raise UserError("policy:default: no shipped model yet")
        return default
    path = Path(spec.model).expanduser()
    if not path.exists():
        raise UserError(f"model file not found: {spec.model}")
    return path


def load_unregistered_policy(arg: str, seed: int) -> object:
    """The `policy` kind until the self-play module registers the real one: checks the spec and
    the file, then says that no loader exists yet."""
    spec = parse_policy_spec(arg)
    path = resolve_model_path(spec)
    raise UserError(
        f"policy:{arg}: cannot load {path}: no policy loader is registered yet (the self-play module provides it)"
    )
