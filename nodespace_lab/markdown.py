"""Markdown to safe HTML: the one way user content and model output become markup.

Two layers, so one mistake is not enough: markdown-it renders with raw HTML
turned off (a `<script>` in a note comes out as text), then nh3 (ammonia)
keeps only an allow-list of tags, attributes and URL schemes. The widgets'
JavaScript sanitises once more before it touches the DOM.

Notebook displays (every `_repr_*` of the package) go through `display_bundle`
and give `text/html` that this module produced and sanitised, plus
`text/plain`, and never `text/markdown`. Why not Markdown: JupyterLab renders
the output of a cell the user ran as *trusted*, and trusted Markdown is rendered
with raw HTML allowed and without its sanitiser, so any `<img onerror>` that
reaches a `text/markdown` output runs with the page's credentials (Jupyter's
contents API, terminals, kernels). Escaping Markdown for JupyterLab's parser
(marked) would depend on that parser's rules; HTML we sanitise ourselves is
shown exactly as sanitised. User text inside the Markdown we build goes
through `escape_markdown` first, so a title stays text: it cannot open a tag,
an autolink, a link, an image or emphasis. Displays drop images too (a note
can ask the model to repeat an image URL that carries other notes' text to a
server, and the image would load as soon as the answer is shown) and links
that are not absolute http, https or mailto URLs (a relative one resolves
against JupyterLab's routes).
"""

from __future__ import annotations

import html as html_lib
import re
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

# Every ASCII punctuation character: CommonMark lets each be backslash-escaped,
# and an escaped one is always literal text.
_MARKDOWN_ACTIVE = re.compile(r"([!-/:-@\[-`{-~])")
_BACKTICKS = re.compile(r"`+")
_ABSOLUTE_URL = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)


def render_markdown(text: str, *, display: bool = False) -> str:
    """Render Markdown `text` to HTML that is safe to insert into a page.

    `display=True` is for notebook displays: see `sanitize_html`.
    """
    return sanitize_html(_parser().render(text or ""), display=display)


def sanitize_html(html: str, *, display: bool = False) -> str:
    """Keep only allow-listed tags, attributes and URL schemes of `html`.

    `display=True` (notebook displays, see the module docstring) also drops
    images and every link that is not an absolute http, https or mailto URL
    (a relative link would resolve against JupyterLab's own routes).
    """
    import nh3

    tags = set(ALLOWED_TAGS - {"img"}) if display else set(ALLOWED_TAGS)
    return nh3.clean(
        html,
        tags=tags,
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items() if tag in tags},
        attribute_filter=_absolute_urls_only if display else None,
        url_schemes=set(ALLOWED_SCHEMES),
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer nofollow",
    )


def _absolute_urls_only(tag: str, attribute: str, value: str) -> str | None:
    if attribute in {"href", "src"} and not _ABSOLUTE_URL.match(value):
        return None
    return value


def escape_markdown(text: object) -> str:
    """`text` as literal inline Markdown, on one line.

    Every ASCII punctuation character is backslash-escaped, so the text can open
    no HTML tag, entity, autolink, link, image, emphasis, code span or table
    cell; line breaks become spaces, so it can start no block either.
    """
    one_line = " ".join(str(text).split())
    return _MARKDOWN_ACTIVE.sub(r"\\\1", one_line)


def escape_html(text: object) -> str:
    """`text` as HTML text or a quoted attribute value (`&`, `<`, `>`, `"`, `'` escaped)."""
    return html_lib.escape(str(text), quote=True)


def code_block(code: str, language: str = "") -> str:
    """`code` as a fenced Markdown code block; no backtick run inside can close it."""
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    fence = "`" * max(3, longest + 1)
    info = re.sub(r"[^A-Za-z0-9_+-]", "", language)
    return f"{fence}{info}\n{code}\n{fence}"


def display_bundle(markdown: str, plain: str) -> dict[str, str]:
    """A notebook display of `markdown` (built with `escape_markdown` for user text):
    sanitised HTML without images or relative links, and `plain` text."""
    return {"text/html": render_markdown(markdown, display=True), "text/plain": plain}


@cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # `html: False` escapes raw HTML in the source instead of passing it through.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
