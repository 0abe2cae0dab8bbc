"""Self-attention at infinite width: the expectation over its random scores, and the REM limit.

One head of a block whose input ``U`` has the Gram ``K = U U^T / d``, with gaussian weights
(``Wq``, ``Wk`` entries ``N(0, qk_gain^2 gain^2 / d)``, ``Wv`` entries ``N(0, gain^2 / d)``,
biases ``N(0, b^2)`` per kind). As ``d -> inf`` with ``d_h = d / heads -> inf``:

- queries and keys have, per coordinate, the Gram ``K_qk = qk_gain^2 gain^2 K + b_qk^2`` and are
  independent of each other, so the scores ``s_ij = q_i . k_j / sqrt(d_h)`` (sums of ``d_h``
  independent centred products) tend to a centred Gaussian matrix with
  ``Cov(s_ij, s_kl) = K_qk[i, k] K_qk[j, l]``: the law of ``R Z R^T`` with ``R R^T = K_qk`` and
  ``Z`` an ``n x n`` matrix of iid standard normals. It stays random at every width;
- with ``1/d_h`` scores they tend to ``E q_i . k_j / d_h = 0``: attention is uniform
  averaging (``1/n`` per token, causal ``1/(i+1)``), exactly, and zero when centred;
- the values ``V`` have the Gram ``K_V = gain^2 K + b_V^2`` and are independent of the scores,
  so given the scores a head's output ``A V`` has the Gram ``A K_V A^T``; heads are independent,
  and the output Gram (``1/d`` times the sum over the heads' coordinates) is their average,
  whose mean ``E_S[A(S) K_V A(S)^T]`` is the infinite-width Gram (Hron, Bahri, Sohl-Dickstein and
  Novak, *Infinite attention*, ICML 2020). With infinitely many heads the average is this mean;
  with ``H`` heads it fluctuates around it by ``O(1 / sqrt(H))``: the mean field is the mean.

:class:`MonteCarlo` computes ``E_S[A K_V A^T]`` by antithetic Monte Carlo (``S`` and ``-S``)
with counter-based normals, reproducible from a seed; when ``K_qk`` and ``K_V`` are
exchangeable (constant diagonal, constant off-diagonal) and attention is bidirectional, two
rows of scores suffice (:func:`exchangeable_rows`). :class:`REM` is the large-``T`` limit of
Giorlandino and Goldt (ICLR 2026, arXiv 2505.24333): a row's scores are ``T`` Gaussians whose
independent parts have variance ``sigma^2 = K_qk[i, i] (K_qk[j, j] - K_qk[j, l])``; written
``sigma^2 = beta_eff^2 log T`` they are a Random Energy Model, frozen above
``beta_c = sqrt(2)``: the softmax weights' participation ``Y_2 = sum_j A_ij^2`` tends to
``max(0, 1 - sqrt(2) / beta_eff)``, and two different rows' weights stop overlapping.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

try:  # optional: NumPy's BLAS on one thread for the Monte Carlo's many small products
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - then the BLAS keeps its own threads
    threadpool_limits = None

from .. import _core
from .. import _validate as check
from ..metrics import METRICS, _measure
from ..networks.blocks import Attention, BlockNetwork, TransformerBlock
from ._block_recursion import _block, _check_network, _iterate, _ResidualStream, _stream_grams, input_state
from ._breakdown import _overflow

_F = NDArray[np.float64]

#: Score matrices drawn per attention block by default (:func:`isoinit.meanfield.trajectory`).
SAMPLES = 1024
#: An exchangeable Gram draws this many times more pairs of score rows (each costs O(n), not O(n^3)).
EXCHANGEABLE_FACTOR = 16
#: Independent replicas of the whole recursion: their spread is the Monte Carlo standard error.
REPLICAS = 8
#: Relative tolerance of "exchangeable" (the Gram is then treated as exactly exchangeable; the
#: change is far below the Monte Carlo error).
EXCHANGEABLE_RTOL = 1e-10
#: Normals per call of the counter-based generator (bounds the working memory).
_CHUNK = 1 << 20
#: Stream keys: block index times this plus the chunk index.
_KEY = 1 << 24


def uniform_attention(n: int, causal: bool) -> _F:
    """The uniform attention matrix: ``1/n`` everywhere, or causal ``1/(i+1)`` on ``j <= i``."""
    if not causal:
        return np.full((n, n), 1.0 / n)
    mask = np.tril(np.ones((n, n)))
    return np.asarray(mask / mask.sum(axis=1, keepdims=True))


def psd_factor(k: _F) -> _F:
    """``R`` with ``R R^T = k`` for a symmetric PSD ``k`` (eigenvalues below 0 by rounding set to 0)."""
    w, v = np.linalg.eigh(0.5 * (k + k.T))
    return np.asarray(v * np.sqrt(np.maximum(w, 0.0)))


def exchangeable(k: _F) -> tuple[float, float] | None:
    """``(q, p)`` if ``k`` has the constant diagonal ``q`` and constant off-diagonal ``p``
    (to :data:`EXCHANGEABLE_RTOL` of ``max |k|``), else None."""
    n = k.shape[0]
    diag = np.diag(k)
    off = k[~np.eye(n, dtype=bool)]
    q, p = float(diag.mean()), float(off.mean())
    scale = float(np.max(np.abs(k)))
    tol = EXCHANGEABLE_RTOL * scale
    if np.max(np.abs(diag - q)) > tol or np.max(np.abs(off - p)) > tol:
        return None
    return q, p


def _softmax_rows(s: _F, mask: NDArray[np.bool_] | None) -> _F:
    """Row softmax of the last two axes, max-subtracted; ``mask`` False entries get weight 0."""
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def exchangeable_rows(z0: _F, z1: _F, qs: float, ps: float) -> tuple[_F, _F]:
    """Two rows of scores (up to a constant per row, to which softmax is blind) for an
    exchangeable ``K_qk`` with diagonal ``qs`` and off-diagonal ``ps``.

    With ``K_qk = (qs - ps) I + ps 1 1^T``, rows ``i != k`` of ``R Z R^T`` are, up to a per-row
    constant, ``sqrt(qs - ps) (L Z)`` with ``L L^T = [[qs, ps], [ps, qs]]``: iid entries of variance
    ``qs (qs - ps)`` along the row, correlation ``ps / qs`` between the rows at the same column.
    """
    var = max(qs * (qs - ps), 0.0)
    rho = 0.0 if qs <= 0 else min(max(ps / qs, -1.0), 1.0)
    sd = math.sqrt(var)
    return sd * z0, sd * (rho * z0 + math.sqrt(max(1.0 - rho * rho, 0.0)) * z1)


class MonteCarlo:
    """``E_S[A K_V A^T]`` of one attention block: closed forms, or Monte Carlo over the scores.

    One replica: ``samples`` draws of the scores per attention block (antithetic pairs ``S``,
    ``-S``), from the counter-based stream ``(seed, replica, block)`` of the simulator's
    generator, so a seed reproduces the result bit for bit.
    """

    def __init__(self, seed: int, replica: int, samples: int, tokens: int | None = None) -> None:
        # tokens: the sequence's length when the state is one exchangeable pair of tokens
        # (:func:`_pair_state`), else None (the state holds every token)
        self.seed, self.replica, self.samples, self.tokens = seed, replica, samples, tokens

    def _normals(self, layer: int, chunk: int, count: int) -> _F:
        return np.asarray(_core.standard_normal(self.seed, self.replica, layer * _KEY + chunk, count))

    def __call__(self, layer: int, b: Attention | TransformerBlock, kqk: _F, kv: _F) -> _F:
        size = kqk.shape[0]
        n = self.tokens or size
        if not (np.all(np.isfinite(kqk)) and np.all(np.isfinite(kv))):
            raise _overflow("the attention's query-key or value Gram")
        ex_qk, ex_v = exchangeable(kqk), exchangeable(kv)
        if b.score == "linear" or not np.any(kqk):  # the scores vanish (or are 0): uniform averaging
            if b.centred:
                return np.zeros((size, size))
            if self.tokens is None:
                return uniform_closed_form(kv, b.causal)
            assert ex_v is not None and not b.causal  # _pair_state
            return np.full((size, size), (ex_v[0] + (n - 1) * ex_v[1]) / n)  # every token the mean
        if not b.causal and ex_qk is not None and ex_v is not None:
            diag, off = self._exchangeable(layer, n, ex_qk, ex_v, b.centred)
            out = np.full((size, size), off)
            np.fill_diagonal(out, diag)
            return out
        assert self.tokens is None  # _pair_state keeps the pair exchangeable
        return self._general(layer, kqk, kv, b.causal, b.centred)

    def _general(self, layer: int, kqk: _F, kv: _F, causal: bool, centred: bool) -> _F:
        """Monte Carlo over whole score matrices ``S = R Z R^T``: O(n^3) per draw."""
        n = kqk.shape[0]
        r, rv = psd_factor(kqk), psd_factor(kv)
        mask = np.tril(np.ones((n, n), dtype=bool)) if causal else None
        unif = uniform_attention(n, causal) if centred else None
        pairs = self.samples // 2
        per = max(1, _CHUNK // (n * n))
        total = np.zeros((n, n))
        for chunk, start in enumerate(range(0, pairs, per)):
            m = min(per, pairs - start)
            z = self._normals(layer, chunk, m * n * n).reshape(m * n, n)
            # S = R Z^T R^T (the law of R Z R^T), as two products of (m n, n) by (n, n) matrices
            y = (z @ r.T).reshape(m, n, n).transpose(0, 2, 1).reshape(m * n, n)
            s = (y @ r.T).reshape(m, n, n)
            for sign in (1.0, -1.0):
                a = _softmax_rows(sign * s, mask)
                if unif is not None:
                    a -= unif
                bm = (a.reshape(m * n, n) @ rv).reshape(m, n, n).transpose(1, 0, 2).reshape(n, m * n)
                total += bm @ bm.T  # sum over draws of B B^T = A K_V A^T, B = A R_V
        out = total / (2 * pairs)
        return np.asarray(0.5 * (out + out.T))

    def _exchangeable(
        self, layer: int, n: int, ex_qk: tuple[float, float], ex_v: tuple[float, float], centred: bool
    ) -> tuple[float, float]:
        """Two rows of scores per draw: ``Y_2 = E sum_j A_ij^2`` and ``O = E sum_j A_ij A_kj``.

        Returns the diagonal and the off-diagonal of the output Gram.

        ``a^T K_V a' = (qv - pv) a . a' + pv (sum a)(sum a')``: with ``sum a = 1`` the Gram is
        ``pv + (qv - pv) Y_2`` on the diagonal and ``pv + (qv - pv) O`` off it; centred
        (``a - 1/n``, summing to 0) it is ``(qv - pv) (Y_2 - 1/n)`` and ``(qv - pv) (O - 1/n)``.
        """
        (qs, ps), (qv, pv) = ex_qk, ex_v
        pairs = self.samples * EXCHANGEABLE_FACTOR // 2
        per = max(1, _CHUNK // (2 * n))
        y2 = overlap = 0.0
        for chunk, start in enumerate(range(0, pairs, per)):
            m = min(per, pairs - start)
            z = self._normals(layer, chunk, 2 * m * n).reshape(2, m, n)
            si, sk = exchangeable_rows(z[0], z[1], qs, ps)
            for sign in (1.0, -1.0):
                ai, ak = _softmax_rows(sign * si, None), _softmax_rows(sign * sk, None)
                y2 += 0.5 * float(np.sum(ai * ai) + np.sum(ak * ak))
                overlap += float(np.sum(ai * ak))
        y2, overlap = y2 / (2 * pairs), overlap / (2 * pairs)
        if centred:
            return (qv - pv) * (y2 - 1.0 / n), (qv - pv) * (overlap - 1.0 / n)
        return pv + (qv - pv) * y2, pv + (qv - pv) * overlap


def uniform_closed_form(kv: _F, causal: bool) -> _F:
    """``U K_V U^T`` for the uniform attention ``U`` (:func:`uniform_attention`): the exact
    infinite-width Gram under ``1/d_h`` scores."""
    u = uniform_attention(kv.shape[0], causal)
    out = u @ kv @ u.T
    return np.asarray(0.5 * (out + out.T))


def needs_monte_carlo(net: BlockNetwork) -> bool:
    """Whether some attention block of ``net`` has random scores (``1/sqrt(d_h)`` and nonzero ``K_qk``)."""
    b_qk = dict(net.biases or ()).get("qk", net.bias)
    return any(
        isinstance(b, (Attention, TransformerBlock)) and b.score == "sqrt" and (net.gain * b.qk_gain > 0 or b_qk > 0)
        for b in net.block_list()
    )


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS on one thread (with threadpoolctl, where installed).

    The Monte Carlo's products are thin (``(m n) x n`` by ``n x n``): threads gain little on
    them, and on a busy machine OpenBLAS's waiting threads made them several times slower.
    """
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class MonteCarloGrams:
    """The mean field of a network with attention: Grams, breakdown, and their Monte Carlo error."""

    grams: _F
    diverged_at: int
    reason: str
    samples: int  # draws per attention block, 0 without Monte Carlo
    stderr: _F | None  # like grams; None without Monte Carlo
    metric_stderr: dict[str, _F] | None


def _pair_state(net: BlockNetwork, state: _ResidualStream) -> _ResidualStream | None:
    """Layer 0 reduced to two of its tokens, when that loses nothing; else None.

    When every token has the same norm and mean and every pair the same correlation, and every
    attention block is bidirectional, every block keeps the state exchangeable (the attention
    by :meth:`MonteCarlo._exchangeable`, whose draws depend on the number of tokens only; the
    rest entrywise), so two tokens carry the whole state.
    """
    if any(b.causal for b in net.block_list() if isinstance(b, (Attention, TransformerBlock))):
        return None
    m = state.m
    scale = max(float(np.max(np.abs(state.c))), float(np.max(np.abs(m))), np.finfo(float).tiny)
    if exchangeable(state.c) is None or np.max(np.abs(m - m[0])) > EXCHANGEABLE_RTOL * scale:
        return None
    if state.diag is not None and np.max(np.abs(state.diag - state.diag[0])) > EXCHANGEABLE_RTOL * scale:
        return None
    return _ResidualStream(state.c[:2, :2].copy(), m[:2].copy(), None if state.diag is None else state.diag[:2].copy())


def _full(pairs: _F, n: int) -> _F:
    """``(k, 2, 2)`` Grams of a pair of exchangeable tokens as the ``(k, n, n)`` Grams of all of them."""
    out = np.empty((pairs.shape[0], n, n))
    out[:] = pairs[:, 0, 1][:, None, None]
    idx = np.arange(n)
    out[:, idx, idx] = pairs[:, 0, 0][:, None]
    return out


def _expand(pairs: _F, k0: _F) -> _F:
    """:func:`_full` of a trajectory ``G^0..G^L``, layer 0 replaced by ``k0`` (as the full recursion has it)."""
    out = _full(pairs, k0.shape[0])
    out[0] = k0
    return out


#: The closed-form metrics of an exchangeable Gram (:func:`exchangeable_metrics`) are used where
#: its smallest eigenvalue exceeds this many times the simulator's singularity threshold
#: ``n eps lambda_max``; nearer singular Grams go to the compiled metrics.
_REGULAR_MARGIN = 1e3


def exchangeable_metrics(pairs: _F, n: int) -> dict[str, _F]:
    """The metrics of :data:`~isoinit.metrics.METRICS` of the ``n x n`` exchangeable Grams that
    ``pairs`` (``(..., 2, 2)``: diagonal ``q``, off-diagonal ``p``) stand for, in closed form.

    The spectrum is ``q - p`` (``n - 1`` times) and ``q + (n - 1) p``, every correlation
    ``p / q``: the compiled metrics' definitions on it, without an ``n x n`` eigensolver. Grams
    within :data:`_REGULAR_MARGIN` of singular, zero or not finite take the compiled metrics of
    the expanded Gram.
    """
    q, p = pairs[..., 0, 0], pairs[..., 0, 1]
    with np.errstate(all="ignore"):
        la, lb = q - p, q + (n - 1) * p
        lmin, lmax = np.minimum(la, lb), np.maximum(la, lb)
        trace = n * q
        regular = (
            np.isfinite(q) & np.isfinite(p) & (lmax > 0) & (lmin > _REGULAR_MARGIN * n * np.finfo(float).eps * lmax)
        )
        mean_log = ((n - 1) * np.log(la) + np.log(lb)) / n
        gap = np.maximum(np.log(trace / n) - mean_log, 0.0)
        pa, pb = la / trace, lb / trace
        entropy = -(n - 1) * pa * np.log(pa) - pb * np.log(pb)
        r = np.minimum(np.abs(p) / q, 1.0)
        out = {
            "isometry": np.exp(-gap),
            "gap": gap,
            "potential": np.where(r >= 1.0, np.inf, r / (1.0 - r)),
            "effective_rank": np.exp(entropy),
            "stable_rank": trace / lmax,
            "mean_abs_corr": r,
            "max_abs_corr": r,
            "condition": lmax / lmin,
        }
    if not regular.all():
        idx = np.flatnonzero(~regular.reshape(-1))
        exact = _measure(_full(pairs.reshape(-1, 2, 2)[idx], n))
        for name in METRICS:
            out[name] = out[name].reshape(-1).copy()
            out[name][idx] = exact[name]
            out[name] = out[name].reshape(q.shape)
    return {name: np.asarray(out[name], dtype=float) for name in METRICS}


def monte_carlo_grams(
    net: BlockNetwork, x: _F, g0: _F, *, samples: int, seed: int, reduce: bool = True
) -> MonteCarloGrams:
    """``G^0..G^L`` of a block network, attention by :class:`MonteCarlo` in :data:`REPLICAS` replicas.

    Each replica runs the whole recursion with ``samples / REPLICAS`` draws per attention block;
    the Grams are the replicas' mean, so the standard deviation over replicas over
    ``sqrt(REPLICAS)`` is the Monte Carlo standard error of everything, propagation included.
    The replicas are accumulated one at a time (Welford's update), so memory stays that of a
    few trajectories. An exchangeable input runs on one pair of tokens (:func:`_pair_state`;
    ``reduce=False`` runs every token, for the tests: the same numbers to rounding).
    """
    if not needs_monte_carlo(net):
        grams, at, why = _stream_grams(net, x, g0, MonteCarlo(seed, 0, 0))
        return MonteCarloGrams(grams, at, why, 0, None, None)
    per = samples // REPLICAS
    state, k0 = input_state(net, x, g0)
    pair = _pair_state(net, state) if reduce else None
    n = k0.shape[0]
    mean = m2 = np.zeros(0)
    metrics: list[dict[str, _F]] = []
    broken: list[tuple[int, str]] = []
    with _one_blas_thread():
        for r in range(REPLICAS):
            if pair is None:
                g, at, why = _iterate(net, state, k0, MonteCarlo(seed, r, per))
            else:  # the same draws on one pair of tokens: O(1) instead of O(n^2) per block
                g, at, why = _iterate(net, pair, pair.gram(), MonteCarlo(seed, r, per, tokens=n))
            if at >= 0:
                broken.append((at, why))
            metrics.append(_measure(g) if pair is None else exchangeable_metrics(g, n))
            if r == 0:
                mean, m2 = g.copy(), np.zeros_like(g)
            else:
                delta = g - mean
                mean += delta / (r + 1)
                m2 += delta * (g - mean)
    at, why = min(broken) if broken else (-1, "")
    root = math.sqrt(REPLICAS)
    stderr = np.sqrt(m2 / (REPLICAS - 1)) / root
    if pair is not None:
        mean, stderr = _expand(mean, k0), _expand(stderr, np.zeros_like(k0))
    with np.errstate(invalid="ignore"):  # a metric that is infinite in every replica has no spread
        metric_stderr = {k: np.std([m[k] for m in metrics], axis=0, ddof=1) / root for k in METRICS}
    if at >= 0:
        for a in (mean, stderr, *metric_stderr.values()):
            a[at:] = np.nan
    return MonteCarloGrams(mean, at, why, per * REPLICAS, stderr, metric_stderr)


# --------------------------------------------------------------------------------------
# the Random Energy Model limit (Giorlandino and Goldt)
# --------------------------------------------------------------------------------------


def rem_participation(sigma2: float, tokens: int) -> float:
    """``Y_2 = lim E sum_j A_ij^2`` for ``T`` scores with independent parts of variance ``sigma2``.

    The Random Energy Model at ``sigma2 = beta_eff^2 log T``, ``T -> inf``: 0 below the
    freezing point ``beta_c = sqrt(2)`` (the weights spread over a number of tokens that grows
    like a power of ``T``), ``1 - sqrt(2) / beta_eff`` above it (a few tokens carry the weight).
    """
    if sigma2 <= 0:
        return 0.0
    beta_eff = math.sqrt(sigma2 / math.log(tokens))
    return max(0.0, 1.0 - math.sqrt(2.0) / beta_eff)


class REM:
    """The attention map of the REM limit, on an exchangeable (``2 x 2``: one pair of tokens) state.

    With ``K_qk = (qs, ps)`` and ``K_V = (qv, pv)`` (diagonal, off-diagonal): the scores'
    independent parts have variance ``sigma^2 = qs (qs - ps)``, ``Y_2`` is
    :func:`rem_participation`, different rows do not overlap, so ``E[A K_V A^T]`` has diagonal
    ``pv + (qv - pv) Y_2`` and off-diagonal ``pv``; centred, ``(qv - pv) Y_2`` and 0. Under
    ``1/d_h`` scores ``Y_2 = 0``.
    """

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.history: list[float] = []  # Y_2 of every call
        self.freezing: list[float] = []  # beta_eff / sqrt(2) of every call: frozen above 1

    def __call__(self, layer: int, b: Attention | TransformerBlock, kqk: _F, kv: _F) -> _F:
        ex_qk, ex_v = exchangeable(kqk), exchangeable(kv)
        assert ex_qk is not None and ex_v is not None  # the REM state is one pair of tokens
        (qs, ps), (qv, pv) = ex_qk, ex_v
        sigma2 = 0.0 if b.score == "linear" else max(qs * (qs - ps), 0.0)
        y2 = rem_participation(sigma2, self.tokens)
        self.history.append(y2)
        self.freezing.append(math.sqrt(sigma2 / (2.0 * math.log(self.tokens))))
        diag, off = ((qv - pv) * y2, 0.0) if b.centred else (pv + (qv - pv) * y2, pv)
        n = kqk.shape[0]
        out = np.full((n, n), off)
        np.fill_diagonal(out, diag)
        return out


def _attention_blocks(net: BlockNetwork) -> list[Attention | TransformerBlock]:
    return [b for b in net.block_list() if isinstance(b, (Attention, TransformerBlock))]


def rem_beta(net: BlockNetwork, tokens: int) -> float:
    """Giorlandino and Goldt's ``beta`` of the first attention block: ``gain^2 qk_gain^2 / sqrt(log T)``.

    Their query and key weights are ``N(0, beta sqrt(log T) / d_h)`` with one head (``d_h = d``);
    ``N(0, beta sqrt(log T) / d)`` keeps the scores of unit-norm tokens at variance
    ``beta^2 log T`` for any number of heads. isoinit's are ``N(0, qk_gain^2 gain^2 / d)``, hence
    ``qk_gain^2 gain^2 = beta sqrt(log T)``.

    Parameters
    ----------
    net : BlockNetwork
        A network with an attention block.
    tokens : int
        The context length ``T >= 2``.
    """
    tokens = check.integer("tokens", tokens, 2)
    blocks = _attention_blocks(net)
    if not blocks:
        raise ValueError(f"net must have an attention block; got {net.label()}")
    return float(net.gain**2 * blocks[0].qk_gain ** 2 / math.sqrt(math.log(tokens)))


def rem_qk_gain(beta: float, tokens: int, gain: float = 1.0) -> float:
    """The ``qk_gain`` that gives Giorlandino and Goldt's ``beta`` at context length ``tokens``.

    ``sqrt(beta sqrt(log T)) / gain``, the inverse of :func:`rem_beta`.

    Parameters
    ----------
    beta : float
        ``>= 0``.
    tokens : int
        The context length ``T >= 2``.
    gain : float
        The network's ``gain`` (``> 0``), which multiplies the query and key weights too.
    """
    beta = check.real("beta", beta, 0.0)
    tokens = check.integer("tokens", tokens, 2)
    gain = check.real("gain", gain, 0.0, low_open=True)
    return math.sqrt(beta * math.sqrt(math.log(tokens))) / gain


def rem_beta_c(rho: float) -> float:
    """``beta_c = sqrt(2 / (1 - rho))``: where attention on unit-norm tokens of correlation ``rho`` freezes.

    The Random Energy Model's freezing point ``sqrt(2)`` for the scores' independent parts,
    of variance ``(1 - rho) beta^2 log T`` (Giorlandino and Goldt); ``inf`` at ``rho = 1``.

    Parameters
    ----------
    rho : float
        The tokens' correlation, in ``[-1, 1]``.
    """
    rho = check.real("rho", rho, -1.0, 1.0)
    return math.inf if rho >= 1.0 else math.sqrt(2.0 / (1.0 - rho))


#: The network's output correlation (from orthogonal tokens) at or above which it has collapsed.
RANK_COLLAPSE_RHO = 0.99

Regime = str  # "rank collapse", "signal preserved" or "entropy collapse"


def _pair(rho0: float) -> _ResidualStream:
    """One pair of unit-norm tokens of correlation ``rho0``: the REM recursion's layer 0."""
    return _ResidualStream(np.array([[1.0, rho0], [rho0, 1.0]]), np.zeros(2))


def _corr(k: _F) -> float:
    return float(k[0, 1] / math.sqrt(k[0, 0] * k[1, 1]))


def rem_run(net: BlockNetwork, tokens: int, rho0: float) -> tuple[_F, _F, _F]:
    """The REM recursion from a pair of unit-norm tokens of correlation ``rho0``.

    Returns the correlation after every block, ``rho_0..rho_L``; every block's
    ``Y_2 = sum_j A_ij^2`` (its attention's participation; NaN for a block without attention),
    shape ``(L,)``; and every block's ``beta_eff / sqrt(2)``, the inverse temperature of its
    scores over the freezing point (above 1: frozen, ``Y_2 > 0``; smooth where ``Y_2`` is
    clipped at 0), shape ``(L,)``.
    """
    branch = REM(tokens)
    grams, _, _ = _iterate(net, _pair(rho0), _pair(rho0).gram(), branch)
    d = np.sqrt(grams[:, 0, 0] * grams[:, 1, 1])
    y2 = np.full(net.depth, np.nan)
    attention = [i for i, b in enumerate(net.block_list()) if isinstance(b, (Attention, TransformerBlock))]
    y2[attention] = branch.history
    freezing = np.full(net.depth, np.nan)
    freezing[attention] = branch.freezing
    return np.asarray(grams[:, 0, 1] / d), y2, freezing


def rem_correlations(net: BlockNetwork, tokens: int, rho0: float) -> _F:
    """The REM-limit correlation of a pair of tokens after every block, ``rho_0..rho_L``."""
    return rem_run(net, tokens, rho0)[0]


def classify(rho_out: float, participation: float) -> Regime:
    """The failure mode of a REM trajectory: ``entropy collapse`` if some attention block's
    ``Y_2 > 0``, else ``rank collapse`` if the output correlation is at least
    :data:`RANK_COLLAPSE_RHO`, else ``signal preserved``."""
    if participation > 0:
        return "entropy collapse"
    return "rank collapse" if rho_out >= RANK_COLLAPSE_RHO else "signal preserved"


#: Iterations of the last block that find the REM fixed point, and its convergence tolerance.
_FIXED_ITERATIONS, _FIXED_TOL = 5000, 1e-13


@dataclass(frozen=True)
class AttentionPrediction:
    """What the REM limit (Giorlandino and Goldt, ICLR 2026) predicts for a network with attention.

    The recursion starts from orthogonal unit-norm tokens (``rho_0 = 0``: every token distinct)
    and runs through the network's blocks; :meth:`rem` runs it from any ``rho_0``.

    Attributes
    ----------
    network : BlockNetwork
        The network (every attention block bidirectional, gaussian init).
    tokens : int
        The context length ``T`` the scores' scale ``beta sqrt(log T)`` refers to.
    beta : float
        Giorlandino and Goldt's ``beta`` of the first attention block,
        ``gain^2 qk_gain^2 / sqrt(log T)`` (:func:`rem_beta`): for unit-norm tokens its scores
        have variance ``beta^2 log T``.
    rho_out : float
        The correlation after the last block.
    beta_c : float
        ``sqrt(2 / (1 - rho_out))``: the freezing point at that correlation (``inf`` at 1).
    participation : float
        The largest ``Y_2 = sum_j A_ij^2`` of an attention block along the way (in the REM
        limit ``max(0, 1 - beta_c / beta)``): 0 when every block spreads its attention over the
        tokens, towards 1 when a few tokens carry it.
    regime : {"rank collapse", "signal preserved", "entropy collapse"}
        ``entropy collapse``: some attention block sees ``beta > beta_c`` (``participation >
        0``: each row's attention sits on a few tokens; the tokens stay apart there);
        otherwise ``rank collapse`` when ``rho_out >= 0.99`` (attention averages the tokens and
        the residual path does not hold them apart), else ``signal preserved``.
    rho_star : float
        The correlation that repeating the last block converges to (the deep limit): 1 when
        rank collapse is where a deeper network ends.
    statement : str
        The prediction in words.
    """

    network: BlockNetwork
    tokens: int
    beta: float
    rho_out: float
    beta_c: float
    participation: float
    regime: Regime
    rho_star: float
    statement: str

    def rem(self, rho0: float) -> _F:
        """The REM-limit correlation after every block, from a pair of unit-norm tokens of correlation ``rho0``.

        Shape ``(depth + 1,)``: ``rho0`` then the block outputs (large-``T`` limit: compare with
        the mean off-diagonal correlation of a simulation whose input tokens are equally
        correlated).
        """
        return rem_correlations(self.network, self.tokens, check.real("rho0", rho0, -1.0, 1.0))

    def participations(self, rho0: float) -> _F:
        """Every block's ``Y_2 = sum_j A_ij^2`` along :meth:`rem` from ``rho0``, shape ``(depth,)``.

        0 where the block's attention spreads over the tokens, ``1 - beta_c / beta_eff`` where it
        is frozen on a few of them (entropy collapse); NaN for a block without attention.
        """
        return rem_run(self.network, self.tokens, check.real("rho0", rho0, -1.0, 1.0))[1]

    @staticmethod
    def beta_c_at(rho: float) -> float:
        """``sqrt(2 / (1 - rho))`` (:func:`rem_beta_c`)."""
        return rem_beta_c(float(rho))


def _deep_limit(net: BlockNetwork, tokens: int, rho: float) -> float:
    """The fixed point of the last block's REM map, iterated from ``rho``."""
    last, branch = net.block_list()[-1], REM(tokens)
    for _ in range(_FIXED_ITERATIONS):
        if not math.isfinite(rho) or rho >= 1.0:
            break
        new = _corr(_block(net, net.depth, last, _pair(rho), branch).gram())
        done = abs(new - rho) < _FIXED_TOL
        rho = new
        if done:
            break
    return min(rho, 1.0)


def predict_attention(net: BlockNetwork, tokens: int) -> AttentionPrediction:
    """The REM-limit regime of ``net`` at context length ``tokens`` (see :class:`AttentionPrediction`)."""
    _check_network(net, attention=True)
    if not _attention_blocks(net):
        raise ValueError(f"network must have an attention block for the REM prediction; got {net.label()}")
    for i, b in enumerate(net.block_list()):
        if isinstance(b, (Attention, TransformerBlock)) and b.causal:
            raise ValueError(
                f"the REM limit describes bidirectional attention (every row sees all T tokens); block {i} is "
                "causal, whose row i sees i + 1 tokens. Use isoinit.meanfield.trajectory (exact at any T)."
            )
    beta = rem_beta(net, tokens)
    rhos, y2s, _ = rem_run(net, tokens, 0.0)
    rho_out, y2 = float(rhos[-1]), float(np.nanmax(y2s))
    beta_c = rem_beta_c(rho_out)
    rho_star = _deep_limit(net, tokens, rho_out)
    deep = (
        "; a deeper stack of its last block collapses (rho* = 1)"
        if rho_star >= 1 - 1e-6
        else f"; rho* = {rho_star:.4g} in a deeper stack"
    )
    mode = classify(rho_out, y2)
    if mode == "entropy collapse":
        words = (
            f"beta = {beta:.3g} is above beta_c = sqrt(2 / (1 - rho)) at some attention block, whose rows "
            f"concentrate on a few tokens (entropy collapse, sum_j A_ij^2 up to {y2:.3g}); the tokens' "
            f"correlation reaches {rho_out:.4g}"
        )
    elif mode == "rank collapse":
        words = (
            f"beta = {beta:.3g} stays below beta_c at every block, attention averages the tokens, and their "
            f"correlation reaches {rho_out:.4g} (rank collapse)"
        )
    else:
        words = (
            f"beta = {beta:.3g} stays below beta_c at every block and the residual path keeps the tokens apart: their "
            f"correlation reaches {rho_out:.4g} (signal preserved)"
        )
    statement = f"{net.label()}, T = {tokens}, REM limit (large T), from orthogonal tokens: {words}{deep}"
    return AttentionPrediction(net, tokens, beta, rho_out, beta_c, y2, mode, rho_star, statement)
