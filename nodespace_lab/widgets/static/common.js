// Helpers shared by the NodeSpace widgets. Python joins this file in front of
// each widget's module, so every widget stays one self-contained ES module.
//
// Rule: user content reaches the DOM as text nodes (textContent), never as
// markup. The only markup we insert is Markdown rendered and sanitised in
// Python, and it goes through safeFragment() below as a second line of defence.

const NS_SAFE_TAGS = new Set([
  "A", "BLOCKQUOTE", "BR", "CODE", "DEL", "EM", "H1", "H2", "H3", "H4", "H5", "H6",
  "HR", "IMG", "LI", "OL", "P", "PRE", "S", "STRONG", "TABLE", "TBODY", "TD", "TH",
  "THEAD", "TR", "UL",
]);
const NS_SAFE_ATTRS = { A: ["href", "title"], IMG: ["src", "alt", "title"], TH: ["align"] };
const NS_SAFE_URL = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;
// An image URL that loads without a request. Any other image (remote, or even one
// on the notebook's own server) is not loaded until the user asks: fetching it would
// tell its server that this note was opened, when and from where.
const NS_LOCAL_IMAGE = /^data:image\//i;

/** Create an element; string children become text nodes, never HTML. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * A DocumentFragment holding only allow-listed elements and attributes of
 * `html`. The HTML is parsed in an inert <template> (scripts do not run and
 * images do not load there), then rebuilt node by node.
 */
function safeFragment(html) {
  const template = document.createElement("template");
  template.innerHTML = String(html ?? "");
  const out = document.createDocumentFragment();
  const copy = (source, target) => {
    for (const node of source.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        target.append(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        if (!NS_SAFE_TAGS.has(node.tagName)) {
          if (node.tagName !== "SCRIPT" && node.tagName !== "STYLE") copy(node, target);
          continue;
        }
        const el = document.createElement(node.tagName.toLowerCase());
        for (const name of NS_SAFE_ATTRS[node.tagName] ?? []) {
          const value = node.getAttribute(name);
          if (value === null) continue;
          if ((name === "href" || name === "src") && !NS_SAFE_URL.test(value.trim())) continue;
          if (name === "src" && !NS_LOCAL_IMAGE.test(value.trim())) {
            // Kept aside, never as `src`: an element of this document fetches its src
            // as soon as it is set, even before it is in the page.
            el.dataset.nsRemoteSrc = value;
            el.classList.add("ns-remote-blocked");
            continue;
          }
          el.setAttribute(name, value);
        }
        if (node.tagName === "A") {
          el.setAttribute("rel", "noopener noreferrer nofollow");
          el.setAttribute("target", "_blank");
        }
        copy(node, el);
        target.append(el);
      }
    }
  };
  copy(template.content, out);
  return out;
}

/** Format a cell value for display by its column type (text only). */
function formatValue(value, type) {
  if (value === null || value === undefined || value === "") return "";
  switch (type) {
    case "date": {
      const d = new Date(`${value}T00:00:00`);
      return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleDateString();
    }
    case "datetime": {
      // Stored in UTC without a zone; without the "Z" the browser would read local time.
      const text = String(value);
      const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
      return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
    }
    case "integer":
    case "number":
      return typeof value === "number" ? value.toLocaleString() : String(value);
    case "bool":
      return value ? "✓" : "✗";
    case "markdown":
    case "json": {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return text.length > 120 ? `${text.slice(0, 117)}…` : text;
    }
    default:
      return String(value);
  }
}

/** Apply a row diff {removed, changed, added, order} to `rows` (keyed by `key`). */
function applyRowDiff(rows, diff, key) {
  const byKey = new Map(rows.map((row) => [row[key], row]));
  for (const gone of diff.removed ?? []) byKey.delete(gone);
  for (const row of [...(diff.changed ?? []), ...(diff.added ?? [])]) byKey.set(row[key], row);
  let order = diff.order;
  if (!order) {
    const removed = new Set(diff.removed ?? []);
    order = rows.map((row) => row[key]).filter((k) => !removed.has(k));
    order.push(...(diff.added ?? []).map((row) => row[key]));
  }
  return order.filter((k) => byKey.has(k)).map((k) => byKey.get(k));
}

/**
 * Keep `rows` of the model in step with the diffs Python sends. Runs once per
 * model (not per view), so two views of one widget never apply a diff twice.
 * A diff whose base is not our seq means we missed one: ask for everything.
 */
function followRowDiffs(model) {
  const onMessage = (msg) => {
    if (!msg || msg.type !== "diff") return;
    if (msg.base !== model.get("seq")) {
      model.send({ type: "resync" });
      return;
    }
    const rows = applyRowDiff(model.get("rows"), msg, model.get("key"));
    model.set({ rows, seq: msg.seq, total: msg.total });
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}

/**
 * Tell Python that a view is on screen, and when it goes away: a live query
 * whose every view is gone stops re-running until one is shown again.
 */
function announceView(model) {
  model.send({ type: "view", shown: true });
  return () => model.send({ type: "view", shown: false });
}

/** Run `fn` once calls have stopped for `ms` milliseconds. */
function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Re-render `el` with `draw()` whenever one of `names` changes; returns cleanup. */
function redrawOn(model, names, draw) {
  const events = names.map((n) => `change:${n}`).join(" ");
  model.on(events, draw);
  draw();
  return () => model.off(events, draw);
}

/** Load the images of `root` that safeFragment() held back (the user asked to). */
function loadRemoteImages(root) {
  for (const img of root.querySelectorAll("img.ns-remote-blocked")) {
    img.setAttribute("src", img.dataset.nsRemoteSrc ?? "");
    delete img.dataset.nsRemoteSrc;
    img.classList.remove("ns-remote-blocked");
  }
}

/** "N remote images blocked" with a button that loads them this once, or null. */
function remoteImagesNote(body) {
  const count = body.querySelectorAll("img.ns-remote-blocked").length;
  if (!count) return null;
  const note = h(
    "div",
    { className: "ns-remote-note", role: "status" },
    `Remote images blocked (${count}): loading them would tell their servers that this note was opened. `,
  );
  note.append(
    h("button", {
      type: "button",
      className: "ns-remote-load",
      onclick: () => {
        loadRemoteImages(body);
        note.remove();
      },
    }, "Load images"),
  );
  return note;
}

/** Show a node's preview (Markdown rendered and sanitised in Python) in `target`. */
function drawNodePreview(target, node) {
  if (!node || !node.id) {
    target.replaceChildren();
    target.hidden = true;
    return;
  }
  target.hidden = false;
  const body = h("div", { className: "ns-markdown" });
  body.append(safeFragment(node.html));
  const note = remoteImagesNote(body);
  target.replaceChildren(
    h("h3", { className: "ns-preview-title" }, node.title || "(untitled)"),
    ...(note ? [note] : []),
    body,
  );
}
