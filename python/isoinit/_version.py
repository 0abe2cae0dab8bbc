"""The package version, as installed (``0+unknown`` for a bare source tree on ``sys.path``)."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("isoinit")
except _metadata.PackageNotFoundError:
    __version__ = "0+unknown"
