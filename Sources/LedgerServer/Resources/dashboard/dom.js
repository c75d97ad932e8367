// DOM building without markup strings: every piece of user text becomes a text node, so a run named
// `<script>` is shown as those characters and never parsed.

/** `h("a", {href, class, on: {click}}, "text", child)`: an element with attributes, listeners and children. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** Replaces a node's children; like `h`, it skips null and false and flattens arrays. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A `<select>` of `options` (strings or [value, label]) with `selected` chosen. */
export function select(options, selected, onChange, attributes = {}) {
  return h("select", { ...attributes, on: { change: (event) => onChange(event.target.value) } },
    options.map((option) => {
      const [value, label] = Array.isArray(option) ? option : [option, option];
      return h("option", { value, selected: value === selected }, label);
    }));
}

/** A two-column table of [label, value] rows. */
export function keyValueTable(rows, headers = ["key", "value"]) {
  return h("table", { class: "plain" },
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", {}, text)))),
    h("tbody", {}, rows.map(([key, value]) => h("tr", {}, h("td", {}, key), h("td", {}, value)))));
}

export function time(ms) {
  if (ms === undefined || ms === null || ms === "") return "";
  const date = new Date(Number(ms));
  return isNaN(date) ? String(ms) : date.toLocaleString();
}

export function duration(start, end) {
  if (!start || !end) return "";
  const seconds = (Number(end) - Number(start)) / 1000;
  if (seconds < 60) return seconds.toFixed(1) + " s";
  if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}
