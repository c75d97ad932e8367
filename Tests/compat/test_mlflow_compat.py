"""MLflow compatibility: the official client and raw REST calls, each test run against RunLedger and against a real
MLflow server (see conftest.py). A test that passes on MLflow and fails on RunLedger is a RunLedger bug."""
import math
import threading
import uuid

import pytest
import requests
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException, RestException


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def api(server, method, path, **kwargs):
    return requests.request(method, f"{server.url}/api/2.0/mlflow/{path}", timeout=60, **kwargs)


def error_code(excinfo):
    return excinfo.value.error_code


# The fluent API, as a simulation script uses it.

def test_fluent_run_records_params_metrics_tags_and_status(tracking):
    import mlflow
    experiment_id = mlflow.set_experiment(unique("fluent")).experiment_id
    with mlflow.start_run(run_name="design-7") as run:
        mlflow.log_params({"solver_type": "hybrid", "battery_kwh": "400"})
        mlflow.log_param("pv_kw", 250)
        mlflow.log_metric("total_cost", 1234.5)
        mlflow.log_metrics({"renewable_fraction": 0.82, "total_co2": 311.0})
        for step in range(5):
            mlflow.log_metric("soc", 0.1 * step, step=step)
        mlflow.set_tags({"site": "north", "study": "grid"})
        mlflow.set_tag("stage", "sweep")
    stored = tracking.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.experiment_id == experiment_id
    assert stored.info.run_name == "design-7"
    assert stored.info.end_time is not None and stored.info.end_time >= stored.info.start_time
    assert stored.data.params == {"solver_type": "hybrid", "battery_kwh": "400", "pv_kw": "250"}
    assert stored.data.metrics["total_cost"] == 1234.5
    assert stored.data.metrics["renewable_fraction"] == 0.82
    assert stored.data.metrics["soc"] == pytest.approx(0.4)
    assert stored.data.tags["site"] == "north" and stored.data.tags["stage"] == "sweep"
    assert stored.data.tags["mlflow.runName"] == "design-7"


def test_a_run_that_raises_ends_failed(tracking):
    import mlflow
    mlflow.set_experiment(unique("failing"))
    with pytest.raises(ValueError):
        with mlflow.start_run() as run:
            mlflow.log_metric("x", 1)
            raise ValueError("solver diverged")
    assert tracking.get_run(run.info.run_id).info.status == "FAILED"


def test_a_run_without_a_name_gets_one(tracking):
    experiment_id = tracking.create_experiment(unique("names"))
    run = tracking.create_run(experiment_id)
    assert run.info.run_name
    assert tracking.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


# Search: filters, orderings, pagination.

@pytest.fixture()
def design_study(tracking):
    experiment_id = tracking.create_experiment(unique("study"))
    designs = []
    for index in range(30):
        solver = ["hybrid", "milp", "heuristic"][index % 3]
        cost = 100.0 + (index * 37) % 97
        renewable = (index % 10) / 10
        run = tracking.create_run(experiment_id, run_name=f"design-{index}", tags={"site": ["north", "south"][index % 2]})
        tracking.log_batch(
            run.info.run_id,
            metrics=[Metric("total_cost", cost, 1000 + index, 0), Metric("renewable_fraction", renewable, 1000 + index, 0)],
            params=[Param("solver_type", solver), Param("battery_kwh", str(index * 10))],
        )
        if index % 4 == 0:
            tracking.set_terminated(run.info.run_id, "FINISHED")
        designs.append({"id": run.info.run_id, "solver": solver, "cost": cost, "renewable": renewable, "index": index})
    return experiment_id, designs


def test_search_cheapest_hybrid_designs(tracking, design_study):
    experiment_id, designs = design_study
    runs = tracking.search_runs(
        [experiment_id], "metrics.total_cost < 150 and params.solver_type = 'hybrid'", order_by=["metrics.total_cost ASC"], max_results=5
    )
    expected = sorted((d for d in designs if d["cost"] < 150 and d["solver"] == "hybrid"), key=lambda d: (d["cost"], d["id"]))[:5]
    assert [r.info.run_id for r in runs] == [d["id"] for d in expected]
    assert all(r.data.params["solver_type"] == "hybrid" for r in runs)


