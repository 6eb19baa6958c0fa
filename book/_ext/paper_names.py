"""Sphinx extension: the built book names nets as the paper does ('resnet56' -> 'ResNet-56', 'plain20' -> 'plain-20').

The library's reports and captions use the code's names (``resnet56``), which are also what a reader types
(``build("resnet56")``, ``--arch resnet56``). On the page, prose, captions, table cells and glued text read as the
paper writes; code stays code: inline literals, code blocks, cell streams, raw HTML and math are left alone, and so
is a name that is part of a run id (``resnet56-A-cpu-...``). The renaming is ``resnet_lab.models.paper_name``.
"""
from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

CODE = (nodes.literal, nodes.literal_block, nodes.raw, nodes.math, nodes.math_block, nodes.FixedTextElement,
        nodes.comment)


def _in_code(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, CODE):
            return True
        parent = parent.parent
    return False


class PaperNames(SphinxPostTransform):
    default_priority = 990  # after references and glue are resolved

    def run(self, **kwargs) -> None:
        from resnet_lab.models import paper_name

        for text in list(self.document.findall(nodes.Text)):
            new = paper_name(str(text))
            if new != str(text) and text.parent is not None and not _in_code(text):
                text.parent.replace(text, nodes.Text(new))


def setup(app: Sphinx) -> dict:
    app.add_post_transform(PaperNames)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
