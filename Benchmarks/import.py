"""`runledger import mlflow` against MLflow's own read rate, side by side in one run.

A fresh `mlflow server` (SQLite backend) is filled through the official client with RUNS runs, each with 3 params
and one metric of POINTS points (log_batch, 1000 points a call). Then, timed:
  1. MLflow's read rate: the official client reads everything the import reads (search_runs over all runs, and the
     whole history of each run's metric, which the client pages itself), one thread;
  2. `runledger import mlflow --no-artifacts` (release build) into a new SQLite file, one process.
Both read through the same server; the ratio shows whether the import is limited by MLflow's answers or by RunLedger.

Usage: python3 import.py --runledger BIN --mlflow EXE [--runs 100] [--points 2000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Server, free_port  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runledger", required=True)
    parser.add_argument("--mlflow", required=True)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--points", type=int, default=2000)
    arguments = parser.parse_args()
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, ViewType

    folder = tempfile.mkdtemp(prefix="runledger-bench-import-")
    port = free_port()
    os.makedirs(os.path.join(folder, "mlflow"))
    server = Server("MLflow", [os.path.abspath(arguments.mlflow), "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow/mlflow.db",
                               "--host", "127.0.0.1", "--port", str(port)], port, os.path.join(folder, "mlflow"))
    url = f"http://127.0.0.1:{port}"
    try:
        client = MlflowClient(url)
        experiment = client.create_experiment("import-bench")
        start = time.perf_counter()
        for index in range(arguments.runs):
            run_id = client.create_run(experiment, run_name=f"design-{index}").info.run_id
            client.log_batch(run_id, params=[Param("solver", "hybrid"), Param("battery_kwh", str(index)), Param("seed", "7")])
            for first in range(0, arguments.points, 1000):
                client.log_batch(run_id, metrics=[Metric("soc", (index * 31 + step) % 997 / 997, 1_700_000_000_000 + step, step)
                                                  for step in range(first, min(arguments.points, first + 1000))])
            client.set_terminated(run_id)
        filled = time.perf_counter() - start
        total = arguments.runs * arguments.points
        print(f"filled MLflow with {arguments.runs} runs x {arguments.points} points in {filled:.1f} s")

        start = time.perf_counter()
        read = 0
        runs = client.search_runs([experiment], run_view_type=ViewType.ALL, max_results=1000)
        for run in runs:
            read += len(client.get_metric_history(run.info.run_id, "soc"))
        client_seconds = time.perf_counter() - start
        assert read == total, (read, total)

        database = os.path.join(folder, "imported.sqlite")
        start = time.perf_counter()
        result = subprocess.run([arguments.runledger, "import", "mlflow", "--from", url, "--database", database, "--no-artifacts"],
                                check=True, capture_output=True, text=True)
        import_seconds = time.perf_counter() - start
        summary = json.loads(result.stdout)
        assert summary["metric_points"] == total and summary["runs"] == arguments.runs, summary
        again = time.perf_counter()
        subprocess.run([arguments.runledger, "import", "mlflow", "--from", url, "--database", database, "--no-artifacts"], check=True,
                       capture_output=True)
        second_seconds = time.perf_counter() - again

        print()
        print("| what | seconds | points/s |")
        print("|---|---|---|")
        print(f"| MLflow's client reading every run and history (MLflow's read rate) | {client_seconds:.2f} | {total / client_seconds:,.0f} |")
        print(f"| runledger import mlflow (reads the same, writes SQLite) | {import_seconds:.2f} | {total / import_seconds:,.0f} |")
        print(f"| a second import (every run skipped) | {second_seconds:.2f} | |")
        print(f"\nimport / MLflow's read rate: {client_seconds / import_seconds:.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
