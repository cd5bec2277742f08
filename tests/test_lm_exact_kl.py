"""The exact KL over whole responses, its gradient and the estimators' expected gradients
(kingme.lm.exact_kl), against brute force: a tabular softmax policy on a two-token vocabulary (and a
three-token one with EOS), every response enumerated by hand."""

from __future__ import annotations

import itertools

import pytest
import torch

from kingme.lm import exact_kl as ek
from kingme.lm.rl import response_logprobs
from kingme.transformer import GPT, TransformerConfig

# (vocabulary, EOS or None, response cap n): two tokens and fixed-length responses; three with EOS 0
SETTINGS = [(2, None, 3), (3, 0, 3)]


def tabular(
    V: int, eos: int | None, n: int, M: int, seed: int, scale: float = 1.5, grad: bool = True
) -> list[torch.Tensor]:
    """Logits of a tabular softmax policy: depth d -> (M, K^d, V) parameters (a reference: grad=False)."""
    g = torch.Generator().manual_seed(seed)
    K = V - (eos is not None)
    return [(scale * torch.randn(M, K**d, V, generator=g, dtype=torch.float64)).requires_grad_(grad) for d in range(n)]


def tree_of(theta: list[torch.Tensor]) -> ek.Tree:
    return [torch.log_softmax(t, dim=-1) for t in theta]


def responses(V: int, eos: int | None, n: int) -> list[tuple[int, ...]]:
    """Every response: strings that end at their first EOS, or reach n tokens."""
    out = []
    for length in range(1, n + 1):
        for y in itertools.product(range(V), repeat=length):
            first_eos = y.index(eos) if eos is not None and eos in y else None
            if (first_eos is None and length == n) or first_eos == length - 1:
                out.append(y)
    return out


def token_logps(tree: ek.Tree, m: int, y: tuple[int, ...], cont: list[int]) -> list[torch.Tensor]:
    """log π(y_t | y_<t) of each token of response y after prompt m."""
    out, node = [], 0
    for d, a in enumerate(y):
        out.append(tree[d][m, node, a])
        if d + 1 < len(y):
            node = node * len(cont) + cont.index(a)
    return out


def brute(theta: list[torch.Tensor], ref_theta: list[torch.Tensor], V: int, eos: int | None, n: int, m: int):
    """By enumeration: (KL, ∇KL by the score function, [(π(y), log π(y) parts, log π_ref parts)])."""
    cont = [t for t in range(V) if t != eos]
    tree, ref = tree_of(theta), tree_of(ref_theta)
    rows = []
    for y in responses(V, eos, n):
        lp, lr = token_logps(tree, m, y, cont), token_logps(ref, m, y, cont)
        rows.append((y, lp, lr))
    kl = sum(torch.exp(sum(lp)) * (sum(lp) - sum(lr)) for _, lp, lr in rows)
    grad = [torch.zeros_like(t) for t in theta]
    for _, lp, lr in rows:
        logpi = sum(lp)
        g = torch.autograd.grad(logpi, theta, retain_graph=True, allow_unused=True)
        coef = float((torch.exp(logpi) * (logpi - sum(lr))).detach())
        for acc, gi in zip(grad, g, strict=True):
            if gi is not None:
                acc += coef * gi
    return kl, grad, rows


def flat(gs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in gs])


@pytest.mark.parametrize("V,eos,n", SETTINGS)
def test_exact_kl_and_gradient_match_brute_force(V: int, eos: int | None, n: int) -> None:
    theta, ref_theta = tabular(V, eos, n, 2, 1), tabular(V, eos, n, 2, 2, grad=False)
    cont = ek.continuing(V, eos)
    kl = ek.exact_kl(tree_of(theta), tree_of([t.detach() for t in ref_theta]), cont)  # (2,)
    for m in range(2):
        want, want_grad, rows = brute(theta, ref_theta, V, eos, n, m)
        assert float(kl[m].detach()) == pytest.approx(float(want.detach()), rel=1e-10)
        got = torch.autograd.grad(kl[m], theta, retain_graph=True, allow_unused=True)
        got = [g if g is not None else torch.zeros_like(t) for g, t in zip(got, theta, strict=True)]
        assert torch.allclose(flat(got), flat(want_grad), atol=1e-10)
        assert sum(float(torch.exp(sum(lp)).detach()) for _, lp, _ in rows) == pytest.approx(1.0)  # a distribution
    assert float(kl.detach().min()) > 0.01  # two different random tables: a KL well above 0


