"""`runledger import mlflow` against a real `mlflow server` filled by the official client: experiments (one deleted),
runs (a deleted one, NaN/±inf, a 10 000-point history), nested artifacts and a logged model are imported, then
compared through both servers' APIs; a second import changes nothing; an import killed halfway and run again ends
identical; runs whose files the server does not proxy are imported and named in a warning."""
import json
import math
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import RUNLEDGER, serve, start_mlflow


def fill(url, folder):
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    client = MlflowClient(url)
    study = client.create_experiment("import-study", tags={"owner": "ops", "note": "é\u0301"})
    other = client.create_experiment("import-retired")
    runs = []
    for index in range(6):
        run = client.create_run(study, run_name=f"design-{index}", tags={"site": "north"})
        run_id = run.info.run_id
        client.log_batch(run_id, params=[Param("solver", "hybrid" if index % 2 else "milp"), Param("battery_kwh", str(index * 10))])
        client.log_batch(run_id, metrics=[
            Metric("total_cost", [1.5, math.nan, math.inf, -math.inf, -0.0, 1e-300][index], 1_700_000_000_000 + index, 0),
        ])
        runs.append(run_id)
    long_run = runs[0]
    for start in range(0, 10_000, 1000):
        client.log_batch(long_run, metrics=[Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step) for step in range(start, start + 1000)])
    artifacts = os.path.join(folder, "results")
    os.makedirs(os.path.join(artifacts, "plots", "deep"))
    with open(os.path.join(artifacts, "dispatch.csv"), "w") as handle:
        handle.write("hour,soc\n0,0.5\n")
    with open(os.path.join(artifacts, "plots", "deep", "curve.bin"), "wb") as handle:
        handle.write(bytes(range(256)) * 1000)
    client.log_artifacts(long_run, artifacts, "outputs")
    client.set_terminated(runs[1], "FAILED")
    client.set_terminated(runs[2], "FINISHED")
    client.delete_run(runs[3])
    retired = client.create_run(other, run_name="old")
    client.log_param(retired.info.run_id, "p", "v")
    client.set_terminated(retired.info.run_id)
    client.delete_experiment(other)
    model = client.create_logged_model(study, name="surrogate", source_run_id=long_run, params={"alpha": "0.5"}, tags={"kind": "gp"})
    model_files = os.path.join(folder, "model")
    os.makedirs(model_files)
    with open(os.path.join(model_files, "MLmodel"), "w") as handle:
        handle.write("flavors: {}\n")
    client.log_model_artifacts(model.model_id, model_files)
    client.finalize_logged_model(model.model_id, "READY")
    return runs + [retired.info.run_id]