@pytest.mark.parametrize(
    "filter_string, predicate",
    [
        ("metrics.renewable_fraction > 0.5", lambda d: d["renewable"] > 0.5),
        ("metrics.renewable_fraction >= 0.5", lambda d: d["renewable"] >= 0.5),
        ("metrics.total_cost <= 120", lambda d: d["cost"] <= 120),
        ("metrics.total_cost != 100", lambda d: d["cost"] != 100),
        ("params.solver_type != 'milp'", lambda d: d["solver"] != "milp"),
        ("params.solver_type LIKE 'h%'", lambda d: d["solver"].startswith("h")),
        ("params.solver_type ILIKE '%MILP%'", lambda d: d["solver"] == "milp"),
        ("tags.site != 'north'", lambda d: d["index"] % 2 == 1),
        ("tags.site = 'north'", lambda d: d["index"] % 2 == 0),
        ("attributes.status = 'FINISHED'", lambda d: d["index"] % 4 == 0),
        ("attributes.run_name = 'design-3'", lambda d: d["index"] == 3),
        ("attributes.run_name LIKE 'design-1%'", lambda d: str(d["index"]).startswith("1")),
        ("metrics.total_cost > 150 and tags.site = 'south'", lambda d: d["cost"] > 150 and d["index"] % 2 == 1),
    ],
)
def test_search_filters_match_the_reference(tracking, design_study, filter_string, predicate):
    experiment_id, designs = design_study
    runs = tracking.search_runs([experiment_id], filter_string, max_results=1000)
    assert sorted(r.info.run_id for r in runs) == sorted(d["id"] for d in designs if predicate(d))


@pytest.mark.parametrize(
    "order_by, key",
    [
        (["metrics.total_cost ASC"], lambda d: (d["cost"], d["id"])),
        (["metrics.total_cost DESC"], lambda d: (-d["cost"], d["id"])),
        (["params.battery_kwh ASC"], lambda d: (str(d["index"] * 10), d["id"])),
        (["attributes.run_name ASC"], lambda d: (f"design-{d['index']}", d["id"])),
    ],
)
def test_search_orders_match_the_reference(tracking, design_study, order_by, key):
    experiment_id, designs = design_study
    runs = tracking.search_runs([experiment_id], order_by=order_by, max_results=1000)
    assert [r.info.run_id for r in runs] == [d["id"] for d in sorted(designs, key=key)]


def test_search_pages_cover_every_run_once(tracking, design_study):
    experiment_id, designs = design_study
    seen, token, pages = [], None, 0
    while True:
        page = tracking.search_runs([experiment_id], order_by=["metrics.total_cost ASC"], max_results=7, page_token=token)
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == len(designs)
    assert seen == [d["id"] for d in sorted(designs, key=lambda d: (d["cost"], d["id"]))]


def test_search_with_a_malformed_filter_is_invalid_parameter_value(tracking, design_study):
    experiment_id, _ = design_study
    with pytest.raises(MlflowException) as excinfo:
        tracking.search_runs([experiment_id], "metrics.total_cost <")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_deleted_runs_follow_the_view_type(tracking, design_study):
    experiment_id, designs = design_study
    victim = designs[0]["id"]
    tracking.delete_run(victim)
    assert tracking.get_run(victim).info.lifecycle_stage == "deleted"
    active = {r.info.run_id for r in tracking.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000)}
    deleted = {r.info.run_id for r in tracking.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY, max_results=1000)}
    every = {r.info.run_id for r in tracking.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000)}
    assert victim not in active and deleted == {victim} and len(every) == len(designs)
    tracking.restore_run(victim)
    assert tracking.get_run(victim).info.lifecycle_stage == "active"


# Values and limits.

def test_metric_history_keeps_every_point_in_order(tracking):
    experiment_id = tracking.create_experiment(unique("history"))
    run_id = tracking.create_run(experiment_id).info.run_id
    points = [Metric("soc", step / 100, 10_000 + step, step) for step in range(250)]
    for start in range(0, len(points), 100):
        tracking.log_batch(run_id, metrics=points[start:start + 100])
    history = tracking.get_metric_history(run_id, "soc")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(p.step, p.value, p.timestamp) for p in points]


def test_nan_and_infinities_are_stored_as_mlflow_stores_them(tracking):
    experiment_id = tracking.create_experiment(unique("nan"))
    run_id = tracking.create_run(experiment_id).info.run_id
    tracking.log_metric(run_id, "a", float("nan"), timestamp=1, step=0)
    tracking.log_metric(run_id, "b", float("inf"), timestamp=1, step=0)
    tracking.log_metric(run_id, "c", float("-inf"), timestamp=1, step=0)
    metrics = tracking.get_run(run_id).data.metrics
    assert math.isnan(metrics["a"])
    # MLflow's server clamps infinities to the largest finite doubles; so does RunLedger's MLflow API.
    assert metrics["b"] == 1.7976931348623157e308 and metrics["c"] == -1.7976931348623157e308
    assert math.isnan(tracking.get_metric_history(run_id, "a")[0].value)


