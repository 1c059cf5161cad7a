// GraphView: a node's neighbourhood on a <canvas>, laid out force-directed.
//
// Python sends nodes as {id, title, kind, hop} and edges as [source index,
// target index, type]. The layout runs here, one tick per animation frame:
// springs along edges, Barnes–Hut repulsion (O(n log n), so 2,000 nodes stay
// fluid), a weak pull to the middle, and cooling ("alpha") so it settles and
// the loop stops. Everything is drawn in a few batched canvas paths (one per
// edge type and one per node kind), never one DOM element per node.
//
// Titles reach the page only through canvas fillText and textContent.

const NS_GRAPH_KINDS = {
  text: "#4e79a7",
  task: "#f28e2b",
  date: "#59a14f",
  collection: "#b07aa1",
  tag: "#e15759",
  ref: "#9d9d9d",
};
const NS_GRAPH_MORE_KINDS = ["#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#17becf", "#bcbd22"];
// Screen widths and dashes (CSS pixels) per edge type; unknown types look like links.
const NS_GRAPH_EDGES = {
  CHILD_OF: { colour: "#8a8f98", width: 1.6, dash: [], label: "child of" },
  LINKS_TO: { colour: "#4e79a7", width: 1, dash: [], label: "links to" },
  MEMBER_OF: { colour: "#e15759", width: 1, dash: [5, 3], label: "member of" },
  REFERS: { colour: "#9d9d9d", width: 1, dash: [1.5, 3], label: "refers to (missing)" },
};
const NS_GRAPH_STATS_SIZE = 4096; // frame-time samples kept for percentiles

