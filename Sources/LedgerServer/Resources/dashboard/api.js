// The server's API as the page uses it: MLflow's routes and RunLedger's extensions, one error type, the token.
const TOKEN_KEY = "runledger.token";

/** An error answered by the server ({error_code, message, column?}) or met on the way. */
export class APIError extends Error {
  constructor(status, code, message, column) {
    super(message);
    this.status = status;
    this.code = code;
    this.column = column;
  }
}

export function token() { return localStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(value) { value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY); }

function encodeQuery(fields) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(fields || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item));
  }
  const text = query.toString();
  return text ? "?" + text : "";
}

async function send(method, path, fields) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  let url = "/api/2.0/" + path;
  let body;
  if (method === "GET") url += encodeQuery(fields);
  else { headers["Content-Type"] = "application/json"; body = JSON.stringify(fields || {}); }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (error) {
    throw new APIError(0, "UNREACHABLE", "The server did not answer (" + error.message + "). Is runledger serve still running?");
  }
  if (!response.ok) {
    let answer = {};
    try { answer = await response.json(); } catch { /* not JSON: keep the status */ }
    throw new APIError(response.status, answer.error_code || "HTTP_" + response.status, answer.message || response.statusText, answer.column);
  }
  return response;
}

/** Calls a JSON route: `call("GET", "mlflow/runs/get", {run_id})`. */
export async function call(method, path, fields) {
  return (await send(method, path, fields)).json();
}

/** Calls a route that answers with a file and saves it under the name the server gives. */
export async function download(path, fields, fallbackName) {
  const response = await send("POST", path, fields);
  const disposition = response.headers.get("Content-Disposition") || "";
  saveBlob(await response.blob(), (disposition.match(/filename="([^"]+)"/) || [])[1] || fallbackName);
}

/** Hands a blob to the browser as a download named `name`. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** An artifact's bytes through MLflow's artifact API (with the token, which a plain link could not send);
 * `maxBytes` asks for a byte range, so a preview of a large file reads only its start. */
export async function fetchArtifact(path, maxBytes) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  if (maxBytes) headers.Range = `bytes=0-${maxBytes - 1}`;
  const url = "/api/2.0/mlflow-artifacts/artifacts/" + path.split("/").map(encodeURIComponent).join("/");
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (error) {
    throw new APIError(0, "UNREACHABLE", "The server did not answer (" + error.message + "). Is runledger serve still running?");
  }
  if (!response.ok) {
    let answer = {};
    try { answer = await response.json(); } catch { /* not JSON: keep the status */ }
    throw new APIError(response.status, answer.error_code || "HTTP_" + response.status, answer.message || response.statusText);
  }
  return response;
}

/** A metric value from MLflow JSON, where NaN and infinities travel as strings. */
export function number(value) {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return value === undefined || value === null ? undefined : Number(value);
}

/** A run in MLflow's shape as plain maps: {id, name, status, start, end, experiment, params, metrics, tags}. */
export function flatten(run) {
  const pairs = (list) => Object.fromEntries((list || []).map((item) => [item.key, item.value]));
  const metrics = {};
  for (const item of run.data?.metrics || []) metrics[item.key] = number(item.value);
  return {
    id: run.info.run_id, name: run.info.run_name, status: run.info.status, start: run.info.start_time, end: run.info.end_time,
    experiment: run.info.experiment_id, user: run.info.user_id, lifecycle: run.info.lifecycle_stage,
    params: pairs(run.data?.params), metrics, tags: pairs(run.data?.tags),
  };
}

/** All runs a filter matches, up to `limit`, in pages of 1000. */
export async function searchAll(experimentID, filter, orderBy, limit) {
  const runs = [];
  let pageToken;
  do {
    const page = await call("POST", "mlflow/runs/search", {
      experiment_ids: [experimentID], filter, order_by: orderBy, max_results: Math.min(1000, limit - runs.length), page_token: pageToken,
    });
    runs.push(...(page.runs || []).map(flatten));
    pageToken = page.next_page_token;
  } while (pageToken && runs.length < limit);
  return { runs, complete: !pageToken };
}
