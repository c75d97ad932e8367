// Charts drawn as SVG by hand: line (with min/max bands, hover readout and drag-to-zoom), scatter with a Pareto
// front, parallel coordinates with brushing, and range bars for statistics. Text goes in through textContent only.
const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#2f6fdf", "#e8590c", "#2b9348", "#c2255c", "#7048e8", "#0c8599", "#d9480f", "#5c940d", "#a61e4d", "#495057"];

export function svgElement(tag, attributes = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** About `count` round tick values covering [low, high]. */
export function ticks(low, high, count = 5) {
  if (!isFinite(low) || !isFinite(high)) return [];
  if (low === high) return [low];
  const raw = (high - low) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** A number for people: up to 4 significant digits, NaN and infinities spelled out. */
export function format(value) {
  if (value === undefined || value === null) return "";
  if (typeof value !== "number") return String(value);
  if (Number.isNaN(value)) return "NaN";
  if (!isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e7 || magnitude < 1e-3)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

function extent(values) {
  let low = Infinity, high = -Infinity;
  for (const v of values) if (isFinite(v)) { if (v < low) low = v; if (v > high) high = v; }
  if (low === Infinity) return [0, 1];
  if (low === high) { const pad = Math.abs(low) * 0.05 || 1; return [low - pad, high + pad]; }
  return [low, high];
}

const scale = (d0, d1, r0, r1) => (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);

function frame(width, height) {
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  return svg;
}

/** Mouse position in the SVG's own coordinates. */
function pointer(svg, event) {
  const box = svg.getBoundingClientRect();
  const view = svg.viewBox.baseVal;
  return [((event.clientX - box.left) / box.width) * view.width, ((event.clientY - box.top) / box.height) * view.height];
}

function axes(svg, x, y, xDomain, yDomain, margin, width, height, xLabel, yLabel) {
  for (const t of ticks(...yDomain)) {
    svg.append(svgElement("line", { class: "gridline", x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t) }));
    svg.append(svgElement("text", { x: margin.left - 6, y: y(t) + 4, "text-anchor": "end" }, format(t)));
  }
  for (const t of ticks(...xDomain, 6)) {
    svg.append(svgElement("line", { class: "axis", x1: x(t), x2: x(t), y1: height - margin.bottom, y2: height - margin.bottom + 4 }));
    svg.append(svgElement("text", { x: x(t), y: height - margin.bottom + 16, "text-anchor": "middle" }, format(t)));
  }
  svg.append(svgElement("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: height - margin.bottom, y2: height - margin.bottom }));
  svg.append(svgElement("line", { class: "axis", x1: margin.left, x2: margin.left, y1: margin.top, y2: height - margin.bottom }));
  if (xLabel) svg.append(svgElement("text", { x: (margin.left + width - margin.right) / 2, y: height - 4, "text-anchor": "middle" }, xLabel));
  if (yLabel) svg.append(svgElement("text", { x: 12, y: margin.top + (height - margin.top - margin.bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${margin.top + (height - margin.top - margin.bottom) / 2})` }, yLabel));
}

/**
 * A line chart of one or more series of {x, y, lo, hi} points (lo/hi draw a band: a bucket's min and max).
 * Dragging across the plot calls onZoom(x0, x1); a double click calls onZoom(null).
 */
export function lineChart({ series, xLabel = "step", yLabel = "", onZoom, readout }) {
  const width = 600, height = 240, margin = { top: 10, right: 14, bottom: 34, left: 62 };
  const svg = frame(width, height);
  const all = series.flatMap((s) => s.points);
  const xDomain = extent(all.map((p) => p.x));
  const yDomain = extent(all.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]));
  const x = scale(...xDomain, margin.left, width - margin.right);
  const y = scale(...yDomain, height - margin.bottom, margin.top);
  axes(svg, x, y, xDomain, yDomain, margin, width, height, xLabel, yLabel);
  for (const s of series) {
    const finite = s.points.filter((p) => isFinite(p.y));
    if (s.dots) {
      for (const p of finite) svg.append(svgElement("circle", { class: "dot", cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: 2.5, fill: s.color }));
      continue;
    }
    if (finite.some((p) => p.lo !== undefined && p.lo !== p.hi)) {
      const upper = finite.map((p) => `${x(p.x).toFixed(1)},${y(isFinite(p.hi) ? p.hi : p.y).toFixed(1)}`);
      const lower = finite.slice().reverse().map((p) => `${x(p.x).toFixed(1)},${y(isFinite(p.lo) ? p.lo : p.y).toFixed(1)}`);
      svg.append(svgElement("polygon", { class: "band", fill: s.color, points: upper.concat(lower).join(" ") }));
    }
    const path = finite.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`).join("");
    if (finite.length === 1) svg.append(svgElement("circle", { cx: x(finite[0].x), cy: y(finite[0].y), r: 3, fill: s.color }));
    else svg.append(svgElement("path", { d: path, stroke: s.color, "stroke-width": 1.6, fill: "none" }));
  }
  const cursor = svgElement("line", { class: "cursor", y1: margin.top, y2: height - margin.bottom, visibility: "hidden" });
  const box = svgElement("rect", { class: "zoombox", y: margin.top, height: height - margin.top - margin.bottom, width: 0, visibility: "hidden" });
  svg.append(cursor, box);
  const invert = (px) => xDomain[0] + ((px - margin.left) / (width - margin.left - margin.right)) * (xDomain[1] - xDomain[0]);
  let dragFrom = null;
  svg.addEventListener("mousemove", (event) => {
    const [px] = pointer(svg, event);
    if (px < margin.left || px > width - margin.right) return;
    cursor.setAttribute("x1", px); cursor.setAttribute("x2", px); cursor.setAttribute("visibility", "visible");
    const at = invert(px);
    const parts = series.map((s) => {
      let best;
      for (const p of s.points) if (!best || Math.abs(p.x - at) < Math.abs(best.x - at)) best = p;
      return best ? `${s.label ? s.label + ": " : ""}${format(best.y)}${best.lo !== undefined && best.lo !== best.hi ? ` (${format(best.lo)} … ${format(best.hi)})` : ""}` : "";
    });
    if (readout) readout.textContent = `${xLabel} ${format(Math.round(at))} · ` + parts.filter(Boolean).join(" · ");
    if (dragFrom !== null) { box.setAttribute("x", Math.min(dragFrom, px)); box.setAttribute("width", Math.abs(px - dragFrom)); }
  });
  svg.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); });
  if (onZoom) {
    svg.addEventListener("mousedown", (event) => { dragFrom = pointer(svg, event)[0]; box.setAttribute("visibility", "visible"); box.setAttribute("width", 0); event.preventDefault(); });
    svg.addEventListener("mouseup", (event) => {
      if (dragFrom === null) return;
      const to = pointer(svg, event)[0];
      const from = dragFrom;
      dragFrom = null;
      box.setAttribute("visibility", "hidden");
      if (Math.abs(to - from) > 4) onZoom(Math.floor(invert(Math.min(from, to))), Math.ceil(invert(Math.max(from, to))));
    });
    svg.addEventListener("dblclick", () => onZoom(null));
  }
  return svg;
}

/** A scatter of {x, y, color, id, label, front} points; the front is drawn as a step line through `front` points. */
export function scatter({ points, xLabel, yLabel, frontOrder = [], onClick, onHover }) {
  const width = 640, height = 420, margin = { top: 12, right: 16, bottom: 38, left: 70 };
  const svg = frame(width, height);
  svg.style.maxWidth = width * 1.25 + "px";
  const xDomain = extent(points.map((p) => p.x)), yDomain = extent(points.map((p) => p.y));
  const x = scale(...xDomain, margin.left, width - margin.right);
  const y = scale(...yDomain, height - margin.bottom, margin.top);
  axes(svg, x, y, xDomain, yDomain, margin, width, height, xLabel, yLabel);
  if (frontOrder.length > 1) {
    const path = frontOrder.map((p, i) => `${i ? "L" : "M"}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`).join("");
    svg.append(svgElement("path", { class: "frontline", d: path }));
  }
  // Front points last, so that they sit on top.
  for (const p of points.slice().sort((a, b) => Number(a.front) - Number(b.front))) {
    if (!isFinite(p.x) || !isFinite(p.y)) continue;
    const dot = svgElement("circle", { class: p.front ? "dot front" : "dot", cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: p.front ? 5 : 3.2, fill: p.color, "data-run-id": p.id });
    dot.append(svgElement("title", {}, `${p.label}\n${xLabel} = ${format(p.x)}\n${yLabel} = ${format(p.y)}`));
    if (onClick) dot.addEventListener("click", () => onClick(p));
    if (onHover) dot.addEventListener("mouseenter", () => onHover(p));
    svg.append(dot);
  }
  return svg;
}

/**
 * Parallel coordinates over `axes` ({key, label, categorical}); rows are {id, color, values: {key: value}}.
 * Dragging along an axis brushes a range; onBrush(ids) gets the rows inside every brush (all rows when none).
 */
export function parallel({ axes: columns, rows, onBrush }) {
  const width = Math.max(640, columns.length * 120), height = 340, margin = { top: 28, right: 30, bottom: 20, left: 30 };
  const svg = frame(width, height);
  // Drawn at its own size (scrolling when wider than the page), not stretched: its labels stay legible.
  svg.style.width = width + "px";
  svg.style.maxWidth = "none";
  const gap = columns.length > 1 ? (width - margin.left - margin.right) / (columns.length - 1) : 0;
  const scales = columns.map((column) => {
    const values = rows.map((r) => r.values[column.key]).filter((v) => v !== undefined && v !== null);
    if (column.categorical) {
      const categories = [...new Set(values.map(String))].sort();
      const step = (height - margin.top - margin.bottom) / Math.max(1, categories.length - 1);
      const position = new Map(categories.map((c, i) => [c, categories.length === 1 ? (height) / 2 : height - margin.bottom - i * step]));
      return { value: (v) => position.get(String(v)), categories, position };
    }
    const domain = extent(values.map(Number));
    return { value: scale(...domain, height - margin.bottom, margin.top), domain };
  });
  const lines = rows.map((row) => {
    const parts = [];
    columns.forEach((column, i) => {
      const v = row.values[column.key];
      const py = v === undefined || v === null ? undefined : scales[i].value(v);
      if (py !== undefined && isFinite(py)) parts.push(`${parts.length ? "L" : "M"}${(margin.left + i * gap).toFixed(1)} ${py.toFixed(1)}`);
    });
    const line = svgElement("path", { class: "pc-line", d: parts.join(""), stroke: row.color });
    svg.append(line);
    return line;
  });
  const brushes = columns.map(() => null);
  const apply = () => {
    const chosen = [];
    rows.forEach((row, index) => {
      const inside = columns.every((column, i) => {
        if (!brushes[i]) return true;
        const v = row.values[column.key];
        const py = v === undefined || v === null ? undefined : scales[i].value(v);
        return py !== undefined && py >= brushes[i][0] && py <= brushes[i][1];
      });
      lines[index].setAttribute("class", inside ? "pc-line" : "pc-line dim");
      if (inside) chosen.push(row.id);
    });
    onBrush?.(chosen, brushes.some(Boolean));
  };
  columns.forEach((column, i) => {
    const ax = margin.left + i * gap;
    svg.append(svgElement("text", { x: ax, y: 14, "text-anchor": "middle" }, column.label));
    if (scales[i].categories) for (const c of scales[i].categories) svg.append(svgElement("text", { x: ax + 5, y: scales[i].position.get(c) + 4 }, c));
    else for (const t of ticks(...scales[i].domain, 4)) svg.append(svgElement("text", { x: ax + 5, y: scales[i].value(t) + 4 }, format(t)));
    const brush = svgElement("rect", { class: "brush", x: ax - 8, width: 16, y: 0, height: 0, visibility: "hidden" });
    const hit = svgElement("rect", { class: "pc-hit", x: ax - 10, width: 20, y: margin.top - 4, height: height - margin.top - margin.bottom + 8, fill: "transparent", "data-axis": column.key });
    svg.append(svgElement("line", { class: "pc-axis", x1: ax, x2: ax, y1: margin.top, y2: height - margin.bottom }), brush, hit);
    let from = null;
    hit.addEventListener("mousedown", (event) => { from = pointer(svg, event)[1]; event.preventDefault(); });
    svg.addEventListener("mousemove", (event) => {
      if (from === null) return;
      const to = pointer(svg, event)[1];
      brush.setAttribute("y", Math.min(from, to)); brush.setAttribute("height", Math.abs(to - from)); brush.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseup", (event) => {
      if (from === null) return;
      const to = pointer(svg, event)[1];
      brushes[i] = Math.abs(to - from) < 3 ? null : [Math.min(from, to), Math.max(from, to)];
      if (!brushes[i]) brush.setAttribute("visibility", "hidden");
      from = null;
      apply();
    });
  });
  svg.brush = (index, low, high) => { brushes[index] = [low, high]; apply(); };
  return svg;
}

/** Statistics per group: a whisker from min to max, a box from p50 to p90, and the mean as a dot. */
export function rangeChart({ groups, label }) {
  const rowHeight = 30, margin = { top: 10, right: 20, bottom: 34, left: 150 }, width = 640;
  const height = margin.top + margin.bottom + rowHeight * groups.length;
  const svg = frame(width, height);
  svg.style.maxWidth = width * 1.25 + "px";
  const domain = extent(groups.flatMap((g) => [g.min, g.max]));
  const x = scale(...domain, margin.left, width - margin.right);
  for (const t of ticks(...domain, 6)) {
    svg.append(svgElement("line", { class: "gridline", x1: x(t), x2: x(t), y1: margin.top, y2: height - margin.bottom }));
    svg.append(svgElement("text", { x: x(t), y: height - margin.bottom + 14, "text-anchor": "middle" }, format(t)));
  }
  svg.append(svgElement("text", { x: (margin.left + width) / 2, y: height - 4, "text-anchor": "middle" }, label));
  groups.forEach((g, i) => {
    const cy = margin.top + i * rowHeight + rowHeight / 2;
    const color = PALETTE[i % PALETTE.length];
    svg.append(svgElement("text", { x: margin.left - 8, y: cy + 4, "text-anchor": "end" }, g.group ?? "(none)"));
    svg.append(svgElement("line", { x1: x(g.min), x2: x(g.max), y1: cy, y2: cy, stroke: color, "stroke-width": 1.5 }));
    svg.append(svgElement("rect", { x: x(Math.min(g.p50, g.p90)), width: Math.max(2, Math.abs(x(g.p90) - x(g.p50))), y: cy - 8, height: 16, fill: color, opacity: 0.35 }));
    svg.append(svgElement("line", { x1: x(g.p50), x2: x(g.p50), y1: cy - 9, y2: cy + 9, stroke: color, "stroke-width": 2 }));
    const dot = svgElement("circle", { cx: x(g.mean), cy, r: 4, fill: color });
    dot.append(svgElement("title", {}, `${g.group ?? "(none)"}: mean ${format(g.mean)}, p50 ${format(g.p50)}, p90 ${format(g.p90)}, min ${format(g.min)}, max ${format(g.max)}`));
    svg.append(dot);
  });
  return svg;
}