def test_kl_is_zero_at_the_reference_and_the_leaf_count() -> None:
    theta = tabular(3, 0, 3, 1, 3)
    cont = ek.continuing(3, 0)
    tree = tree_of(theta)
    assert float(ek.exact_kl(tree, [t.detach() for t in tree], cont)[0].detach()) == pytest.approx(0.0, abs=1e-12)
    # the sequence weights of c = 1 are the probability of the subtree: 1 at the root
    elp = ek.edge_logprobs(tree, cont)
    w = ek.sequence_weights(elp, [torch.ones_like(e) for e in elp], cont, 0)
    assert float(w[0].sum().detach()) == pytest.approx(1.0)
    assert len(responses(3, 0, 3)) == 1 + 2 + 4 * 3  # EOS at 1, 2, or 3 tokens of 2 continuing tokens


def single_response_gradient(
    name: str, theta: list[torch.Tensor], ref_tree: ek.Tree, m: int, y: tuple[int, ...], cont: list[int]
) -> torch.Tensor:
    """ĝ(y), the estimator's gradient from one sampled response, as an implementation computes it:
    in the reward, the detached coefficient times ∇log π(y); as a loss, autograd of the loss itself."""
    tree = tree_of(theta)
    lp, lr = token_logps(tree, m, y, cont), token_logps(ref_tree, m, y, cont)
    delta = [a - b for a, b in zip(lp, lr, strict=True)]
    logpi = sum(lp)
    if name.endswith("_reward"):
        k = ek.VALUES[name[:2]]
        coef = sum(float(k(d.detach())) for d in delta)
        loss = coef * logpi
    elif name.endswith("_seq"):
        loss = ek.VALUES[name[:2]](sum(delta))
    else:
        loss = sum(ek.VALUES[name[:2]](d) for d in delta)
    g = torch.autograd.grad(loss, theta, allow_unused=True)
    return flat([gi if gi is not None else torch.zeros_like(t) for gi, t in zip(g, theta, strict=True)])


@pytest.mark.parametrize("V,eos,n", SETTINGS)
def test_estimators_expected_gradients_match_enumeration(V: int, eos: int | None, n: int) -> None:
    theta, ref_theta = tabular(V, eos, n, 1, 4), tabular(V, eos, n, 1, 5, grad=False)
    ref_tree = tree_of([t.detach() for t in ref_theta])
    cont_t = ek.continuing(V, eos)
    cont = cont_t.tolist()
    _, exact, rows = brute(theta, ref_theta, V, eos, n, 0)
    exact_flat = flat(exact)
    cos = {}
    for est in ek.ESTIMATORS:
        tree = tree_of(theta)
        w = ek.estimator_weights(est, tree, ref_tree, cont_t, eos)
        got = flat(
            [
                g if g is not None else torch.zeros_like(t)
                for g, t in zip(
                    torch.autograd.grad(ek.expected_surrogate(tree, w), theta, allow_unused=True), theta, strict=True
                )
            ]
        )
        want = sum(
            float(torch.exp(sum(lp)).detach()) * single_response_gradient(est.name, theta, ref_tree, 0, y, cont)
            for y, lp, _ in rows
        )
        assert torch.allclose(got, want, atol=1e-10), est.name
        cos[est.name] = ek.cosine(got, exact_flat)
        if est.name == "k1_loss":
            assert float(got.norm()) < 1e-10 * float(exact_flat.norm())  # Σ_a π ∇log π = ∇1 = 0
    # what the sources state: k1 in the reward and k2 of the response as a loss give the reverse KL's
    # gradient exactly (on-policy); k1 as a loss has expectation 0; k3 as a loss is biased; per token,
    # k2 as a loss misses the later tokens' KL (Tang and Munos 2025's partial gradient)
    assert cos["k1_reward"] == pytest.approx(1.0, abs=1e-12)
    assert cos["k2_loss_seq"] == pytest.approx(1.0, abs=1e-12)
    assert cos["k3_loss_seq"] < 0.999 and cos["k3_loss"] < 0.999
    assert cos["k2_loss"] < 0.999
    assert cos["k2_reward"] < 0.999 and cos["k3_reward"] < 0.999


