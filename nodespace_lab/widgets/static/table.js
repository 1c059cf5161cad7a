// LiveTable: a page of a live query's rows. Sorting and paging happen in
// Python (only one page is ever sent); edits are sent as {type: "edit"}.

function cellEditor(column, value, commit, cancel) {
  let input;
  if (column.choices) {
    input = h("select", {}, ...column.choices.map((c) => h("option", { value: c }, c)));
    input.value = value ?? "";
    input.addEventListener("change", () => commit(input.value));
  } else {
    const type = { integer: "number", number: "number", date: "date" }[column.type] ?? "text";
    input = h("input", { type, step: column.type === "number" ? "any" : undefined });
    input.value = value ?? "";
  }
  input.className = "ns-cell-editor";
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") commit(input.value);
    else if (event.key === "Escape") cancel();
    event.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the cell
  });
  input.addEventListener("blur", () => commit(input.value));
  return input;
}

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-table");
  let editing = null; // {id, field} of the cell being edited
  const pending = new Set(); // "id\u0000field" of edits sent, not yet answered

  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  const summary = h("span", { className: "ns-muted ns-summary" });
  const pageLabel = h("span", { className: "ns-page" });
  const go = (page) => {
    model.set("page", page);
    model.save_changes();
  };
  const pages = () => Math.max(1, Math.ceil(model.get("total") / model.get("page_size")));
  const first = h("button", { title: "First page", onclick: () => go(0) }, "«");
  const prev = h("button", { title: "Previous page", onclick: () => go(model.get("page") - 1) }, "‹");
  const next = h("button", { title: "Next page", onclick: () => go(model.get("page") + 1) }, "›");
  const last = h("button", { title: "Last page", onclick: () => go(pages() - 1) }, "»");
  const toolbar = h("div", { className: "ns-toolbar" }, summary, first, prev, pageLabel, next, last);
  const table = h("table", { className: "ns-grid" });
  el.append(errorBanner, toolbar, table);

  const toggleSort = (name) => {
    const [column, descending] = model.get("sort");
    model.set("sort", column === name ? [name, !descending] : [name, false]);
    model.set("page", 0);
    model.save_changes();
  };

  const toggleSelected = (id, on) => {
    const chosen = new Set(model.get("selected"));
    if (on) chosen.add(id);
    else chosen.delete(id);
    model.set("selected", [...chosen]);
    model.save_changes();
  };

  const header = () => {
    const [sortColumn, descending] = model.get("sort");
    const cells = model.get("columns").map((column) => {
      const arrow = column.name === sortColumn ? (descending ? " ▼" : " ▲") : "";
      return h(
        "th",
        {
          className: `ns-type-${column.type}`,
          dataset: { column: column.name },
          "aria-sort": column.name === sortColumn ? (descending ? "descending" : "ascending") : undefined,
          title: `Sort by ${column.label}`,
          onclick: () => toggleSort(column.name),
        },
        column.label + arrow,
      );
    });
    return h("thead", {}, h("tr", {}, h("th", { className: "ns-select" }), ...cells));
  };

  const cell = (row, column, rowErrors) => {
    const id = row[model.get("key")];
    const value = row[column.name];
    const td = h("td", { className: `ns-type-${column.type}`, dataset: { column: column.name } });
    const isEditing = editing && editing.id === id && editing.field === column.name;
    if (isEditing) {
      const commit = (text) => {
        if (!editing) return;
        editing = null;
        if (String(text) !== String(value ?? "")) {
          pending.add(`${id}\u0000${column.name}`);
          model.send({ type: "edit", id, field: column.name, value: text, version: row.version });
        }
        drawBody();
      };
      const editor = cellEditor(column, value, commit, () => {
        editing = null;
        drawBody();
      });
      td.append(editor);
      queueMicrotask(() => editor.focus());
    } else {
      td.append(formatValue(value, column.type));
      if (column.editable) {
        td.classList.add("ns-editable");
        td.title = "Double-click to edit";
        td.addEventListener("dblclick", () => {
          editing = { id, field: column.name };
          drawBody();
        });
      }
    }
    if (pending.has(`${id}\u0000${column.name}`)) td.classList.add("ns-pending");
    const message = rowErrors?.[column.name];
    if (message) {
      td.classList.add("ns-invalid");
      td.append(h("div", { className: "ns-cell-error", role: "alert" }, message));
    }
    return td;
  };

  let tbody = h("tbody");
  const drawBody = () => {
    const key = model.get("key");
    const chosen = new Set(model.get("selected"));
    const errors = model.get("errors");
    const columns = model.get("columns");
    const body = h(
      "tbody",
      {},
      model.get("rows").map((row) => {
        const id = row[key];
        const box = h("input", {
          type: "checkbox",
          "aria-label": "Select row",
          checked: chosen.has(id),
          onchange: (event) => toggleSelected(id, event.target.checked),
        });
        return h(
          "tr",
          { dataset: { id }, className: chosen.has(id) ? "ns-selected" : undefined },
          h("td", { className: "ns-select" }, box),
          columns.map((column) => cell(row, column, errors[id])),
        );
      }),
    );
    tbody.replaceWith(body);
    tbody = body;
    if (model.get("rows").length === 0) {
      const empty = h("tr", { className: "ns-empty" }, h("td", { colspan: columns.length + 1 }, "No rows"));
      tbody.append(empty);
    }
  };

  const drawChrome = () => {
    const page = model.get("page");
    const total = model.get("total");
    summary.textContent = `${total.toLocaleString()} row${total === 1 ? "" : "s"}`;
    pageLabel.textContent = `page ${page + 1} of ${pages()}`;
    first.disabled = prev.disabled = page <= 0;
    next.disabled = last.disabled = page >= pages() - 1;
    errorBanner.textContent = model.get("error");
    table.replaceChildren(header(), tbody);
  };

  const onAnswer = (msg) => {
    if (msg?.type === "edit-ok" || msg?.type === "edit-error") {
      pending.delete(`${msg.id}\u0000${msg.field}`);
      drawBody();
    }
  };
  model.on("msg:custom", onAnswer);
  const stopChrome = redrawOn(model, ["columns", "sort", "page", "page_size", "total", "error"], drawChrome);
  const stopBody = redrawOn(model, ["rows", "selected", "errors", "columns"], drawBody);
  const hide = announceView(model);
  return () => {
    hide();
    model.off("msg:custom", onAnswer);
    stopChrome();
    stopBody();
  };
}

export default {
  initialize({ model }) {
    return followRowDiffs(model);
  },
  render,
};
