"""RunLedger's server against MLflow's, side by side in one run, speaking REST with Python's standard library only.

Each target is started fresh on an empty database, then driven through the same workloads:
  archive    per run: runs/create, runs/log-batch (10 params, 8 metrics, 2 tags), runs/update FINISHED; 8 threads
  telemetry  runs/log-batch of 1000 points per request into one run per thread; 8 threads
  ingest CPU the same requests from one thread: CPU seconds the server's process tree (and, on PostgreSQL, every
             `postgres` process of the machine: the database) spent per point
  search     `metrics.total_cost < X and params.solver_type = 'hybrid'`, order by total_cost, 5 results, over 200 runs
  history    metrics/get-history of a 10 000-point metric
and the server's peak resident memory (its whole process tree) is sampled throughout. Request bodies are built before
the clock starts and responses are parsed after it stops, so the figures measure the servers, not the client's JSON
encoding and decoding (Python's json.loads of a 10 000-point history alone takes about 7 ms).

Usage: python3 server.py --runledger BIN [--mlflow EXE] [--database-url URL_FOR_RUNLEDGER] [--mlflow-store URI] [--label L]
Prints one table; the figures go to --json FILE as well when asked.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

THREADS = 8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive connection; the benchmark fails loudly on any status but 200."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, method, route, body=None):
        payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            self.connection.request(method, "/api/2.0/mlflow/" + route, body=payload, headers=headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection (uvicorn does after 5 s): reconnect once.
            self.connection.close()
            self.connection.request(method, "/api/2.0/mlflow/" + route, body=payload, headers=headers)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {route}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def post(self, route, body):
        return self.call("POST", route, body)

    def get(self, route):
        return self.call("GET", route)

    def get_bytes(self, route):
        """The response body as it arrived: the clock stops at its last byte, before the client parses it."""
        self.connection.request("GET", "/api/2.0/mlflow/" + route)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {route}: {response.status} {data[:300]!r}")
        return data


class Server:
    def __init__(self, name, command, port, folder, environment=None):
        self.name, self.port, self.folder = name, port, folder
        self.log = open(os.path.join(folder, "server.log"), "w")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE if port == 0 else self.log, stderr=self.log,
                                        cwd=folder, text=True, env=environment, start_new_session=True)
        if port == 0:
            line = self.process.stdout.readline()
            match = re.search(r"http://[\d.]+:(\d+)", line)
            if not match:
                raise RuntimeError(f"{name} printed {line!r} instead of its address")
            self.port = int(match.group(1))
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {folder}/server.log")
            time.sleep(0.2)
        self.peak_rss = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def tree(self):
        """The server's pid and every process under it (MLflow runs workers)."""
        children = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    children.setdefault(int(fields[1]), []).append(int(entry))
                except OSError:
                    pass
        found, pending = [], [self.process.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(children.get(pid, []))
        return found

    def rss(self):
        """Resident bytes of the server's process tree."""
        total = 0
        for pid in self.tree():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def _sample(self):
        while self._sampling:
            self.peak_rss = max(self.peak_rss, self.rss())
            time.sleep(0.1)

    def stop(self):
        self._sampling = False
        self._sampler.join()
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, 9)
        self.log.close()


