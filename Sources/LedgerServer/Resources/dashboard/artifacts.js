// A run's files and logged models on the run page: a tree that lists one folder at a time, previews of what is safe to
// show in the page (text, JSON, YAML, CSV as a table, PNG/JPEG/GIF), and downloads of everything else. HTML and SVG are
// never rendered: they would run as pages of the dashboard's origin.
import { call, fetchArtifact, saveBlob } from "./api.js";
import { h, replace, time } from "./dom.js";

const PREVIEW_BYTES = 256 * 1024;
const IMAGE_BYTES = 20 * 1024 * 1024;
const TEXT = ["txt", "log", "md", "py", "toml", "ini", "cfg", "xml", "mlmodel", "yaml", "yml", "json", "csv", "tsv"];
const IMAGES = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif" };

/** The folder under an `mlflow-artifacts:/…` location that MLflow's artifact API serves, or null for another scheme. */
export function artifactRoot(uri) {
  const match = /^mlflow-artifacts:\/+(.*?)\/*$/.exec(uri || "");
  return match ? match[1] : null;
}

export function size(bytes) {
  if (bytes === undefined || bytes === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return (unit ? value.toFixed(1) : String(value)) + " " + units[unit];
}

/** Fills `holder` with the run's artifacts and logged models. */
export async function showArtifacts(raw, holder, stale) {
  const runID = raw.info.run_id;
  const root = artifactRoot(raw.info.artifact_uri);
  const preview = h("div", { class: "preview", id: "artifact-preview" });
  const tree = h("ul", { class: "tree", id: "artifact-tree" });
  const list = (path) => call("GET", "mlflow/artifacts/list", { run_id: runID, path }).then((answer) => answer.files || []);
  const files = await list("").catch(() => []);
  const modelIDs = (raw.outputs?.model_outputs || []).map((output) => output.model_id);
  const models = await Promise.all(modelIDs.map((id) => call("GET", `mlflow/logged-models/${encodeURIComponent(id)}`).then((answer) => answer.model).catch(() => null)));
  if (stale()) return;
  const parts = [];
  if (files.length && root !== null) {
    fillFolder(tree, files, root, list, preview);
    parts.push(h("h2", {}, "Artifacts"), h("div", { class: "columns2 artifacts" }, tree, preview));
  }
  const known = models.filter(Boolean);
  if (known.length) {
    parts.push(h("h2", {}, "Logged models"), h("table", { class: "plain", id: "run-models" },
      h("thead", {}, h("tr", {}, ["Name", "Model ID", "Status", "Created", "Files"].map((text) => h("th", {}, text)))),
      h("tbody", {}, known.map((model) => modelRow(model, preview)))));
  }
  replace(holder, parts);
}

function modelRow(model, preview) {
  const root = artifactRoot(model.info.artifact_uri);
  const files = h("ul", { class: "tree" });
  const list = (path) => call("GET", `mlflow/logged-models/${encodeURIComponent(model.info.model_id)}/artifacts/directories`, { artifact_directory_path: path })
    .then((answer) => answer.files || []);
  const show = h("button", { type: "button", on: { click: async () => {
    show.disabled = true;
    if (root !== null) fillFolder(files, await list("").catch(() => []), root, list, preview);
  } } }, "Show files");
  return h("tr", {}, h("td", {}, model.info.name), h("td", {}, h("code", {}, model.info.model_id)),
    h("td", {}, h("span", { class: "badge" }, model.info.status)), h("td", {}, time(model.info.creation_timestamp_ms)), h("td", {}, show, files));
}

function fillFolder(node, files, root, list, preview) {
  const sorted = [...files].sort((a, b) => (Number(!!b.is_dir) - Number(!!a.is_dir)) || a.path.localeCompare(b.path));
  replace(node, sorted.map((file) => {
    const name = file.path.split("/").pop();
    if (file.is_dir) {
      const children = h("ul", { class: "tree" });
      const toggle = h("button", { type: "button", class: "folder", "aria-expanded": "false", on: { click: async () => {
        const open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", String(!open));
        if (open) { replace(children); return; }
        fillFolder(children, await list(file.path).catch(() => []), root, list, preview);
      } } }, name + "/");
      return h("li", { "data-path": file.path }, toggle, children);
    }
    const path = `${root}/${file.path}`;
    const open = h("button", { type: "button", class: "file", on: { click: () => showPreview(path, name, file.file_size, preview) } }, name);
    const save = h("button", { type: "button", class: "link", title: "Download", on: { click: async () => saveBlob(await (await fetchArtifact(path)).blob(), name) } }, "download");
    return h("li", { "data-path": file.path }, open, " ", h("span", { class: "muted" }, size(file.file_size)), " ", save);
  }));
}

async function showPreview(path, name, bytes, preview) {
  const extension = (name.split(".").pop() || "").toLowerCase();
  const heading = h("h3", {}, name, " ", h("span", { class: "muted" }, size(bytes)));
  try {
    if (IMAGES[extension]) {
      if (bytes > IMAGE_BYTES) { replace(preview, heading, h("p", { class: "muted" }, "Too large to preview; download it.")); return; }
      const blob = await (await fetchArtifact(path)).blob();
      const url = URL.createObjectURL(new Blob([blob], { type: IMAGES[extension] }));
      replace(preview, heading, h("img", { src: url, alt: name, class: "artifact-image", on: { load: () => URL.revokeObjectURL(url) } }));
      return;
    }
    if (!TEXT.includes(extension)) {
      replace(preview, heading, h("p", { class: "muted" }, "No preview for this kind of file (HTML and SVG are never shown inside the page); download it."));
      return;
    }
    const text = await (await fetchArtifact(path, PREVIEW_BYTES)).text();
    const cut = bytes > PREVIEW_BYTES ? h("p", { class: "muted" }, `The first ${size(PREVIEW_BYTES)} of ${size(bytes)}.`) : null;
    if ((extension === "csv" || extension === "tsv") && bytes <= PREVIEW_BYTES) {
      replace(preview, heading, csvTable(text, extension === "tsv" ? "\t" : ","));
    } else if (extension === "json" && bytes <= PREVIEW_BYTES) {
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not valid JSON: show it as it is */ }
      replace(preview, heading, h("pre", { class: "artifact-text" }, shown));
    } else {
      replace(preview, heading, cut, h("pre", { class: "artifact-text" }, text));
    }
  } catch (error) {
    replace(preview, heading, h("p", { class: "error", role: "alert" }, error.message));
  }
}

/** Rows of a CSV text (quoted fields, doubled quotes, newlines inside quotes), at most `limit` of them. */
export function parseCSV(text, separator = ",", limit = 500) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < limit; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === separator) { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if ((field !== "" || row.length) && rows.length < limit) { row.push(field); rows.push(row); }
  return rows;
}

function csvTable(text, separator) {
  const [header = [], ...rows] = parseCSV(text, separator);
  return h("table", { class: "plain", id: "artifact-table" },
    h("thead", {}, h("tr", {}, header.map((cell) => h("th", {}, cell)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))));
}
