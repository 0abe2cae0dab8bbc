"""Sweeps: many network configurations x many random networks, as one tidy table.

:func:`sweep` runs every configuration of a grid (or an explicit list) with
:func:`isoinit.simulate` on one input specification and returns a single tidy
:class:`pandas.DataFrame`, one row per (configuration, run, layer[, stage]). It runs
locally by default and on a Dask cluster when given a ``dask.distributed.Client``
(``pip install isoinit[dask]``); the two give identical numbers. :func:`save` and
:func:`load` write and read the table as CSV or Parquet; :func:`from_toml` reads a sweep
from a TOML file (the schema is below), which is what ``isoinit sweep FILE.toml --out
FILE`` runs.

Seeds
-----
Every configuration is simulated with the *same* ``seed``. The kernel draws run ``r``'s
layer ``l`` from the counter-based stream ``(seed, r, l)``, so the rows of a sweep depend
only on (configuration, seed, run, layer), never on the backend, the order in which
configurations finish, or the thread count. Using one seed for all configurations gives
*common random numbers*: two configurations with the same widths and sampler see the same
random weights in run ``r``, which makes differences between configurations less noisy than
independent draws would. For independent draws, run the sweep once per seed and
concatenate the tables.

TOML schema
-----------
::

    # every table is optional except that at least one configuration must be given
    [sweep]                      # run options (a CLI flag overrides the file)
    runs = 10                    # independent networks per configuration (default 10)
    seed = 0                     # the one seed of every configuration (default 0)
    stages = false               # also record linear/activation stages (default false)
    metrics = ["gap", "isometry"]  # metric columns (default: every metric)
    threads = 2                  # OpenMP threads per simulation (default: all)

    [inputs]                     # the input batch (default: the paper's degenerate batch)
    kind = "degenerate"          # "degenerate" or "gaussian"
    n = 10                       # batch size (default 10)
    d = 1000                     # input dimension (default: each configuration's first width)
    degeneracy = 100             # degenerate only (default 100)
    seed = 0                     # seed of the batch (default 0)

    [grid]                       # a cartesian product: an array lists the values of a field,
    depth = 30                   # a scalar fixes it; keys are isoinit.MLP fields
    width = 1000                 # (depth, width, activation, norm, center, scale, order,
    activation = ["relu", "tanh"]  # gain, bias, weights, eps); per-block widths as
    order = ["act-norm", "norm-act"]  # an array inside the array: width = [[100, 200]]

    [[grid]]                     # or several grids as an array of tables (their union)
    ...

    [[config]]                   # and/or explicit configurations (MLP keyword arguments)
    depth = 10
    width = 500
    activation = "selu"

Configurations are the grids' products in file order (the last key varying fastest),
then the explicit ``[[config]]`` entries.

The schema is strict, and checked before anything runs; every violation is one line naming
the key, its index in an array and the file (``[grid]['depth'][1] in 'sweep.toml' must be
an integer; got 'x'``):

* ``[sweep]`` and ``[inputs]`` are tables; ``grid`` is a table or an array of tables;
  ``config`` is an array of tables. Unknown keys are errors.
* ``[sweep]``: ``runs`` an integer ``>= 1``, ``seed`` an integer ``>= 0``, ``threads`` an
  integer ``>= 1``, ``stages`` a TOML boolean (``true``/``false``; ``"no"`` or ``0`` is an
  error, never truthy), ``metrics`` an array of names from :data:`isoinit.metrics.METRICS`.
* ``[inputs]``: ``kind`` one of ``"degenerate"``, ``"gaussian"``; ``n`` an integer
  ``>= 2``; ``d`` an integer ``>= 1``; ``seed`` an integer ``>= 0``; ``degeneracy`` a
  number ``>= 1`` (degenerate only).
* MLP fields, in ``[grid]`` a scalar (fixes the field) or an array of scalars (its values),
  in ``[[config]]`` a scalar: ``depth`` an integer; ``width`` an integer, or an array of
  integers per block (so in a grid an array of integers and/or arrays of integers, and no
  deeper); ``activation``, ``norm``, ``center``, ``scale``, ``order``, ``weights`` strings;
  ``gain``, ``bias``, ``eps`` numbers (a boolean is not a number). The values themselves
  are then checked by :class:`isoinit.MLP`, with the table and file in the message.
"""

from __future__ import annotations

from ._files import _check_path as _check_path
from ._files import load, save
from ._grid import MLP_FIELDS, expand
from ._inputs import make_inputs
from ._run import CONFIG_COLUMNS, sweep
from ._toml import from_toml

__all__ = [
    "CONFIG_COLUMNS",
    "MLP_FIELDS",
    "expand",
    "from_toml",
    "load",
    "make_inputs",
    "save",
    "sweep",
]


def __dir__() -> list[str]:
    return sorted(__all__)
