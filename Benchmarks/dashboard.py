"""Times the Results Explorer in headless Chromium. The page records its own timings in window.runledgerTimings
(milliseconds since navigation for the first rows and the run page's charts; Enter-to-rows for a filter), so the
figures leave out WebDriver's round trips."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

FILTERS = ["metrics.renewable_fraction > 0.8", "params.solver_type = 'hybrid' and metrics.total_cost < 5000", "attributes.status = 'FAILED'"]


def timed(label, command):
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(f"{label}: {time.monotonic() - started:.1f} s")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--runs", type=int, default=100000, help="runs in the demo study (0: only the long-history run page)")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="runledger-dashboard-bench-")
    database = os.path.join(folder, "ledger.sqlite")
    try:
        if arguments.runs > 0:
            timed(f"runledger demo --runs {arguments.runs} --steps 24", [f"{arguments.bin}/runledger", "demo", "--runs", str(arguments.runs), "--steps", "24", "--database", database])
        timed("energy-study --runs 1 --steps 1000000 (5 metrics of 1M points)", [f"{arguments.bin}/energy-study", "--runs", "1", "--steps", "1000000", "--database", database,
                                                                               "--experiment", "long-history", "--spool", os.path.join(folder, "spool")])
        server = subprocess.Popen([f"{arguments.bin}/runledger", "serve", "--port", "0", "--database", database], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        url = "http://127.0.0.1:" + re.search(r":(\d+)", server.stdout.readline()).group(1)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")), options=options)
        try:
            experiments = get(url + "/api/2.0/runledger/experiments/list")["experiments"]
            study = next((e for e in experiments if e["experiment"]["name"] == "energy-design-study"), None)
            long = next(e for e in experiments if e["experiment"]["name"] == "long-history")
            timings = lambda: driver.execute_script("return window.runledgerTimings")
            first_rows, applied = [], {f: [] for f in FILTERS}
            for _ in range(arguments.repeat if study else 0):
                driver.get(f"{url}/experiments/{study['experiment']['experiment_id']}")
                WebDriverWait(driver, 60).until(lambda d: timings()["firstRows"] is not None)
                first_rows.append(timings()["firstRows"])
                for text in FILTERS:
                    before = len(timings()["filterApplied"])
                    box = driver.find_element(By.ID, "filter")
                    box.clear()
                    box.send_keys(text, Keys.ENTER)
                    WebDriverWait(driver, 60).until(lambda d: len(timings()["filterApplied"]) > before)
                    applied[text].append(timings()["filterApplied"][-1])
            run = get(url + "/api/2.0/mlflow/runs/search?experiment_ids=" + long["experiment"]["experiment_id"])["runs"][0]
            charts, first_chart = [], []
            for _ in range(arguments.repeat):
                driver.get(f"{url}/experiments/{long['experiment']['experiment_id']}/runs/{run['info']['run_id']}")
                WebDriverWait(driver, 120).until(lambda d: timings()["runChartsDrawn"] is not None)
                charts.append(timings()["runChartsDrawn"])
                first_chart.append(timings()["firstChartDrawn"])
            drawn = driver.find_elements(By.CSS_SELECTOR, "#run-charts .chart svg")
            print(f"\n| what ({arguments.repeat} times, Chromium headless) | median ms | min | max |\n|---|---:|---:|---:|")
            row = lambda label, values: print(f"| {label} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} |")
            if study:
                row(f"runs table, navigation to first rows ({study['run_count']} runs)", first_rows)
                for text, values in applied.items():
                    row(f"apply filter `{text}`", values)
            row("run page, navigation to its first chart drawn (a 1M-point history, downsampled to 600 buckets)", first_chart)
            row(f"run page, navigation to all {len(drawn)} charts drawn (each 1M points, fetched at once)", charts)
        finally:
            driver.quit()
            server.terminate()
            server.wait(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
