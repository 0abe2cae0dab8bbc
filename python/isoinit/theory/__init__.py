"""The infinite-width theory: Hermite expansions and kernels, mean-field trajectories, bounds.

- :mod:`isoinit.theory.hermite`: Hermite coefficients, Gaussian moments, dual and normalized
  kernels of an activation, the non-linearity strength ``beta_0`` and kernel fixed points;
- :mod:`isoinit.theory.meanfield`: the infinite-width Gram trajectory of an MLP or a
  residual MLP;
- :mod:`isoinit.theory.bounds`: the paper's bounds and what they predict for a network;
- :mod:`isoinit.theory.finite_width`: the leading 1/d correction to the mean field (the
  mean and spread of every metric at finite width) and the plateau it predicts.

``isoinit.hermite``, ``isoinit.meanfield`` and ``isoinit.bounds`` are the same modules'
documented short paths.
"""

from __future__ import annotations

from . import bounds, finite_width, hermite, meanfield

__all__ = ["bounds", "finite_width", "hermite", "meanfield"]


def __dir__() -> list[str]:
    return sorted(__all__)
