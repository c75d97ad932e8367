"""Aggregations across runs (`POST /api/2.0/runledger/metrics/aggregate`, `runledger aggregate`) against numpy: runs
logged through the official MLflow client, every bucket's percentiles compared bit for bit with `numpy.percentile`
over the same values, on SQLite and (when the test cluster is there) PostgreSQL."""
import json
import math
import os
import random
import subprocess
from collections import defaultdict

import numpy as np
import pytest
import requests
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from conftest import RUNLEDGER, start_runledger, start_runledger_postgres

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("RUNLEDGER_TEST_POSTGRES_URL") else [])
HOUR = 3_600_000
BASE = 1_760_000_000_000


@pytest.fixture(scope="module", params=BACKENDS)
def study(request):
    """A server with 24 runs: a solver param (3 values, some runs without), `load` and `cost` over 6 hours."""
    server = start_runledger() if request.param == "sqlite" else start_runledger_postgres()
    client = MlflowClient(server.url)
    experiment = client.create_experiment("aggregate-compat")
    rng = random.Random(7)
    points = []  # (run_index, solver, key, timestamp, step, value)
    for index in range(24):
        run = client.create_run(experiment, run_name=f"r{index}", start_time=BASE + index)
        solver = [None, "milp", "hybrid", "heuristic"][index % 4]
        metrics = []
        for key in ("load", "cost"):
            for step in range(rng.randint(20, 60)):
                timestamp = BASE + rng.randrange(6 * HOUR)
                # Few distinct values, so that ranks tie; a NaN now and then, which aggregations leave out.
                value = float("nan") if rng.random() < 0.03 else round(rng.uniform(-50, 150), 1 if key == "load" else 3)
                metrics.append(Metric(key, value, timestamp, step))
                points.append((index, solver, key, timestamp, step, value))
        params = [Param("solver", solver)] if solver else []
        for start in range(0, len(metrics), 500):
            client.log_batch(run.info.run_id, metrics=metrics[start:start + 500], params=params if start == 0 else [])
        client.set_terminated(run.info.run_id)
    yield server, experiment, points
    server.stop()


def aggregate(url, **fields):
    return requests.post(url + "/api/2.0/runledger/metrics/aggregate", json=fields, timeout=60)


def expected(points, metrics, bucket, grouped, since=None, until=None):
    """The buckets as numpy computes them: per (metric, group, bucket start) the non-NaN values, in any order."""
    cells = defaultdict(list)
    for _, solver, key, timestamp, step, value in points:
        if key not in metrics or math.isnan(value):
            continue
        if (since is not None and timestamp < since) or (until is not None and timestamp >= until):
            continue
        start = (timestamp // bucket) * bucket if isinstance(bucket, int) else (step // bucket[1]) * bucket[1]
        cells[(key, solver if grouped else None, start)].append(value)
    return cells


def check(rows, cells):
    assert len(rows) == len(cells)
    order = [(row["metric"], row["group"] is None, row["group"] or "", row["bucket_start"]) for row in rows]
    assert order == sorted(order), "ordered by metric, group (null last) and bucket start"
    for row in rows:
        values = np.array(cells[(row["metric"], row["group"], row["bucket_start"])])
        assert row["count"] == len(values)
        assert row["min"] == values.min() and row["max"] == values.max()
        assert math.isclose(row["sum"], values.sum(), rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(row["mean"], values.mean(), rel_tol=1e-12, abs_tol=1e-9)
        for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
            assert row[name] == np.percentile(values, q), (name, row, sorted(values))


def test_time_buckets_grouped_by_a_param_equal_numpy(study):
    server, experiment, points = study
    response = aggregate(server.url, experiment_ids=[experiment], metrics=["load", "cost"], bucket="1h", group_by="params.solver")
    assert response.status_code == 200, response.text
    check(response.json()["buckets"], expected(points, {"load", "cost"}, HOUR, grouped=True))


def test_step_buckets_in_a_time_range_equal_numpy(study):
    server, experiment, points = study
    since, until = BASE + HOUR, BASE + 5 * HOUR
    response = aggregate(server.url, experiment_ids=[experiment], metrics=["cost"], bucket="steps:7", since=since, until=until)
    assert response.status_code == 200, response.text
    check(response.json()["buckets"], expected(points, {"cost"}, ("steps", 7), grouped=False, since=since, until=until))


def test_the_command_prints_what_the_route_answers(study):
    server, experiment, _ = study
    route = aggregate(server.url, experiment_ids=[experiment], metrics=["load"], bucket="90m", group_by="params.solver").json()["buckets"]
    command = subprocess.run(
        [RUNLEDGER, "aggregate", "--database", server.url, "--experiment", "aggregate-compat", "--metric", "load", "--bucket", "90m",
         "--group-by", "params.solver", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert command.returncode == 0, command.stderr
    assert json.loads(command.stdout) == route
    csv = subprocess.run(
        [RUNLEDGER, "aggregate", "--database", server.url, "--experiment", "aggregate-compat", "--metric", "load", "--bucket", "90m",
         "--format", "csv"],
        capture_output=True, text=True, timeout=120,
    )
    assert csv.returncode == 0 and csv.stdout.splitlines()[0] == "metric,group,bucket_start,count,sum,mean,min,max,p50,p90,p99"


@pytest.mark.parametrize("fields, fragment", [
    ({"metrics": ["load"], "bucket": "soon"}, "Invalid duration"),
    ({"metrics": ["load"], "bucket": "steps:0"}, "steps:N"),
    ({"metrics": ["load"], "bucket": "1ms"}, "Invalid duration"),
    ({"metrics": [], "bucket": "1h"}, "metrics"),
    ({"bucket": "1h"}, "metrics"),
    ({"metrics": ["load"]}, "bucket"),
    ({"metrics": ["load"], "bucket": "1h", "since": 10, "until": 5}, "since before until"),
    ({"metrics": ["load"], "bucket": "1h", "group_by": "runs.x"}, "params.NAME or tags.NAME"),
    ({"metrics": ["load"], "bucket": "steps:1", "filter": "params.solver = "}, ""),
    ({"metrics": ["load\u0000"], "bucket": "1h"}, ""),
])
def test_bad_requests_are_400_with_a_code_and_no_internals(study, fields, fragment):
    server, experiment, _ = study
    response = aggregate(server.url, experiment_ids=[experiment], **fields)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and fragment in body["message"]
    assert "SELECT" not in body["message"] and "/tmp" not in body["message"]
