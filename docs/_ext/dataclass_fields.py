"""A dataclass's fields are its constructor's parameters: numpydoc documents them there.

numpydoc lists as a class's attributes every public name whose class-level value is
``None`` or a descriptor, which for a dataclass includes the fields that default to
``None`` (``MLP.center``): they would appear twice, once without a description. This
extension skips dataclass fields in numpydoc's attribute table, as numpydoc already does for
a named tuple's fields; a field that needs more than its parameter entry is described in the
class's ``Attributes`` section.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from numpydoc.docscrape import ClassDoc

_numpydoc_skip = ClassDoc._should_skip_member


def _skip_fields(name: str, klass: Any) -> bool:
    fields = {f.name for f in dataclasses.fields(klass)} if dataclasses.is_dataclass(klass) else set()
    return name in fields or _numpydoc_skip(name, klass)


def setup(app: Any) -> dict[str, Any]:
    """Teach numpydoc to skip dataclass fields."""
    ClassDoc._should_skip_member = staticmethod(_skip_fields)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
