// TaskList: one line per task; the checkbox writes the status back.

const NS_CLOSED = new Set(["done", "cancelled"]);

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-tasks");
  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  const list = h("ul", { className: "ns-task-list" });
  const more = h("div", { className: "ns-muted ns-more" });
  el.append(errorBanner, list, more);
  // id -> the done state asked for: shown at once, until the row confirms it.
  const pending = new Map();

  const setStatus = (task, done) => {
    const id = task[model.get("key")];
    pending.set(id, done);
    const value = done ? "done" : "todo";
    model.send({ type: "edit", id, field: "task_status", value, version: task.version });
    draw();
  };

  const item = (task, today, errors) => {
    const id = task[model.get("key")];
    if (pending.has(id) && pending.get(id) === (task.task_status === "done")) pending.delete(id);
    const closed = NS_CLOSED.has(task.task_status);
    const overdue = !closed && task.due && task.due < today;
    const box = h("input", {
      type: "checkbox",
      "aria-label": `Done: ${task.title ?? ""}`,
      checked: pending.has(id) ? pending.get(id) : task.task_status === "done",
      disabled: pending.has(id),
      onchange: (event) => setStatus(task, event.target.checked),
    });
    const parts = [box, h("span", { className: "ns-task-title" }, task.title || "(untitled)")];
    if (task.task_status === "doing") parts.push(h("span", { className: "ns-badge ns-doing" }, "doing"));
    if (task.priority !== null && task.priority !== undefined) {
      parts.push(h("span", { className: `ns-badge ns-priority-${task.priority}` }, `P${task.priority}`));
    }
    if (task.due) {
      parts.push(
        h(
          "span",
          { className: overdue ? "ns-due ns-overdue" : "ns-due", title: overdue ? "Overdue" : "Due" },
          formatValue(task.due, "date"),
        ),
      );
    }
    const message = errors[id]?.task_status;
    if (message) parts.push(h("div", { className: "ns-cell-error", role: "alert" }, message));
    return h(
      "li",
      { dataset: { id }, className: ["ns-task", closed ? "ns-closed" : "", overdue ? "ns-overdue-task" : ""].join(" ").trim() },
      parts,
    );
  };

  const draw = () => {
    const today = model.get("today");
    const errors = model.get("errors");
    const rows = model.get("rows");
    list.replaceChildren(...rows.map((task) => item(task, today, errors)));
    if (rows.length === 0) list.append(h("li", { className: "ns-muted ns-empty" }, "No tasks"));
    const hidden = model.get("total") - rows.length;
    more.textContent = hidden > 0 ? `and ${hidden.toLocaleString()} more` : "";
    errorBanner.textContent = model.get("error");
  };

  const onAnswer = (msg) => {
    if (msg?.type === "edit-error") {
      pending.delete(msg.id);
      draw();
    }
  };
  model.on("msg:custom", onAnswer);
  const stop = redrawOn(model, ["rows", "today", "errors", "total", "error"], draw);
  const hide = announceView(model);
  return () => {
    hide();
    model.off("msg:custom", onAnswer);
    stop();
  };
}

export default {
  initialize({ model }) {
    return followRowDiffs(model);
  },
  render,
};