def test_k3_of_the_response_as_a_loss_is_the_forward_kl_gradient() -> None:
    """E_y~π[(1 − π_ref(y)/π(y)) ∇log π(y)] = −Σ_y π_ref(y) ∇log π(y) = ∇ KL(π_ref ‖ π)."""
    V, eos, n = 3, 0, 3
    theta, ref_theta = tabular(V, eos, n, 1, 6), tabular(V, eos, n, 1, 7, grad=False)
    ref_tree = tree_of([t.detach() for t in ref_theta])
    cont_t = ek.continuing(V, eos)
    tree = tree_of(theta)
    w = ek.estimator_weights(ek.BY_NAME["k3_loss_seq"], tree, ref_tree, cont_t, eos)
    got = flat(torch.autograd.grad(ek.expected_surrogate(tree, w), theta))
    forward = -sum(
        float(torch.exp(sum(lr))) * sum(lp) for _, lp, lr in brute(theta, ref_theta, V, eos, n, 0)[2]
    )  # −Σ_y π_ref(y) log π(y): KL(π_ref ‖ π) up to a constant
    want = flat(torch.autograd.grad(forward, theta))
    assert torch.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("V,eos,n", SETTINGS)
def test_estimator_values_unbiased_or_not(V: int, eos: int | None, n: int) -> None:
    theta, ref_theta = tabular(V, eos, n, 2, 8), tabular(V, eos, n, 2, 9, grad=False)
    cont = ek.continuing(V, eos)
    tree, ref = tree_of(theta), tree_of([t.detach() for t in ref_theta])
    kl = ek.exact_kl(tree, ref, cont).detach()
    for k in ("k1", "k3"):
        for per_token in (True, False):
            assert torch.allclose(ek.expected_value(k, per_token, tree, ref, cont, eos), kl, rtol=1e-10), (k, per_token)
    for per_token in (True, False):
        k2 = ek.expected_value("k2", per_token, tree, ref, cont, eos)
        assert float((k2 - kl).abs().min()) > 1e-3  # biased


def test_sampled_losses_match_the_single_response_gradients() -> None:
    """The loop-shaped losses of `sampled_losses` on hand-picked responses: a loss form on one response
    is that response's ĝ(y); a reward form on a group of two is RLOO's (c1 − c2)(∇log π(y1) − ∇log π(y2)) / 2."""
    V, eos, n = 3, 0, 3
    theta, ref_theta = tabular(V, eos, n, 1, 10), tabular(V, eos, n, 1, 11, grad=False)
    ref_tree = tree_of([t.detach() for t in ref_theta])
    cont = ek.continuing(V, eos).tolist()

    def batch(ys: list[tuple[int, ...]]):
        tree = tree_of(theta)
        lp = torch.zeros(len(ys), n, dtype=torch.float64)
        lr = torch.zeros(len(ys), n, dtype=torch.float64)
        mask = torch.zeros(len(ys), n, dtype=torch.bool)
        rows_p, rows_r = [], []
        for i, y in enumerate(ys):
            a, b = token_logps(tree, 0, y, cont), token_logps(ref_tree, 0, y, cont)
            rows_p.append(torch.stack(a + [torch.zeros((), dtype=torch.float64)] * (n - len(y))))
            rows_r.append(torch.stack(b + [torch.zeros((), dtype=torch.float64)] * (n - len(y))))
            mask[i, : len(y)] = True
        lp, lr = torch.stack(rows_p), torch.stack(rows_r)
        return lp, lr, mask

    y1, y2 = (1, 2, 0), (2, 0)
    for name in ("k1_loss", "k2_loss", "k3_loss", "k2_loss_seq", "k3_loss_seq"):
        lp, lr, mask = batch([y1])
        loss = ek.sampled_losses(lp, lp.detach(), lr, mask, 1, [name])[name]
        got = flat(torch.autograd.grad(loss, theta, allow_unused=True, materialize_grads=True))
        assert torch.allclose(got, single_response_gradient(name, theta, ref_tree, 0, y1, cont), atol=1e-10), name
    for name in ("k1_reward", "k2_reward", "k3_reward"):
        lp, lr, mask = batch([y1, y2])
        loss = ek.sampled_losses(lp, lp.detach(), lr, mask, 2, [name])[name]
        got = flat(torch.autograd.grad(loss, theta, allow_unused=True, materialize_grads=True))
        g1 = single_response_gradient(name, theta, ref_tree, 0, y1, cont)
        g2 = single_response_gradient(name, theta, ref_tree, 0, y2, cont)
        # ĝ(y) = c(y) ∇log π(y): recover c and ∇log π from the k1 pieces
        tree = tree_of(theta)
        d1 = sum(
            float(ek.VALUES[name[:2]](a - b).detach())
            for a, b in zip(token_logps(tree, 0, y1, cont), token_logps(ref_tree, 0, y1, cont), strict=True)
        )
        d2 = sum(
            float(ek.VALUES[name[:2]](a - b).detach())
            for a, b in zip(token_logps(tree, 0, y2, cont), token_logps(ref_tree, 0, y2, cont), strict=True)
        )
        want = 0.5 * (d1 - d2) * (g1 / d1 - g2 / d2)
        assert torch.allclose(got, want, atol=1e-10), name


