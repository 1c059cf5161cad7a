"""Sphinx extension: the `nodespace-settings` directive renders the settings reference.

The reference is generated from the `param` declarations, so a new setting
appears in the docs without anyone editing them.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class SettingsDirective(SphinxDirective):
    """Insert every settings section as Markdown tables."""

    def run(self) -> list[nodes.Node]:
        from nodespace_lab.config.reference import settings_markdown

        container = nodes.section()
        self.state.nested_parse(
            self._lines(settings_markdown()), self.content_offset, container, match_titles=True
        )
        return list(container.children)

    def _lines(self, text: str) -> Any:
        from docutils.statemachine import StringList

        return StringList(text.splitlines(), source="nodespace-settings")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("nodespace-settings", SettingsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