function kindColour(kind) {
  if (NS_GRAPH_KINDS[kind]) return NS_GRAPH_KINDS[kind];
  let hash = 0;
  for (const ch of String(kind)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return NS_GRAPH_MORE_KINDS[hash % NS_GRAPH_MORE_KINDS.length];
}

function edgeStyle(type) {
  return NS_GRAPH_EDGES[type] ?? NS_GRAPH_EDGES.LINKS_TO;
}

/**
 * A Barnes–Hut quadtree over flat typed arrays, rebuilt every tick without
 * allocating (arrays grow only when the node count does). Cell 0 is the root;
 * a child always has a larger index than its parent, so one backwards pass
 * sums masses bottom-up.
 */
class QuadTree {
  constructor() {
    this.capacity = 0;
    this.count = 0;
    this.grow(64);
    this.next = new Int32Array(0); // chains of bodies sharing one leaf
    this.stack = new Int32Array(0);
  }

  grow(capacity) {
    const old = this;
    const copy = (Type, arr, n) => {
      const out = new Type(n);
      if (arr) out.set(arr.subarray(0, Math.min(arr.length, n)));
      return out;
    };
    this.x0 = copy(Float64Array, old.x0, capacity);
    this.y0 = copy(Float64Array, old.y0, capacity);
    this.size = copy(Float64Array, old.size, capacity);
    this.mass = copy(Float64Array, old.mass, capacity);
    this.cx = copy(Float64Array, old.cx, capacity);
    this.cy = copy(Float64Array, old.cy, capacity);
    this.body = copy(Int32Array, old.body, capacity);
    this.child = copy(Int32Array, old.child, capacity * 4);
    this.capacity = capacity;
  }

  cell(x0, y0, size) {
    if (this.count === this.capacity) this.grow(this.capacity * 2);
    const c = this.count++;
    this.x0[c] = x0;
    this.y0[c] = y0;
    this.size[c] = size;
    this.mass[c] = 0;
    this.cx[c] = 0;
    this.cy[c] = 0;
    this.body[c] = -1;
    this.child.fill(-1, c * 4, c * 4 + 4);
    return c;
  }

  build(x, y, n) {
    if (this.next.length < n) this.next = new Int32Array(n);
    if (this.stack.length < 4 * n + 64) this.stack = new Int32Array(4 * n + 64);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      if (x[i] < minX) minX = x[i];
      if (x[i] > maxX) maxX = x[i];
      if (y[i] < minY) minY = y[i];
      if (y[i] > maxY) maxY = y[i];
    }
    const size = Math.max(maxX - minX, maxY - minY, 1) * 1.0001;
    this.count = 0;
    this.cell(minX, minY, size);
    for (let i = 0; i < n; i++) this.insert(i, x, y);
    this.summarise(x, y);
  }

  insert(i, x, y) {
    let c = 0;
    for (let depth = 0; ; depth++) {
      const base = c * 4;
      const leaf =
        this.child[base] < 0 && this.child[base + 1] < 0 && this.child[base + 2] < 0 && this.child[base + 3] < 0;
      if (leaf) {
        const j = this.body[c];
        // Empty leaf, or points too close to split (deep cells): chain the body here.
        if (j < 0 || depth > 40 || (x[j] === x[i] && y[j] === y[i])) {
          this.next[i] = j;
          this.body[c] = i;
          return;
        }
        // Split: push the resident body (and its chain) one level down.
        this.body[c] = -1;
        const q = this.quadrant(c, x[j], y[j]);
        const h = this.size[c] / 2;
        const child = this.cell(this.x0[c] + (q & 1) * h, this.y0[c] + (q >> 1) * h, h);
        this.child[base + q] = child;
        this.body[child] = j;
      }
      const q = this.quadrant(c, x[i], y[i]);
      const next = this.child[c * 4 + q];
      if (next < 0) {
        const h = this.size[c] / 2;
        const child = this.cell(this.x0[c] + (q & 1) * h, this.y0[c] + (q >> 1) * h, h);
        this.child[c * 4 + q] = child;
        this.next[i] = -1;
        this.body[child] = i;
        return;
      }
      c = next;
    }
  }

  quadrant(c, px, py) {
    const h = this.size[c] / 2;
    return (px >= this.x0[c] + h ? 1 : 0) | (py >= this.y0[c] + h ? 2 : 0);
  }

  summarise(x, y) {
    for (let c = this.count - 1; c >= 0; c--) {
      let m = 0, sx = 0, sy = 0;
      for (let j = this.body[c]; j >= 0; j = this.next[j]) {
        m += 1;
        sx += x[j];
        sy += y[j];
      }
      for (let q = 0; q < 4; q++) {
        const k = this.child[c * 4 + q];
        if (k < 0) continue;
        m += this.mass[k];
        sx += this.cx[k] * this.mass[k];
        sy += this.cy[k] * this.mass[k];
      }
      this.mass[c] = m;
      this.cx[c] = m ? sx / m : 0;
      this.cy[c] = m ? sy / m : 0;
    }
  }

  /** Add the repulsion on body `i` to (vx[i], vy[i]); `strength` < 0 repels. */
  repel(i, x, y, vx, vy, strength, theta2) {
    const xi = x[i], yi = y[i];
    const stack = this.stack;
    let top = 0;
    stack[top++] = 0;
    let fx = 0, fy = 0;
    while (top > 0) {
      const c = stack[--top];
      const m = this.mass[c];
      if (m === 0) continue;
      let dx = this.cx[c] - xi, dy = this.cy[c] - yi;
      let l = dx * dx + dy * dy;
      const w = this.size[c];
      const inside = xi >= this.x0[c] && xi < this.x0[c] + w && yi >= this.y0[c] && yi < this.y0[c] + w;
      if (!inside && l > 0 && (w * w) / theta2 < l) {
        // Far enough: the whole cell acts as one body at its centre of mass.
        if (l < 1) l = Math.sqrt(l);
        fx += (dx * strength * m) / l;
        fy += (dy * strength * m) / l;
        continue;
      }
      for (let j = this.body[c]; j >= 0; j = this.next[j]) {
        if (j === i) continue;
        dx = x[j] - xi;
        dy = y[j] - yi;
        if (dx === 0) dx = (Math.random() - 0.5) * 1e-3;
        if (dy === 0) dy = (Math.random() - 0.5) * 1e-3;
        l = dx * dx + dy * dy;
        if (l < 1) l = Math.sqrt(l);
        fx += (dx * strength) / l;
        fy += (dy * strength) / l;
      }
      for (let q = 0; q < 4; q++) {
        const k = this.child[c * 4 + q];
        if (k >= 0) stack[top++] = k;
      }
    }
    vx[i] += fx;
    vy[i] += fy;
  }
}

/** The force simulation: positions and velocities in typed arrays. */
class Layout {
  constructor() {
    this.n = 0;
    this.m = 0;
    this.alpha = 1;
    this.alphaTarget = 0;
    this.alphaMin = 0.002;
    this.alphaDecay = 1 - Math.pow(this.alphaMin, 1 / 300); // ~300 ticks to settle
    this.velocityKeep = 0.6;
    this.charge = -40;
    this.theta2 = 0.81;
    this.gravity = 0.04;
    this.tree = new QuadTree();
    this.ticks = 0;
    this.setGraph([], [], new Map());
  }

  get running() {
    return this.alpha >= this.alphaMin || this.alphaTarget > 0;
  }