def cpu_seconds(pids):
    """User and system CPU seconds the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / ticks


def postgres_pids():
    """Every process called postgres on this machine (the benchmark's cluster: stop others first)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def ingest_cpu(server, experiment_id, requests, database):
    """CPU microseconds per point of the server (and the database) for `requests` log-batches of 1000 points sent
    from one thread."""
    client = Client(server.port)
    run = client.post("runs/create", {"experiment_id": experiment_id, "start_time": 0})["run"]["info"]["run_id"]
    bodies = [json.dumps({"run_id": run, "metrics": [
        {"key": f"k{i % 5}", "value": (r * 1000 + i) * 0.001, "timestamp": 1_700_000_000_000 + r * 1000 + i, "step": r * 200 + i // 5}
        for i in range(1000)]}).encode() for r in range(requests)]
    pids = server.tree()
    database_pids = postgres_pids() if database else []
    before = (cpu_seconds(pids), cpu_seconds(database_pids))
    for body in bodies:
        client.post("runs/log-batch", body)
    points = requests * 1000
    server_us = (cpu_seconds(pids) - before[0]) / points * 1e6
    database_us = (cpu_seconds(database_pids) - before[1]) / points * 1e6 if database else None
    return server_us, database_us


def in_threads(work):
    """Runs work(thread_index) on THREADS threads at once and returns the wall time; re-raises the first failure."""
    failures = []

    def guarded(index):
        try:
            work(index)
        except Exception as error:  # reported below, after every thread stopped
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return elapsed


def archive_bodies(experiment_id, count, seed):
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    bodies = []
    for n in range(count):
        solver = rng.choice(["hybrid", "pv_only", "wind_only", "diesel"])
        params = [{"key": f"p{i}", "value": str(rng.randint(0, 1000))} for i in range(9)]
        params.append({"key": "solver_type", "value": solver})
        metrics = [{"key": k, "value": rng.uniform(0, 1e6), "timestamp": now, "step": 0}
                   for k in ["total_cost", "total_co2", "renewable_fraction", "lcoe", "capex", "opex", "unmet_kwh", "curtailed_kwh"]]
        tags = [{"key": "design", "value": f"d{n}"}, {"key": "study", "value": "bench"}]
        create = json.dumps({"experiment_id": experiment_id, "start_time": now, "run_name": f"design-{n}"}).encode()
        bodies.append((create, params, metrics, tags))
    return bodies


def archive(port, experiment_id, count, seed):
    """Returns runs/s for `count` runs over THREADS threads."""
    bodies = archive_bodies(experiment_id, count, seed)
    shares = [bodies[i::THREADS] for i in range(THREADS)]
    end = int(time.time() * 1000)

    def work(index):
        client = Client(port)
        for create, params, metrics, tags in shares[index]:
            run_id = client.post("runs/create", create)["run"]["info"]["run_id"]
            client.post("runs/log-batch", json.dumps({"run_id": run_id, "params": params, "metrics": metrics, "tags": tags}).encode())
            client.post("runs/update", json.dumps({"run_id": run_id, "status": "FINISHED", "end_time": end}).encode())

    return count / in_threads(work)


def telemetry(port, experiment_id, requests_per_thread):
    """Returns points/s for THREADS threads each sending requests_per_thread log-batches of 1000 points."""
    client = Client(port)
    runs = [client.post("runs/create", {"experiment_id": experiment_id, "start_time": 0})["run"]["info"]["run_id"] for _ in range(THREADS)]
    bodies = [[json.dumps({"run_id": runs[t], "metrics": [
        {"key": f"k{i % 5}", "value": (r * 1000 + i) * 0.001, "timestamp": 1_700_000_000_000 + r * 1000 + i, "step": r * 200 + i // 5}
        for i in range(1000)]}).encode() for r in range(requests_per_thread)] for t in range(THREADS)]

    def work(index):
        client = Client(port)
        for body in bodies[index]:
            client.post("runs/log-batch", body)

    return THREADS * requests_per_thread * 1000 / in_threads(work)


def percentile50(samples):
    return statistics.median(samples) * 1000


def search(port, experiment_id, repetitions):
    client = Client(port)
    body = json.dumps({"experiment_ids": [experiment_id], "filter": "metrics.total_cost < 800000 and params.solver_type = 'hybrid'",
                       "order_by": ["metrics.total_cost ASC"], "max_results": 5}).encode()
    found = len(client.post("runs/search", body).get("runs", []))
    if found != 5:
        raise RuntimeError(f"the search found {found} runs, not 5")
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        client.post("runs/search", body)
        samples.append(time.perf_counter() - start)
    return percentile50(samples)


def history(port, experiment_id, repetitions):
    client = Client(port)
    run_id = client.post("runs/create", {"experiment_id": experiment_id, "start_time": 0})["run"]["info"]["run_id"]
    for chunk in range(10):
        client.post("runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "soc", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i, "step": i} for i in range(chunk * 1000, chunk * 1000 + 1000)]})
    route = f"metrics/get-history?run_id={run_id}&metric_key=soc&max_results=25000"
    points = len(client.get(route)["metrics"])
    if points != 10_000:
        raise RuntimeError(f"the history has {points} points, not 10000")
    samples = []
    for _ in range(repetitions):
        start = time.perf_counter()
        client.get_bytes(route)
        samples.append(time.perf_counter() - start)
    return percentile50(samples)


def measure(server, archive_runs, telemetry_requests, label, database=False):
    client = Client(server.port)
    tag = f"{label}-{int(time.time())}"
    figures = {}
    experiment = client.post("experiments/create", {"name": f"archive-{tag}"})["experiment_id"]
    figures["archive_runs_per_s"] = archive(server.port, experiment, archive_runs, 1)
    experiment = client.post("experiments/create", {"name": f"telemetry-{tag}"})["experiment_id"]
    figures["telemetry_points_per_s"] = telemetry(server.port, experiment, telemetry_requests)
    server_us, database_us = ingest_cpu(server, experiment, telemetry_requests * 4, database)
    figures["ingest_server_cpu_us_per_point"] = server_us
    if database_us is not None:
        figures["ingest_database_cpu_us_per_point"] = database_us
    experiment = client.post("experiments/create", {"name": f"search-{tag}"})["experiment_id"]
    archive(server.port, experiment, 200, 2)
    figures["search_p50_ms"] = search(server.port, experiment, 50)
    figures["history_p50_ms"] = history(server.port, experiment, 10)
    figures["peak_rss_mib"] = server.peak_rss / 2**20
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runledger", required=True, help="the runledger executable (a release build)")
    parser.add_argument("--mlflow", help="the mlflow executable; without it only RunLedger is measured")
    parser.add_argument("--database-url", help="RunLedger's database (default: a fresh SQLite file)")
    parser.add_argument("--mlflow-store", help="MLflow's --backend-store-uri (default: a fresh SQLite file)")
    parser.add_argument("--label", default="SQLite")
    parser.add_argument("--runledger-archive-runs", type=int, default=4000)
    parser.add_argument("--mlflow-archive-runs", type=int, default=240)
    parser.add_argument("--runledger-telemetry-requests", type=int, default=100, help="log-batches per thread")
    parser.add_argument("--mlflow-telemetry-requests", type=int, default=4, help="log-batches per thread")
    parser.add_argument("--json", help="also write the figures here")
    arguments = parser.parse_args()
    # The servers run in their own folders.
    arguments.runledger = os.path.abspath(arguments.runledger)
    if arguments.mlflow:
        arguments.mlflow = os.path.abspath(arguments.mlflow)

    results = {}
    folder = tempfile.mkdtemp(prefix="runledger-server-bench-")
    try:
        database = arguments.database_url or os.path.join(folder, "ledger.sqlite")
        os.makedirs(os.path.join(folder, "runledger"))
        server = Server("RunLedger", [arguments.runledger, "serve", "--port", "0", "--database", database], 0, os.path.join(folder, "runledger"))
        try:
            results["RunLedger"] = measure(
                server, arguments.runledger_archive_runs, arguments.runledger_telemetry_requests, "runledger", arguments.database_url is not None)
        finally:
            server.stop()
        if arguments.mlflow:
            os.makedirs(os.path.join(folder, "mlflow"))
            store = arguments.mlflow_store or f"sqlite:///{folder}/mlflow/mlflow.db"
            port = free_port()
            server = Server("MLflow", [arguments.mlflow, "server", "--backend-store-uri", store, "--host", "127.0.0.1", "--port", str(port)],
                            port, os.path.join(folder, "mlflow"))
            try:
                results["MLflow"] = measure(
                    server, arguments.mlflow_archive_runs, arguments.mlflow_telemetry_requests, "mlflow", arguments.mlflow_store is not None)
            finally:
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = [("archive (runs/s)", "archive_runs_per_s", True), ("telemetry (points/s)", "telemetry_points_per_s", True),
            ("ingest: server CPU/point (µs)", "ingest_server_cpu_us_per_point", False),
            ("ingest: database CPU/point (µs)", "ingest_database_cpu_us_per_point", False),
            ("search p50 (ms)", "search_p50_ms", False), ("10k-point history p50 (ms)", "history_p50_ms", False),
            ("server peak RSS (MiB)", "peak_rss_mib", False)]
    print(f"\n== {arguments.label}: {THREADS} client threads ==")
    print(f"| {'workload':<28} | {'RunLedger':>12} | {'MLflow':>12} | {'ratio':>8} |")
    print(f"|{'-' * 30}|{'-' * 13}:|{'-' * 13}:|{'-' * 9}:|")
    for title, key, higher_is_better in rows:
        ours = results["RunLedger"].get(key)
        theirs = results.get("MLflow", {}).get(key)
        if ours is None:
            continue
        ratio = "" if theirs is None else f"{(ours / theirs if higher_is_better else theirs / ours):.1f}x"
        def shown(value):
            return "" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:,.2f}")
        print(f"| {title:<28} | {shown(ours):>12} | {shown(theirs):>12} | {ratio:>8} |")
    print("ratio: how many times better RunLedger is (throughput: ours / theirs; latency and memory: theirs / ours)")
    if arguments.json:
        with open(arguments.json, "w") as f:
            json.dump({"label": arguments.label, **results}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
