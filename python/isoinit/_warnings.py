"""The package's own warning classes."""

from __future__ import annotations

__all__ = [
    "CollapseWarning",
    "DivergenceWarning",
    "IsoinitWarning",
    "ProvenanceWarning",
    "SingularInputWarning",
    "TrainingModeWarning",
]


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


class SingularInputWarning(IsoinitWarning, RuntimeWarning):
    """The batch has more samples (rows) than features (columns), often a transposed input.

    Its ``n x n`` Gram has rank at most ``d < n``: the gap is ``+inf`` at layer 0, and at every
    layer narrower than ``n`` or with a linear activation. Issued once per call of
    :func:`isoinit.simulate` or :func:`isoinit.forward`.
    """


class TrainingModeWarning(IsoinitWarning):
    """:func:`isoinit.hooks.measure` ran a model in training mode with active dropout.

    Dropout zeroes random features in training mode, so the measured Grams are those of a
    random sub-network, not of the model; call ``model.eval()`` first (the frame's
    ``training`` column records the mode of every forward pass).
    """


class ProvenanceWarning(IsoinitWarning):
    """A table's provenance could not be read back: a CSV without its JSON sidecar, or a
    sidecar that describes another version of the CSV; the table's ``attrs`` are empty."""