  /** New nodes and edges; nodes already placed (by id) keep their positions. */
  setGraph(nodes, edges, placed) {
    const n = nodes.length;
    this.n = n;
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.vx = new Float64Array(n);
    this.vy = new Float64Array(n);
    this.fx = new Float64Array(n).fill(NaN); // fixed while dragged
    this.fy = new Float64Array(n).fill(NaN);
    const valid = edges.filter(([s, t]) => s >= 0 && t >= 0 && s < n && t < n && s !== t);
    const m = valid.length;
    this.m = m;
    this.src = new Int32Array(m);
    this.dst = new Int32Array(m);
    this.type = valid.map((e) => String(e[2]));
    this.degree = new Int32Array(n);
    valid.forEach(([s, t], k) => {
      this.src[k] = s;
      this.dst[k] = t;
      this.degree[s]++;
      this.degree[t]++;
    });
    // d3-style springs: a spring pulls less on a hub, and moves the lighter end more.
    this.strength = new Float64Array(m);
    this.bias = new Float64Array(m);
    this.length = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const ds = this.degree[this.src[k]], dt = this.degree[this.dst[k]];
      this.strength[k] = 1 / Math.min(ds, dt);
      this.bias[k] = ds / (ds + dt);
      this.length[k] = this.type[k] === "CHILD_OF" ? 26 : 34;
    }
    // Adjacency (CSR) for hover highlighting and placing new nodes.
    this.adjStart = new Int32Array(n + 1);
    for (let k = 0; k < m; k++) {
      this.adjStart[this.src[k] + 1]++;
      this.adjStart[this.dst[k] + 1]++;
    }
    for (let i = 0; i < n; i++) this.adjStart[i + 1] += this.adjStart[i];
    this.adj = new Int32Array(2 * m);
    const fill = this.adjStart.slice(0, n);
    for (let k = 0; k < m; k++) {
      this.adj[fill[this.src[k]]++] = k;
      this.adj[fill[this.dst[k]]++] = k;
    }
    this.radius = new Float64Array(n);
    for (let i = 0; i < n; i++) this.radius[i] = Math.min(4 + Math.sqrt(this.degree[i]), 12);
    if (n) this.radius[0] += 3; // the centre
    this.place(nodes, placed);
  }

  /** Keep known positions; put a new node next to a placed neighbour, else on a spiral. */
  place(nodes, placed) {
    const done = new Uint8Array(this.n);
    let kept = 0;
    nodes.forEach((node, i) => {
      const p = placed.get(node.id);
      if (p) {
        this.x[i] = p.x;
        this.y[i] = p.y;
        done[i] = 1;
        kept++;
      }
    });
    const spiral = Math.PI * (3 - Math.sqrt(5));
    for (let i = 0; i < this.n; i++) {
      if (done[i]) continue;
      let anchor = -1;
      for (let a = this.adjStart[i]; a < this.adjStart[i + 1] && anchor < 0; a++) {
        const k = this.adj[a];
        const other = this.src[k] === i ? this.dst[k] : this.src[k];
        if (done[other]) anchor = other;
      }
      if (anchor >= 0 && kept) {
        const angle = Math.random() * 2 * Math.PI;
        this.x[i] = this.x[anchor] + 20 * Math.cos(angle);
        this.y[i] = this.y[anchor] + 20 * Math.sin(angle);
      } else {
        const r = 10 * Math.sqrt(0.5 + i), angle = i * spiral;
        this.x[i] = r * Math.cos(angle);
        this.y[i] = r * Math.sin(angle);
      }
      done[i] = 1;
    }
    return kept;
  }

  tick() {
    const { n, m, x, y, vx, vy } = this;
    this.alpha += (this.alphaTarget - this.alpha) * this.alphaDecay;
    const alpha = this.alpha;
    // Springs (velocity-Verlet-ish, as d3-force): use the predicted positions.
    for (let k = 0; k < m; k++) {
      const s = this.src[k], t = this.dst[k];
      let dx = x[t] + vx[t] - x[s] - vx[s] || (Math.random() - 0.5) * 1e-3;
      let dy = y[t] + vy[t] - y[s] - vy[s] || (Math.random() - 0.5) * 1e-3;
      const d = Math.sqrt(dx * dx + dy * dy);
      const f = ((d - this.length[k]) / d) * alpha * this.strength[k];
      dx *= f;
      dy *= f;
      const b = this.bias[k];
      vx[t] -= dx * b;
      vy[t] -= dy * b;
      vx[s] += dx * (1 - b);
      vy[s] += dy * (1 - b);
    }
    if (n > 1) {
      this.tree.build(x, y, n);
      const strength = this.charge * alpha;
      for (let i = 0; i < n; i++) this.tree.repel(i, x, y, vx, vy, strength, this.theta2);
    }
    const g = this.gravity * alpha;
    for (let i = 0; i < n; i++) {
      vx[i] -= x[i] * g;
      vy[i] -= y[i] * g;
      if (Number.isNaN(this.fx[i])) {
        vx[i] *= this.velocityKeep;
        vy[i] *= this.velocityKeep;
        x[i] += vx[i];
        y[i] += vy[i];
      } else {
        x[i] = this.fx[i];
        y[i] = this.fy[i];
        vx[i] = vy[i] = 0;
      }
    }
    this.ticks++;
  }

  /** Index of the node under world point (px, py) within `slack`, or -1. */
  nodeAt(px, py, slack) {
    let best = -1, bestD = Infinity;
    for (let i = 0; i < this.n; i++) {
      const dx = this.x[i] - px, dy = this.y[i] - py;
      const d = dx * dx + dy * dy;
      const r = Math.max(this.radius[i], slack);
      if (d <= r * r && d < bestD) {
        best = i;
        bestD = d;
      }
    }
    return best;
  }

  positions(nodes) {
    const placed = new Map();
    nodes.forEach((node, i) => {
      if (i < this.n) placed.set(node.id, { x: this.x[i], y: this.y[i] });
    });
    return placed;
  }
}

