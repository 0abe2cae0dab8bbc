"""sampler="auto" picks the sampler that isoinit._cost's model predicts is cheaper.

A test of the choice, not of the machine: on configurations where the model's answer is
clear-cut (one sampler at least 2x cheaper), auto must run that sampler and report it.
Whether the model's choice is also the faster one on a given machine is measured by
bench/bench_factor.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

import isoinit
from isoinit import _cost

#: (n, d, weights, metrics, the cheaper sampler); depth 3, relu + layer norm
CLEAR_CUT = [
    # few rows, wide layers: the Gram sampler's n x d draws against the weights' d x d
    (10, 1000, "gaussian", None, "gram"),
    (64, 1000, "orthogonal", None, "gram"),
    # many rows, narrow layers, no eigenvalues: the Gram sampler's n^3 Cholesky per layer
    # (semidefinite, n > d) against the weights' n d^2 product
    (256, 16, "gaussian", ["gap"], "weights"),
    (512, 32, "gaussian", ["gap", "isometry"], "weights"),
]


@pytest.mark.parametrize(("n", "d", "weights", "metrics", "cheaper"), CLEAR_CUT)
@pytest.mark.filterwarnings("ignore::isoinit.SingularInputWarning")  # n > d on purpose: the weights' regime
def test_auto_runs_and_reports_the_cheaper_sampler(
    n: int, d: int, weights: str, metrics: Sequence[str] | None, cheaper: str
) -> None:
    mlp = isoinit.MLP(3, d, "relu", "layer", weights=weights)  # type: ignore[arg-type]
    x = isoinit.inputs.gaussian(n, d, seed=0)
    cost = {
        s: _cost.network_seconds(s, n, [d, *mlp.widths()], orthogonal=weights == "orthogonal", metrics=metrics)
        for s in ("gram", "weights")
    }
    other = "weights" if cheaper == "gram" else "gram"
    assert cost[other] > 2 * cost[cheaper], cost  # the model's answer, and clear-cut
    auto = isoinit.simulate(mlp, x, runs=2, seed=5, metrics=metrics, grams=True)
    assert auto.sampler == cheaper and auto.provenance.sampler == cheaper
    # the reported sampler is the one that ran: the same Grams as asking for it by name (the
    # gap is inf at n > d for both)
    named = {
        s: isoinit.simulate(mlp, x, runs=2, seed=5, metrics=metrics, grams=True, sampler=s) for s in ("gram", "weights")
    }
    np.testing.assert_array_equal(auto.grams, named[cheaper].grams)
    assert not np.array_equal(auto.grams, named[other].grams)


def test_auto_takes_weights_where_the_gram_sampler_cannot_run() -> None:
    """Orthogonal weights with more rows than the widest map: auto runs weights whatever
    the cost (the Gram sampler's QR needs n <= max(d_in, d_out))."""
    mlp = isoinit.MLP(3, 8, "relu", "layer", weights="orthogonal")
    x = isoinit.inputs.gaussian(12, 8, seed=0)
    with pytest.warns(isoinit.SingularInputWarning):  # n = 12 > d = 8
        assert isoinit.simulate(mlp, x, runs=1).sampler == "weights"
    with pytest.raises(ValueError, match="sampler 'gram' with orthogonal weights needs n <= max"):
        isoinit.simulate(mlp, x, runs=1, sampler="gram")


def test_cost_model_counts_the_factorizations() -> None:
    """The estimate grows like n^3 once the factorizations dominate (small d, large n), and
    dropping the eigenvalue metrics removes most of it."""
    small, large = (_cost.network_seconds("gram", n, [16] * 4) for n in (256, 512))
    assert large / small > 4
    cheap = _cost.network_seconds("gram", 512, [16] * 4, metrics=["gap", "potential"])
    assert cheap < large / 2
