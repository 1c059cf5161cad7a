// ChatWidget: a question box, the conversation, answers streaming in, citations
// as buttons that open the cited note. The answer is shown as text; only the
// preview (Markdown sanitised in Python) goes through safeFragment.

const CITATION = /\[(\d{1,3})\]/g;

function answerNodes(text, citations, open) {
  // "[n]" of a kept citation becomes a button; everything else stays text.
  const byNumber = new Map((citations ?? []).map((c) => [c.number, c]));
  const parts = [];
  let at = 0;
  for (const match of text.matchAll(CITATION)) {
    const cited = byNumber.get(Number(match[1]));
    if (!cited) continue;
    if (match.index > at) parts.push(text.slice(at, match.index));
    parts.push(
      h("button", { className: "ns-cite", title: cited.title, dataset: { id: cited.id }, onclick: () => open(cited.id) }, match[0]),
    );
    at = match.index + match[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-chat");
  const log = h("div", { className: "ns-chat-log", "aria-live": "polite" });
  const input = h("textarea", {
    className: "ns-chat-input",
    rows: 2,
    placeholder: "Ask your notes… (Enter sends, Shift+Enter for a new line)",
    "aria-label": "Question",
  });
  const send = h("button", { className: "ns-chat-send" }, "Ask");
  const status = h("div", { className: "ns-muted ns-chat-status" });
  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  const preview = h("article", { className: "ns-preview", hidden: true });
  el.append(log, h("div", { className: "ns-chat-form" }, input, send), status, errorBanner, preview);

  const open = (id) => {
    model.set("opened", id);
    model.save_changes();
  };
  const ask = () => {
    const question = input.value.trim();
    if (!question || model.get("busy")) return;
    model.send({ type: "ask", question });
    input.value = "";
  };
  send.addEventListener("click", ask);
  input.addEventListener("keydown", (event) => {
    event.stopPropagation(); // keep notebook shortcuts out of the question box
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      ask();
    }
  });

  const drawTurn = (turn, streaming) => {
    const box = h("div", { className: "ns-turn" }, h("div", { className: "ns-question" }, turn.question));
    if (turn.error) {
      box.append(h("div", { className: "ns-answer ns-error" }, turn.error));
      return box;
    }
    if (turn.pending) {
      box.append(h("div", { className: "ns-answer ns-pending" }, streaming || "…"));
      return box;
    }
    box.append(h("div", { className: "ns-answer" }, answerNodes(turn.answer || "(no answer)", turn.citations, open)));
    if (turn.sources?.length) {
      const cited = new Set((turn.citations ?? []).map((c) => c.id));
      box.append(
        h(
          "details",
          { className: "ns-sources" },
          h("summary", {}, `Sources (${turn.sources.length}, ${cited.size} cited)`),
          h(
            "ol",
            {},
            turn.sources.map((s) =>
              h(
                "li",
                { className: cited.has(s.id) ? "ns-source ns-cited" : "ns-source", value: s.number },
                h("button", { className: "ns-link", dataset: { id: s.id }, onclick: () => open(s.id) }, s.title || "(untitled)"),
                h("span", { className: "ns-muted" }, ` ${s.reason}`),
              ),
            ),
          ),
        ),
      );
    }
    if (turn.invalid?.length) {
      box.append(h("div", { className: "ns-muted ns-invalid" }, `Removed citations (not among the sources): ${turn.invalid.join(", ")}`));
    }
    return box;
  };

  const draw = () => {
    const turns = model.get("turns");
    const streaming = model.get("streaming");
    log.replaceChildren(...turns.map((turn) => drawTurn(turn, streaming)));
    send.disabled = model.get("busy");
    status.textContent = model.get("busy") ? "Answering…" : model.get("status");
  };
  const drawPreview = () => drawNodePreview(preview, model.get("preview"));

  const stops = [
    redrawOn(model, ["turns", "streaming", "busy", "status"], draw),
    redrawOn(model, ["preview"], drawPreview),
    redrawOn(model, ["error"], () => {
      errorBanner.textContent = model.get("error");
    }),
  ];
  return () => stops.forEach((stop) => stop());
}

export default { render };
