"""Artifacts through the official client, each test against RunLedger and a real `mlflow server` (which serves
artifacts by default, as `--serve-artifacts`): files, folders, texts, dicts, tables, images, figures, listings,
downloads, overwrites, deletes, and path-traversal attempts."""
import http.client
import json
import os
import urllib.parse
import uuid

import pytest


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start(tracking):
    import mlflow
    mlflow.set_experiment(unique("artifacts"))
    return mlflow.start_run()


def raw(server, method, path, body=None, headers=None):
    """A request sent byte for byte as written: no client library normalises `..` or escapes here."""
    parsed = urllib.parse.urlparse(server.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data, {name.lower(): value for name, value in response.getheaders()}


def test_files_folders_and_binary_bytes_round_trip(tracking, tmp_path):
    import mlflow
    folder = tmp_path / "results"
    (folder / "plots and tables").mkdir(parents=True)
    (folder / "dispatch.csv").write_text("hour,soc\n0,0.5\n1,0.6\n")
    (folder / "plots and tables" / "résumé ø.txt").write_text("naïve café ✓\n", encoding="utf-8")
    # Larger than the JSON body limit (16 MiB), and not text.
    blob = os.urandom(20 * 1024 * 1024 + 17)
    (tmp_path / "state.bin").write_bytes(blob)
    with start(tracking) as run:
        mlflow.log_artifacts(str(folder), artifact_path="study")
        mlflow.log_artifact(str(tmp_path / "state.bin"))
        mlflow.log_artifact(str(tmp_path / "state.bin"), artifact_path="copies/deep/er")
    run_id = run.info.run_id
    top = tracking.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("copies", True), ("state.bin", False), ("study", True)]
    assert [f.file_size for f in top if not f.is_dir] == [len(blob)]
    study = tracking.list_artifacts(run_id, "study")
    assert [(f.path, f.is_dir) for f in study] == [("study/dispatch.csv", False), ("study/plots and tables", True)]
    nested = tracking.list_artifacts(run_id, "study/plots and tables")
    assert [f.path for f in nested] == ["study/plots and tables/résumé ø.txt"]
    target = tmp_path / "download"
    target.mkdir()
    local = tracking.download_artifacts(run_id, "", str(target))
    assert (target / "state.bin").read_bytes() == blob
    assert (target / "copies" / "deep" / "er" / "state.bin").read_bytes() == blob
    assert (target / "study" / "plots and tables" / "résumé ø.txt").read_text(encoding="utf-8") == "naïve café ✓\n"
    assert os.path.samefile(local, target)
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/study/dispatch.csv") == "hour,soc\n0,0.5\n1,0.6\n"


def test_texts_dicts_tables_images_and_figures(tracking):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow
    import numpy
    import pandas
    import yaml
    with start(tracking) as run:
        mlflow.log_text("converged after 41 iterations\n", "notes/solver.log")
        mlflow.log_dict({"battery_kwh": 400, "site": "north"}, "config.json")
        mlflow.log_dict({"pv_kw": 250}, "config.yaml")
        table = pandas.DataFrame({"hour": [0, 1, 2], "soc": [0.5, 0.61, 0.7]})
        mlflow.log_table(table, "dispatch.json")
        image = (numpy.arange(48, dtype=numpy.uint8).reshape(4, 4, 3) * 5)
        mlflow.log_image(image, "plots/heat.png")
        figure, axes = plt.subplots()
        axes.plot([0, 1, 2], [0.5, 0.61, 0.7])
        mlflow.log_figure(figure, "plots/soc.png")
        plt.close(figure)
    run_id = run.info.run_id
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/solver.log") == "converged after 41 iterations\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"battery_kwh": 400, "site": "north"}
    assert yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/config.yaml")) == {"pv_kw": 250}
    loaded = mlflow.load_table("dispatch.json", run_ids=[run_id])
    assert list(loaded["soc"]) == pytest.approx([0.5, 0.61, 0.7])
    image_back = mlflow.artifacts.load_image(f"runs:/{run_id}/plots/heat.png")
    assert numpy.array_equal(numpy.asarray(image_back), image)
    paths = {f.path for f in tracking.list_artifacts(run_id, "plots")}
    assert paths == {"plots/heat.png", "plots/soc.png"}
    assert {f.path for f in tracking.list_artifacts(run_id)} >= {"notes", "config.json", "config.yaml", "dispatch.json", "plots"}


