/**
 * Small DOM helpers. User content (titles, snippets, paths) only ever goes into
 * `textContent` or attributes, never into `innerHTML`.
 */

/** An element with classes, attributes and text or child nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: {
    className?: string;
    text?: string;
    attrs?: Record<string, string>;
    title?: string;
  } = {},
  ...children: (Node | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className) {
    element.className = options.className;
  }
  if (options.text !== undefined) {
    element.textContent = options.text;
  }
  if (options.title !== undefined) {
    element.title = options.title;
  }
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) {
      element.appendChild(child);
    }
  }
  return element;
}

/** A button that runs `action` on click. */
export function button(
  text: string,
  className: string,
  title: string,
  action: (event: MouseEvent) => void
): HTMLButtonElement {
  const element = h('button', { className: `ns-button ${className}`, text, title });
  element.type = 'button';
  element.setAttribute('aria-label', title);
  element.addEventListener('click', action);
  return element;
}

/**
 * `text` as text nodes and `<mark>` elements for the (start, end) ranges, which
 * count Unicode code points (the service's offsets are Python string indices).
 */
export function highlighted(text: string, ranges: [number, number][]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const points = Array.from(text);
  let at = 0;
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (const [start, end] of sorted) {
    if (start < at || end <= start || start >= points.length) {
      continue;
    }
    if (start > at) {
      fragment.appendChild(document.createTextNode(points.slice(at, start).join('')));
    }
    const mark = document.createElement('mark');
    mark.textContent = points.slice(start, Math.min(end, points.length)).join('');
    fragment.appendChild(mark);
    at = Math.min(end, points.length);
  }
  if (at < points.length) {
    fragment.appendChild(document.createTextNode(points.slice(at).join('')));
  }
  return fragment;
}

/** The title to show for a node (untitled nodes get a placeholder). */
export function displayTitle(title: string): string {
  return title.trim() ? title : '(untitled)';
}
