"""Every image of a page is a link to its full-size file.

Sphinx links an image to its file only when the page scales it (``:scale:``, ``:width:``);
the gallery's figures are shown at the column's width, so a click must open them at their
own. This wraps each image that is not already a link in a link to the copy Sphinx makes in
``_images/``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from docutils import nodes
from sphinx.util.osutil import relative_uri


def link_images(app: Any, doctree: nodes.document, docname: str) -> None:
    """Wrap each image of ``docname`` that is not a link in a link to its file."""
    if app.builder.format != "html":
        return
    images = relative_uri(app.builder.get_target_uri(docname), app.builder.imagedir)
    for image in list(doctree.findall(nodes.image)):
        uri = image["uri"]
        if isinstance(image.parent, nodes.reference) or uri not in app.env.images:
            continue
        link = nodes.reference("", "", internal=True, classes=["full-size"])
        link["refuri"] = posixpath.join(images, app.env.images[uri][1])
        link["reftitle"] = "the figure at full size"
        image.replace_self(link)
        link.append(image)


def setup(app: Any) -> dict[str, Any]:
    """Register the step with Sphinx."""
    app.connect("doctree-resolved", link_images)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
