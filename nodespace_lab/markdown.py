"""Markdown to safe HTML: the one way user content becomes markup.

Two layers, so one mistake is not enough: markdown-it renders with raw HTML
turned off (a `<script>` in a note comes out as text), then nh3 (ammonia)
keeps only an allow-list of tags, attributes and URL schemes. The widgets'
JavaScript sanitises once more before it touches the DOM.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}}
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def render_markdown(text: str) -> str:
    """Render Markdown `text` to HTML that is safe to insert into a page."""
    return sanitize_html(_parser().render(text or ""))


def sanitize_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes of `html`."""
    import nh3

    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_SCHEMES),
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer nofollow",
    )


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # `html: False` escapes raw HTML in the source instead of passing it through.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
