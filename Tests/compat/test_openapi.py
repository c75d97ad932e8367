"""/openapi.json: a valid OpenAPI 3.1 document that names every route, and that a live RunLedger server honours under
schemathesis's generated requests (no 5xx; every status, content type and body as documented)."""
import os
import subprocess

import pytest
import requests
from openapi_spec_validator import validate

from conftest import start_runledger

MLFLOW_ROUTES = {
    ("post", "experiments/create"), ("get", "experiments/get"), ("get", "experiments/get-by-name"),
    ("post", "experiments/search"), ("get", "experiments/search"), ("post", "experiments/update"),
    ("post", "experiments/delete"), ("post", "experiments/restore"), ("post", "experiments/set-experiment-tag"),
    ("post", "runs/create"), ("get", "runs/get"), ("post", "runs/update"), ("post", "runs/delete"),
    ("post", "runs/restore"), ("post", "runs/search"), ("get", "runs/search"), ("post", "runs/log-metric"),
    ("post", "runs/log-parameter"), ("post", "runs/log-batch"), ("post", "runs/set-tag"), ("post", "runs/delete-tag"),
    ("get", "metrics/get-history"),
}


@pytest.fixture(scope="module")
def runledger():
    server = start_runledger()
    yield server
    server.stop()


def test_the_document_is_valid_openapi_and_lists_every_route(runledger):
    document = requests.get(runledger.url + "/openapi.json", timeout=30).json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    for prefix in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
        for method, route in MLFLOW_ROUTES:
            assert (method, prefix + route) in documented
    for path in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert ("get", path) in documented


def test_every_documented_route_is_served(runledger):
    document = requests.get(runledger.url + "/openapi.json", timeout=30).json()
    for path, operations in document["paths"].items():
        for method in operations:
            response = requests.request(method, runledger.url + path, json={} if method == "post" else None, timeout=30)
            assert response.status_code != 404 or response.json()["error_code"] != "ENDPOINT_NOT_FOUND", (method, path)


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(runledger):
    result = subprocess.run(
        [
            "schemathesis", "run", runledger.url + "/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", os.environ.get("RUNLEDGER_SCHEMATHESIS_EXAMPLES", "30"), "--workers", "1", "--seed", "1",
        ],
        capture_output=True, text=True, timeout=900, cwd=runledger.folder,  # its cache goes with the server's folder
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
