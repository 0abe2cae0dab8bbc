"""The paper's figures of a metric against the layer.

The isometry gap (or the potential) of the block outputs of deep MLPs, simulated, with the
mean-field trajectory and the potential bound beside it.

Each figure is one function ``ctx -> Spec`` registered with
:func:`~isoinit.figures._registry.register_layers`: its panels and curves (networks at the
paper's widths, scaled by ``ctx.width``; default runs through ``ctx.nruns``). The common
measuring (:mod:`~isoinit.figures._measure`) and drawing (:mod:`~isoinit.figures._draw`)
do the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..networks.mlp import MLP
from ._measure import Context, Curve, Panel, Spec
from ._registry import register_layers

_GAP = "isometry gap  -log I(G^l)"
_POT = "potential  gamma(G^l)"

_FOUR = ("relu", "tanh", "sigmoid", "exp")

# PyTorch's torch.nn.init.calculate_gain, the "Xavier gain" of the paper's experiments
_XAVIER_GAIN = {
    "selu": 0.75,
    "leaky_relu(0.01)": math.sqrt(2.0 / (1.0 + 0.01**2)),
    "relu": math.sqrt(2.0),
    "tanh": 5.0 / 3.0,
}


def _mlp(ctx: Context, depth: int, d: int, act: str, **kw: Any) -> MLP:
    return MLP(depth, ctx.width(d), act, **kw)


def _per_activation(
    ctx: Context,
    acts: Sequence[str],
    variants: Sequence[tuple[str, dict[str, Any]]],
    *,
    d: int = 1000,
    depth: int = 30,
    degeneracy: float = 100.0,
    runs: int = 10,
) -> tuple[Panel, ...]:
    """One panel per activation, one curve per ``(label, MLP keywords)`` variant."""
    return tuple(
        Panel(
            act,
            tuple(Curve(label, _mlp(ctx, depth, d, act, **kw), degeneracy, ctx.nruns(runs)) for label, kw in variants),
        )
        for act in acts
    )


@register_layers(
    "hermite-poly",
    "Hermite polynomial activations He_1, He_2, He_3 with layer norm",
    position=2,
    published="He_1 (linear) stays flat after the first layer; He_2, He_3 drop fast (contraction factor 1/2) "
    "to a small finite-width floor",
)
def hermite_poly(ctx: Context) -> Spec:
    """Figure ``hermite-poly``: Hermite polynomial activations ``He_1``, ``He_2``, ``He_3``.

    Depth-15 layer-norm MLPs at width 2000 on inputs of degeneracy 10 (10 runs by default):
    one panel of the isometry gap, one of the potential with its bound.
    """
    r = ctx.nruns(10)
    gap = tuple(Curve(f"He_{k}", _mlp(ctx, 15, 2000, f"he{k}"), 10.0, r) for k in (1, 2, 3))
    pot = tuple(replace(c, quantity="potential", bound=True) for c in gap)
    return Spec(
        (Panel("isometry gap", gap), Panel("potential (block output) and bound", pot)),
        f"{_GAP}  /  {_POT}",
        "He_1 is linear (beta_0 = 1, no contraction); He_2, He_3 have beta_0 = 0: the bound contracts by 1/2 per layer",
    )


@register_layers(
    "order",
    "relu with layer norm: act-norm vs norm-act",
    position=3,
    published="act-norm decreases steadily by orders of magnitude; norm-act jumps up and slowly rises "
    "(no bias towards isometry)",
)
def order(ctx: Context) -> Spec:
    """Figure ``order``: relu with layer norm, ``act-norm`` against ``norm-act``.

    Depth 30, width 1000, degeneracy 100, 10 runs by default; one panel of the isometry gap.
    """
    r = ctx.nruns(10)
    curves = tuple(Curve(o, _mlp(ctx, 30, 1000, "relu", order=o), 100.0, r) for o in ("act-norm", "norm-act"))
    return Spec((Panel("relu, layer norm", curves),), _GAP)


@register_layers(
    "self-normalize",
    "layer centering without scaling: relu, tanh, SELU",
    position=4,
    published="ReLU falls quickly then drifts up; SELU declines slowly; tanh stays roughly flat",
)
def self_normalize(ctx: Context) -> Spec:
    """Figure ``self-normalize``: layer centering without scaling, for relu, tanh and SELU.

    Depth 30, width 1000, degeneracy 5, 30 runs by default; one panel of the isometry gap.
    """
    r = ctx.nruns(30)
    curves = tuple(
        Curve(a, _mlp(ctx, 30, 1000, a, center="layer", scale="none"), 5.0, r) for a in ("relu", "tanh", "selu")
    )
    return Spec((Panel("layer centering, no scaling", curves),), _GAP)


@register_layers(
    "centering",
    "layer scaling, centering none vs layer",
    position=5,
    published="without centering ReLU and exp do not improve (exp grows, sigmoid overflows within a few layers); "
    "with centering ReLU and exp fall by orders of magnitude; tanh (already centered) is the same either way; "
    "sigmoid barely moves (beta_0 near 1)",
)
def centering(ctx: Context) -> Spec:
    """Figure ``centering``: layer scaling with centering ``none`` against ``layer``.

    One panel per activation (relu, tanh, sigmoid, exp); depth 30, width 1000, degeneracy 100,
    10 runs by default.
    """
    v = [(f"center={c}", dict(center=c, scale="layer")) for c in ("none", "layer")]
    return Spec(_per_activation(ctx, _FOUR, v), _GAP)


@register_layers(
    "centering-mf",
    "layer scaling, centering layer vs mean-field constant (mf)",
    position=6,
    published="the two are nearly identical for all four activations",
)
def centering_mf(ctx: Context) -> Spec:
    """Figure ``centering-mf``: layer scaling with centering ``layer`` against ``mf``.

    One panel per activation (relu, tanh, sigmoid, exp); depth 30, width 1000, degeneracy 100,
    10 runs by default.
    """
    v = [(f"center={c}", dict(center=c, scale="layer")) for c in ("layer", "mf")]
    return Spec(_per_activation(ctx, _FOUR, v), _GAP)


@register_layers(
    "normalization",
    "mf centering, scaling none vs layer",
    position=7,
    published="without scaling ReLU climbs and breaks down numerically after about 20 layers, exp after 2; "
    "with layer scaling all decrease",
)
def normalization(ctx: Context) -> Spec:
    """Figure ``normalization``: ``mf`` centering with scaling ``none`` against ``layer``.

    One panel per activation (relu, tanh, sigmoid, exp); depth 30, width 1000, degeneracy 10,
    10 runs by default.
    """
    v = [(f"scale={s}", dict(center="mf", scale=s)) for s in ("none", "layer")]
    return Spec(_per_activation(ctx, _FOUR, v, degeneracy=10.0), _GAP)


@register_layers(
    "normalization-mf",
    "mf centering, scaling layer vs mean-field constant (mf)",
    position=8,
    published="tanh and sigmoid agree; with mf constants ReLU drifts up after ~15 layers and exp explodes, "
    "while layer scaling keeps decreasing",
)
def normalization_mf(ctx: Context) -> Spec:
    """Figure ``normalization-mf``: ``mf`` centering with scaling ``layer`` against ``mf``.

    One panel per activation (relu, tanh, sigmoid, exp); depth 30, width 1000, degeneracy 10,
    10 runs by default.
    """
    v = [(f"scale={s}", dict(center="mf", scale=s)) for s in ("layer", "mf")]
    return Spec(_per_activation(ctx, _FOUR, v, degeneracy=10.0), _GAP)


@register_layers(
    "mf-vs-finite",
    "relu, mf centering, scaling mf vs layer at widths 100, 500, 1000",
    position=9,
    published="fixed mean-field constants drift away at finite width (worse for small d), layer scaling keeps "
    "the curve decreasing to a floor that falls with d",
)
def mf_vs_finite(ctx: Context) -> Spec:
    """Figure ``mf-vs-finite``: relu with ``mf`` centering at widths 100, 500 and 1000.

    One panel per scaling (``mf``, ``layer``), one curve per width; depth 30, degeneracy 10,
    10 runs by default.
    """
    r = ctx.nruns(10)
    panels = tuple(
        Panel(
            f"relu, center=mf, scale={s}",
            tuple(
                Curve(f"d={ctx.width(d)}", MLP(30, ctx.width(d), "relu", center="mf", scale=s), 10.0, r)
                for d in (100, 500, 1000)
            ),
        )
        for s in ("mf", "layer")
    )
    return Spec(panels, _GAP, "the mean-field curve does not depend on the width")


@register_layers(
    "potential-vs-theory",
    "potential gamma(G^l) with layer norm against the bound",
    position=10,
    published="the measured potential stays below the bound; ReLU decays fastest, sigmoid barely",
)
def potential_vs_theory(ctx: Context) -> Spec:
    """Figure ``potential-vs-theory``: the potential with layer norm against its bound.

    One panel per activation (relu, tanh, sigmoid); depth 30, width 1000, degeneracy 100,
    10 runs by default.
    """
    r = ctx.nruns(10)
    panels = tuple(
        Panel(a, (Curve("layer norm", _mlp(ctx, 30, 1000, a), 100.0, r, "potential", bound=True),))
        for a in ("relu", "tanh", "sigmoid")
    )
    return Spec(
        panels,
        _POT,
        "bound gamma(G^1) (2 - beta_0)^-(l-1), anchored on the measured "
        "mean potential at layer 1; potential always measured on the block output",
    )


@register_layers(
    "gain",
    "pre-activation gain 0.5, 1, 2 with layer norm",
    position=11,
    published="ReLU is the same for every gain; sin and tanh contract much faster at gain 2 and hardly at 0.5",
)
def gain(ctx: Context) -> Spec:
    """Figure ``gain``: pre-activation gain 0.5, 1 and 2 with layer norm.

    One panel per activation (sin, relu, tanh); depth 30, width 1000, degeneracy 100, 10 runs
    by default.
    """
    v = [(f"gain={g:g}", dict(gain=g)) for g in (0.5, 1.0, 2.0)]
    return Spec(_per_activation(ctx, ("sin", "relu", "tanh"), v), _GAP)


@register_layers(
    "mf-vs-xavier",
    "mf centering + scaling at gain 1 vs no normalization at Xavier gain",
    position=13,
    published="without normalization ReLU-type activations stay collapsed; with mf centering they improve; "
    "SELU is flat either way",
)
def mf_vs_xavier(ctx: Context) -> Spec:
    """Figure ``mf-vs-xavier``: ``mf`` norm at gain 1 against no norm at the Xavier gain.

    One panel per activation (SELU, leaky relu, relu, tanh), the Xavier gain being PyTorch's
    ``torch.nn.init.calculate_gain``; depth 30, width 1000, degeneracy 100, 10 runs by default.
    """
    panels: list[Panel] = []
    for act, g in _XAVIER_GAIN.items():
        v: list[tuple[str, dict[str, Any]]] = [
            ("mf norm, gain 1", {"norm": "mf"}),
            (f"no norm, gain {g:.3g}", {"norm": "none", "gain": g}),
        ]
        panels.extend(_per_activation(ctx, (act,), v))
    return Spec(tuple(panels), _GAP, "Xavier gain = torch.nn.init.calculate_gain")


@register_layers(
    "layernorm-vs-batchnorm",
    "layer norm vs batch norm, relu and identity",
    position=14,
    published="layer norm: identity flat, ReLU decreasing; batch norm: both drop within a few layers to a plateau "
    "(batch norm orthogonalizes even linear networks)",
)
def layernorm_vs_batchnorm(ctx: Context) -> Spec:
    """Figure ``layernorm-vs-batchnorm``: layer norm against batch norm, relu and identity.

    Three panels: layer norm and batch norm (isometry gap on the complement of the all-ones
    vector), and batch scaling without centering (ordinary isometry gap); depth 30, width
    1000, degeneracy 100, 30 runs by default.
    """
    r = ctx.nruns(30)
    ln = tuple(Curve(a, _mlp(ctx, 30, 1000, a, norm="layer"), 100.0, r, "gap_complement") for a in ("relu", "identity"))
    bn = tuple(Curve(a, _mlp(ctx, 30, 1000, a, norm="batch"), 100.0, r, "gap_complement") for a in ("relu", "identity"))
    bs = tuple(Curve(a, _mlp(ctx, 30, 1000, a, center="none", scale="batch"), 100.0, r) for a in ("relu", "identity"))
    return Spec(
        (
            Panel("layer norm (gap on 1-complement)", ln),
            Panel("batch norm (gap on 1-complement)", bn),
            Panel("batch scaling only (ordinary gap)", bs),
        ),
        "isometry gap (see panel titles)",
        "batch centering makes G 1 = 0 exactly (ordinary gap = +inf): panels 1-2 drop that "
        "direction, -log I(Q^T G Q) with Q a basis of 1-perp; panel 3 scales without centering",
    )
