"""Measure the Gram geometry of any PyTorch model, layer by layer, with forward hooks.

The paper (Joudaki, Daneshmand, Bach 2023) measured the isometry of real models layer by
layer (an MLP trained with SGD; GPT-2, where each layer norm lowers the token Gram's
isometry gap). :class:`GramRecorder` does this for any :class:`torch.nn.Module`: it hooks
the chosen submodules and, for every forward pass, records the Gram metrics of
:mod:`isoinit.metrics` of each hooked module's output. :func:`measure` runs one pass.

How an output becomes ``n x d`` representations
-----------------------------------------------
Axis 0 of an output is its batch axis. The output is turned into a stack of
representations ``(items, n, d)`` (rows are the ``n`` samples of one Gram, ``d`` features),
and one row per item is recorded:

* **batch Gram** (``token_axis=None``, default): the samples are the batch elements.

  - ``flatten=True`` (default): every non-batch axis is flattened into the features, so a
    ``(B, F)`` output gives one ``B x F`` representation and a conv feature map
    ``(B, C, H, W)`` one ``B x (C*H*W)`` representation (one item).
  - ``flatten=False``: the last axis is the features and the middle axes index items, so a
    ``(B, T, F)`` output gives ``T`` representations ``B x F`` (the Gram over the batch at
    every position).

* **token Gram** (``token_axis=k``, e.g. ``1`` (or ``-2``) for batch-first sequence models
  with outputs ``(B, T, F)``): the samples of a Gram are the tokens of one sequence, the
  paper's GPT-2 "token Gram"; each batch element is an item.

  - ``flatten=True`` (default): every axis other than the batch and token axes is
    flattened into the features (``(B, T, F)`` gives ``B`` representations ``T x F``).
  - ``flatten=False``: the last axis is the features and the remaining axes index items
    too (``(B, H, T, D)`` with ``token_axis=2`` gives ``B*H`` per-head ``T x D`` Grams).

The Gram of a representation ``X`` is ``X X^T / d`` (:func:`isoinit.metrics.gram`).

What cannot be measured is skipped, never an error in the user's forward pass: the
recorder catches every exception of its own inside the hook. A skipped output (or item) is
a row of :meth:`GramRecorder.frame` with NaN metrics and its ``reason`` (``""`` for
measured rows), is listed in :attr:`GramRecorder.skipped`, and triggers one
:class:`isoinit.IsoinitWarning` per module (per recorder). Reasons: non-tensor outputs,
non-floating or non-strided tensors, tensors of rank < 2, outputs without the token axis
(or whose token axis is the batch axis), a batch of 0 samples, fewer than 2 samples
(``n=1``), empty features, non-finite values (NaN or inf: per item), and any error while
measuring (its type and message). A tuple or list output is measured through its first tensor element (e.g. the
attention output of :class:`torch.nn.MultiheadAttention`), a mapping through its first
tensor value.

Every output is detached and copied to float64 on the CPU before the metrics are
computed; the recorder keeps only the numbers, never a reference to a tensor.

Notes
-----
Fused fast paths can bypass submodules: e.g. :class:`torch.nn.TransformerEncoderLayer`
may run one fused kernel in eval mode under ``no_grad`` (depending on the PyTorch version,
device and inputs), and then hooks on its ``norm1``/``linear1`` etc. do not fire. Measure
such models in train mode with dropout 0, or disable the fast path
(``torch.backends.mha.set_fastpath_enabled(False)``). Functional calls (``F.relu`` inside a
``forward``) are not modules and cannot be hooked; nor can submodules whose weights a parent
uses directly (the ``out_proj`` of :class:`torch.nn.MultiheadAttention`: hook the attention
module itself).

PyTorch is an optional dependency: ``import isoinit`` never imports it; the functions
here import it when called and raise an :class:`ImportError` naming ``pip install torch``
if it is missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import _validate as check
from ._warnings import IsoinitWarning, TrainingModeWarning
from .metrics import METRICS, gram_metrics

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

__all__ = ["COLUMNS", "INPUT", "GramRecorder", "ModuleSelection", "measure"]


def __dir__() -> list[str]:
    return sorted(__all__)


#: Columns of :meth:`GramRecorder.frame` before the metric columns (:data:`isoinit.metrics.METRICS`).
COLUMNS: tuple[str, ...] = ("call", "training", "order", "module", "type", "item", "n", "d", "reason")
#: The module name of the model's input in the frame (``record_input=True``).
INPUT = "<input>"

#: What ``modules=`` accepts: ``None`` (every leaf module), a predicate ``(name, module) -> bool``,
#: or a module type, a module name, or an iterable of types and names.
ModuleSelection: TypeAlias = "Callable[[str, nn.Module], bool] | type | str | Iterable[type | str] | None"


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise ImportError(
            "isoinit.hooks needs PyTorch, which is an optional dependency of isoinit: pip install torch"
        ) from err
    return torch


def _select(model: nn.Module, modules: ModuleSelection) -> list[tuple[str, nn.Module]]:
    named = list(model.named_modules())
    if modules is None:
        chosen = [(name, m) for name, m in named if next(iter(m.children()), None) is None]
    elif isinstance(modules, type):
        chosen = [(name, m) for name, m in named if isinstance(m, modules)]
    elif isinstance(modules, str) or (isinstance(modules, Iterable) and not callable(modules)):
        items = [modules] if isinstance(modules, str) else list(modules)
        types: list[type] = []
        names: set[str] = set()
        for it in items:
            if isinstance(it, type):
                types.append(it)
            elif isinstance(it, str):
                names.add(it)
            else:
                raise TypeError(f"modules must hold module types or module names; got {it!r}")
        known = {name for name, _ in named}
        missing = sorted(names - known)
        if missing:
            raise ValueError(f"modules names no submodule of the model: {missing}")
        tup = tuple(types)
        chosen = [(name, m) for name, m in named if name in names or (tup and isinstance(m, tup))]
    elif callable(modules):
        chosen = [(name, m) for name, m in named if modules(name, m)]
    else:
        raise TypeError(
            "modules must be None, a callable (name, module) -> bool, a module type, a name, "
            f"or an iterable of types and names; got {modules!r}"
        )
    if not chosen:
        raise ValueError("modules selects no submodule of the model")
    return chosen


def _first_tensor(out: Any) -> Any:
    torch = _torch()
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for v in out:
            if isinstance(v, torch.Tensor):
                return v
    return None


def _representations(y: torch.Tensor, token_axis: int | None, flatten: bool) -> NDArray[np.float64] | str:
    """``(items, n, d)`` float64 representations of an output, or the reason to skip it."""
    torch = _torch()
    if y.layout != torch.strided:
        return f"non-strided tensor (layout {y.layout})"
    if not torch.is_floating_point(y):
        return f"non-floating tensor (dtype {y.dtype})"
    r = y.dim()
    if r < 2:
        return f"tensor of rank {r} < 2"
    if token_axis is not None:
        if not -r <= token_axis < r:
            return f"no token axis {token_axis} in an output of shape {tuple(y.shape)}"
        k = token_axis % r
        if k == 0:
            return f"token axis {token_axis} is the batch axis of an output of shape {tuple(y.shape)}"
    if token_axis is None and y.shape[0] == 0:
        return "batch of 0 samples (n=0)"
    if y.numel() == 0:
        return f"empty output of shape {tuple(y.shape)}"
    x = y.detach().to(device="cpu", dtype=torch.float64)
    if token_axis is None:
        if flatten or r == 2:
            x = x.reshape(1, x.shape[0], -1)
        else:
            x = x.movedim(0, -2)
            x = x.reshape(-1, x.shape[-2], x.shape[-1])
    elif flatten:
        x = x.movedim(k, 1)
        x = x.reshape(x.shape[0], x.shape[1], -1)
    else:
        if k == r - 1:
            return f"token axis {token_axis} is the feature (last) axis and flatten=False"
        x = x.movedim(k, -2)
        x = x.reshape(-1, x.shape[-2], x.shape[-1])
    if x.shape[1] == 0:
        return "batch of 0 samples (n=0)"
    if x.shape[1] < 2:
        return f"fewer than 2 samples (n={x.shape[1]})"
    if x.shape[2] < 1 or x.shape[0] < 1:
        return f"empty output of shape {tuple(y.shape)}"
    return np.asarray(x.numpy(), dtype=np.float64)  # a view, dropped after the metrics


class GramRecorder:
    """Record the Gram metrics of submodule outputs on every forward pass of a model.

    Hooks are registered when the recorder is created and removed by :meth:`remove` or on
    leaving a ``with`` block. Each forward pass of ``model`` is one *call*; within a call
    the hooked modules' outputs are numbered by *order* of execution (a module that runs
    twice gets two orders). See the module docstring for how an output becomes ``n x d``
    representations (``token_axis``, ``flatten``).

    Selected modules that never run during the recorded calls (a fast path that bypasses
    them, a branch not taken) have no rows; :meth:`remove` (and so leaving a ``with`` block)
    warns about them with an :class:`~isoinit.IsoinitWarning` naming them.

    Parameters
    ----------
    model : torch.nn.Module
        The model; a forward pre-hook on it counts the calls.
    modules : None, callable, type, str or iterable of types and str
        Which submodules (from ``model.named_modules()``, the model itself included under
        the name ``""``) to hook: ``None`` (default) every leaf module (one without
        children); a predicate ``(name, module) -> bool``; or module types (matched with
        ``isinstance``) and/or exact module names, e.g. ``(nn.LayerNorm, "head")``.
    token_axis : int or None
        ``None`` (default): one Gram over the batch (samples on axis 0). An int: the axis of
        an output holding the tokens of each sequence, which become the samples of one Gram
        per batch element (``1`` or ``-2`` for batch-first ``(B, T, F)`` outputs); must not
        be 0, the batch axis.
    flatten : bool
        ``True`` (default): flatten every axis other than the batch (and token) axes into the
        features. ``False``: the last axis is the features and the other axes index items.
    record_input : bool
        Also record the model's input (its first tensor argument) as the first output of
        every call, under the module name ``"<input>"`` (type ``"input"``): the layer 0 of a
        trajectory through the model.

    Attributes
    ----------
    model : torch.nn.Module
    names : list of str
        Names of the hooked modules, in ``named_modules`` order.
    skipped : list of tuple (int, str, str)
        ``(call, module name, reason)`` of every output that could not be measured.
    calls : int
        Number of forward passes of ``model`` seen so far.

    Examples
    --------
    >>> with GramRecorder(model, modules=nn.LayerNorm, token_axis=1) as rec:  # doctest: +SKIP
    ...     model(tokens)
    >>> rec.frame().groupby("order")["gap"].mean()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        modules: ModuleSelection = None,
        token_axis: int | None = None,
        flatten: bool = True,
        record_input: bool = False,
    ) -> None:
        torch = _torch()
        check.instance("model", model, torch.nn.Module, "a torch.nn.Module")
        if token_axis is not None:
            token_axis = check.integer("token_axis", token_axis)
        if token_axis == 0:
            raise ValueError("token_axis must not be 0, the batch axis")
        flatten = check.boolean("flatten", flatten)
        self.record_input = check.boolean("record_input", record_input)
        self.model = model
        self.token_axis = token_axis
        self.flatten = flatten
        chosen = _select(model, modules)
        self.names: list[str] = [name for name, _ in chosen]
        self.skipped: list[tuple[int, str, str]] = []
        self._records: list[tuple[int, bool, int, str, str, int, int, NDArray[np.float64], list[str]]] = []
        self._warned: set[str] = set()
        self._call = -1
        self._order = 0
        self._handles: list[Any] = [model.register_forward_pre_hook(self._pre_hook)]
        for name, module in chosen:
            self._handles.append(module.register_forward_hook(self._make_hook(name)))

    # hooks -------------------------------------------------------------------------------

    def _pre_hook(self, module: nn.Module, args: Any) -> None:
        self._call += 1
        self._order = 0
        if self.record_input:
            self._record(INPUT, module, args, typ="input")

    def _make_hook(self, name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            self._record(name, module, output)

        return hook

    def _record(self, name: str, module: nn.Module, output: Any, typ: str | None = None) -> None:
        if self._call < 0:  # a submodule ran without the model: count it as the first call
            self._call = 0
        order = self._order
        self._order += 1
        try:
            n, d, values, reasons = self._measure(output)
        except Exception as err:  # never break the user's forward pass: the output becomes a skipped row
            n, d, values, reasons = -1, -1, np.full((1, len(METRICS)), np.nan), [f"{type(err).__name__}: {err}"]
        typ = type(module).__name__ if typ is None else typ
        self._records.append((self._call, bool(self.model.training), order, name, typ, n, d, values, reasons))
        skipped = [r for r in reasons if r]
        for reason in skipped:
            self.skipped.append((self._call, name, reason))
        if skipped and name not in self._warned:
            self._warned.add(name)
            warnings.warn(
                f"isoinit.hooks: an output of module {name!r} ({type(module).__name__}) was not measured: "
                f"{skipped[0]}; it is a row with that reason in GramRecorder.frame() (this module's "
                "further skips are recorded without a warning)",
                IsoinitWarning,
                stacklevel=2,
            )

    def _measure(self, output: Any) -> tuple[int, int, NDArray[np.float64], list[str]]:
        """``(n, d, metrics (items, len(METRICS)), reason per item: '' if measured)``."""
        nan = np.full((1, len(METRICS)), np.nan)
        y = _first_tensor(output)
        if y is None:
            return -1, -1, nan, [f"no tensor in output of type {type(output).__name__}"]
        reps = _representations(y, self.token_axis, self.flatten)
        del y
        if isinstance(reps, str):
            return -1, -1, nan, [reps]
        items, n, d = reps.shape
        finite: NDArray[np.bool_] = np.asarray(np.isfinite(reps).all(axis=(1, 2)))
        values = np.full((items, len(METRICS)), np.nan)
        if finite.any():
            m = gram_metrics(reps[finite], gram=False)
            values[finite] = np.stack([m[k] for k in METRICS], axis=-1)
        reasons = ["" if ok else "non-finite output (NaN or inf)" for ok in finite]
        return n, d, values, reasons

    # public API --------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Number of forward passes of the model seen so far."""
        return self._call + 1

    @property
    def active(self) -> bool:
        """Whether the hooks are still registered."""
        return bool(self._handles)

    def frame(self) -> pd.DataFrame:
        """The recorded metrics as a tidy DataFrame, one row per Gram.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`COLUMNS` then :data:`isoinit.metrics.METRICS`: ``call`` (forward
            pass), ``training`` (the model's mode, ``model.training``, during that pass: with
            dropout active the Grams are those of a random sub-network), ``order`` (position
            of the output within the call), ``module`` (name in
            ``named_modules``; ``""`` is the model itself), ``type`` (class name), ``item``
            (index of the Gram within the output: 0 for a single batch Gram, the sequence
            in token mode, the flat position index with ``flatten=False``), ``n`` (samples)
            and ``d`` (features) of the representation (-1 if the output was skipped before
            they were known), ``reason`` (``""`` if measured, else why the row was skipped;
            its metrics are NaN), and one float column per metric.
        """
        rows: list[list[Any]] = []
        for call, training, order, name, typ, n, d, values, reasons in self._records:
            for item, (vals, reason) in enumerate(zip(values, reasons, strict=True)):
                rows.append([call, training, order, name, typ, item, n, d, reason, *vals.tolist()])
        df = pd.DataFrame(rows, columns=[*COLUMNS, *METRICS])
        ints = {c: "int64" for c in ("call", "order", "item", "n", "d")}
        floats = {c: "float64" for c in METRICS}
        text = {c: "object" for c in ("module", "type", "reason")}
        typed: pd.DataFrame = df.astype({**ints, "training": "bool", **text, **floats})
        return typed

    def clear(self) -> None:
        """Forget every record (and skipped output); the call counter restarts at 0."""
        self._records.clear()
        self.skipped.clear()
        self._warned.clear()
        self._call = -1
        self._order = 0

    @property
    def silent(self) -> list[str]:
        """Names of the selected modules that have not run during any recorded call."""
        ran = {r[3] for r in self._records}
        return [name for name in self.names if name not in ran]

    def remove(self) -> None:
        """Remove every hook from the model (idempotent); the records are kept.

        Warns (:class:`~isoinit.IsoinitWarning`) about selected modules that never ran
        while the hooks were in place, if the model was called at all.
        """
        if self._handles and self.calls > 0 and self.silent:
            silent = self.silent
            warnings.warn(
                f"isoinit.hooks: {len(silent)} selected module(s) never ran in {self.calls} forward pass(es), "
                f"so they have no rows: {silent[:5]}{' ...' if len(silent) > 5 else ''} (a fast path that "
                "bypasses them, e.g. a TransformerEncoderLayer in eval mode without grad, or a branch not taken)",
                IsoinitWarning,
                stacklevel=3,
            )
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> GramRecorder:
        if not self._handles:
            raise RuntimeError("this GramRecorder's hooks were removed; create a new one")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return (
            f"GramRecorder({type(self.model).__name__}, {len(self.names)} modules, token_axis={self.token_axis}, "
            f"flatten={self.flatten}, calls={self.calls}, active={self.active})"
        )


def _to_tensor(a: NDArray[Any], model: nn.Module) -> torch.Tensor:
    torch = _torch()
    ref = next((t for t in (*model.parameters(), *model.buffers()) if torch.is_floating_point(t)), None)
    dtype = ref.dtype if ref is not None else torch.get_default_dtype()
    device = ref.device if ref is not None else None
    t = torch.as_tensor(np.asarray(a), device=device)
    out: Tensor = t.to(dtype) if torch.is_floating_point(t) else t
    return out


def _active_dropout(model: nn.Module) -> list[str]:
    """Names of the submodules whose dropout is active (training mode, a positive rate)."""
    torch = _torch()
    active = []
    for name, m in model.named_modules():
        if not m.training:
            continue
        rate = 0.0
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            rate = float(m.p)
        elif isinstance(m, torch.nn.MultiheadAttention):
            rate = float(m.dropout)
        if rate > 0:
            active.append(name or "<model>")
    return active


def measure(
    model: nn.Module,
    inputs: Any,
    *,
    modules: ModuleSelection = None,
    token_axis: int | None = None,
    flatten: bool = True,
    record_input: bool = False,
) -> pd.DataFrame:
    """Run one forward pass under ``torch.no_grad()`` and return the Gram metrics of every hooked output.

    Parameters
    ----------
    model : torch.nn.Module
        Run as is: its train/eval mode is not changed (see the module notes on fast paths),
        and the frame's ``training`` column records it. Measure a model in eval mode
        (``model.eval()``): in training mode, dropout makes every pass a random sub-network.
    inputs : tensor, ndarray, tuple, list or dict
        A tensor or array is passed as the only argument, a tuple or list as positional
        arguments, a dict as keyword arguments. NumPy arrays are converted to tensors with
        the dtype and device of the model's first floating parameter (or buffer) when they
        hold floats, e.g. the float64 batches of :mod:`isoinit.inputs` for a float32 model.
    modules, token_axis, flatten, record_input
        As in :class:`GramRecorder`.

    Returns
    -------
    pandas.DataFrame
        :meth:`GramRecorder.frame` of the pass (all rows have ``call == 0``).

    Warns
    -----
    TrainingModeWarning
        When dropout is active: a dropout module (``torch.nn.Dropout`` and its variants, or a
        ``MultiheadAttention``'s dropout) with a positive rate is in training mode. Dropout
        called as a function inside a ``forward`` cannot be seen; ``training`` says the mode.
    """
    torch = _torch()
    check.instance("model", model, torch.nn.Module, "a torch.nn.Module")
    active = _active_dropout(model)
    if active:
        shown = ", ".join(repr(a) for a in active[:5]) + (", ..." if len(active) > 5 else "")
        warnings.warn(
            f"isoinit.hooks.measure: {type(model).__name__} is in training mode with dropout active "
            f"({len(active)} module(s): {shown}), so the Grams are those of a random sub-network, "
            "different on every pass; call model.eval() first (the frame's training column records the mode)",
            TrainingModeWarning,
            stacklevel=2,
        )

    def conv(a: Any) -> Any:
        return _to_tensor(a, model) if isinstance(a, np.ndarray) else a

    with (
        GramRecorder(model, modules=modules, token_axis=token_axis, flatten=flatten, record_input=record_input) as rec,
        torch.no_grad(),
    ):
        if isinstance(inputs, Mapping):
            model(**{k: conv(v) for k, v in inputs.items()})
        elif isinstance(inputs, (tuple, list)):
            model(*[conv(v) for v in inputs])
        else:
            model(conv(inputs))
    return rec.frame()