def test_long_values_round_trip(tracking):
    experiment_id = tracking.create_experiment(unique("long"))
    run_id = tracking.create_run(experiment_id).info.run_id
    tracking.log_param(run_id, "notes", "p" * 6000)
    tracking.set_tag(run_id, "description", "t" * 8000)
    run = tracking.get_run(run_id)
    assert run.data.params["notes"] == "p" * 6000
    assert run.data.tags["description"] == "t" * 8000


def test_a_key_over_250_characters_is_refused(tracking):
    experiment_id = tracking.create_experiment(unique("keys"))
    run_id = tracking.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as excinfo:
        tracking.log_metric(run_id, "k" * 251, 1.0)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_batch_limits_are_mlflows(server, tracking):
    experiment_id = tracking.create_experiment(unique("limits"))
    run_id = tracking.create_run(experiment_id).info.run_id
    metric = lambda i: {"key": "m", "value": i, "timestamp": 1, "step": i}
    ok = api(server, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": [metric(i) for i in range(1000)]})
    assert ok.status_code == 200, ok.text
    too_many = api(server, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": [metric(i) for i in range(1001)]})
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    params = api(server, "POST", "runs/log-batch", json={"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]})
    assert params.status_code == 400 and params.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert len(tracking.get_metric_history(run_id, "m")) == 1000


# Errors, in MLflow's codes and statuses.

def test_unknown_run_is_resource_does_not_exist(server, tracking):
    with pytest.raises(MlflowException) as excinfo:
        tracking.get_run(uuid.uuid4().hex)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    response = api(server, "GET", "runs/get", params={"run_id": uuid.uuid4().hex})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST" and response.json()["message"]


def test_unknown_experiment_is_resource_does_not_exist(server, tracking):
    response = api(server, "GET", "experiments/get", params={"experiment_id": "987654"})
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert tracking.get_experiment_by_name(unique("missing")) is None


def test_duplicate_experiment_is_resource_already_exists(server, tracking):
    name = unique("dup")
    tracking.create_experiment(name)
    with pytest.raises(MlflowException) as excinfo:
        tracking.create_experiment(name)
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"
    assert api(server, "POST", "experiments/create", json={"name": name}).status_code == 400


def test_changing_a_logged_param_is_invalid_parameter_value(tracking):
    experiment_id = tracking.create_experiment(unique("params"))
    run_id = tracking.create_run(experiment_id).info.run_id
    tracking.log_param(run_id, "solver_type", "hybrid")
    tracking.log_param(run_id, "solver_type", "hybrid")
    with pytest.raises(MlflowException) as excinfo:
        tracking.log_param(run_id, "solver_type", "milp")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "path, body",
    [
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": 1}),  # no run id
        ("runs/log-metric", {"run_id": "RUN", "key": "m", "timestamp": 1}),  # no value
        ("runs/log-metric", {"run_id": "RUN", "key": "m", "value": "high", "timestamp": 1}),  # a word for a number
        ("runs/log-metric", {"run_id": "RUN", "key": "m", "value": 1.0, "timestamp": "soon"}),
        ("runs/log-batch", {"run_id": "RUN", "metrics": "all of them"}),
        ("experiments/create", {}),
    ],
)
def test_malformed_requests_are_400_with_mlflows_body(server, tracking, path, body):
    run_id = tracking.create_run(tracking.create_experiment(unique("bad"))).info.run_id
    body = {k: (run_id if v == "RUN" else v) for k, v in body.items()}
    response = api(server, "POST", path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Traceback" not in response.text


def test_tags_set_and_delete(tracking):
    run_id = tracking.create_run(tracking.create_experiment(unique("tags"))).info.run_id
    tracking.set_tag(run_id, "phase", "one")
    tracking.set_tag(run_id, "phase", "two")
    assert tracking.get_run(run_id).data.tags["phase"] == "two"
    tracking.delete_tag(run_id, "phase")
    assert "phase" not in tracking.get_run(run_id).data.tags
    with pytest.raises(MlflowException):
        tracking.delete_tag(run_id, "phase")


# Experiments.

def test_experiments_update_delete_restore_and_search(tracking):
    prefix = unique("exp")
    first = tracking.create_experiment(prefix + "-a", tags={"team": "grid"})
    second = tracking.create_experiment(prefix + "-b")
    tracking.set_experiment_tag(second, "team", "heat")
    tracking.rename_experiment(first, prefix + "-renamed")
    assert tracking.get_experiment(first).name == prefix + "-renamed"
    assert tracking.get_experiment_by_name(prefix + "-renamed").experiment_id == first
    found = tracking.search_experiments(filter_string=f"name LIKE '{prefix}%'")
    assert {e.experiment_id for e in found} == {first, second}
    assert [e.experiment_id for e in tracking.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.team = 'heat'")] == [second]
    tracking.delete_experiment(second)
    assert tracking.get_experiment(second).lifecycle_stage == "deleted"
    active = {e.experiment_id for e in tracking.search_experiments(filter_string=f"name LIKE '{prefix}%'")}
    deleted = {e.experiment_id for e in tracking.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}%'")}
    assert active == {first} and deleted == {second}
    tracking.restore_experiment(second)
    assert tracking.get_experiment(second).lifecycle_stage == "active"


# Differences found by running MLflow side by side; each is MLflow's behaviour.

@pytest.mark.parametrize("ending", ["FINISHED", "FAILED", "KILLED"])
def test_an_ended_run_resumes_as_running(tracking, ending):
    import mlflow
    mlflow.set_experiment(unique("resume"))
    with mlflow.start_run() as run:
        mlflow.log_metric("soc", 0.1, step=0)
    run_id = run.info.run_id
    tracking.set_terminated(run_id, ending)
    ended = tracking.get_run(run_id).info
    assert ended.status == ending
    with mlflow.start_run(run_id=run_id):
        assert tracking.get_run(run_id).info.status == "RUNNING"
        mlflow.log_metric("soc", 0.2, step=1)
    resumed = tracking.get_run(run_id)
    assert resumed.info.status == "FINISHED" and resumed.info.end_time >= ended.end_time
    assert [m.step for m in tracking.get_metric_history(run_id, "soc")] == [0, 1]


def test_order_ties_break_by_start_time_newest_first_then_run_id(tracking):
    experiment_id = tracking.create_experiment(unique("ties"))
    runs = []
    for index in range(12):
        start = 1_000_000 + (index % 3) * 1000
        run_id = tracking.create_run(experiment_id, start_time=start).info.run_id
        tracking.log_metric(run_id, "total_cost", float(index % 2), timestamp=1, step=0)
        runs.append((run_id, start, float(index % 2)))
    by_cost = tracking.search_runs([experiment_id], order_by=["metrics.total_cost ASC"], max_results=100)
    assert [r.info.run_id for r in by_cost] == [r for r, _, _ in sorted(runs, key=lambda t: (t[2], -t[1], t[0]))]
    # A key that no run has ties them all.
    by_missing = tracking.search_runs([experiment_id], order_by=["metrics.absent DESC"], max_results=100)
    assert [r.info.run_id for r in by_missing] == [r for r, _, _ in sorted(runs, key=lambda t: (-t[1], t[0]))]
    default = tracking.search_runs([experiment_id], max_results=100)
    assert [r.info.run_id for r in default] == [r for r, _, _ in sorted(runs, key=lambda t: (-t[1], t[0]))]
    # Paging keeps the tie-break.
    paged, token = [], None
    while True:
        page = tracking.search_runs([experiment_id], order_by=["metrics.total_cost DESC"], max_results=5, page_token=token)
        paged += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert paged == [r for r, _, _ in sorted(runs, key=lambda t: (-t[2], -t[1], t[0]))]


def test_metric_history_is_ordered_by_timestamp_then_step_then_value(server, tracking):
    run_id = tracking.create_run(tracking.create_experiment(unique("order"))).info.run_id
    points = [Metric("x", 5.0, 300, 1), Metric("x", 1.0, 100, 9), Metric("x", 3.0, 200, 4), Metric("x", 2.0, 200, 2), Metric("x", 0.5, 200, 2)]
    tracking.log_batch(run_id, metrics=points)
    expected = sorted(((p.timestamp, p.step, p.value) for p in points))
    assert [(m.timestamp, m.step, m.value) for m in tracking.get_metric_history(run_id, "x")] == expected
    paged, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "x", "max_results": 2, **({"page_token": token} if token else {})}
        answer = api(server, "GET", "metrics/get-history", params=params).json()
        paged += [(m["timestamp"], int(m["step"]), m["value"]) for m in answer["metrics"]]
        token = answer.get("next_page_token")
        if not token:
            break
    assert [(int(t), s, v) for t, s, v in paged] == expected


def test_experiment_tags_are_deleted_and_a_missing_one_is_resource_does_not_exist(tracking):
    experiment_id = tracking.create_experiment(unique("etags"), tags={"team": "grid", "site": "north"})
    tracking.delete_experiment_tag(experiment_id, "team")
    assert tracking.get_experiment(experiment_id).tags == {"site": "north"}
    with pytest.raises(MlflowException) as excinfo:
        tracking.delete_experiment_tag(experiment_id, "team")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_deleting_an_experiment_deletes_its_runs_and_restoring_restores_them_all(server, tracking):
    experiment_id = tracking.create_experiment(unique("lifecycle"))
    kept = tracking.create_run(experiment_id).info.run_id
    deleted_before = tracking.create_run(experiment_id).info.run_id
    tracking.delete_run(deleted_before)
    tracking.delete_experiment(experiment_id)
    assert {tracking.get_run(r).info.lifecycle_stage for r in (kept, deleted_before)} == {"deleted"}
    assert tracking.search_runs([experiment_id]) == []
    assert {r.info.run_id for r in tracking.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)} == {kept, deleted_before}
    refusals = [
        (lambda: tracking.delete_experiment(experiment_id), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: tracking.set_experiment_tag(experiment_id, "k", "v"), "INVALID_PARAMETER_VALUE"),
        (lambda: tracking.create_run(experiment_id), "INVALID_PARAMETER_VALUE"),
        (lambda: tracking.log_metric(kept, "m", 1.0), "INVALID_PARAMETER_VALUE"),
    ]
    for attempt, code in refusals:
        with pytest.raises(MlflowException) as excinfo:
            attempt()
        assert error_code(excinfo) == code
    # MLflow answers INVALID_STATE with HTTP 500 (which its client retries); RunLedger with 400.
    rename = api(server, "POST", "experiments/update", json={"experiment_id": experiment_id, "new_name": unique("renamed")})
    assert rename.status_code in (400, 500) and rename.json()["error_code"] == "INVALID_STATE"
    tracking.restore_experiment(experiment_id)
    assert {tracking.get_run(r).info.lifecycle_stage for r in (kept, deleted_before)} == {"active"}
    with pytest.raises(MlflowException) as excinfo:
        tracking.restore_experiment(experiment_id)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_a_batch_naming_a_param_twice_is_refused_and_writes_nothing(server, tracking):
    run_id = tracking.create_run(tracking.create_experiment(unique("dupes"))).info.run_id
    body = {"run_id": run_id, "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "1"}], "metrics": [{"key": "m", "value": 1, "timestamp": 1}]}
    response = api(server, "POST", "runs/log-batch", json=body)
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    stored = tracking.get_run(run_id).data
    assert stored.params == {} and stored.metrics == {}


def test_every_experiment_keeps_its_artifacts_on_the_server(tracking):
    assert tracking.get_experiment("0").artifact_location == "mlflow-artifacts:/0"
    experiment_id = tracking.create_experiment(unique("artifacts"))
    assert tracking.get_experiment(experiment_id).artifact_location == f"mlflow-artifacts:/{experiment_id}"
    run = tracking.create_run("0")
    assert run.info.artifact_uri == f"mlflow-artifacts:/0/{run.info.run_id}/artifacts"


# Concurrency.

def test_eight_threads_logging_at_once_lose_nothing(tracking):
    experiment_id = tracking.create_experiment(unique("threads"))
    run_ids = [tracking.create_run(experiment_id).info.run_id for _ in range(8)]
    failures = []

    def work(run_id):
        try:
            for batch in range(5):
                metrics = [Metric("load", float(batch * 100 + i), 1000 + batch * 100 + i, batch * 100 + i) for i in range(100)]
                tracking.log_batch(run_id, metrics=metrics, params=[Param(f"p{batch}", str(batch))], tags=[RunTag("worker", run_id[:6])])
            tracking.set_terminated(run_id)
        except Exception as error:  # reported below, with the thread's run id
            failures.append((run_id, error))

    threads = [threading.Thread(target=work, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for run_id in run_ids:
        run = tracking.get_run(run_id)
        assert run.info.status == "FINISHED" and len(run.data.params) == 5
        assert [m.step for m in tracking.get_metric_history(run_id, "load")] == list(range(500))
