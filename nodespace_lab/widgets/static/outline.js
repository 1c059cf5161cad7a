// Outline: a node subtree with lazily loaded children and keyboard editing.
//
// Python owns the tree: every edit is a message ({type: "create" | "rename" |
// "indent" | "outdent" | "move_up" | "move_down" | "delete" | "expand" |
// "collapse", ...}) and the answer arrives as new `nodes` / `expanded` /
// `focus` state. The page only keeps what Python cannot know yet: text typed
// but not sent (renames are sent after a 300 ms pause or when leaving a row)
// and where the caret is. Titles reach the DOM as input values, never markup.

const RENAME_DELAY_MS = 300;

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-outline");
  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  const heading = h("div", { className: "ns-outline-root" });
  const tree = h("ul", { className: "ns-outline-tree", role: "tree" });
  const empty = h("div", { className: "ns-muted ns-outline-empty" }, "No nodes yet.");
  const add = h(
    "button",
    { className: "ns-outline-add", title: "Add a node at the end", onclick: () => send({ type: "create" }) },
    "+ Add node",
  );
  el.append(errorBanner, heading, tree, empty, add);

  let focused = model.get("focus") || ""; // row that has (or should get) the caret
  let wantFocus = Boolean(focused); // Python asked for the caret to move there
  let drawing = false; // focus events caused by redrawing are not the user's
  const inputs = new Map(); // id -> title <input> of the current drawing
  const drafts = new Map(); // id -> text typed, not sent yet
  const sent = new Map(); // id -> text sent, not yet confirmed by `nodes`
  const timers = new Map(); // id -> pending rename timer

  const nodes = () => model.get("nodes") ?? {};
  const rootKey = () => model.get("root") ?? "";

  function send(message) {
    flushRenames(); // a rename typed before an edit must reach Python first
    model.send(message);
  }

  function sendRename(id) {
    clearTimeout(timers.get(id));
    timers.delete(id);
    if (!drafts.has(id)) return;
    const title = drafts.get(id);
    drafts.delete(id);
    sent.set(id, title);
    model.send({ type: "rename", id, title });
  }

  function flushRenames() {
    for (const id of [...drafts.keys()]) sendRename(id);
  }

  function setModel(changes) {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  }

  function moveFocus(id, step) {
    const order = [...tree.querySelectorAll("input.ns-title")];
    const at = order.findIndex((input) => input.dataset.id === id);
    const target = order[at + step];
    if (target) focusInput(target, null);
  }

  function focusInput(input, caret) {
    input.focus();
    const [start, end] = caret ?? [input.value.length, input.value.length];
    input.setSelectionRange(start, end);
  }

  function onKey(event, id, input) {
    event.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the outline
    if (event.isComposing) return;
    const { key, altKey, shiftKey } = event;
    const ctrl = event.ctrlKey || event.metaKey;
    let message = null;
    if (key === "Enter" && !altKey && !shiftKey && !ctrl) message = { type: "create", after: id };
    else if (key === "Tab" && !altKey && !ctrl) message = { type: shiftKey ? "outdent" : "indent", id };
    else if (altKey && key === "ArrowUp") message = { type: "move_up", id };
    else if (altKey && key === "ArrowDown") message = { type: "move_down", id };
    else if (ctrl && (key === "ArrowUp" || key === "ArrowDown")) {
      message = { type: key === "ArrowDown" ? "expand" : "collapse", id };
      if (message.type === "expand" && !nodes()[id]?.has_children) message = null;
    } else if ((key === "ArrowUp" || key === "ArrowDown") && !shiftKey) {
      event.preventDefault();
      moveFocus(id, key === "ArrowUp" ? -1 : 1);
      return;
    } else if (key === "Backspace" && input.value === "" && !altKey && !ctrl && !shiftKey) {
      message = { type: "delete", id };
    } else return;
    event.preventDefault();
    if (message) send(message);
  }

  function onFocus(id) {
    if (drawing) return;
    focused = id;
    wantFocus = false;
    markSelected(id);
    setModel({ focus: id, selected: id });
  }

  function onBlur(id) {
    if (drawing) return;
    sendRename(id); // leaving a row saves its title at once
    setTimeout(() => {
      if (drawing || el.contains(document.activeElement)) return;
      focused = "";
      setModel({ focus: "" });
    }, 0);
  }

  function row(id) {
    const node = nodes()[id];
    const open = node.has_children && expandedIds.has(id);
    const toggle = h(
      "button",
      {
        className: "ns-toggle",
        tabindex: "-1",
        "aria-label": open ? "Collapse" : "Expand",
        title: open ? "Collapse" : "Expand",
        disabled: !node.has_children,
        onmousedown: (event) => event.preventDefault(), // keep the caret where it is
        onclick: () => send({ type: open ? "collapse" : "expand", id }),
      },
      node.has_children ? (open ? "▾" : "▸") : "",
    );
    const input = h("input", {
      type: "text",
      className: "ns-title",
      "aria-label": "Title",
      spellcheck: "false",
      dataset: { id },
    });
    input.value = drafts.get(id) ?? sent.get(id) ?? node.title ?? "";
    input.addEventListener("input", () => {
      drafts.set(id, input.value);
      clearTimeout(timers.get(id));
      timers.set(id, setTimeout(() => sendRename(id), RENAME_DELAY_MS));
    });
    input.addEventListener("keydown", (event) => onKey(event, id, input));
    for (const name of ["keyup", "keypress"]) input.addEventListener(name, (e) => e.stopPropagation());
    input.addEventListener("focus", () => onFocus(id));
    input.addEventListener("blur", () => onBlur(id));
    inputs.set(id, input);

    const badge = node.task_status
      ? h("span", { className: "ns-badge ns-task-status", dataset: { status: node.task_status } }, node.task_status)
      : node.kind && node.kind !== "text"
        ? h("span", { className: "ns-badge ns-kind" }, node.kind)
        : null;
    const line = h(
      "div",
      { className: "ns-row", dataset: node.task_status ? { status: node.task_status } : undefined },
      toggle,
      h("span", { className: "ns-bullet", "aria-hidden": "true" }, "•"),
      input,
      badge,
    );
    const item = h(
      "li",
      {
        className: "ns-item",
        role: "treeitem",
        dataset: { id },
        "aria-expanded": node.has_children ? String(open) : undefined,
      },
      line,
    );
    if (open && node.children) {
      item.append(h("ul", { role: "group" }, node.children.filter((c) => nodes()[c]).map(row)));
    }
    return item;
  }

  let expandedIds = new Set();

  function draw() {
    const all = nodes();
    for (const [id, title] of sent) {
      if (!all[id] || all[id].title === title) sent.delete(id);
    }
    const active = document.activeElement;
    const hadFocus = active instanceof HTMLInputElement && tree.contains(active);
    const caret = hadFocus ? [active.selectionStart, active.selectionEnd] : null;
    const caretId = hadFocus ? active.dataset.id : null;
    drawing = true;
    try {
      expandedIds = new Set(model.get("expanded"));
      const root = all[rootKey()];
      heading.textContent = model.get("root") ? (root?.title ?? "") : "";
      inputs.clear();
      const top = (root?.children ?? []).filter((c) => all[c]);
      tree.replaceChildren(...top.map(row));
      empty.hidden = top.length > 0;
      markSelected(model.get("selected"));
      const input = focused ? inputs.get(focused) : null;
      if (input && (hadFocus || wantFocus)) {
        focusInput(input, caretId === focused ? caret : null);
        wantFocus = false;
      }
    } finally {
      drawing = false;
    }
  }

  function markSelected(id) {
    for (const line of tree.querySelectorAll(".ns-row.ns-selected")) line.classList.remove("ns-selected");
    const input = id ? inputs.get(id) : null;
    input?.closest(".ns-row").classList.add("ns-selected");
  }

  const onFocusChange = () => {
    const id = model.get("focus") || "";
    if (id === focused) return; // our own report of where the caret is
    focused = id;
    wantFocus = Boolean(id);
    const input = inputs.get(id);
    if (input) {
      drawing = true;
      try {
        focusInput(input, null);
        wantFocus = false;
      } finally {
        drawing = false;
      }
    }
  };
  const onSelected = () => markSelected(model.get("selected"));
  const onError = () => {
    errorBanner.textContent = model.get("error");
    if (model.get("error") && sent.size) {
      sent.clear(); // a rename may have been refused: show what Python has
      draw();
    }
  };

  model.on("change:focus", onFocusChange);
  model.on("change:selected", onSelected);
  model.on("change:error", onError);
  onError();
  const stopDrawing = redrawOn(model, ["nodes", "expanded", "root"], draw);
  const hide = announceView(model);
  return () => {
    flushRenames();
    hide();
    stopDrawing();
    model.off("change:focus", onFocusChange);
    model.off("change:selected", onSelected);
    model.off("change:error", onError);
  };
}

export default { render };
