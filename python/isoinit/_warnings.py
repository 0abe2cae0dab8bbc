"""The package's own warning classes."""

from __future__ import annotations

__all__ = ["DivergenceWarning", "IsoinitWarning"]


class IsoinitWarning(UserWarning):
    """Base class of isoinit's warnings."""


class DivergenceWarning(IsoinitWarning, RuntimeWarning):
    """Some runs overflowed (non-finite values); their metrics from that layer on are NaN."""
