// The Results Explorer: a small router over the server's API. The page state (experiment, view, filter, sort,
// columns, selection, chart choices) lives in the URL, so a link reproduces a view.
import { APIError, call, download, flatten, number, searchAll, setToken, token } from "./api.js";
import { PALETTE, format, lineChart, parallel, rangeChart, scatter } from "./charts.js";
import { showArtifacts } from "./artifacts.js";
import { duration, h, keyValueTable, replace, select, time } from "./dom.js";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const tokenButton = document.getElementById("token-button");
/** Timings the browser tests and benchmarks read: milliseconds since navigation to the first rows, and per filter. */
window.runledgerTimings = { firstRows: null, filterApplied: [], runChartsDrawn: null };
let generation = 0;

// MARK: routing

export function navigate(url, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", url);
  render();
}

/** The current URL with `changes` applied to its query (null or "" removes a key). */
function withQuery(changes, path = location.pathname) {
  const query = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") query.delete(key);
    else query.set(key, value);
  }
  const text = query.toString();
  return path + (text ? "?" + text : "");
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", render);
window.addEventListener("hashchange", render);
tokenButton.addEventListener("click", () => tokenForm("Change or forget the access token this page sends."));

async function render() {
  const current = ++generation;
  const stale = () => current !== generation;
  tokenButton.hidden = !token();
  fromMLflowLink();
  const path = decodeURIComponent(location.pathname).replace(/\/+$/, "") || "/";
  const query = new URLSearchParams(location.search);
  try {
    let match;
    if (path === "/" || path === "/experiments") await experimentsView(query, stale);
    else if ((match = path.match(/^\/experiments\/(\d+)\/runs\/([0-9a-fA-F]{32})$/))) await runView(match[1], match[2], stale);
    else if ((match = path.match(/^\/experiments\/(\d+)$/))) await experimentView(match[1], query, stale);
    else show([h("h1", {}, "Not found"), h("p", {}, "There is no view at ", h("code", {}, path), ". ", h("a", { href: "/", "data-link": true }, "All experiments"))]);
  } catch (error) {
    if (stale()) return;
    if (error instanceof APIError && (error.status === 401 || error.status === 403)) tokenForm(error.message);
    else show([h("h1", {}, "Something went wrong"), errorBox(error)]);
  }
}

/** The MLflow UI keeps its views in the hash, and every `mlflow.start_run` prints such a link
 * (`/#/experiments/2/runs/ID`): the same view here, under its own URL. */
function fromMLflowLink() {
  const match = /^#\/experiments\/(\d+)(?:\/runs\/([0-9a-fA-F]{32}))?(?:[/?].*)?$/.exec(location.hash);
  if (match) history.replaceState(null, "", match[2] ? `/experiments/${match[1]}/runs/${match[2]}` : `/experiments/${match[1]}`);
  else if (/^#\/?$|^#\/experiments\/?$/.test(location.hash)) history.replaceState(null, "", "/");
}

function show(children, crumbTrail = []) {
  replace(main, ...children);
  replace(crumbs, ...crumbTrail.flatMap((item) => [h("span", {}, "›"), item]));
}

function errorBox(error) {
  const code = error instanceof APIError ? error.code + ": " : "";
  return h("p", { class: "error", role: "alert" }, code + error.message);
}

function tokenForm(reason) {
  const input = h("input", { type: "password", placeholder: "token", autocomplete: "off", size: 40 });
  const save = (event) => { event.preventDefault(); setToken(input.value.trim()); render(); };
  show([
    h("h1", {}, "Access token"),
    h("p", {}, reason),
    h("p", { class: "muted" }, "This server was started with --auth-token-file. The token is kept in this browser only and sent as a bearer token."),
    h("form", { class: "toolbar", on: { submit: save } }, input, h("button", { type: "submit" }, "Use token"),
      h("button", { type: "button", class: "quiet", on: { click: () => { setToken(""); render(); } } }, "Forget token")),
  ]);
  input.focus();
}

function experimentLink(experiment) {
  return h("a", { href: `/experiments/${encodeURIComponent(experiment.experiment_id)}`, "data-link": true }, experiment.name);
}

// MARK: experiments

async function experimentsView(query, stale) {
  const answer = await call("GET", "runledger/experiments/list", {});
  if (stale()) return;
  const experiments = answer.experiments || [];
  const body = h("tbody");
  const search = h("input", { type: "search", placeholder: "Search experiments by name", value: query.get("q") || "", size: 40, "aria-label": "Search experiments" });
  const count = h("span", { class: "muted" });
  const paint = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = experiments.filter((item) => item.experiment.name.toLowerCase().includes(needle));
    replace(body, ...shown.map((item) => h("tr", { "data-experiment-id": item.experiment.experiment_id },
      h("td", {}, experimentLink(item.experiment)),
      h("td", { class: "num" }, item.experiment.experiment_id),
      h("td", { class: "num" }, item.run_count),
      h("td", {}, time(item.last_run_start_time ?? item.experiment.last_update_time)),
      h("td", {}, time(item.experiment.creation_time)))));
    count.textContent = `${shown.length} of ${experiments.length} experiments`;
  };
  search.addEventListener("input", () => { history.replaceState(null, "", withQuery({ q: search.value })); paint(); });
  paint();
  show([
    h("h1", {}, "Experiments"),
    h("div", { class: "toolbar" }, search, count),
    h("table", { class: "plain", id: "experiments" },
      h("thead", {}, h("tr", {}, ["Name", "ID", "Runs", "Last activity", "Created"].map((text) => h("th", {}, text)))), body),
    experiments.length ? null : h("p", { class: "muted" }, "No experiments yet: run `runledger demo`, or log with any MLflow client."),
  ]);
}

// MARK: one experiment: runs, compare, design space, statistics

const VIEWS = [["runs", "Runs"], ["compare", "Compare"], ["design", "Design space"], ["stats", "Statistics"], ["over-time", "Over time"], ["trend", "Convergence"], ["events", "Events"]];