def test_an_overwrite_replaces_the_file_and_runs_are_kept_apart(tracking):
    import mlflow
    with start(tracking) as first:
        mlflow.log_text("first version", "result.txt")
        mlflow.log_text("second, longer version", "result.txt")
    with mlflow.start_run() as second:
        mlflow.log_text("the other run", "result.txt")
    assert mlflow.artifacts.load_text(f"runs:/{first.info.run_id}/result.txt") == "second, longer version"
    assert mlflow.artifacts.load_text(f"runs:/{second.info.run_id}/result.txt") == "the other run"
    assert tracking.list_artifacts(first.info.run_id)[0].file_size == len("second, longer version")


def test_the_proxied_routes_list_download_ranges_and_delete(server, tracking):
    import mlflow
    with start(tracking) as run:
        mlflow.log_text("0123456789", "a/b.txt")
    root = run.info.artifact_uri.split(":", 1)[1].lstrip("/")
    base = "/api/2.0/mlflow-artifacts/artifacts"
    status, body, _ = raw(server, "GET", f"{base}?path={urllib.parse.quote(root + '/a')}")
    assert status == 200 and json.loads(body)["files"][0]["path"] == "b.txt"
    status, body, headers = raw(server, "GET", f"{base}/{root}/a/b.txt")
    assert status == 200 and body == b"0123456789" and headers.get("content-length") == "10"
    status, body, _ = raw(server, "GET", f"{base}/{root}/a/missing.txt")
    assert status == 404
    status, body, _ = raw(server, "DELETE", f"{base}/{root}/a")
    assert status == 200
    assert tracking.list_artifacts(run.info.run_id) == []


TRAVERSALS = [
    "../escape.txt",
    "%2e%2e/escape.txt",
    "%2E%2E%2Fescape.txt",
    "a/../../escape.txt",
    "a/%2e%2e/%2e%2e/escape.txt",
    "..%2fescape.txt",
    "%2F..%2Fescape.txt",
    "0/%2e%2e/%2e%2e/escape.txt",
    "a%00/../../escape.txt",
    "..",
]
# A backslash is a separator on Windows only: RunLedger refuses it everywhere, MLflow on Linux stores `..\x` as one
# file name inside its root. Neither writes outside the root.
BACKSLASHES = ["..%5cescape.txt", "%2e%2e%5c%2e%2e%5cescape.txt"]


@pytest.mark.parametrize("spelling", TRAVERSALS + BACKSLASHES)
def test_path_traversal_is_refused(server, tracking, spelling):
    base = "/api/2.0/mlflow-artifacts/artifacts/"
    status, _, _ = raw(server, "PUT", base + spelling, body=b"not here", headers={"Content-Type": "text/plain"})
    if spelling in TRAVERSALS or server.name == "runledger":
        assert not 200 <= status < 300, f"PUT {spelling} answered {status}"
    assert not os.path.exists(os.path.join(server.folder, "escape.txt"))
    # The database file sits one level above the artifact root on both servers.
    database = "ledger.sqlite" if server.name == "runledger" else "mlflow.db"
    status, body, _ = raw(server, "GET", base + spelling.replace("escape.txt", database))
    assert not 200 <= status < 300 or not body.startswith(b"SQLite format"), f"GET {spelling} answered {status}"
    status, body, _ = raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts?path=" + spelling.replace("escape.txt", ""))
    assert not 200 <= status < 300 or database.encode() not in body, f"listing {spelling} answered {status}"
