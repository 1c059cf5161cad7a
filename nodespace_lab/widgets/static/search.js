// SearchBox: type to search (debounced), arrows + Enter or click to open.

function snippetNodes(text, highlights) {
  // Highlights are [start, end) character ranges into the plain-text snippet.
  const parts = [];
  let at = 0;
  for (const [start, end] of highlights ?? []) {
    if (start < at) continue;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(h("mark", {}, text.slice(start, end)));
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-search");
  let active = 0;
  const input = h("input", {
    type: "search",
    className: "ns-search-input",
    placeholder: "Search notes…",
    "aria-label": "Search the knowledge base",
  });
  input.value = model.get("query");
  const status = h("div", { className: "ns-muted ns-search-status", "aria-live": "polite" });
  const list = h("ul", { className: "ns-results", role: "listbox" });
  const preview = h("article", { className: "ns-preview" });
  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  el.append(input, errorBanner, status, list, preview);

  const sendQuery = debounce(() => {
    model.set("query", input.value);
    model.save_changes();
  }, 150);
  const open = (id) => {
    model.set("opened", id);
    model.save_changes();
  };

  input.addEventListener("input", sendQuery);
  input.addEventListener("keydown", (event) => {
    const results = model.get("results");
    if (event.key === "ArrowDown") active = Math.min(active + 1, results.length - 1);
    else if (event.key === "ArrowUp") active = Math.max(active - 1, 0);
    else if (event.key === "Enter" && results[active]) open(results[active].id);
    else if (event.key === "Escape") {
      input.value = "";
      sendQuery();
    } else {
      event.stopPropagation();
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // keep notebook shortcuts out of the search box
    drawResults();
  });

  const drawResults = () => {
    const results = model.get("results");
    const query = model.get("results_for");
    active = Math.min(active, Math.max(results.length - 1, 0));
    list.replaceChildren(
      ...results.map((hit, i) =>
        h(
          "li",
          {
            role: "option",
            "aria-selected": i === active ? "true" : "false",
            className: i === active ? "ns-result ns-active" : "ns-result",
            dataset: { id: hit.id },
            onclick: () => open(hit.id),
          },
          h("div", { className: "ns-result-title" }, hit.title || "(untitled)", h("span", { className: "ns-kind" }, hit.kind)),
          h("div", { className: "ns-snippet" }, snippetNodes(hit.snippet ?? "", hit.highlights)),
        ),
      ),
    );
    status.textContent = query.trim()
      ? `${results.length} result${results.length === 1 ? "" : "s"} for “${query}”`
      : "";
  };

  const drawPreview = () => drawNodePreview(preview, model.get("preview"));

  const stopResults = redrawOn(model, ["results", "results_for"], drawResults);
  const stopPreview = redrawOn(model, ["preview"], drawPreview);
  const stopError = redrawOn(model, ["error"], () => {
    errorBanner.textContent = model.get("error");
  });
  return () => {
    stopResults();
    stopPreview();
    stopError();
  };
}

export default { render };