async function experimentView(id, query, stale) {
  const { experiment } = await call("GET", "mlflow/experiments/get", { experiment_id: id });
  if (stale()) return;
  const view = query.get("view") || "runs";
  const selection = (query.get("sel") || "").split(",").filter((item) => /^[0-9a-fA-F]{32}$/.test(item));
  const tabs = h("nav", { class: "tabs" }, VIEWS.map(([key, label]) =>
    h("a", { href: withQuery({ view: key === "runs" ? null : key }), "data-link": true, class: key === view ? "active" : null, "data-view": key },
      key === "compare" ? `${label} (${selection.length})` : label)));
  const content = h("div", { id: "view" });
  const trail = [h("a", { href: location.pathname, "data-link": true }, experiment.name)];
  show([h("h1", {}, experiment.name), tabs, content], trail);
  const context = { id, experiment, query, selection, content, tabs, stale };
  if (view === "compare") await compareView(context);
  else if (view === "design") await designView(context);
  else if (view === "stats") await statsView(context);
  else if (view === "over-time") await overTimeView(context);
  else if (view === "trend") await trendView(context);
  else if (view === "events") await eventsView(context);
  else await runsView(context);
}

/** The filter box shared by the runs, design and statistics views; a malformed filter shows where it broke. */
function filterBar(context, extra = []) {
  const input = h("input", {
    type: "text", class: "filter", id: "filter", value: context.query.get("filter") || "", spellcheck: "false",
    placeholder: "metrics.total_cost < 5000 and params.solver_type = 'hybrid'", "aria-label": "Filter",
  });
  const apply = () => {
    window.runledgerTimings.filterStarted = performance.now();
    navigate(withQuery({ filter: input.value.trim() }));
  };
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") apply(); });
  const problem = h("div", { id: "filter-error" });
  const bar = h("div", { class: "toolbar" }, input, h("button", { type: "button", on: { click: apply } }, "Apply"), extra);
  return { bar, problem, input };
}

function showFilterError(problem, filter, error) {
  const lines = [errorBox(error)];
  if (error instanceof APIError && error.column && filter) {
    lines.push(h("pre", { class: "caret" }, filter + "\n" + " ".repeat(Math.max(0, error.column - 1)) + "^"));
  }
  replace(problem, ...lines);
}

const ATTRIBUTES = { run_name: "Name", status: "Status", start_time: "Started", end_time: "Ended", user_id: "User", run_id: "Run ID" };

/** A key as the query language writes it: quoted with backticks unless it is a plain identifier. */
function fieldName(column) {
  if (column in ATTRIBUTES) return "attributes." + column;
  const dot = column.indexOf(".");
  const [kind, key] = [column.slice(0, dot), column.slice(dot + 1)];
  return /^[A-Za-z0-9_]+$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key}\``;
}

function cellValue(run, column) {
  if (column === "status") return h("span", { class: `badge ${run.status}` }, run.status);
  if (column === "start_time" || column === "end_time") return time(column === "start_time" ? run.start : run.end);
  if (column === "user_id") return run.user;
  if (column === "run_id") return run.id;
  const dot = column.indexOf(".");
  const [kind, key] = [column.slice(0, dot), column.slice(dot + 1)];
  if (kind === "metrics") return format(run.metrics[key]);
  return (kind === "params" ? run.params : run.tags)[key] ?? "";
}

function columnsOf(runs) {
  const keys = (pick) => [...new Set(runs.flatMap((run) => Object.keys(pick(run))))].sort();
  return {
    params: keys((run) => run.params).map((key) => "params." + key),
    metrics: keys((run) => run.metrics).map((key) => "metrics." + key),
    tags: keys((run) => run.tags).filter((key) => !key.startsWith("mlflow.")).map((key) => "tags." + key),
  };
}

function runLink(context, run) {
  return h("a", { href: `/experiments/${context.id}/runs/${run.id}`, "data-link": true, class: "run-link" }, run.name || run.id);
}