def test_gpt_tree_matches_the_loops_log_probabilities() -> None:
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=6, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))  # away from the near-uniform start
    prompts = torch.tensor([[2, 3], [4, 5]])
    n, eos = 3, 1
    tree = ek.gpt_tree(model, prompts, n, temperature=0.7, eos=eos)
    cont = ek.continuing(6, eos).tolist()
    ys = [(2, 1), (3, 4, 5), (1,), (0, 0, 1)]
    for m in range(2):
        resp = torch.tensor([list(y) + [0] * (n - len(y)) for y in ys])  # (4, n) PAD after the end
        logp = response_logprobs(model, prompts[m].repeat(len(ys), 1), resp, 0.7)[0]  # (4, n)
        for i, y in enumerate(ys):
            want = logp[i, : len(y)]
            got = torch.stack(token_logps(tree, m, y, cont)).float()
            assert torch.allclose(got, want, atol=1e-5)
    elp = ek.edge_logprobs(tree, ek.continuing(6, eos))
    total = ek.sequence_weights(elp, [torch.ones_like(e) for e in elp], ek.continuing(6, eos), eos)[0].sum(dim=(1, 2))
    assert torch.allclose(total, torch.ones(2), atol=1e-5)  # every response's probability adds up to 1


def test_gpt_exact_kl_and_gradient_match_enumerated_responses() -> None:
    """The cached tree of a GPT gives the KL and the gradient that every response written out gives."""
    torch.manual_seed(1)
    cfg = TransformerConfig(vocab_size=6, block_size=8, n_layer=2, n_head=2, n_embd=16)  # two layers: the cache of both
    policy, reference = GPT(cfg).eval(), GPT(cfg).eval()
    with torch.no_grad():
        for p, q in zip(policy.parameters(), reference.parameters(), strict=True):
            q.copy_(p + 0.3 * torch.randn_like(p))
            p.add_(0.3 * torch.randn_like(p))
    prompts = torch.tensor([[2, 3]])
    n, eos = 3, 1
    kls, grad, _ = ek.kl_and_gradient(policy, reference, prompts, n)
    ys = responses(6, eos, n)
    resp = torch.tensor([list(y) + [0] * (n - len(y)) for y in ys])  # (R, n)
    mask = torch.tensor([[t < len(y) for t in range(n)] for y in ys])  # (R, n)
    lp = (response_logprobs(policy, prompts.repeat(len(ys), 1), resp)[0] * mask).sum(dim=1)  # (R,) log π(y)
    with torch.no_grad():
        lr = (response_logprobs(reference, prompts.repeat(len(ys), 1), resp)[0] * mask).sum(dim=1)
    kl = (lp.exp() * (lp - lr)).sum()
    assert float(kls[0]) == pytest.approx(float(kl.detach()), rel=1e-4)
    surrogate = (lp.exp() * (lp - lr)).detach() @ lp  # Σ_y π(y) Δ(y) log π(y), its gradient the score-function form
    params = [p for p in policy.parameters() if p.requires_grad]
    want = ek.flat_grad(surrogate, params, retain=False)
    assert ek.cosine(grad, want) > 1 - 1e-6 and float(grad.norm()) == pytest.approx(float(want.norm()), rel=1e-3)
