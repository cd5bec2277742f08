"""The exact KL between a policy and its reference over whole responses, its exact gradient, and the
exact expectations of the KL estimators' gradients, by enumerating every response of a short task.

A response is tokens up to and including EOS, or `n` tokens when it reaches the sampler's cap
without one (`kingme.lm.sampling.generate`). With C the K = V − 1 tokens that continue a response
(every token but EOS), the prefixes ("nodes") at depth d = 0..n−1 are the K^d strings of C^d; a node
s and a token a make an "edge" (s, a); an edge is a whole response (a "leaf") when a = EOS or
d = n − 1. With n = 3 and V = 52 a prompt has 2,653 nodes and about 138,000 responses.

Layout: a tree is a list over depths of log π(a | x, s) of shape (M, K^d, V): M prompts, the node's
index in base K with its first token most significant (a node's children are K consecutive
indices), every token a. `gpt_tree` fills it from a `GPT` with one forward pass.

The quantities, for one prompt x (π = π_θ(·|x), δ(s, a) = log π(a|s) − log π_ref(a|s), and
Δ(y) = Σ_t δ(s_t, y_t) = log π(y) − log π_ref(y) for a response y):

    KL(π ‖ π_ref) = Σ_y π(y) Δ(y) = Σ_d Σ_s P(s) Σ_a π(a|s) δ(s, a)          (chain rule; P(s) = π of prefix s)
    ∇KL = Σ_y π(y) ∇log π(y) Δ(y)      (since Σ_y ∇π(y) = 0 and Σ_y π(y) ∇Δ(y) = Σ_y ∇π(y) = 0)

`exact_kl` computes the chain-rule form, differentiable, so autograd gives ∇KL exactly; the tests
check both forms against brute force on a two-token vocabulary.

An estimator's gradient, sampled, is ĝ(y) = c(y) ∇log π(y) (a sequence coefficient: the KL in the
reward, or a loss that is a function of Δ) or Σ_t f(s_t, y_t) ∇log π(y_t | s_t) (a per-token loss).
Its expectation is E_y[ĝ] = ∇_θ Σ_edges W(s, a) log π_θ(a|s) with the weights W held fixed:
    sequence   W(s, a) = Σ_{responses y through (s, a)} π(y) c(y)       (`sequence_weights`)
    per token  W(s, a) = P(s) π(a|s) f(s, a)                             (`token_weights`)
`ESTIMATORS` lists the coefficients of k1, k2 and k3 in the reward and as a loss (Schulman's
k1 = log(π/π_ref), k2 = ½ (log(π/π_ref))², k3 = π_ref/π − 1 − log(π_ref/π)):

    name          what the loop or an implementation differentiates      coefficient
    k1_reward     reward −Σ_t k1_t (kingme's `kl_penalised_scores`)        c = Δ               (exact)
    k2_reward     reward −Σ_t k2_t                                          c = Σ_t ½ δ_t²
    k3_reward     reward −Σ_t k3_t                                          c = Σ_t k3(δ_t)
    k1_loss       Σ_t k1_t as a loss                                        f = 1               (mean 0)
    k2_loss       Σ_t k2_t as a loss (per token)                            f = δ
    k3_loss       Σ_t k3_t as a loss (per token: GRPO, kingme's `weighted_k3`) f = 1 − e^{−δ}
    k2_loss_seq   k2 of the whole response, ½ Δ², as a loss (Liu et al.)   c = Δ               (exact)
    k3_loss_seq   k3 of the whole response as a loss                        c = 1 − e^{−Δ}

`sampled_losses` builds the same estimators from a sampled batch, with kingme's own functions
where the loop has them, for the cosine of a sampled gradient with the exact one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from kingme.lm.algos import clipped_surrogate, kl_penalised_scores, rloo_advantages, weighted_k3
from kingme.lm.algos import token_weights as loop_token_weights
from kingme.lm.vocab import EOS_ID
from kingme.transformer import GPT, KVCache

Tree = list[torch.Tensor]  # depth d -> (M, K^d, V) log-probabilities of every token after every node


def continuing(vocab: int, eos: int | None) -> torch.Tensor:
    """(K,) the token ids that continue a response: every token but EOS (all of them when eos is None)."""
    return torch.tensor([t for t in range(vocab) if t != eos], dtype=torch.long)


def leaf_tokens(vocab: int, eos: int | None, depth: int, n: int) -> torch.Tensor:
    """(V,) bool: True where the edge (s, a) at `depth` ends the response (a = EOS, or the cap)."""
    if depth == n - 1:
        return torch.ones(vocab, dtype=torch.bool)
    out = torch.zeros(vocab, dtype=torch.bool)
    if eos is not None:
        out[eos] = True
    return out


@torch.no_grad()
def all_prefixes(vocab: int, eos: int | None, depth: int) -> torch.Tensor:
    """(K^depth, depth) every node at `depth`, in the tree's order (first token most significant)."""
    cont = continuing(vocab, eos)
    K = len(cont)
    idx = torch.arange(K**depth)
    digits = [(idx // K ** (depth - 1 - i)) % K for i in range(depth)]  # depth x (K^depth,)
    return cont[torch.stack(digits, dim=1)] if depth else torch.zeros((1, 0), dtype=torch.long)


class TreeCache(KVCache):
    """A `KVCache` that grows by concatenation, one tensor per layer, instead of writing into one
    preallocated tensor: autograd can then differentiate through it (the in-place writes of the
    sampler's cache, which runs without gradients, would invalidate the saved keys of the layers
    before). `repeated(K)` copies every row K times, the cache of a node's K children."""

    def __init__(self, k: list[torch.Tensor | None], v: list[torch.Tensor | None], max_len: int, pos: int = 0) -> None:
        self.ks, self.vs = k, v  # per layer: (B, nh, pos, hs), None before the first write
        self.max_len, self.pos = max_len, pos

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append k, v (B, nh, L, hs) to `layer`'s; return all of them, (B, nh, pos + L, hs)."""
        if self.pos + k.shape[2] > self.max_len:
            raise ValueError(f"the cache holds {self.max_len} tokens, asked for {self.pos + k.shape[2]}")
        old_k, old_v = self.ks[layer], self.vs[layer]
        self.ks[layer] = k if old_k is None else torch.cat([old_k, k], dim=2)
        self.vs[layer] = v if old_v is None else torch.cat([old_v, v], dim=2)
        return self.ks[layer], self.vs[layer]  # type: ignore[return-value]

    def repeated(self, times: int) -> TreeCache:
        """The cache with every row repeated `times` times in a row: (B, ...) -> (B·times, ...)."""
        rep = [None if x is None else x.repeat_interleave(times, dim=0) for x in self.ks]
        rep_v = [None if x is None else x.repeat_interleave(times, dim=0) for x in self.vs]
        return TreeCache(rep, rep_v, self.max_len, self.pos)  # type: ignore[arg-type]


def gpt_tree(model: GPT, prompts: torch.Tensor, n: int, temperature: float = 1.0, eos: int | None = EOS_ID) -> Tree:
    """The tree of log π(a | prompt, s) of `model` to depth n, softmax(logits / T) over every token (the
    distribution `generate` draws from without top-k, and the loop's log π): prompts (M, W) -> n tensors
    (M, K^d, V). Differentiable.

    Each node is computed once: the prompts fill a KV cache (`TreeCache`), which is then copied K
    times, once per child, before the children's tokens go in, one token per row, depth after depth
    (2,653 token positions per prompt for n = 3 and V = 52, not the 15,606 of every response written
    out).
    """
    M, W = prompts.shape
    V = model.config.vocab_size
    cont = continuing(V, eos).to(prompts.device)
    K = len(cont)
    cache = TreeCache([None] * model.config.n_layer, [None] * model.config.n_layer, model.config.block_size)
    logits, _ = model(prompts, cache=cache)  # (M, W, V)
    out = [torch.log_softmax(logits[:, -1:].float() / temperature, dim=-1)]  # (M, 1, V)
    rows = M
    for d in range(1, n):
        cache = cache.repeated(K)  # each row's keys and values once per child
        tokens = cont.repeat(rows)[:, None]  # (rows·K, 1): the children's last tokens
        logits, _ = model(tokens, cache=cache)  # (rows·K, 1, V)
        rows *= K
        out.append(torch.log_softmax(logits[:, 0].float() / temperature, dim=-1).view(M, K**d, V))  # (M, K^d, V)
    return out


def node_logprobs(tree: Tree, cont: torch.Tensor) -> list[torch.Tensor]:
    """log P(s) of every node, P(s) = Π_t π(s_t | s_<t): depth d -> (M, K^d)."""
    M = tree[0].shape[0]
    out = [torch.zeros(M, 1, dtype=tree[0].dtype, device=tree[0].device)]
    for d in range(len(tree) - 1):
        nxt = out[-1][:, :, None] + tree[d][:, :, cont]  # (M, K^d, K)
        out.append(nxt.reshape(M, -1))  # (M, K^(d+1))
    return out


def edge_logprobs(tree: Tree, cont: torch.Tensor) -> list[torch.Tensor]:
    """log P(s) π(a|s), the probability that a response starts with s then a: depth d -> (M, K^d, V)."""
    return [lp[:, :, None] + t for lp, t in zip(node_logprobs(tree, cont), tree, strict=True)]


def exact_kl(tree: Tree, ref: Tree, cont: torch.Tensor) -> torch.Tensor:
    """KL(π ‖ π_ref) over whole responses, per prompt: (M,). Σ_d Σ_s P(s) Σ_a π(a|s) δ(s, a), exact and
    differentiable in π's parameters (autograd of it is ∇KL; the module docstring)."""
    nodes = node_logprobs(tree, cont)
    total = torch.zeros(tree[0].shape[0], dtype=tree[0].dtype, device=tree[0].device)
    for lp, t, r in zip(nodes, tree, ref, strict=True):
        per_node = (t.exp() * (t - r)).sum(dim=-1)  # (M, K^d): KL of the next token after each node
        total = total + (lp.exp() * per_node).sum(dim=1)
    return total


def path_sums(edge_values: list[torch.Tensor], cont: torch.Tensor) -> list[torch.Tensor]:
    """Σ of a per-edge quantity along the path to and including each edge: depth d -> (M, K^d, V).
    With e = δ it is Δ of the prefix s then a, so Δ(y) at a leaf."""
    M = edge_values[0].shape[0]
    out = []
    before = torch.zeros(M, 1, dtype=edge_values[0].dtype, device=edge_values[0].device)  # (M, 1) the root
    for e in edge_values:
        out.append(before[:, :, None] + e)  # (M, K^d, V)
        before = out[-1][:, :, cont].reshape(M, -1)  # (M, K^(d+1)) the sum to each child node
    return out


def sequence_weights(
    edge_logp: list[torch.Tensor], leaf_coef: list[torch.Tensor], cont: torch.Tensor, eos: int | None
) -> list[torch.Tensor]:
    """W(s, a) = Σ over the responses y through edge (s, a) of π(y) c(y): depth d -> (M, K^d, V).

    edge_logp: log P(s) π(a|s) (`edge_logprobs`); leaf_coef: c(y) at each edge that is a leaf (any
    value elsewhere). Summed from the deepest level up: an edge that continues the response carries
    the sum of its child node's edges.
    """
    n = len(edge_logp)
    V = edge_logp[0].shape[-1]
    out: list[torch.Tensor] = [torch.empty(0)] * n
    below: torch.Tensor | None = None  # (M, K^(d+1)) the total weight under each node of depth d + 1
    for d in range(n - 1, -1, -1):
        leaf = leaf_tokens(V, eos, d, n).to(edge_logp[d].device)  # (V,)
        w = torch.where(leaf, edge_logp[d].exp() * leaf_coef[d], torch.zeros_like(edge_logp[d]))  # (M, K^d, V)
        if below is not None:
            M, nodes = w.shape[:2]
            w = w.clone()
            w[:, :, cont] = below.view(M, nodes, len(cont))  # (M, K^d, K) each child node's total
        out[d] = w
        below = w.sum(dim=-1)  # (M, K^d)
    return out


def token_weights(edge_logp: list[torch.Tensor], coef: list[torch.Tensor]) -> list[torch.Tensor]:
    """W(s, a) = P(s) π(a|s) f(s, a) over every edge (every token of a response counts): depth d -> (M, K^d, V)."""
    return [lp.exp() * f for lp, f in zip(edge_logp, coef, strict=True)]


def expected_surrogate(tree: Tree, weights: list[torch.Tensor]) -> torch.Tensor:
    """Σ_edges W(s, a) log π_θ(a|s) with W held fixed: its gradient is the estimator's expected gradient."""
    return sum((w.detach() * t).sum() for w, t in zip(weights, tree, strict=True))  # type: ignore[return-value]


def k3(logratio: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 of log(π/π_ref) = x: e^{−x} − 1 + x (≥ 0)."""
    return torch.expm1(-logratio) + logratio


SEQUENCE = "sequence"
TOKEN = "token"


@dataclass(frozen=True)
class Estimator:
    """An estimator's gradient coefficient: a function of δ on each edge (per token) or of the response."""

    name: str
    kind: str  # SEQUENCE (ĝ = c(y) ∇log π(y)) or TOKEN (ĝ = Σ_t f_t ∇log π(y_t|s_t))
    label: str
    # SEQUENCE: (per-edge value e, then c = outer(Σ e along the path)); TOKEN: f(δ)
    edge: Callable[[torch.Tensor], torch.Tensor]
    outer: Callable[[torch.Tensor], torch.Tensor] = lambda x: x


ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("k1_reward", SEQUENCE, "k1 in the reward", lambda d: d),
    Estimator("k2_reward", SEQUENCE, "k2 in the reward", lambda d: 0.5 * d**2),
    Estimator("k3_reward", SEQUENCE, "k3 in the reward", k3),
    Estimator("k1_loss", TOKEN, "k1 as a loss", torch.ones_like),
    Estimator("k2_loss", TOKEN, "k2 as a loss (per token)", lambda d: d),
    Estimator("k3_loss", TOKEN, "k3 as a loss (per token, GRPO)", lambda d: -torch.expm1(-d)),
    Estimator("k2_loss_seq", SEQUENCE, "k2 of the response as a loss", lambda d: d),
    Estimator("k3_loss_seq", SEQUENCE, "k3 of the response as a loss", lambda d: d, lambda x: -torch.expm1(-x)),
)
BY_NAME = {e.name: e for e in ESTIMATORS}


def estimator_weights(est: Estimator, tree: Tree, ref: Tree, cont: torch.Tensor, eos: int | None) -> list[torch.Tensor]:
    """The edge weights W of `est` under π (the module docstring), detached: depth d -> (M, K^d, V)."""
    with torch.no_grad():
        delta = [t - r for t, r in zip(tree, ref, strict=True)]
        elp = edge_logprobs(tree, cont)
        if est.kind == TOKEN:
            return token_weights(elp, [est.edge(d) for d in delta])
        coef = [est.outer(s) for s in path_sums([est.edge(d) for d in delta], cont)]
        return sequence_weights(elp, coef, cont, eos)


VALUES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"k1": lambda x: x, "k2": lambda x: 0.5 * x**2, "k3": k3}


def expected_value(k: str, per_token: bool, tree: Tree, ref: Tree, cont: torch.Tensor, eos: int | None) -> torch.Tensor:
    """The exact expectation over responses of an estimator's value, per prompt: (M,). `k` is "k1",
    "k2" or "k3" of δ; per_token: E[Σ_t k(δ_t)], else E[k(Δ(y))] of the whole response. k1 and k3
    (both forms) are unbiased for the KL; k2 is not (its expectation is not the KL)."""
    with torch.no_grad():
        fn = VALUES[k]
        delta = [t - r for t, r in zip(tree, ref, strict=True)]
        elp = edge_logprobs(tree, cont)
        if per_token:
            return sum(w.sum(dim=(1, 2)) for w in token_weights(elp, [fn(d) for d in delta]))  # type: ignore[return-value]
        coef = [fn(s) for s in path_sums(delta, cont)]
        return sequence_weights(elp, coef, cont, eos)[0].sum(dim=(1, 2))  # the root's total: Σ_y π(y) k(Δ(y))


# ---------------------------------------------------------------------------------------------
# Sampled estimators: the gradients an implementation computes from a batch
# ---------------------------------------------------------------------------------------------


def sampled_losses(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    ref_logp: torch.Tensor,
    mask: torch.Tensor,
    group_size: int,
    names: Sequence[str] = tuple(BY_NAME),
    clip: float | None = 0.2,
    importance: bool = False,
) -> dict[str, torch.Tensor]:
    """Each estimator's loss on a sampled batch, whose gradient is that estimator's sampled gradient of
    the KL (up to a positive factor): logp (B, N) at θ with grad, logp_old (B, N) of the sampler θ_old,
    ref_logp (B, N), mask (B, N), B = P·G with the G samples of a prompt adjacent.

    In the reward, as the loop does with `kl_in_reward` (RLOO's preset: leave-one-out advantages,
    the whole response one action, `loss_norm = "sum"`): the response's reward is −Σ_t k_t at
    θ_old (k1: `kl_penalised_scores`), its advantage `rloo_advantages`, the loss
    `clipped_surrogate` with the ratio π_θ/π_θold (ε = `clip`, None = none). As a loss: Σ_t w k_t,
    w = 1/B per token (k3: the loop's `weighted_k3`), or k of the response's Δ for the _seq forms;
    with `importance`, each response's loss term is weighted by the detached sequence ratio
    π_θ(y)/π_θold(y) (Liu et al.'s off-policy correction; 1 on-policy).
    """
    B, _ = mask.shape
    P = B // group_size
    m = mask.to(logp.dtype)
    w = loop_token_weights(mask, "sum")  # (B, N) 1/B on every token
    delta = (logp - ref_logp) * m  # (B, N)
    delta_old = ((logp_old - ref_logp) * m).detach()  # (B, N)
    ratio = torch.exp(logp - logp_old.detach())  # (B, N)
    seq_w = torch.exp(((logp - logp_old) * m).sum(dim=1)).detach() if importance else torch.ones(B)  # (B,)
    zeros = torch.zeros(B, dtype=logp.dtype)
    out: dict[str, torch.Tensor] = {}
    for name in names:
        if name.endswith("_reward"):
            if name == "k1_reward":
                scores = kl_penalised_scores(zeros, logp_old.detach(), ref_logp, mask, 1.0)  # (B,) −Σ k1
            else:
                per_token = BY_NAME[name].edge(delta_old) * m  # (B, N)
                scores = -per_token.sum(dim=1)  # (B,)
            adv = rloo_advantages(scores.view(P, group_size)).reshape(B, 1) * m  # (P, G) -> (B, N)
            out[name] = clipped_surrogate(ratio, adv, w, clip, clip if clip is not None else 0.0)
        elif name == "k3_loss" and not importance:
            out[name] = weighted_k3(logp, ref_logp, w)  # the loop's
        elif name.endswith("_seq"):
            big = delta.sum(dim=1)  # (B,) Δ of each response
            k = 0.5 * big**2 if name.startswith("k2") else k3(big)
            out[name] = (seq_w * k).sum() / B
        else:
            k = {"k1_loss": delta, "k2_loss": 0.5 * delta**2, "k3_loss": k3(delta)}[name] * m  # (B, N)
            out[name] = (seq_w[:, None] * w * k).sum()
    return out


def flat_grad(loss: torch.Tensor, params: Sequence[torch.Tensor], retain: bool = True) -> torch.Tensor:
    """∇loss over `params`, flattened into one vector (zeros for a parameter the loss does not reach)."""
    grads = torch.autograd.grad(loss, list(params), retain_graph=retain, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """cos(a, b) = a·b / (|a| |b|) in float64 (0 when either is 0)."""
    a, b = a.double(), b.double()
    na, nb = float(a.norm()), float(b.norm())
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# A GPT policy and its reference on a set of prompts
# ---------------------------------------------------------------------------------------------


def kl_and_gradient(
    policy: GPT,
    reference: GPT,
    prompts: torch.Tensor,
    n: int,
    temperature: float = 1.0,
    chunk: int = 4,
    estimators: Sequence[str] = (),
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The exact KL(π_θ ‖ π_ref) of each prompt (M,), the exact gradient of their sum (flattened over the
    policy's parameters), and each named estimator's exact expected gradient of that sum, computed
    `chunk` prompts at a time (the gradients add up over prompts)."""
    params = [p for p in policy.parameters() if p.requires_grad]
    eos = EOS_ID
    cont = continuing(policy.config.vocab_size, eos).to(prompts.device)
    kls = []
    grad = torch.zeros(sum(p.numel() for p in params))
    expected = {name: torch.zeros_like(grad) for name in estimators}
    was = policy.training
    policy.eval()
    for i in range(0, len(prompts), chunk):
        part = prompts[i : i + chunk]
        with torch.no_grad():
            ref = gpt_tree(reference, part, n, temperature, eos)
        tree = gpt_tree(policy, part, n, temperature, eos)
        kl = exact_kl(tree, ref, cont)  # (chunk,)
        kls.append(kl.detach())
        last = not estimators
        grad += flat_grad(kl.sum(), params, retain=not last)
        for j, name in enumerate(estimators):
            w = estimator_weights(BY_NAME[name], tree, ref, cont, eos)
            expected[name] += flat_grad(expected_surrogate(tree, w), params, retain=j < len(estimators) - 1)
    policy.train(was)
    return torch.cat(kls), grad, expected


@torch.no_grad()
def exact_kl_of(
    policy: GPT, reference: GPT, prompts: torch.Tensor, n: int, temperature: float = 1.0, chunk: int = 8
) -> torch.Tensor:
    """The exact KL(π ‖ π_ref) of each prompt, (M,), without gradients."""
    cont = continuing(policy.config.vocab_size, EOS_ID).to(prompts.device)
    was = policy.training
    policy.eval()
    out = []
    for i in range(0, len(prompts), chunk):
        part = prompts[i : i + chunk]
        out.append(exact_kl(gpt_tree(policy, part, n, temperature), gpt_tree(reference, part, n, temperature), cont))
    policy.train(was)
    return torch.cat(out)