async function runsView(context) {
  const { id, query, content, stale } = context;
  const filter = query.get("filter") || "";
  const sort = query.get("sort") || "attributes.start_time DESC";
  const selection = new Set(context.selection);
  const rows = [];
  let nextToken;
  let loading = null;
  const started = window.runledgerTimings.filterStarted;
  const { bar, problem } = filterBar(context);
  replace(content, bar, problem, h("p", { class: "muted" }, "Loading runs…"));

  const loadPage = async (size) => {
    const page = await call("POST", "mlflow/runs/search", { experiment_ids: [id], filter, order_by: [sort], max_results: size, page_token: nextToken });
    rows.push(...(page.runs || []).map(flatten));
    nextToken = page.next_page_token;
  };
  try {
    await loadPage(100);
  } catch (error) {
    if (stale()) return;
    if (error instanceof APIError && error.status === 400) {
      showFilterError(problem, filter, error);
      replace(content, bar, problem);
      return;
    }
    throw error;
  }
  if (stale()) return;

  const found = columnsOf(rows);
  const available = ["status", "start_time", "end_time", "user_id", "run_id", ...found.params, ...found.metrics, ...found.tags];
  let columns = query.get("cols") ? query.get("cols").split(",").filter(Boolean) : ["status", "start_time", ...found.params, ...found.metrics];
  const ROW = 28;
  const scroller = h("div", { class: "grid", id: "runs-grid", tabindex: "0" });
  const head = h("div", { class: "grid-head" });
  const body = h("div", { class: "grid-body" });
  scroller.append(head, body);
  const count = h("span", { class: "muted", id: "run-count" });
  const compareButton = h("button", { type: "button", id: "compare-button" });
  const template = () => ["34px", "220px", ...columns.map((column) => (column.startsWith("metrics.") ? "120px" : column === "run_id" ? "270px" : "140px"))].join(" ");

  const updateSelection = () => {
    compareButton.textContent = `Compare ${selection.size}`;
    compareButton.disabled = selection.size < 2 || selection.size > 10;
    compareButton.title = "Select 2 to 10 runs";
    history.replaceState(null, "", withQuery({ sel: [...selection].join(",") }));
    const tab = context.tabs.querySelector('[data-view="compare"]');
    tab.textContent = `Compare (${selection.size})`;
    tab.setAttribute("href", withQuery({ view: "compare" }));
    for (const other of context.tabs.querySelectorAll("a")) if (other !== tab) other.setAttribute("href", withQuery({ view: other.dataset.view === "runs" ? null : other.dataset.view }));
  };
  const paintHead = () => {
    head.style.gridTemplateColumns = template();
    const [sortField, direction] = sort.split(/\s+/);
    replace(head, h("div", { class: "cell" }), ...["run_name", ...columns].map((column) => {
      const field = fieldName(column);
      const sorted = field === sortField ? (direction === "ASC" ? "sorted-asc" : "sorted-desc") : "";
      return h("div", {
        class: `cell ${column.startsWith("metrics.") ? "num" : ""} ${sorted}`, title: `${column}: click to sort by ${field}`, "data-column": column,
        on: { click: () => navigate(withQuery({ sort: `${field} ${field === sortField && direction === "ASC" ? "DESC" : "ASC"}` })) },
      }, ATTRIBUTES[column] || column.slice(column.indexOf(".") + 1));
    }));
  };
  const rowElement = (run, index) => {
    const box = h("input", { type: "checkbox", checked: selection.has(run.id), "aria-label": "Select " + (run.name || run.id) });
    box.addEventListener("change", () => {
      if (box.checked) selection.add(run.id); else selection.delete(run.id);
      row.classList.toggle("selected", box.checked);
      updateSelection();
    });
    const row = h("div", { class: selection.has(run.id) ? "grid-row selected" : "grid-row", "data-run-id": run.id },
      h("div", { class: "cell" }, box), h("div", { class: "cell" }, runLink(context, run)),
      columns.map((column) => h("div", { class: column.startsWith("metrics.") ? "cell num" : "cell" }, cellValue(run, column))));
    row.style.top = index * ROW + "px";
    row.style.gridTemplateColumns = template();
    return row;
  };
  const paint = () => {
    body.style.height = rows.length * ROW + "px";
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - 10);
    const last = Math.min(rows.length, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW) + 10);
    replace(body, ...rows.slice(first, last).map((run, offset) => rowElement(run, first + offset)));
    count.textContent = nextToken ? `${rows.length} runs loaded (more as you scroll)` : `${rows.length} run${rows.length === 1 ? "" : "s"}`;
    if (nextToken && !loading && last >= rows.length - 30) {
      loading = loadPage(500).then(() => { loading = null; if (!stale()) paint(); }, (error) => { loading = null; replace(problem, errorBox(error)); });
    }
  };
  let frame = 0;
  scroller.addEventListener("scroll", () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(paint); });

  const chooser = h("details", { class: "chooser" }, h("summary", {}, "Columns"),
    h("div", {}, available.map((column) => {
      const box = h("input", { type: "checkbox", checked: columns.includes(column), value: column });
      box.addEventListener("change", () => {
        columns = available.filter((candidate) => (candidate === column ? box.checked : columns.includes(candidate)));
        history.replaceState(null, "", withQuery({ cols: columns.join(",") }));
        paintHead();
        paint();
      });
      return h("label", {}, box, " ", ATTRIBUTES[column] || column);
    })));
  const exportAs = (format) => download("runledger/runs/export", {
    experiment_ids: [id], filter, order_by: [sort], columns: ["run_id", "run_name", ...columns.filter((column) => column !== "run_id")], format,
  }, `runs.${format}`).catch((error) => replace(problem, errorBox(error)));
  compareButton.addEventListener("click", () => navigate(withQuery({ view: "compare", sel: [...selection].join(",") })));
  const clear = h("button", { type: "button", class: "quiet", on: { click: () => { selection.clear(); updateSelection(); paint(); } } }, "Clear selection");
  bar.append(chooser, compareButton, clear,
    h("button", { type: "button", class: "quiet", id: "export-csv", on: { click: () => exportAs("csv") } }, "Export CSV"),
    h("button", { type: "button", class: "quiet", id: "export-xlsx", on: { click: () => exportAs("xlsx") } }, "Export XLSX"));
  replace(content, bar, problem, h("div", { class: "toolbar" }, count), scroller,
    rows.length ? null : h("p", { class: "muted", id: "no-runs" }, filter ? "No run matches this filter." : "This experiment has no runs yet."));
  paintHead();
  paint();
  updateSelection();
  const now = performance.now();
  if (window.runledgerTimings.firstRows === null) window.runledgerTimings.firstRows = now;
  if (started !== undefined) { window.runledgerTimings.filterApplied.push(now - started); window.runledgerTimings.filterStarted = undefined; }
}

/** Lower is better for costs, emissions, losses, errors, imports and times; higher for everything else. */
export function lowerIsBetter(key) {
  return /cost|co2|emission|loss|error|time|duration|import|grid_usage|price|latency/i.test(key);
}

