"""Token interleaving, causal masking and the read-out positions of the trajectory transformer."""

from __future__ import annotations

import pytest
import torch

from kingme.dt.model import GPTConfig, TrajectoryGPT, interleave

B, T, N = 3, 5, 7


def _inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "states": torch.randint(0, N, (B, T), generator=g),
        "actions": torch.randint(0, N, (B, T), generator=g),
        "timesteps": torch.arange(T).expand(B, T),
        "returns": -torch.randint(0, T + 1, (B, T), generator=g),
        "goals": torch.randint(0, N, (B, T), generator=g),
    }


def _model(**kw: object) -> TrajectoryGPT:
    torch.manual_seed(0)
    cfg = GPTConfig(n_nodes=N, max_steps=T, n_layer=2, n_head=2, n_embd=16, **kw)  # type: ignore[arg-type]
    return TrajectoryGPT(cfg).eval()


def _perturbed(field: str, values: torch.Tensor, t: int) -> torch.Tensor:
    """A copy of `values` with step t changed to another valid value."""
    out = values.clone()
    if field == "returns":
        out[:, t] = torch.where(out[:, t] == 0, -1, 0)
    else:
        out[:, t] = (out[:, t] + 1) % N
    return out


def test_interleave_orders_tokens_step_by_step() -> None:
    r = torch.full((1, 2, 1), 1.0)
    s = torch.full((1, 2, 1), 2.0)
    a = torch.full((1, 2, 1), 3.0)
    r[0, 1], s[0, 1], a[0, 1] = 10.0, 20.0, 30.0
    assert interleave(r, s, a)[0, :, 0].tolist() == [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]
    assert interleave(s, a)[0, :, 0].tolist() == [2.0, 3.0, 20.0, 30.0]


@pytest.mark.parametrize(("field", "slot"), [("returns", 0), ("states", 1), ("actions", 2), ("goals", 1)])
def test_decision_transformer_tokens_are_R_s_a(field: str, slot: int) -> None:
    """Changing one step's R (or s, a, goal) changes exactly one token: position 3t + slot."""
    model = _model(return_tokens=True, goal_tokens=True)
    x = _inputs()
    e0 = model.embed(**x)
    t = 2
    x[field] = _perturbed(field, x[field], t)
    changed = (model.embed(**x) - e0).abs().sum(dim=(0, 2)) > 0  # (3T,)
    assert changed.nonzero().flatten().tolist() == [3 * t + slot]


def test_behaviour_cloning_tokens_are_s_a() -> None:
    model = _model(return_tokens=False)
    x = _inputs()
    e0 = model.embed(**x)
    assert e0.shape == (B, 2 * T, 16)
    x["actions"] = x["actions"].clone()
    x["actions"][:, 1] = (x["actions"][:, 1] + 1) % N
    changed = (model.embed(**x) - e0).abs().sum(dim=(0, 2)) > 0
    assert changed.nonzero().flatten().tolist() == [3]  # a_1 sits at 2*1 + 1


@pytest.mark.parametrize("return_tokens", [True, False])
def test_no_position_attends_to_a_later_one(return_tokens: bool) -> None:
    """Perturbing any one token leaves every earlier output unchanged (and does change its own)."""
    model = _model(return_tokens=return_tokens)
    k = 3 if return_tokens else 2
    x = _inputs()
    h0 = model.hidden(**x)
    fields = (["returns"] if return_tokens else []) + ["states", "actions"]
    for t in range(T):
        for slot, field in enumerate(fields):
            y = {**x, field: _perturbed(field, x[field], t)}
            diff = (model.hidden(**y) - h0).abs().amax(dim=(0, 2))  # (kT,) largest change per position
            pos = k * t + slot
            assert torch.all(diff[:pos] == 0), f"{field}_{t} leaked into earlier positions"
            assert diff[pos] > 1e-6, f"{field}_{t} did not change its own position"


def test_action_is_read_at_the_state_token_so_a_t_cannot_leak() -> None:
    model = _model(return_tokens=True)
    x = _inputs()
    logits, _ = model(**x)
    assert logits.shape == (B, T, N)
    x["actions"] = (x["actions"] + 1) % N  # every action changed
    logits2, _ = model(**x)
    assert torch.allclose(logits[:, 0], logits2[:, 0])  # step 0 saw R_0, s_0 only
    # a_t changes nothing at step t, only at later steps through the history
    assert not torch.allclose(logits[:, 1:], logits2[:, 1:])


def test_return_head_is_read_at_the_action_token() -> None:
    model = _model(return_tokens=False, head="return")
    x = _inputs()
    logits, _ = model(**x)
    assert logits.shape == (B, T, T + 1)  # classes 0..max_steps for R = 0..-max_steps
    x["actions"] = x["actions"].clone()
    x["actions"][:, 0] = (x["actions"][:, 0] + 1) % N
    logits2, _ = model(**x)
    assert not torch.allclose(logits[:, 0], logits2[:, 0])  # the candidate a_0 is scored


def test_loss_ignores_masked_steps() -> None:
    model = _model(return_tokens=True)
    x = _inputs()
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[:, 3:] = False
    targets = torch.randint(0, N, (B, T))
    _, loss = model(**x, targets=targets, mask=mask)
    targets2 = targets.clone()
    targets2[:, 3:] = (targets2[:, 3:] + 1) % N
    _, loss2 = model(**x, targets=targets2, mask=mask)
    _, loss_all = model(**x, targets=targets2)
    assert loss is not None and loss2 is not None and loss_all is not None
    assert torch.allclose(loss, loss2)
    assert not torch.allclose(loss, loss_all)
    # an untrained model is close to uniform: loss near log(N)
    assert abs(loss.item() - torch.log(torch.tensor(float(N))).item()) < 0.2
