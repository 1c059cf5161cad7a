/**
 * What of a note's rendered Markdown may reach the page, and how.
 *
 * The editor's preview is rendered by JupyterLab (its Markdown parser and HTML
 * sanitiser, as untrusted output) into an inert document: one without a browsing
 * context, where nothing runs and nothing loads. `safeCopy` then rebuilds it from
 * an allow-list (the tags and attributes Markdown needs, as the widgets and the
 * Python renderer allow), and only that copy moves into the page. So a gap in the
 * sanitiser's much longer list (forms, inputs, media, inline styles that can lay a
 * note over JupyterLab) is closed a second time here.
 *
 * Remote images: an image whose URL points at a server is fetched as soon as the
 * page sees it, which tells that server (often the note's author) that, when and
 * from where the note was opened. JupyterLab's page has one content security
 * policy, the server's, which an extension cannot narrow for one element; so the
 * copy leaves such `src` attributes out unless the user allows them.
 */

/** Tags kept (anything else is unwrapped: its text stays, the element goes). */
const TAGS = new Set([
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'code', 'dd', 'del', 'div', 'dl', 'dt',
  'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark',
  'ol', 'p', 'pre', 'q', 's', 'samp', 'small', 'span', 'strike', 'strong', 'sub', 'sup',
  'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul', 'var', 'wbr'
]); // prettier-ignore
/** Elements dropped with everything in them (their text is code, styles or foreign markup). */
const DROPPED = new Set([
  'script', 'style', 'template', 'noscript', 'iframe', 'frame', 'frameset', 'object', 'embed',
  'svg', 'math', 'textarea', 'select', 'title', 'head', 'xmp', 'noembed', 'noframes',
  'plaintext', 'audio', 'video', 'picture', 'source', 'track', 'link', 'meta', 'base'
]); // prettier-ignore
const HEADING_ATTRIBUTES = ['data-jupyter-id'];
/** Attributes kept, per tag. */
const ATTRIBUTES: Record<string, string[]> = {
  a: ['href', 'title', 'class'],
  img: ['src', 'alt', 'title', 'width', 'height'],
  td: ['align', 'colspan', 'rowspan'],
  th: ['align', 'colspan', 'rowspan'],
  ol: ['start'],
  code: ['class'],
  pre: ['class'],
  span: ['class'],
  h1: HEADING_ATTRIBUTES,
  h2: HEADING_ATTRIBUTES,
  h3: HEADING_ATTRIBUTES,
  h4: HEADING_ATTRIBUTES,
  h5: HEADING_ATTRIBUTES,
  h6: HEADING_ATTRIBUTES
};
/** Classes kept: code highlighting and JupyterLab's heading anchors, never layout classes. */
const CLASS = /^(cm-[\w-]+|tok-[\w-]+|language-[\w-]+|jp-InternalAnchorLink)$/;
/** Link targets kept: web and mail links, fragments and relative paths. */
const SAFE_HREF = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;
/** Image sources kept: web URLs and inline data images. */
const SAFE_SRC = /^(https?:\/\/|data:image\/)/i;
/** An image that needs no request (everything else is remote, even same-server ones). */
const LOCAL_SRC = /^data:image\//i;

let inert: Document | null = null;

/** A document without a browsing context: elements parsed into it never run or load anything. */
export function inertDocument(): Document {
  inert ??= document.implementation.createHTMLDocument('');
  return inert;
}

/** A URL as the browser reads it: entities decoded already; controls and spaces dropped. */
function urlOf(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0020\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]/g, '');
}

/** The result of `safeCopy`. */
export interface ISafeCopy {
  /** The allow-listed copy, in the inert document (nothing in it has loaded). */
  fragment: DocumentFragment;
  /** Remote images left without their `src` (0 when allowed or when there are none). */
  blocked: number;
}

/**
 * An allow-listed copy of what is under `source` (rendered into the inert
 * document). With `allowRemote` false, images with a remote `src` keep their alt
 * text but no `src`, and are counted.
 */
export function safeCopy(source: Node, allowRemote: boolean): ISafeCopy {
  const doc = inertDocument();
  const result: ISafeCopy = { fragment: doc.createDocumentFragment(), blocked: 0 };
  const copy = (from: Node, to: Node) => {
    for (const node of Array.from(from.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(doc.createTextNode(node.textContent ?? ''));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = (node as Element).localName.toLowerCase();
        if (TAGS.has(tag)) {
          const el = copyElement(doc, node as Element, tag, allowRemote, result);
          copy(node, el);
          to.appendChild(el);
        } else if (!DROPPED.has(tag)) {
          copy(node, to); // unwrapped: the text stays
        }
      }
    }
  };
  copy(source, result.fragment);
  return result;
}

/** A fresh element `tag` with the allowed attributes of `from`. */
function copyElement(
  doc: Document,
  from: Element,
  tag: string,
  allowRemote: boolean,
  result: ISafeCopy
): HTMLElement {
  const el = doc.createElement(tag);
  for (const name of ATTRIBUTES[tag] ?? []) {
    const value = from.getAttribute(name);
    if (value === null) {
      continue;
    }
    if (name === 'class') {
      const kept = value.split(/\s+/).filter(c => CLASS.test(c));
      if (kept.length) {
        el.setAttribute('class', kept.join(' '));
      }
    } else if (name === 'href') {
      if (SAFE_HREF.test(urlOf(value))) {
        el.setAttribute('href', value);
      }
    } else if (name === 'src') {
      const url = urlOf(value);
      if (!SAFE_SRC.test(url)) {
        continue;
      }
      if (allowRemote || LOCAL_SRC.test(url)) {
        el.setAttribute('src', value);
      } else {
        el.classList.add('ns-remote-blocked');
        result.blocked++;
      }
    } else {
      el.setAttribute(name, value);
    }
  }
  if (tag === 'a' && !urlOf(el.getAttribute('href') ?? '').startsWith('#')) {
    // Links open elsewhere, and tell the target nothing about this page.
    el.setAttribute('target', '_blank');
    el.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  return el;
}