async function compareView(context) {
  const { selection, content, stale } = context;
  if (selection.length < 2 || selection.length > 10) {
    replace(content, h("p", {}, `Select 2 to 10 runs in the `, h("a", { href: withQuery({ view: null }), "data-link": true }, "runs table"),
      ` to compare them (${selection.length} selected).`));
    return;
  }
  const runs = (await Promise.all(selection.map((run_id) => call("GET", "mlflow/runs/get", { run_id })))).map((answer) => flatten(answer.run));
  if (stale()) return;
  const colour = (index) => PALETTE[index % PALETTE.length];
  const header = h("tr", {}, h("th", {}, ""), runs.map((run, index) => {
    const cell = h("th", { class: "legend-cell" }, runLink(context, run));
    cell.style.borderTop = `3px solid ${colour(index)}`;
    return cell;
  }));
  const { params, metrics, tags } = columnsOf(runs);
  const paramRows = params.map((column) => {
    const key = column.slice(7);
    const values = runs.map((run) => run.params[key]);
    const differs = new Set(values.map((value) => value ?? "\u0000")).size > 1;
    return h("tr", { class: differs ? "diff" : null, "data-key": column }, h("th", {}, key), values.map((value) => h("td", {}, value ?? "—")));
  });
  const metricRows = metrics.map((column) => {
    const key = column.slice(8);
    const values = runs.map((run) => run.metrics[key]);
    const finite = values.filter((value) => Number.isFinite(value));
    const best = finite.length ? (lowerIsBetter(key) ? Math.min(...finite) : Math.max(...finite)) : undefined;
    return h("tr", { "data-key": column }, h("th", {}, `${key} ${lowerIsBetter(key) ? "↓" : "↑"}`),
      values.map((value) => h("td", { class: value === best && finite.length > 1 ? "num best" : "num" }, value === undefined ? "—" : format(value))));
  });
  const tagRows = tags.map((column) => {
    const key = column.slice(5);
    const values = runs.map((run) => run.tags[key]);
    return h("tr", { class: new Set(values).size > 1 ? "diff" : null }, h("th", {}, key), values.map((value) => h("td", {}, value ?? "—")));
  });
  const charts = h("div", { class: "charts" });
  replace(content, 
    h("h2", {}, "Params (differences highlighted)"), h("table", { class: "plain", id: "compare-params" }, h("thead", {}, header), h("tbody", {}, paramRows)),
    h("h2", {}, "KPIs (best value per row marked; ↓ lower is better, ↑ higher)"),
    h("table", { class: "plain", id: "compare-metrics" }, h("thead", {}, header.cloneNode(true)), h("tbody", {}, metricRows)),
    tagRows.length ? [h("h2", {}, "Tags"), h("table", { class: "plain" }, h("thead", {}, header.cloneNode(true)), h("tbody", {}, tagRows))] : null,
    h("h2", {}, "Metric histories"), charts);
  for (const column of metrics) {
    const key = column.slice(8);
    const histories = await Promise.all(runs.map((run) => call("GET", "runledger/metrics/get-history-bucketed", { run_id: run.id, metric_key: key, max_buckets: 400 })
      .catch(() => ({ points: 0, buckets: [] }))));
    if (stale()) return;
    if (histories.every((history) => history.points <= 1)) continue;
    const readout = h("div", { class: "readout" });
    const series = histories.map((history, index) => ({ label: runs[index].name, color: colour(index), points: bucketPoints(history.buckets, false) }));
    charts.append(h("div", { class: "chart", "data-metric": key }, h("h3", {}, key), lineChart({ series, yLabel: key, readout }), readout));
  }
  if (!charts.childElementCount) charts.append(h("p", { class: "muted" }, "No metric of these runs has more than one point."));
}

function bucketPoints(buckets, band = true) {
  return buckets.map((bucket) => ({
    x: (Number(bucket.first_step) + Number(bucket.last_step)) / 2, y: number(bucket.mean),
    lo: band ? number(bucket.min) : undefined, hi: band ? number(bucket.max) : undefined,
  }));
}

/**
 * The newest `limit` runs the view's filter matches, or null when the view is stale or the filter is malformed (then
 * the error, with its caret, is what the view shows).
 */
async function filteredRuns(context, bar, problem, limit) {
  replace(context.content, bar, problem, h("p", { class: "muted" }, "Loading runs…"));
  return answerOrFilterError(context, bar, problem, () => searchAll(context.id, context.query.get("filter") || "", ["attributes.start_time DESC"], limit));
}

/** What `load` answers; null when the page went stale, or when the server refused the filter (400), which is then
 * shown with a caret under the column. */
async function answerOrFilterError(context, bar, problem, load) {
  try {
    const result = await load();
    return context.stale() ? null : result;
  } catch (error) {
    if (context.stale()) return null;
    if (error instanceof APIError && error.status === 400) {
      showFilterError(problem, context.query.get("filter") || "", error);
      replace(context.content, bar, problem);
      return null;
    }
    throw error;
  }
}

/** How many runs the design-space view draws; the front itself is computed by the server over every matching run. */
const DESIGN_LIMIT = 5000;