def snapshot(url, download_to):
    """Everything the MLflow API shows of the imported experiments, in a comparable form."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType
    client = MlflowClient(url)
    result = {}
    for experiment in client.search_experiments(view_type=ViewType.ALL):
        if not experiment.name.startswith("import-"):
            continue
        tags = {k: v for k, v in experiment.tags.items() if not k.startswith("runledger.") and not k.startswith("mlflow.")}
        runs = {}
        for run in client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
            info = run.info
            histories = {key: [(m.step, m.timestamp, repr(m.value)) for m in sorted(
                client.get_metric_history(info.run_id, key), key=lambda m: (m.step, m.timestamp))] for key in run.data.metrics}
            files = {}
            target = os.path.join(download_to, info.run_id)
            os.makedirs(target, exist_ok=True)
            local = client.download_artifacts(info.run_id, "", target)
            for root, _, names in os.walk(local):
                for name in names:
                    path = os.path.join(root, name)
                    with open(path, "rb") as handle:
                        files[os.path.relpath(path, local)] = handle.read()
            runs[info.run_id] = {
                "name": info.run_name, "status": info.status, "start": info.start_time, "end": info.end_time,
                "user": info.user_id, "lifecycle": info.lifecycle_stage, "params": run.data.params,
                "tags": {k: v for k, v in run.data.tags.items() if k != "mlflow.artifactLocation"},
                "histories": histories, "files": files,
            }
        models = [(m.model_id, m.name, m.source_run_id, m.status.to_proto() if hasattr(m.status, "to_proto") else str(m.status),
                   m.params, {k: v for k, v in m.tags.items() if not k.startswith("mlflow.")})
                  for m in client.search_logged_models([experiment.experiment_id])] if experiment.lifecycle_stage == "active" else []
        result[experiment.name] = {"lifecycle": experiment.lifecycle_stage, "tags": tags, "runs": runs, "models": models}
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    if os.environ.get("RUNLEDGER_COMPAT_ONLY") == "runledger":
        pytest.skip("needs a real mlflow server")
    server = start_mlflow()
    try:
        runs = fill(server.url, str(tmp_path_factory.mktemp("fill")))
        yield server, runs
    finally:
        server.stop()


def run_import(url, database, *extra):
    result = subprocess.run([RUNLEDGER, "import", "mlflow", "--from", url, "--database", database, *extra], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_brings_everything_and_a_second_import_changes_nothing(source, tmp_path):
    server, runs = source
    database = str(tmp_path / "ledger.sqlite")
    summary = run_import(server.url, database)
    assert summary["runs"] == len(runs) and summary["skipped_runs"] == 0
    assert summary["experiments"] == 2
    assert summary["metric_points"] == 6 + 10_000
    assert summary["artifacts"] == 3 and summary["artifact_bytes"] == len("hour,soc\n0,0.5\n") + 256_000 + len("flavors: {}\n")
    again = run_import(server.url, database)
    assert again["runs"] == 0 and again["skipped_runs"] == len(runs) and again["metric_points"] == 0 and again["artifacts"] == 0
    folder = tempfile.mkdtemp(prefix="runledger-import-")
    imported = serve(folder, database)
    try:
        expected = snapshot(server.url, str(tmp_path / "from-mlflow"))
        found = snapshot(imported.url, str(tmp_path / "from-runledger"))
        assert set(found) == set(expected) == {"import-study", "import-retired"}
        for name in expected:
            assert found[name]["lifecycle"] == expected[name]["lifecycle"], name
            assert found[name]["tags"] == expected[name]["tags"], name
            assert found[name]["models"] == expected[name]["models"], name
            assert found[name]["runs"].keys() == expected[name]["runs"].keys(), name
            for run_id, run in expected[name]["runs"].items():
                assert found[name]["runs"][run_id] == run, run_id
    finally:
        imported.stop()


def test_a_name_clash_is_refused_unless_renamed(source, tmp_path):
    server, runs = source
    database = str(tmp_path / "ledger.sqlite")
    subprocess.run([RUNLEDGER, "demo", "--database", database, "--runs", "3", "--steps", "2", "--experiment", "import-study"], check=True,
                   capture_output=True)
    refused = subprocess.run([RUNLEDGER, "import", "mlflow", "--from", server.url, "--database", database], capture_output=True, text=True)
    assert refused.returncode == 2 and "--rename-prefix" in refused.stderr and refused.stdout == ""
    summary = run_import(server.url, database, "--rename-prefix", "mlflow-", "--experiment", "import-study", "--no-artifacts")
    assert summary["experiments"] == 1 and summary["artifacts"] == 0 and summary["runs"] == len(runs) - 1
    missing = subprocess.run([RUNLEDGER, "import", "mlflow", "--from", server.url, "--database", database, "--experiment", "no-such"],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no-such" in missing.stderr


def test_an_import_killed_halfway_resumes_and_ends_identical(source, tmp_path):
    server, runs = source
    complete = str(tmp_path / "complete.sqlite")
    run_import(server.url, complete)
    database = str(tmp_path / "ledger.sqlite")
    # stderr on a terminal, so that the progress bar shows each imported run: the kill follows the first one.
    leader, follower = pty.openpty()
    process = subprocess.Popen([RUNLEDGER, "import", "mlflow", "--from", server.url, "--database", database],
                               stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while b"runs: 2" not in seen:
        ready, _, _ = select.select([leader], [], [], 120)
        assert ready, "no progress within 120 s"
        chunk = os.read(leader, 4096)
        assert chunk, seen
        seen += chunk
    process.send_signal(signal.SIGKILL)
    process.wait()
    os.close(leader)
    summary = run_import(server.url, database)
    assert summary["skipped_runs"] >= 2 and summary["runs"] + summary["skipped_runs"] == len(runs)
    dumps = []
    for path in (complete, database):
        listing = subprocess.run([RUNLEDGER, "runs", "search", "--database", path, "--experiment", "import-study", "--view", "all", "--order-by",
                                  "attributes.run_name", "--format", "json"], capture_output=True, text=True, check=True)
        dumps.append(json.loads(listing.stdout))
    assert dumps[0] == dumps[1]
    history = [subprocess.run([RUNLEDGER, "metrics", "history", runs[0], "loss", "--database", path, "--format", "csv"],
                              capture_output=True, text=True, check=True).stdout for path in (complete, database)]
    assert history[0] == history[1] and history[0].count("\n") == 10_001
    shutil.rmtree(str(tmp_path / "runledger-artifacts"), ignore_errors=True)


def test_runs_whose_files_the_server_does_not_proxy_are_named_in_a_warning(tmp_path):
    if os.environ.get("RUNLEDGER_COMPAT_ONLY") == "runledger":
        pytest.skip("needs a real mlflow server")
    import mlflow
    # Without --serve-artifacts the client writes files straight into the artifact root, which the import cannot read.
    server = start_mlflow("--no-serve-artifacts", "--default-artifact-root", str(tmp_path / "files"))
    try:
        client = mlflow.MlflowClient(server.url)
        run = client.create_run(client.create_experiment("local-files"))
        client.log_param(run.info.run_id, "solver", "milp")
        note = tmp_path / "note.txt"
        note.write_text("kept where the client wrote it\n")
        client.log_artifact(run.info.run_id, str(note))
        client.set_terminated(run.info.run_id)
        result = subprocess.run([RUNLEDGER, "import", "mlflow", "--from", server.url, "--database", str(tmp_path / "ledger.sqlite")],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["runs"] == 1 and summary["params"] == 1 and summary["artifacts"] == 0, summary
        assert f"warning: Run {run.info.run_id}: its files at " in result.stderr and "were not imported" in result.stderr, result.stderr
    finally:
        server.stop()
