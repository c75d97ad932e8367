"""Starts the servers the compatibility tests run against: RunLedger (`runledger serve`) and, as the reference,
a real `mlflow server` on SQLite. Every test runs once against each, so MLflow's behaviour is the truth."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNLEDGER = os.environ.get("RUNLEDGER_BIN", os.path.join(ROOT, ".build", "debug", "runledger"))

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url, process, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}/health")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url}/health did not answer within {seconds} s")


class Server:
    def __init__(self, name, url, process, folder, log):
        self.name, self.url, self.process, self.folder, self.log = name, url, process, folder, log

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def serve(folder, database, extra=()):
    """Starts `runledger serve --port 0` on `database`, its log in `folder`, and waits until it answers."""
    log = open(os.path.join(folder, "server.log"), "w")
    process = subprocess.Popen(
        [RUNLEDGER, "serve", "--port", "0", "--database", database, *extra],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:(\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"runledger serve printed {line!r} instead of its address")
    url = f"http://127.0.0.1:{match.group(1)}"
    wait_healthy(url, process, 30)
    return Server("runledger", url, process, folder, log)


def start_runledger(extra=(), prepare=None):
    """Starts `runledger serve` on a fresh SQLite file; `prepare(path)` may fill the file first."""
    folder = tempfile.mkdtemp(prefix="runledger-compat-")
    database = os.path.join(folder, "ledger.sqlite")
    if prepare:
        prepare(database)
    return serve(folder, database, extra)


def start_runledger_postgres():
    """Starts `runledger serve` on a fresh database of the test cluster ($RUNLEDGER_TEST_POSTGRES_URL), with its
    artifacts in a temporary folder."""
    base = os.environ["RUNLEDGER_TEST_POSTGRES_URL"]
    name = "compat_" + uuid.uuid4().hex[:16]
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    folder = tempfile.mkdtemp(prefix="runledger-compat-pg-")
    database = base.rsplit("/", 1)[0] + "/" + name
    return serve(folder, database, ["--artifacts-destination", os.path.join(folder, "artifacts")])


# The suites that run a third time on PostgreSQL when the test cluster is there: what the MLflow client sees must
# not depend on the backend.
POSTGRES_MODULES = {"test_mlflow_compat", "test_artifacts", "test_models", "test_routes"}
SERVERS = ["runledger", "mlflow"] + (["runledger-postgres"] if os.environ.get("RUNLEDGER_TEST_POSTGRES_URL") else [])


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("server") == "runledger-postgres"
        (dropped if on_postgres and item.module.__name__ not in POSTGRES_MODULES else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def start_mlflow(*extra):
    """A real `mlflow server` on SQLite in a fresh folder; `extra` goes on its command line."""
    folder = tempfile.mkdtemp(prefix="mlflow-compat-")
    port = free_port()
    log = open(os.path.join(folder, "server.log"), "w")
    process = subprocess.Popen(
        ["mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", *extra],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, 180)
    return Server("mlflow", url, process, folder, log)


@pytest.fixture(scope="session", params=SERVERS)
def server(request):
    if request.param == "mlflow" and os.environ.get("RUNLEDGER_COMPAT_ONLY") == "runledger":
        pytest.skip("RUNLEDGER_COMPAT_ONLY=runledger")
    starters = {"runledger": start_runledger, "runledger-postgres": start_runledger_postgres, "mlflow": start_mlflow}
    started = starters[request.param]()
    yield started
    started.stop()


@pytest.fixture()
def tracking(server, monkeypatch):
    """The official client pointed at the server under test."""
    import mlflow
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    yield mlflow.MlflowClient(server.url)
    while mlflow.active_run():
        mlflow.end_run()