async function designView(context) {
  const { id, query, content, stale } = context;
  const filter = query.get("filter") || "";
  const { bar, problem } = filterBar(context);
  const result = await filteredRuns(context, bar, problem, DESIGN_LIMIT);
  if (!result) return;
  const runs = result.runs;
  const { params, metrics } = columnsOf(runs);
  const kpis = metrics.map((column) => column.slice(8));
  if (kpis.length < 2) { replace(content, bar, problem, h("p", {}, "The design space needs runs with at least two metrics.")); return; }
  const preferred = (name, fallback) => (kpis.includes(name) ? name : fallback);
  const xKey = query.get("x") && kpis.includes(query.get("x")) ? query.get("x") : preferred("total_cost", kpis[0]);
  const yKey = query.get("y") && kpis.includes(query.get("y")) ? query.get("y") : preferred("total_co2", kpis.find((key) => key !== xKey));
  const goal = (name, key) => (query.get(name) === "max" || query.get(name) === "min" ? query.get(name) : lowerIsBetter(key) ? "min" : "max");
  const xGoal = goal("xgoal", xKey), yGoal = goal("ygoal", yKey);
  const paramKeys = params.map((column) => column.slice(7));
  const colourBy = query.get("color") && paramKeys.includes(query.get("color")) ? query.get("color") : paramKeys.includes("solver_type") ? "solver_type" : paramKeys[0];
  const change = (key) => (value) => navigate(withQuery({ [key]: value }), { replace: true });
  const controls = h("div", { class: "toolbar" },
    "x", select(kpis, xKey, change("x"), { id: "design-x" }), select([["min", "minimise"], ["max", "maximise"]], xGoal, change("xgoal"), { id: "design-xgoal" }),
    "y", select(kpis, yKey, change("y"), { id: "design-y" }), select([["min", "minimise"], ["max", "maximise"]], yGoal, change("ygoal"), { id: "design-ygoal" }),
    "colour by", select(paramKeys, colourBy, change("color"), { id: "design-color" }));
  const front = await call("POST", "runledger/runs/pareto", {
    experiment_ids: [id], filter, objectives: [{ metric: xKey, goal: xGoal === "min" ? "minimize" : "maximize" }, { metric: yKey, goal: yGoal === "min" ? "minimize" : "maximize" }],
  });
  if (stale()) return;
  const frontRuns = (front.runs || []).map(flatten);
  const onFront = new Set(frontRuns.map((run) => run.id));
  const categories = [...new Set(runs.map((run) => run.params[colourBy] ?? "(none)"))].sort();
  const colourOf = (run) => PALETTE[categories.indexOf(run.params[colourBy] ?? "(none)") % PALETTE.length];
  const points = runs.filter((run) => Number.isFinite(run.metrics[xKey]) && Number.isFinite(run.metrics[yKey]))
    .map((run) => ({ x: run.metrics[xKey], y: run.metrics[yKey], color: colourOf(run), id: run.id, label: run.name, front: onFront.has(run.id) }));
  const frontOrder = frontRuns.map((run) => ({ x: run.metrics[xKey], y: run.metrics[yKey] })).sort((a, b) => a.x - b.x);
  const hover = h("div", { class: "readout" });
  const open = (point) => navigate(`/experiments/${id}/runs/${point.id}`);
  const legend = h("div", { class: "legend" }, categories.map((category) => {
    const item = h("span", {}, category);
    item.style.setProperty("--swatch", PALETTE[categories.indexOf(category) % PALETTE.length]);
    return item;
  }));
  const frontTable = h("table", { class: "plain", id: "front-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Run"), h("th", { class: "num" }, xKey), h("th", { class: "num" }, yKey), h("th", {}, colourBy))),
    h("tbody", {}, frontRuns.map((run) => h("tr", { "data-run-id": run.id }, h("td", {}, runLink(context, run)),
      h("td", { class: "num" }, format(run.metrics[xKey])), h("td", { class: "num" }, format(run.metrics[yKey])), h("td", {}, run.params[colourBy] ?? "")))));
  const scatterChart = h("div", { class: "chart", id: "scatter" },
    h("h3", {}, `${yKey} against ${xKey}: ${points.length} runs${result.complete ? "" : ` (the latest ${DESIGN_LIMIT})`}, ${frontRuns.length} on the Pareto front`),
    scatter({ points, xLabel: xKey, yLabel: yKey, frontOrder, onClick: open, onHover: (point) => { hover.textContent = `${point.label}: ${xKey} ${format(point.x)}, ${yKey} ${format(point.y)}${point.front ? " · on the front" : ""}`; } }),
    legend, hover);

  // Parallel coordinates: numeric params and the chosen KPIs; brushing narrows the table below.
  const numericParams = paramKeys.filter((key) => runs.every((run) => run.params[key] === undefined || Number.isFinite(Number(run.params[key]))));
  const axisChoices = [...paramKeys.map((key) => "params." + key), ...kpis.map((key) => "metrics." + key)];
  const defaultAxes = [...numericParams.map((key) => "params." + key), "metrics." + xKey, "metrics." + yKey];
  const chosenAxes = (query.get("axes") ? query.get("axes").split(",") : defaultAxes).filter((axis) => axisChoices.includes(axis));
  const axes = chosenAxes.map((axis) => ({ key: axis, label: axis.split(".").slice(1).join("."), categorical: axis.startsWith("params.") && !numericParams.includes(axis.slice(7)) }));
  const rows = runs.map((run) => ({
    id: run.id, color: colourOf(run),
    values: Object.fromEntries(chosenAxes.map((axis) => [axis, axis.startsWith("params.") ? (numericParams.includes(axis.slice(7)) ? Number(run.params[axis.slice(7)]) : run.params[axis.slice(7)]) : run.metrics[axis.slice(8)]])),
  }));
  const byID = new Map(runs.map((run) => [run.id, run]));
  const brushedBody = h("tbody");
  const brushedCount = h("p", { class: "muted", id: "brushed-count" });
  const showBrushed = (ids, brushing) => {
    brushedCount.textContent = brushing ? `${ids.length} of ${runs.length} runs inside the brushes (drag on an axis to brush, click it to clear).` : `All ${runs.length} runs (drag along an axis to brush a range).`;
    replace(brushedBody, ...ids.slice(0, 200).map((runID) => {
      const run = byID.get(runID);
      return h("tr", { "data-run-id": runID }, h("td", {}, runLink(context, run)), chosenAxes.map((axis) => h("td", { class: axis.startsWith("metrics.") ? "num" : null }, cellValue(run, axis))));
    }));
  };
  const axisChooser = h("details", { class: "chooser" }, h("summary", {}, "Axes"), h("div", {}, axisChoices.map((axis) => {
    const box = h("input", { type: "checkbox", checked: chosenAxes.includes(axis) });
    box.addEventListener("change", () => navigate(withQuery({ axes: axisChoices.filter((candidate) => (candidate === axis ? box.checked : chosenAxes.includes(candidate))).join(",") }), { replace: true }));
    return h("label", {}, box, " ", axis);
  })));
  const parallelChart = h("div", { class: "chart", id: "parallel" }, h("h3", {}, "Parallel coordinates"), axes.length >= 2 ? parallel({ axes, rows, onBrush: showBrushed }) : h("p", { class: "muted" }, "Choose two or more axes."));
  showBrushed(runs.map((run) => run.id), false);
  replace(content, bar, problem, controls, h("div", { class: "columns2" }, scatterChart, h("div", {}, h("h2", {}, "Pareto front"), frontTable)),
    h("h2", {}, "Parallel coordinates"), h("div", { class: "toolbar" }, axisChooser), parallelChart, brushedCount,
    h("table", { class: "plain", id: "brushed-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Run"), chosenAxes.map((axis) => h("th", {}, axis)))), brushedBody));
}

