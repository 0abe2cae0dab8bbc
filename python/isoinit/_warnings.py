"""The package's own warning classes."""

from __future__ import annotations

__all__ = ["CollapseWarning", "DivergenceWarning", "IsoinitWarning"]


class IsoinitWarning(UserWarning):
    """Base class of isoinit's warnings."""


class DivergenceWarning(IsoinitWarning, RuntimeWarning):
    """Some runs overflowed (non-finite values); their metrics from that layer on are NaN."""


class CollapseWarning(IsoinitWarning, RuntimeWarning):
    """Some runs collapsed: a block mapped every sample to 0 (a Gram matrix of rank 0).

    The metrics of a collapsed layer are those of the zero Gram (isometry 0, gap, condition
    and potential ``+inf``, effective and stable rank 0, correlations 1, normalization bias 0),
    never NaN; ``Trajectory.collapsed_at`` says where each run first collapsed.
    """
