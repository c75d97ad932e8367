"""Every route of MLflow's REST API is accounted for: docs/mlflow-routes.md lists each one with what RunLedger does,
and a running RunLedger answers accordingly (an unsupported route: 404 ENDPOINT_NOT_FOUND naming the feature).
`RUNLEDGER_UPDATE_GOLDEN=1` rewrites the table from what the server answers."""
import json
import os
import re

import pytest
import requests

from conftest import ROOT, start_runledger

DOC = os.path.join(ROOT, "docs", "mlflow-routes.md")
NOTES = {
    "/api/2.0/mlflow-artifacts/mpu/": "answers `501 NOT_IMPLEMENTED`, as MLflow's own file-system artifact store does; "
                                      "the client then uploads whole files",
    "/api/2.0/mlflow/runs/log-model": "MLflow 2's model record: appends to the run's `mlflow.log-model.history` tag",
    "/api/3.0/mlflow/server-info": "whole-file uploads only (no multipart, no presigned URLs), no workspaces",
    "/api/2.0/mlflow/metrics/get-history": "points in MLflow's order (timestamp, step, value), paged",
}
HEADER = """# MLflow REST routes in RunLedger

Every route of MLflow's REST API (as its server registers them: `mlflow.server.handlers.get_endpoints()` of the
`mlflow` package in the test virtualenv), with what RunLedger does. Each route is also served below `/ajax-api/` as
MLflow does. RunLedger implements the tracking API: experiments, runs, metrics, artifacts, logged models and run
inputs/outputs ({supported} routes). The rest ({unsupported} routes: the model registry, tracing, GenAI datasets,
scorers, the AI gateway, …) answers `404` with `error_code` `ENDPOINT_NOT_FOUND` and a message that names the feature
and says it is not supported, so a client fails with a clear reason instead of a bare "no route".

`Tests/compat/test_routes.py` checks this table against the installed `mlflow` package and a running server: a route
MLflow adds, or one whose answer changes, fails the test (`RUNLEDGER_UPDATE_GOLDEN=1` rewrites it). RunLedger's own
routes (`/api/2.0/runledger/…`) are in [server.md](server.md) and `/openapi.json`; artifacts in
[server.md](server.md#artifacts).

| Method | Route | RunLedger |
|---|---|---|
"""


def mlflow_routes():
    from mlflow.server.handlers import get_endpoints
    rows = set()
    for path, _, methods in get_endpoints():
        if not path.startswith("/ajax-api"):
            rows.update((path, method) for method in methods)
    return sorted(rows)


def concrete(path):
    path = re.sub(r"<path:[^>]+>", "x/y.txt", path)
    path = path.replace("<model_id>", "m-00000000000000000000000000000000")
    return re.sub(r"<[^>]+>", "x", path)


def answer(url, method, path):
    body = b"{}" if method in ("POST", "PATCH", "PUT") else None
    response = requests.request(method, url + concrete(path), data=body, headers={"Content-Type": "application/json"})
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code == 404 and payload.get("error_code") == "ENDPOINT_NOT_FOUND":
        match = re.search(r"belongs to (.*), which is not supported", payload.get("message", ""))
        return "not supported: " + (match.group(1) if match else "?")
    note = next((text for prefix, text in NOTES.items() if path.startswith(prefix)), "")
    return "supported" + (f": {note}" if note else "")


@pytest.fixture(scope="module")
def runledger():
    server = start_runledger()
    yield server
    server.stop()


def test_every_mlflow_route_is_listed_and_answers_as_listed(runledger):
    rows = [(method, path, answer(runledger.url, method, path)) for path, method in mlflow_routes()]
    supported = sum(1 for row in rows if row[2].startswith("supported"))
    table = "\n".join(f"| {m} | `{p}` | {status} |" for m, p, status in rows) + "\n"
    expected = HEADER.format(supported=supported, unsupported=len(rows) - supported) + table
    if os.environ.get("RUNLEDGER_UPDATE_GOLDEN") == "1":
        with open(DOC, "w") as f:
            f.write(expected)
    with open(DOC) as f:
        assert f.read() == expected, "docs/mlflow-routes.md differs from what the server answers (RUNLEDGER_UPDATE_GOLDEN=1 rewrites it)"
    # The tracking routes the issue names are implemented, not just listed.
    for needed in ["runs/create", "runs/log-batch", "logged-models", "runs/outputs", "runs/log-inputs", "experiments/delete-experiment-tag"]:
        assert any(p.endswith(needed) and s.startswith("supported") for _, p, s in rows), needed
    assert not any("?" == s[-1] for _, _, s in rows)


def test_unsupported_routes_say_what_they_belong_to_also_below_ajax_api(runledger):
    for path in ["/api/2.0/mlflow/registered-models/create", "/ajax-api/2.0/mlflow/registered-models/create"]:
        response = requests.post(runledger.url + path, json={"name": "m"})
        assert response.status_code == 404
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert "model registry" in response.json()["message"] and "not supported" in response.json()["message"]
    unknown = requests.get(runledger.url + "/api/2.0/mlflow/no-such-thing")
    assert unknown.status_code == 404 and "not a route" in unknown.json()["message"]


def test_log_model_appends_to_the_history_tag(server):
    url = server.url + "/api/2.0/mlflow/"
    run = requests.post(url + "runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    model = {"run_id": run, "artifact_path": "model", "utc_time_created": "2026-12-07 10:00:00.000000",
             "model_uuid": "abc", "flavors": {"python_function": {"loader_module": "x", "config": {"secret": 1}}}}
    for _ in range(2):
        assert requests.post(url + "runs/log-model", json={"run_id": run, "model_json": json.dumps(model)}).status_code == 200
    tags = {t["key"]: t["value"] for t in requests.get(url + "runs/get", params={"run_id": run}).json()["run"]["data"]["tags"]}
    history = json.loads(tags["mlflow.log-model.history"])
    assert len(history) == 2
    assert history[0]["flavors"] == {"python_function": {"loader_module": "x"}}
    assert history[0]["model_uuid"] == "abc" and history[1]["artifact_path"] == "model"
    bad = requests.post(url + "runs/log-model", json={"run_id": run, "model_json": "{\"run_id\": 1}"})
    assert bad.status_code == 400 and "missing" in bad.json()["message"]
    assert requests.post(url + "runs/log-model", json={"run_id": run, "model_json": "not json"}).status_code == 400