/**
 * The filter bar, and the metric keys and grouping choices of a sample of the matching runs: what the views that study
 * one metric across runs start from. Null when the filter was refused or no run has a metric (the view says so).
 */
async function metricChoices(context) {
  const { query, content } = context;
  const { bar, problem } = filterBar(context);
  // The choices come from a sample of runs; what the views compute covers every matching run.
  const found = await filteredRuns(context, bar, problem, 200);
  if (!found) return null;
  const { params, metrics, tags } = columnsOf(found.runs);
  const keys = metrics.map((column) => column.slice(8));
  if (!keys.length) { replace(content, bar, problem, h("p", {}, "No run here has a metric yet.")); return null; }
  const groupChoices = [["", "(no grouping)"], ...params, ...tags].map((item) => (Array.isArray(item) ? item : [item, item]));
  const chosenGroup = groupChoices.some(([value]) => value === query.get("group")) ? query.get("group") : null;
  return { filter: query.get("filter") || "", bar, problem, keys, params, groupChoices, chosenGroup };
}

async function statsView(context) {
  const { id, query, content, stale } = context;
  const choices = await metricChoices(context);
  if (!choices) return;
  const { filter, bar, problem, keys: kpis, params, groupChoices, chosenGroup } = choices;
  const metric = kpis.includes(query.get("metric")) ? query.get("metric") : kpis.includes("total_cost") ? "total_cost" : kpis[0];
  const groupBy = chosenGroup ?? (params.includes("params.solver_type") ? "params.solver_type" : "");
  const change = (key) => (value) => navigate(withQuery({ [key]: value }), { replace: true });
  const answer = await call("POST", "runledger/runs/statistics", { experiment_ids: [id], filter, metric, group_by: groupBy || undefined });
  if (stale()) return;
  const groups = (answer.groups || []).map((group) => ({ ...group, ...Object.fromEntries(["mean", "stddev", "min", "max", "p50", "p90", "p99"].map((key) => [key, number(group[key])])) }));
  const headers = [groupBy || "group", "count", "mean", "stddev", "min", "max", "p50", "p90", "p99"];
  replace(content, bar, problem,
    h("div", { class: "toolbar" }, "metric", select(kpis, metric, change("metric"), { id: "stats-metric" }), "grouped by", select(groupChoices, groupBy, change("group"), { id: "stats-group" })),
    h("table", { class: "plain", id: "stats-table" }, h("thead", {}, h("tr", {}, headers.map((text, index) => h("th", { class: index ? "num" : null }, text)))),
      h("tbody", {}, groups.map((group) => h("tr", {}, h("td", {}, group.group ?? (groupBy ? "(none)" : "all runs")),
        headers.slice(1).map((key) => h("td", { class: "num" }, format(group[key]))))))),
    groups.length ? h("div", { class: "chart", id: "stats-chart" }, h("h3", {}, `${metric}: min–max whisker, p50–p90 box, mean dot`), rangeChart({ groups, label: metric })) : h("p", { class: "muted" }, "No run has this metric."));
}

const BUCKETS = [["15m", "15 minutes"], ["1h", "1 hour"], ["6h", "6 hours"], ["1d", "1 day"], ["steps:1", "each step"], ["steps:10", "10 steps"], ["steps:24", "24 steps"], ["steps:100", "100 steps"]];

/** A metric across the matching runs over time or steps: per bucket and group the p50 as a line, min–max as a band. */
async function overTimeView(context) {
  const { id, query, content } = context;
  const choices = await metricChoices(context);
  if (!choices) return;
  const { filter, bar, problem, keys, groupChoices, chosenGroup } = choices;
  const metric = keys.includes(query.get("metric")) ? query.get("metric") : keys[0];
  const bucket = BUCKETS.some(([value]) => value === query.get("bucket")) ? query.get("bucket") : "1h";
  const groupBy = chosenGroup ?? "";
  const change = (key) => (value) => navigate(withQuery({ [key]: value }), { replace: true });
  const controls = h("div", { class: "toolbar" }, "metric", select(keys, metric, change("metric"), { id: "over-time-metric" }),
    "per", select(BUCKETS, bucket, change("bucket"), { id: "over-time-bucket" }), "grouped by", select(groupChoices, groupBy, change("group"), { id: "over-time-group" }));
  replace(content, bar, problem, controls, h("p", { class: "muted" }, "Aggregating…"));
  // A refused request (a bad filter, more than 10,000 buckets) is shown where the filter's problems are.
  const answer = await answerOrFilterError(context, bar, problem,
    () => call("POST", "runledger/metrics/aggregate", { experiment_ids: [id], filter, metrics: [metric], bucket, group_by: groupBy || undefined }));
  if (!answer) { content.append(controls); return; }
  const rows = answer.buckets || [];
  const byTime = !bucket.startsWith("steps:");
  const first = rows.length ? Math.min(...rows.map((row) => row.bucket_start)) : 0;
  const x = (start) => (byTime ? (start - first) / 3600000 : start);
  const groups = [...new Set(rows.map((row) => row.group ?? ""))];
  const series = groups.map((group, index) => ({
    label: group || (groupBy ? "(none)" : "all runs"), color: PALETTE[index % PALETTE.length],
    points: rows.filter((row) => (row.group ?? "") === group).map((row) => ({ x: x(row.bucket_start), y: number(row.p50), lo: number(row.min), hi: number(row.max) })),
  }));
  const readout = h("div", { class: "readout" });
  const xLabel = byTime ? `hours since ${time(first)}` : "step";
  const shown = rows.slice(0, 500);
  replace(content, bar, problem, controls,
    rows.length
      ? h("div", { class: "chart", id: "over-time-chart" }, h("h3", {}, `${metric}: p50 per bucket (line), min–max (band)`), lineChart({ series, xLabel, yLabel: metric, readout }), readout,
        h("p", { class: "muted legend" }, series.map((item) => item.label).join(" · ")))
      : h("p", { class: "muted" }, "No point of this metric in the matching runs."),
    h("table", { class: "plain", id: "over-time-table" },
      h("thead", {}, h("tr", {}, [byTime ? "Bucket" : "First step", groupBy || "Group", "count", "mean", "min", "p50", "p90", "p99", "max"].map((text, index) => h("th", { class: index > 1 ? "num" : null }, text)))),
      h("tbody", {}, shown.map((row) => h("tr", {}, h("td", {}, byTime ? time(row.bucket_start) : String(row.bucket_start)), h("td", {}, row.group ?? ""),
        h("td", { class: "num" }, String(row.count)), ["mean", "min", "p50", "p90", "p99", "max"].map((key) => h("td", { class: "num" }, format(number(row[key])))))))),
    rows.length > shown.length ? h("p", { class: "muted" }, `The first ${shown.length} of ${rows.length} buckets are listed; the chart has them all.`) : null);
}

