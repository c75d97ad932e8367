"""Uploading and downloading one large artifact: RunLedger's server against MLflow's (`--serve-artifacts`) and against
`cp` of the same file on the same disk, side by side in one run.

Each server is started fresh with its artifact folder in the work folder; `curl` sends the file with PUT to MLflow's
proxied artifact route (`/api/2.0/mlflow-artifacts/artifacts/…`) and reads it back with GET, so the client costs the
same for both; downloads go to /dev/null (and once more, untimed, to a file that is compared with the original).
The server's resident memory (its whole process tree) is sampled every 0.1 s; the growth is the peak
during the transfer minus the figure just before it. Every file is in the page cache (24 GiB of RAM), so this measures
the servers' copying, not the disk.

Usage: python3 artifacts.py --runledger BIN [--mlflow EXE] [--size-mib 1024] [--work DIR]
"""
import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Server, free_port  # noqa: E402

ROUTE = "/api/2.0/mlflow-artifacts/artifacts/bench/payload.bin"


def make_file(path, size):
    block = os.urandom(8 << 20)
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block[: min(len(block), size - written)])
            written += min(len(block), size - written)


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def transfer(server, source, target):
    """Upload then download through `server`; seconds and RSS growth (bytes) of each."""
    figures = {}
    url = f"http://127.0.0.1:{server.port}{ROUTE}"
    for name, command in [
        ("upload", ["curl", "-sS", "-f", "-H", "Expect:", "-T", source, url, "-o", os.devnull]),
        # To /dev/null: a download to a file on this disk measures the kernel's writeback of dirty pages, not the server.
        ("download", ["curl", "-sS", "-f", url, "-o", os.devnull]),
    ]:
        time.sleep(0.3)  # let the sampler see the idle figure
        before = server.rss()
        server.peak_rss = before
        figures[name] = timed(command)
        time.sleep(0.2)  # one more sample after the last byte
        figures[name + "_rss"] = max(0, server.peak_rss - before)
    subprocess.run(["curl", "-sS", "-f", url, "-o", target], check=True)
    if not filecmp.cmp(source, target, shallow=False):
        raise RuntimeError(f"{server.name}: the downloaded file differs from the uploaded one")
    os.remove(target)
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runledger", required=True)
    parser.add_argument("--mlflow")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--work", help="a folder on the disk to measure (default: a temporary folder under .build)")
    args = parser.parse_args()
    size = args.size_mib << 20
    os.makedirs(".build", exist_ok=True)
    work = os.path.abspath(tempfile.mkdtemp(prefix="bench-artifacts-", dir=args.work or ".build"))
    try:
        source = os.path.join(work, "source.bin")
        make_file(source, size)
        copy_seconds = timed(["cp", source, os.path.join(work, "copy.bin")])
        os.remove(os.path.join(work, "copy.bin"))

        results = {}
        targets = [("RunLedger", lambda folder, port: [os.path.abspath(args.runledger), "serve", "--port", "0",
                                                         "--database", os.path.join(folder, "ledger.sqlite"),
                                                         "--artifacts-destination", os.path.join(folder, "artifacts"),
                                                         "--max-artifact-size", str(2 * size)])]
        if args.mlflow:
            mlflow = os.path.abspath(args.mlflow) if os.sep in args.mlflow else args.mlflow
            targets.append(("MLflow", lambda folder, port: [mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                                                            "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
                                                            "--serve-artifacts", "--artifacts-destination", os.path.join(folder, "artifacts"),
                                                            "--workers", "1"]))
        for name, command in targets:
            folder = os.path.join(work, name.lower())
            os.makedirs(folder)
            port = 0 if name == "RunLedger" else free_port()
            server = Server(name, command(folder, port), port, folder)
            try:
                results[name] = transfer(server, source, os.path.join(work, "download.bin"))
            finally:
                server.stop()
            shutil.rmtree(os.path.join(folder, "artifacts"), ignore_errors=True)

        mib = size / 2**20
        print(f"{args.size_mib} MiB file; cp: {copy_seconds:.2f} s ({mib / copy_seconds:,.0f} MiB/s)")
        header = "| what | RunLedger | " + ("MLflow | " if "MLflow" in results else "") + "RunLedger / cp | " + \
                 ("RunLedger / MLflow |" if "MLflow" in results else "")
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        ours = results["RunLedger"]
        for op in ("upload", "download"):
            row = [f"{op} (MiB/s)", f"{mib / ours[op]:,.0f}"]
            if "MLflow" in results:
                row.append(f"{mib / results['MLflow'][op]:,.0f}")
            row.append(f"{copy_seconds / ours[op] * 100:.0f} %")
            if "MLflow" in results:
                row.append(f"{results['MLflow'][op] / ours[op]:.1f}×")
            print("| " + " | ".join(row) + " |")
        for op in ("upload", "download"):
            row = [f"server RSS growth during {op} (MiB)", f"{ours[op + '_rss'] / 2**20:.1f}"]
            if "MLflow" in results:
                row.append(f"{results['MLflow'][op + '_rss'] / 2**20:.1f}")
            row.append("")
            if "MLflow" in results:
                row.append("")
            print("| " + " | ".join(row) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