/** Frame-time statistics kept in a ring buffer; for tests and benchmarks. */
function frameStats() {
  const work = new Float64Array(NS_GRAPH_STATS_SIZE);
  const gaps = new Float64Array(NS_GRAPH_STATS_SIZE);
  const state = { frames: 0, layoutFrames: 0, gapCount: 0, lastFrame: 0 };
  const summary = (arr, count) => {
    const xs = Array.from(arr.subarray(0, Math.min(count, arr.length))).sort((a, b) => a - b);
    if (!xs.length) return { count: 0, mean: 0, p50: 0, p95: 0, max: 0 };
    const pick = (p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
    return {
      count: xs.length,
      mean: xs.reduce((a, b) => a + b, 0) / xs.length,
      p50: pick(50),
      p95: pick(95),
      max: xs[xs.length - 1],
    };
  };
  return {
    state,
    record(ms, ticked, now) {
      state.frames++;
      if (ticked) {
        work[state.layoutFrames % work.length] = ms;
        state.layoutFrames++;
        if (state.lastFrame) gaps[state.gapCount++ % gaps.length] = now - state.lastFrame;
        state.lastFrame = now;
      } else {
        state.lastFrame = 0;
      }
    },
    reset() {
      state.frames = state.layoutFrames = state.gapCount = state.lastFrame = 0;
    },
    summary() {
      return {
        frames: state.frames,
        layoutFrames: state.layoutFrames,
        work: summary(work, state.layoutFrames), // ms of tick + draw per layout frame
        interval: summary(gaps, state.gapCount), // ms between consecutive layout frames
      };
    },
  };
}

function render({ model, el }) {
  el.classList.add("ns-widget", "ns-graph");
  const errorBanner = h("div", { className: "ns-error", role: "alert" });
  const summary = h("span", { className: "ns-muted ns-graph-summary" });
  const centreLabel = h("span", { className: "ns-graph-centre" });
  const depthSelect = h("select", { "aria-label": "Depth", title: "How many hops from the centre" });
  depthSelect.addEventListener("change", () => {
    model.set("depth", Number(depthSelect.value));
    model.save_changes();
  });
  const fitButton = h("button", { title: "Fit the graph to the view" }, "Fit");
  const toolbar = h(
    "div",
    { className: "ns-toolbar" },
    centreLabel,
    summary,
    h("label", { className: "ns-muted" }, "depth ", depthSelect),
    fitButton,
  );
  const canvas = h("canvas", { className: "ns-graph-canvas", tabindex: "0" });
  const tip = h("div", { className: "ns-graph-tip", role: "tooltip", hidden: true });
  const stage = h("div", { className: "ns-graph-stage" }, canvas, tip);
  const legend = h("div", { className: "ns-graph-legend" });
  el.append(errorBanner, toolbar, stage, legend);

  const ctx = canvas.getContext("2d");
  const layout = new Layout();
  const stats = frameStats();
  let nodes = [];
  let index = new Map(); // id -> node index
  let kinds = []; // [kind, [node indices]] for batched fills
  let edgeTypes = []; // [type, [edge indices]] for batched strokes
  const view = { k: 1, tx: 0, ty: 0, width: 0, height: 0, dpr: 1 };
  let autoFit = true; // follow the expanding layout until the user pans or zooms
  let hover = -1;
  let rafId = 0;
  let destroyed = false;
  let wasConnected = el.isConnected;
  let textColour = "#222";
  let backColour = "#fff";

  // -- coordinates ---------------------------------------------------------

  const toWorld = (sx, sy) => [(sx - view.tx) / view.k, (sy - view.ty) / view.k];
  const toScreen = (i) => [layout.x[i] * view.k + view.tx, layout.y[i] * view.k + view.ty];
  const local = (event) => {
    const box = canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  };

  const resize = () => {
    const box = stage.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(box.width));
    const height = Math.max(1, Math.round(box.height));
    if (width === view.width && height === view.height && dpr === view.dpr) return;
    // Keep the middle of the view where it was.
    view.tx += (width - view.width) / 2;
    view.ty += (height - view.height) / 2;
    Object.assign(view, { width, height, dpr });
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const style = getComputedStyle(el);
    textColour = style.color || textColour;
    backColour = style.getPropertyValue("--ns-graph-halo").trim() || backColour;
    schedule();
  };

  const fitTarget = () => {
    if (!layout.n) return { k: 1, tx: view.width / 2, ty: view.height / 2 };
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < layout.n; i++) {
      minX = Math.min(minX, layout.x[i]);
      maxX = Math.max(maxX, layout.x[i]);
      minY = Math.min(minY, layout.y[i]);
      maxY = Math.max(maxY, layout.y[i]);
    }
    const pad = 24;
    const k = Math.min(
      2,
      Math.max(0.02, Math.min((view.width - 2 * pad) / (maxX - minX + 30), (view.height - 2 * pad) / (maxY - minY + 30))),
    );
    return { k, tx: view.width / 2 - k * (minX + maxX) / 2, ty: view.height / 2 - k * (minY + maxY) / 2 };
  };

  const fit = (ease) => {
    const target = fitTarget();
    view.k += (target.k - view.k) * ease;
    view.tx += (target.tx - view.tx) * ease;
    view.ty += (target.ty - view.ty) * ease;
  };

  // -- drawing ----------------------------------------------------------------

  const draw = () => {
    const { k, tx, ty, dpr } = view;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * tx, dpr * ty);
    const { x, y, radius } = layout;
    // Edges: one path per type; widths and dashes stay constant on screen.
    for (const [type, list] of edgeTypes) {
      const style = edgeStyle(type);
      ctx.beginPath();
      for (const e of list) {
        ctx.moveTo(x[layout.src[e]], y[layout.src[e]]);
        ctx.lineTo(x[layout.dst[e]], y[layout.dst[e]]);
      }
      ctx.strokeStyle = style.colour;
      ctx.globalAlpha = hover >= 0 ? 0.25 : 0.6;
      ctx.lineWidth = style.width / k;
      ctx.setLineDash(style.dash.map((d) => d / k));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    if (hover >= 0) drawIncident(hover);
    if (k > 0.5 && layout.m < 5000) drawArrows();
    // Nodes: one path per kind, skipping those off screen.
    const [left, top] = toWorld(-20, -20);
    const [right, bottom] = toWorld(view.width + 20, view.height + 20);
    for (const [kind, list] of kinds) {
      ctx.beginPath();
      for (const i of list) {
        if (x[i] < left || x[i] > right || y[i] < top || y[i] > bottom) continue;
        ctx.moveTo(x[i] + radius[i], y[i]);
        ctx.arc(x[i], y[i], radius[i], 0, 2 * Math.PI);
      }
      ctx.fillStyle = kindColour(kind);
      ctx.fill();
    }
    const ring = (i, colour, width) => {
      if (i < 0 || i >= layout.n) return;
      ctx.beginPath();
      ctx.arc(x[i], y[i], radius[i] + 2 / k, 0, 2 * Math.PI);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width / k;
      ctx.stroke();
    };
    ring(0, textColour, 1.5);
    ring(index.get(model.get("selected")) ?? -1, "#ffb000", 3);
    ring(hover, textColour, 1);
    drawLabels(left, top, right, bottom);
  };

  const drawIncident = (i) => {
    // The hovered node's edges, drawn again on top and stronger (one path).
    ctx.beginPath();
    for (let a = layout.adjStart[i]; a < layout.adjStart[i + 1]; a++) {
      const e = layout.adj[a];
      ctx.moveTo(layout.x[layout.src[e]], layout.y[layout.src[e]]);
      ctx.lineTo(layout.x[layout.dst[e]], layout.y[layout.dst[e]]);
    }
    ctx.strokeStyle = textColour;
    ctx.globalAlpha = 0.7;
    ctx.lineWidth = 1.5 / view.k;
    ctx.stroke();
    ctx.globalAlpha = 1;
  };

  const drawArrows = () => {
    // Small heads at the target end show direction once zoomed in enough to see them.
    const size = 5 / view.k;
    for (const [type, list] of edgeTypes) {
      ctx.beginPath();
      for (const e of list) {
        const s = layout.src[e], t = layout.dst[e];
        const dx = layout.x[t] - layout.x[s], dy = layout.y[t] - layout.y[s];
        const d = Math.hypot(dx, dy);
        if (d < layout.radius[t] + 2 * size) continue;
        const ux = dx / d, uy = dy / d;
        const tipX = layout.x[t] - ux * layout.radius[t], tipY = layout.y[t] - uy * layout.radius[t];
        ctx.moveTo(tipX, tipY);
        ctx.lineTo(tipX - ux * size - uy * size * 0.5, tipY - uy * size + ux * size * 0.5);
        ctx.lineTo(tipX - ux * size + uy * size * 0.5, tipY - uy * size - ux * size * 0.5);
        ctx.closePath();
      }
      ctx.fillStyle = edgeStyle(type).colour;
      ctx.fill();
    }
  };

  const drawLabels = (left, top, right, bottom) => {
    // Labels for the centre, selection and hover always; for everything in
    // view once zoomed in (capped, so a dense view stays fast to draw).
    const chosen = new Set([0, hover, index.get(model.get("selected")) ?? -1]);
    if (hover >= 0) {
      for (let a = layout.adjStart[hover]; a < layout.adjStart[hover + 1] && chosen.size < 40; a++) {
        const e = layout.adj[a];
        chosen.add(layout.src[e] === hover ? layout.dst[e] : layout.src[e]);
      }
    }
    if (view.k >= 1.2) {
      for (let i = 0; i < layout.n && chosen.size < 300; i++) {
        if (layout.x[i] >= left && layout.x[i] <= right && layout.y[i] >= top && layout.y[i] <= bottom) chosen.add(i);
      }
    }
    ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.lineJoin = "round";
    ctx.strokeStyle = backColour;
    ctx.fillStyle = textColour;
    for (const i of chosen) {
      if (i < 0 || i >= layout.n) continue;
      const [sx, sy] = toScreen(i);
      const text = shortTitle(nodes[i]);
      const at = sx + layout.radius[i] * view.k + 4;
      ctx.strokeText(text, at, sy);
      ctx.fillText(text, at, sy);
    }
  };

  const shortTitle = (node) => {
    const title = node.title || node.id;
    return title.length > 40 ? `${title.slice(0, 39)}…` : title;
  };

  // -- the animation loop -------------------------------------------------------

  const frame = (now) => {
    rafId = 0;
    if (destroyed) return;
    if (el.isConnected) wasConnected = true;
    else if (wasConnected) return; // removed without cleanup: stop for good
    if (window.devicePixelRatio !== view.dpr) resize();
    const start = performance.now();
    const ticked = layout.running && layout.n > 0;
    if (ticked) {
      layout.tick();
      if (autoFit) fit(0.2);
    }
    draw();
    stats.record(performance.now() - start, ticked, now);
    const state = layout.running ? "running" : "cooled";
    if (el.dataset.layout !== state) el.dataset.layout = state;
    if (layout.running && layout.n > 0) schedule();
  };

  function schedule() {
    if (!rafId && !destroyed) rafId = requestAnimationFrame(frame);
  }

  const reheat = (alpha) => {
    layout.alpha = Math.max(layout.alpha, alpha);
    schedule();
  };

  // -- data from Python ---------------------------------------------------------

  let rebuildQueued = false;
  const rebuild = () => {
    rebuildQueued = false;
    const placed = layout.positions(nodes);
    const fresh = model.get("nodes") ?? [];
    const edges = model.get("edges") ?? [];
    const kept = fresh.filter((node) => placed.has(node.id)).length;
    nodes = fresh;
    index = new Map(nodes.map((node, i) => [node.id, i]));
    layout.setGraph(nodes, edges, placed);
    const byKind = new Map();
    nodes.forEach((node, i) => {
      if (!byKind.has(node.kind)) byKind.set(node.kind, []);
      byKind.get(node.kind).push(i);
    });
    kinds = [...byKind];
    const byType = new Map();
    layout.type.forEach((type, e) => {
      if (!byType.has(type)) byType.set(type, []);
      byType.get(type).push(e);
    });
    edgeTypes = [...byType];
    hover = -1;
    tip.hidden = true;
    drawLegend();
    drawChrome();
    el.dataset.nodes = String(nodes.length);
    el.dataset.edges = String(layout.m);
    // Mostly known nodes (a live edit): a gentle nudge; a new neighbourhood: start over.
    const fresher = nodes.length ? 1 - kept / nodes.length : 0;
    if (fresher > 0.5) autoFit = true;
    reheat(fresher > 0.5 ? 1 : 0.3);
  };
  const queueRebuild = () => {
    if (rebuildQueued) return;
    rebuildQueued = true;
    queueMicrotask(rebuild); // nodes and edges arrive together: rebuild once
  };

  const drawLegend = () => {
    const kindItems = kinds.map(([kind, list]) =>
      h(
        "span",
        { className: "ns-graph-key", dataset: { kind } },
        swatch("ns-graph-dot", { background: kindColour(kind) }),
        `${kind} (${list.length})`,
      ),
    );
    const edgeItems = edgeTypes.map(([type, list]) => {
      const style = edgeStyle(type);
      const line = swatch("ns-graph-line", {
        borderTopColor: style.colour,
        borderTopWidth: `${Math.max(1, Math.round(style.width * 1.5))}px`,
        borderTopStyle: style.dash.length ? (style.dash[0] < 2 ? "dotted" : "dashed") : "solid",
      });
      return h("span", { className: "ns-graph-key", dataset: { edge: type } }, line, `${style.label} (${list.length})`);
    });
    legend.replaceChildren(...kindItems, ...edgeItems);
  };

  const swatch = (className, style) => {
    const span = h("span", { className, "aria-hidden": "true" });
    Object.assign(span.style, style);
    return span;
  };

  const drawChrome = () => {
    const centre = nodes[0];
    centreLabel.textContent = centre ? shortTitle(centre) : "";
    centreLabel.title = centre ? centre.title || centre.id : "";
    const more = model.get("truncated") ? ` (limited to ${model.get("limit").toLocaleString()})` : "";
    summary.textContent = `${nodes.length.toLocaleString()} nodes · ${layout.m.toLocaleString()} edges${more}`;
    const depth = model.get("depth");
    const options = [0, 1, 2, 3, 4];
    if (!options.includes(depth)) options.push(depth);
    depthSelect.replaceChildren(...options.map((d) => h("option", { value: d, selected: d === depth }, String(d))));
    depthSelect.value = String(depth);
    errorBanner.textContent = model.get("error");
  };

  // -- pointer and wheel ----------------------------------------------------------

  let press = null; // {node, sx, sy, moved, pointerId}
  const slack = () => 8 / view.k; // at least 8 CSS pixels to hit a node

  const showTip = (i, sx, sy) => {
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const node = nodes[i];
    tip.textContent = `${node.title || node.id} · ${node.kind}`;
    tip.style.left = `${Math.min(sx + 12, view.width - 40)}px`;
    tip.style.top = `${sy + 12}px`;
    tip.hidden = false;
  };

  const onPointerDown = (event) => {
    if (event.button !== 0) return;
    const [sx, sy] = local(event);
    const [wx, wy] = toWorld(sx, sy);
    const node = layout.nodeAt(wx, wy, slack());
    press = { node, sx, sy, moved: false, pointerId: event.pointerId, tx: view.tx, ty: view.ty };
    canvas.setPointerCapture?.(event.pointerId);
    if (node >= 0) {
      layout.fx[node] = layout.x[node];
      layout.fy[node] = layout.y[node];
    }
  };

  const onPointerMove = (event) => {
    const [sx, sy] = local(event);
    if (press) {
      if (!press.moved && Math.hypot(sx - press.sx, sy - press.sy) < 4) return;
      press.moved = true;
      if (press.node >= 0) {
        const [wx, wy] = toWorld(sx, sy);
        layout.fx[press.node] = wx;
        layout.fy[press.node] = wy;
        layout.alphaTarget = 0.3; // keep the neighbours following the drag
        autoFit = false;
        schedule();
      } else {
        view.tx = press.tx + sx - press.sx;
        view.ty = press.ty + sy - press.sy;
        autoFit = false;
        schedule();
      }
      tip.hidden = true;
      return;
    }
    const [wx, wy] = toWorld(sx, sy);
    const found = layout.nodeAt(wx, wy, slack());
    if (found !== hover) {
      hover = found;
      canvas.style.cursor = found >= 0 ? "pointer" : "";
      schedule();
    }
    showTip(hover, sx, sy);
  };

  const onPointerUp = (event) => {
    if (!press) return;
    const { node, moved } = press;
    press = null;
    canvas.releasePointerCapture?.(event.pointerId);
    if (node >= 0) {
      layout.fx[node] = NaN;
      layout.fy[node] = NaN;
      layout.alphaTarget = 0;
      if (moved) reheat(0.1);
    }
    if (!moved) select(node >= 0 ? nodes[node].id : "");
  };

  const select = (id) => {
    if (model.get("selected") === id) return;
    model.set("selected", id);
    model.save_changes();
    schedule();
  };

  const onDoubleClick = (event) => {
    const [sx, sy] = local(event);
    const [wx, wy] = toWorld(sx, sy);
    const node = layout.nodeAt(wx, wy, slack());
    if (node > 0) model.send({ type: "center", id: nodes[node].id });
  };

  const onWheel = (event) => {
    event.preventDefault();
    const [sx, sy] = local(event);
    const scale = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.002));
    const k = Math.min(8, Math.max(0.02, view.k * scale));
    // Zoom about the pointer: the world point under it stays under it.
    view.tx = sx - ((sx - view.tx) * k) / view.k;
    view.ty = sy - ((sy - view.ty) * k) / view.k;
    view.k = k;
    autoFit = false;
    schedule();
  };

  const onLeave = () => {
    if (hover >= 0) {
      hover = -1;
      schedule();
    }
    tip.hidden = true;
  };

  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("pointerleave", onLeave);
  canvas.addEventListener("dblclick", onDoubleClick);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  fitButton.addEventListener("click", () => {
    autoFit = true;
    fit(1);
    schedule();
  });

  // -- the test and benchmark handle -------------------------------------------------

  el.__nsGraph = {
    get running() {
      return layout.running;
    },
    get ticks() {
      return layout.ticks;
    },
    get alpha() {
      return layout.alpha;
    },
    get layoutFrames() {
      return stats.state.layoutFrames;
    },
    stats: () => ({ ...stats.summary(), ticks: layout.ticks, running: layout.running, nodes: layout.n, edges: layout.m }),
    resetStats: () => stats.reset(),
    /** Client (page) coordinates of node `id`, or null if it is not shown. */
    positionOf(id) {
      const i = index.get(id);
      if (i === undefined) return null;
      const box = canvas.getBoundingClientRect();
      const [sx, sy] = toScreen(i);
      return { x: box.left + sx, y: box.top + sy };
    },
    /** Run the layout to rest synchronously (tests), then fit and draw; returns ticks run. */
    coolNow(maxTicks = 2000) {
      let n = 0;
      layout.alphaTarget = 0;
      while (layout.running && n < maxTicks) {
        layout.tick();
        n++;
      }
      fit(1);
      draw();
      return n;
    },
    reheat: (alpha = 1) => reheat(alpha),
    fit: () => {
      fit(1);
      draw();
    },
  };

  const resizer = new ResizeObserver(resize);
  resizer.observe(stage);
  resize();
  // Browser zoom or a move to another screen changes devicePixelRatio without
  // always resizing the element: redraw the canvas at the new resolution.
  let dprQuery = null;
  const watchDpr = () => {
    dprQuery?.removeEventListener("change", onDpr);
    dprQuery = window.matchMedia?.(`(resolution: ${window.devicePixelRatio || 1}dppx)`) ?? null;
    dprQuery?.addEventListener("change", onDpr);
  };
  function onDpr() {
    resize();
    watchDpr();
  }
  watchDpr();
  const onError = () => {
    errorBanner.textContent = model.get("error");
  };
  const onSelected = () => schedule();
  const onChrome = () => drawChrome();
  const unannounce = announceView(model);
  model.on("change:nodes change:edges", queueRebuild);
  model.on("change:error", onError);
  model.on("change:selected", onSelected);
  model.on("change:truncated change:depth change:limit", onChrome);
  rebuild();
  fit(1);

  return () => {
    destroyed = true;
    if (rafId) cancelAnimationFrame(rafId);
    rafId = 0;
    resizer.disconnect();
    dprQuery?.removeEventListener("change", onDpr);
    model.off("change:nodes change:edges", queueRebuild);
    model.off("change:error", onError);
    model.off("change:selected", onSelected);
    model.off("change:truncated change:depth change:limit", onChrome);
    delete el.__nsGraph;
    unannounce();
  };
}

export default { render };