/** Is the study converging? Each run's KPI against its start time, with the best so far (per group). */
async function trendView(context) {
  const { id, query, content, stale } = context;
  const choices = await metricChoices(context);
  if (!choices) return;
  const { filter, bar, problem, keys: kpis, groupChoices, chosenGroup } = choices;
  const metric = kpis.includes(query.get("metric")) ? query.get("metric") : kpis.includes("total_cost") ? "total_cost" : kpis[0];
  const goal = ["minimize", "maximize"].includes(query.get("goal")) ? query.get("goal") : lowerIsBetter(metric) ? "minimize" : "maximize";
  const groupBy = chosenGroup ?? "";
  const change = (key) => (value) => navigate(withQuery({ [key]: value }), { replace: true });
  const answer = await call("POST", "runledger/runs/trend", { experiment_ids: [id], filter, metric, goal, group_by: groupBy || undefined });
  if (stale()) return;
  const points = answer.points || [];
  const first = points.length ? points[0].start_time : 0;
  const hours = (ms) => (ms - first) / 3600000;
  const groups = [...new Set(points.map((point) => point.group ?? ""))];
  const series = groups.flatMap((group, index) => {
    const mine = points.filter((point) => (point.group ?? "") === group);
    const color = PALETTE[index % PALETTE.length];
    const name = group || (groupBy ? "(none)" : "all runs");
    return [
      { name: `${name}: runs`, color, dots: true, points: mine.map((point) => ({ x: hours(point.start_time), y: number(point.value) })) },
      { name: `${name}: best so far`, color, points: mine.filter((point) => point.best_so_far !== null).map((point) => ({ x: hours(point.start_time), y: number(point.best_so_far) })) },
    ];
  });
  const shown = points.slice(-500).reverse();
  replace(content, bar, problem,
    h("div", { class: "toolbar" }, "metric", select(kpis, metric, change("metric"), { id: "trend-metric" }),
      select([["minimize", "lower is better"], ["maximize", "higher is better"]], goal, change("goal"), { id: "trend-goal" }),
      "best so far per", select(groupChoices, groupBy, change("group"), { id: "trend-group" })),
    points.length
      ? h("div", { class: "chart", id: "trend-chart" }, h("h3", {}, `${metric} of each run (dots) and the best so far (line), by hours since the first run`),
        lineChart({ series, xLabel: "hours since the first run", yLabel: metric }),
        h("p", { class: "muted legend" }, series.filter((item) => !item.dots).map((item) => item.name).join(" · ")))
      : h("p", { class: "muted" }, "No matching run has this metric."),
    h("table", { class: "plain", id: "trend-table" },
      h("thead", {}, h("tr", {}, ["Run", "Started", groupBy || "Group", metric, "Best so far"].map((text, index) => h("th", { class: index > 2 ? "num" : null }, text)))),
      h("tbody", {}, shown.map((point) => h("tr", {},
        h("td", {}, runLink(context, { id: point.run_id, name: point.run_name })), h("td", {}, time(point.start_time)), h("td", {}, point.group ?? ""),
        h("td", { class: "num" }, format(number(point.value))), h("td", { class: "num" }, point.best_so_far === null ? "" : format(number(point.best_so_far))))))),
    points.length > shown.length ? h("p", { class: "muted" }, `The ${shown.length} latest of ${points.length} runs are listed; the chart has them all.`) : null);
}

const LEVELS = ["debug", "info", "warning", "error"];

/** Events across the runs the filter matches, newest first, by kind and minimum level. */
async function eventsView(context) {
  const { id, query, content } = context;
  const filter = query.get("filter") || "";
  const level = LEVELS.includes(query.get("level")) ? query.get("level") : "debug";
  const kind = (query.get("kind") || "").trim();
  const change = (key) => (value) => navigate(withQuery({ [key]: value || null }), { replace: true });
  const kindInput = h("input", { type: "text", id: "events-kind", value: kind, placeholder: "any kind", "aria-label": "Kind", spellcheck: "false" });
  kindInput.addEventListener("change", () => change("kind")(kindInput.value.trim()));
  const { bar, problem } = filterBar(context, ["kind", kindInput, "at or above", select(LEVELS, level, change("level"), { id: "events-level" })]);
  replace(content, bar, problem, h("p", { class: "muted" }, "Loading events…"));
  const answer = await answerOrFilterError(context, bar, problem,
    () => call("POST", "runledger/events/search", { experiment_ids: [id], filter, kinds: kind ? [kind] : [], min_level: level, max_results: 500 }));
  if (!answer) return;
  const events = answer.events || [];
  replace(content, bar, problem,
    h("p", { class: "muted", id: "events-count" }, events.length === 500 ? "The newest 500 events" : `${events.length} event(s), newest first`),
    h("table", { class: "plain", id: "cross-events-table" },
      h("thead", {}, h("tr", {}, ["Time", "Run", "Level", "Kind", "Message", "Payload"].map((text) => h("th", {}, text)))),
      h("tbody", {}, events.map((event) => h("tr", { "data-level": event.level, "data-run": event.run_id },
        h("td", {}, time(event.timestamp)), h("td", {}, runLink(context, { id: event.run_id, name: event.run_id.slice(0, 8) })),
        h("td", {}, h("span", { class: `badge level-${event.level}` }, event.level)), h("td", {}, event.kind), h("td", {}, event.message),
        h("td", {}, event.payload === null || event.payload === undefined ? "" : h("code", {}, JSON.stringify(event.payload))))))));
}

// MARK: one run

/** Runs `work` on every item, at most `width` at a time, in order. */
async function inTurns(items, width, work) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** The run's event log (newest 200 at or above a level); nothing at all for a run that logged no events. */
async function showEvents(runID, holder, stale, level) {
  const answer = await call("GET", "runledger/runs/events", { run_id: runID, min_level: level, max_results: 200 }).catch(() => ({ events: [] }));
  if (stale()) return;
  const list = answer.events || [];
  if (!list.length && level === "debug") return;
  const chooser = select(["debug", "info", "warning", "error"], level, (value) => showEvents(runID, holder, stale, value), { id: "event-level" });
  replace(holder, h("h2", {}, "Events"), h("div", { class: "toolbar" }, "at or above", chooser, h("span", { class: "muted" }, `${list.length} shown, newest first`)),
    h("table", { class: "plain", id: "events-table" },
      h("thead", {}, h("tr", {}, ["Time", "Level", "Kind", "Message", "Payload"].map((text) => h("th", {}, text)))),
      h("tbody", {}, list.map((event) => h("tr", { "data-level": event.level },
        h("td", {}, time(event.timestamp)), h("td", {}, h("span", { class: `badge level-${event.level}` }, event.level)), h("td", {}, event.kind),
        h("td", {}, event.message), h("td", {}, event.payload === null || event.payload === undefined ? "" : h("code", {}, JSON.stringify(event.payload))))))));
}

async function runView(experimentID, runID, stale) {
  const [{ run: raw }, { experiment }] = await Promise.all([call("GET", "mlflow/runs/get", { run_id: runID }), call("GET", "mlflow/experiments/get", { experiment_id: experimentID })]);
  if (stale()) return;
  const run = flatten(raw);
  const trail = [h("a", { href: `/experiments/${experimentID}`, "data-link": true }, experiment.name), h("span", {}, run.name || run.id)];
  const info = h("dl", { class: "kv", id: "run-info" },
    [["Run ID", run.id], ["Status", h("span", { class: `badge ${run.status}` }, run.status)], ["Started", time(run.start)], ["Ended", time(run.end)],
      ["Duration", duration(run.start, run.end)], ["User", run.user], ["Lifecycle", run.lifecycle]]
      .flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
  const metricKeys = Object.keys(run.metrics).sort();
  const charts = h("div", { class: "charts", id: "run-charts" });
  const events = h("div", { id: "run-events" });
  const files = h("div", { id: "run-artifacts" });
  show([
    h("h1", { id: "run-name" }, run.name || run.id), info,
    h("div", { class: "columns2" },
      h("div", {}, h("h2", {}, "Params"), keyValueTable(Object.entries(run.params).sort(), ["param", "value"])),
      h("div", {}, h("h2", {}, "Latest metrics"), keyValueTable(metricKeys.map((key) => [key, format(run.metrics[key])]), ["metric", "value"])),
      h("div", {}, h("h2", {}, "Tags"), keyValueTable(Object.entries(run.tags).sort(), ["tag", "value"]))),
    events, files,
    h("h2", {}, "Metric charts"), h("p", { class: "muted" }, "Drag across a chart to zoom, double-click to zoom out. Long histories are downsampled on the server (band: min–max per bucket)."),
    charts,
  ], trail);
  showEvents(runID, events, stale, "debug");
  showArtifacts(raw, files, stale);
  // Two histories at a time: the server reads each whole history before bucketing it, so fetching every chart at
  // once would make the first one wait for all the others.
  await inTurns(metricKeys, 2, async (key) => {
    const holder = h("div", { class: "chart", "data-metric": key }, h("h3", {}, key), h("p", { class: "muted" }, "Loading…"));
    charts.append(holder);
    const draw = async (range) => {
      const fields = { run_id: runID, metric_key: key, max_buckets: 600 };
      if (range) Object.assign(fields, { min_step: range[0], max_step: range[1] });
      const history = await call("GET", "runledger/metrics/get-history-bucketed", fields);
      if (stale()) return;
      if (history.points <= 1 && !range) { holder.remove(); return; }
      const readout = h("div", { class: "readout" });
      const chart = lineChart({ series: [{ label: "", color: PALETTE[0], points: bucketPoints(history.buckets) }], yLabel: key, readout, onZoom: (from, to) => draw(from === null ? null : [from, to]) });
      if (window.runledgerTimings.firstChartDrawn === undefined) window.runledgerTimings.firstChartDrawn = performance.now();
      replace(holder, h("h3", {}, `${key} · ${history.points} points${range ? ` in steps ${range[0]}–${range[1]}` : ""}`), chart, readout);
    };
    await draw(null).catch((error) => replace(holder, h("h3", {}, key), errorBox(error)));
  });
  if (!charts.childElementCount) charts.append(h("p", { class: "muted" }, "No metric of this run has more than one point."));
  window.runledgerTimings.runChartsDrawn = performance.now();
}

render();
