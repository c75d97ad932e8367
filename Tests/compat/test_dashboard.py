"""The Results Explorer in a real browser: Debian's headless Chromium driven by selenium, against `runledger serve`
over a database filled by `runledger demo` plus one run with hostile text. Every view is checked against the API's
own answers and a screenshot of each goes to RUNLEDGER_SCREENSHOTS (default .build/dashboard-screenshots)."""
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import RUNLEDGER, ROOT, start_runledger

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = os.environ.get("RUNLEDGER_SCREENSHOTS", os.path.join(ROOT, ".build", "dashboard-screenshots"))
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TAG = '"><script>alert(1)</script>'
EXPERIMENT = "energy-design-study"



def api(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + "/api/2.0/" + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def fill(database):
    subprocess.run([RUNLEDGER, "demo", "--runs", "60", "--steps", "48", "--seed", "7", "--database", database], check=True, capture_output=True)


@pytest.fixture(scope="module")
def server():
    started = start_runledger(prepare=fill)
    experiment = api(started, "GET", f"mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}")["experiment"]
    started.experiment_id = experiment["experiment_id"]
    # One run whose name and tag are markup, with KPIs so that it appears in every view.
    run = api(started, "POST", "mlflow/runs/create", {"experiment_id": started.experiment_id, "run_name": HOSTILE_NAME, "start_time": int(time.time() * 1000)})["run"]
    started.hostile_id = run["info"]["run_id"]
    now = int(time.time() * 1000)
    api(started, "POST", "mlflow/runs/log-batch", {
        "run_id": started.hostile_id,
        "params": [{"key": "solver_type", "value": HOSTILE_TAG}, {"key": "battery_kwh", "value": "100"}],
        "tags": [{"key": "site", "value": HOSTILE_TAG}],
        "metrics": [{"key": "total_cost", "value": 1.0, "timestamp": now, "step": 0}, {"key": "total_co2", "value": 1.0, "timestamp": now, "step": 0}]
        + [{"key": "soc", "value": float(i % 7), "timestamp": now + i, "step": i} for i in range(20)],
    })
    api(started, "POST", "runledger/runs/log-events", {"run_id": started.hostile_id, "events": [
        {"kind": "tool_call", "level": "warning", "message": HOSTILE_NAME, "timestamp": now + 1, "payload": {"html": HOSTILE_TAG}},
        {"kind": "health_check", "level": "info", "message": "ok", "timestamp": now + 2},
    ]})
    api(started, "POST", "mlflow/runs/update", {"run_id": started.hostile_id, "status": "FINISHED", "end_time": now + 100})
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser():
    downloads = tempfile.mkdtemp(prefix="runledger-downloads-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    driver.downloads = downloads
    os.makedirs(SCREENSHOTS, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}")
    yield driver
    driver.quit()
    shutil.rmtree(downloads, ignore_errors=True)


def wait(driver, condition, seconds=20):
    return WebDriverWait(driver, seconds).until(lambda d: condition(d))


def no_dialog(driver):
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def injected(driver):
    """Elements the hostile text would have made had it been parsed as markup."""
    return driver.execute_script("return document.querySelectorAll('main img, main script').length")


def shot(driver, name):
    driver.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))


def open_runs(driver, server, query=""):
    driver.get(f"{server.url}/experiments/{server.experiment_id}{query}")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#run-count") and "run" in d.find_element(By.CSS_SELECTOR, "#run-count").text
         or d.find_elements(By.CSS_SELECTOR, "#filter-error .error"))


def shows_filter_error(driver, server, query):
    """Opens the experiment with `query` and a malformed filter; the view shows where the filter broke."""
    driver.get(f"{server.url}/experiments/{server.experiment_id}?{query}&filter=" + urllib.parse.quote("metrics.total_cost <"))
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#filter-error .caret"))
    assert "expected" in driver.find_element(By.CSS_SELECTOR, "#filter-error .error").text


def visible_runs(driver):
    return [row.get_attribute("data-run-id") for row in driver.find_elements(By.CSS_SELECTOR, "#runs-grid .grid-row")]


def column_cells(driver, column):
    """The text of one column in the rendered rows, in row order (rows are absolutely placed, so sort by top)."""
    rows = driver.execute_script(
        """
        const index = [...document.querySelectorAll('#runs-grid .grid-head .cell')].findIndex(c => c.dataset.column === arguments[0]);
        return [...document.querySelectorAll('#runs-grid .grid-row')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
            .map(r => r.children[index].textContent);
        """, column)
    return rows


def search_count(server, filter_text):
    runs, token = [], None
    while True:
        page = api(server, "POST", "mlflow/runs/search", {"experiment_ids": [server.experiment_id], "filter": filter_text, "max_results": 1000, "page_token": token})
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            return runs


def test_the_root_lists_experiments_with_run_counts(server, browser):
    browser.get(server.url + "/")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#experiments tbody tr"))
    row = browser.find_element(By.CSS_SELECTOR, f'#experiments tr[data-experiment-id="{server.experiment_id}"]')
    assert EXPERIMENT in row.text
    assert "61" in [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    search = browser.find_element(By.CSS_SELECTOR, "input[type=search]")
    search.send_keys("no-such-study")
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#experiments tbody tr"))
    shot(browser, "01-experiments")


def test_the_runs_table_shows_the_demo_runs_and_the_hostile_name_as_text(server, browser):
    open_runs(browser, server)
    assert browser.find_element(By.ID, "run-count").text == "61 runs"
    assert len(visible_runs(browser)) > 10
    names = column_cells(browser, "params.solver_type")
    assert set(names) <= {"heuristic", "milp", "hybrid", HOSTILE_TAG}
    link = browser.find_element(By.CSS_SELECTOR, f'.grid-row[data-run-id="{server.hostile_id}"] .run-link')
    assert link.text == HOSTILE_NAME
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "02-runs")


def test_a_filter_narrows_the_table_and_a_malformed_one_shows_where(server, browser):
    open_runs(browser, server)
    box = browser.find_element(By.ID, "filter")
    box.send_keys("params.solver_type = 'hybrid'", Keys.ENTER)
    expected = search_count(server, "params.solver_type = 'hybrid'")
    wait(browser, lambda d: d.find_element(By.ID, "run-count").text == f"{len(expected)} runs")
    assert 0 < len(expected) < 61
    assert set(column_cells(browser, "params.solver_type")) == {"hybrid"}
    assert sorted(visible_runs(browser)) == sorted(run["info"]["run_id"] for run in expected)
    shot(browser, "03-filtered")

    box = browser.find_element(By.ID, "filter")
    box.clear()
    box.send_keys("metrics.total_cost < 'cheap'", Keys.ENTER)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#filter-error .error"))
    error = browser.find_element(By.CSS_SELECTOR, "#filter-error .error").text
    assert "column 22" in error and "expected a number" in error
    caret = browser.find_element(By.CSS_SELECTOR, "#filter-error .caret").text.split("\n")
    assert caret[1].index("^") == 21
    shot(browser, "04-filter-error")


def test_clicking_a_header_sorts_by_that_kpi(server, browser):
    open_runs(browser, server)
    browser.find_element(By.CSS_SELECTOR, '#runs-grid .grid-head .cell[data-column="metrics.total_cost"]').click()
    wait(browser, lambda d: "sort=metrics.total_cost+ASC" in d.current_url and d.find_elements(By.CSS_SELECTOR, ".sorted-asc"))
    wait(browser, lambda d: len(visible_runs(d)) > 10)
    values = [cell for cell in column_cells(browser, "metrics.total_cost")]
    numbers = [float(v) for v in values if v]
    assert numbers == sorted(numbers) and len(numbers) > 10
    # Runs without the KPI (the demo's FAILED ones) come last.
    assert all(v == "" for v in values[len(numbers):])
    expected = api(server, "POST", "mlflow/runs/search", {"experiment_ids": [server.experiment_id], "order_by": ["metrics.total_cost ASC"], "max_results": 5})
    assert [run["info"]["run_id"] for run in expected["runs"]] == browser.execute_script(
        "return [...document.querySelectorAll('#runs-grid .grid-row')].sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top)).slice(0, 5).map(r => r.dataset.runId)")
    shot(browser, "05-sorted")


def test_comparing_three_runs_shows_their_params_side_by_side(server, browser):
    open_runs(browser, server)
    ids = [run_id for run_id in visible_runs(browser) if run_id != server.hostile_id][:2] + [server.hostile_id]
    for run_id in ids:
        browser.find_element(By.CSS_SELECTOR, f'.grid-row[data-run-id="{run_id}"] input[type=checkbox]').click()
    button = browser.find_element(By.ID, "compare-button")
    assert button.text == "Compare 3" and button.is_enabled()
    button.click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#compare-params tbody tr"))
    headers = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#compare-params thead th")][1:]
    runs = [api(server, "GET", f"mlflow/runs/get?run_id={run_id}")["run"] for run_id in ids]
    assert headers == [run["info"]["run_name"] for run in runs]
    solver = browser.find_element(By.CSS_SELECTOR, '#compare-params tr[data-key="params.solver_type"]')
    assert [cell.text for cell in solver.find_elements(By.TAG_NAME, "td")] == [
        next(p["value"] for p in run["data"]["params"] if p["key"] == "solver_type") for run in runs]
    assert "diff" in solver.get_attribute("class")
    best = browser.find_elements(By.CSS_SELECTOR, '#compare-metrics tr[data-key="metrics.total_cost"] td.best')
    assert [cell.text for cell in best] == ["1"]  # the hostile run's made-up cost is the lowest
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '.chart[data-metric="soc"] svg path'))
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "06-compare")


def test_the_design_space_draws_the_pareto_front(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=design&x=total_cost&y=renewable_fraction&xgoal=min&ygoal=max")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#scatter circle.dot"))
    front = api(server, "POST", "runledger/runs/pareto", {
        "experiment_ids": [server.experiment_id],
        "objectives": [{"metric": "total_cost", "goal": "minimize"}, {"metric": "renewable_fraction", "goal": "maximize"}]})["runs"]
    drawn = {dot.get_attribute("data-run-id") for dot in browser.find_elements(By.CSS_SELECTOR, "#scatter circle.dot.front")}
    assert drawn == {run["info"]["run_id"] for run in front if any(m["key"] == "renewable_fraction" for m in run["data"]["metrics"])}
    assert len(drawn) >= 2
    assert browser.find_elements(By.CSS_SELECTOR, "#scatter path.frontline")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#front-table tbody tr")) == len(front)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#parallel path.pc-line")) == 61
    shot(browser, "07-design")
    # Brushing an axis narrows the table under the parallel coordinates.
    browser.execute_script("document.querySelector('#parallel svg').brush(0, 0, 120)")
    text = browser.find_element(By.ID, "brushed-count").text
    inside = int(text.split(" ")[0])
    assert 0 <= inside < 61 and len(browser.find_elements(By.CSS_SELECTOR, "#brushed-table tbody tr")) == min(inside, 200)
    assert injected(browser) == 0 and no_dialog(browser)


def test_statistics_by_solver_match_the_api(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=stats&metric=total_cost&group=params.solver_type")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#stats-table tbody tr"))
    groups = api(server, "POST", "runledger/runs/statistics", {"experiment_ids": [server.experiment_id], "metric": "total_cost", "group_by": "params.solver_type"})["groups"]
    rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in browser.find_elements(By.CSS_SELECTOR, "#stats-table tbody tr")]
    assert [(row[0], int(row[1])) for row in rows] == [(g["group"], g["count"]) for g in groups]
    assert browser.find_elements(By.CSS_SELECTOR, "#stats-chart svg circle")
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "08-statistics")
    # The design-space and statistics views show a malformed filter's error as the runs table does.
    for view in ("stats", "design"):
        shows_filter_error(browser, server, f"view={view}")


def test_convergence_draws_every_run_and_the_best_so_far_as_the_api_computes_them(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=trend&metric=total_cost&group=params.solver_type")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#trend-table tbody tr"))
    points = api(server, "POST", "runledger/runs/trend", {
        "experiment_ids": [server.experiment_id], "metric": "total_cost", "goal": "minimize", "group_by": "params.solver_type"})["points"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#trend-table tbody tr")
    assert len(rows) == min(len(points), 500) and len(points) > 10
    # Newest first in the table; one dot a run and a best-so-far line a group in the chart.
    newest = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
    assert newest[0] == (points[-1]["run_name"] or points[-1]["run_id"]).strip()
    assert (newest[4] != "") == (points[-1]["best_so_far"] is not None)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trend-chart svg circle.dot")) == len(points)
    assert browser.find_elements(By.CSS_SELECTOR, '#trend-chart svg path[stroke-width="1.6"]')
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "10-convergence")


def test_over_time_draws_a_line_and_band_per_group_from_the_aggregation(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=over-time&metric=soc&bucket=steps:10&group=params.solver_type")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#over-time-table tbody tr"))
    buckets = api(server, "POST", "runledger/metrics/aggregate", {
        "experiment_ids": [server.experiment_id], "metrics": ["soc"], "bucket": "steps:10", "group_by": "params.solver_type"})["buckets"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#over-time-table tbody tr")
    assert len(rows) == len(buckets) and len(buckets) > 10
    # Row by row what the route answered: first step, group (the hostile one as text), count.
    for row, bucket in zip(rows, buckets):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:3] == [str(bucket["bucket_start"]), (bucket["group"] or "").strip(), str(bucket["count"])]
    groups = {bucket["group"] for bucket in buckets}
    assert HOSTILE_TAG in groups
    chart = browser.find_element(By.ID, "over-time-chart")
    assert len(chart.find_elements(By.CSS_SELECTOR, 'svg path[stroke-width="1.6"]')) + len(chart.find_elements(By.CSS_SELECTOR, "svg > circle")) == len(groups)
    assert chart.find_elements(By.CSS_SELECTOR, "svg polygon.band")
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "12-over-time")
    shows_filter_error(browser, server, "view=over-time&metric=soc&bucket=steps:1")


def test_events_across_runs_filter_by_level_and_kind_and_show_hostile_text_as_text(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=events")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#cross-events-table tbody tr"))
    everything = api(server, "POST", "runledger/events/search", {"experiment_ids": [server.experiment_id]})["events"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#cross-events-table tbody tr")
    assert [row.get_attribute("data-run") for row in rows] == [event["run_id"] for event in everything] and len(rows) == 2
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=events&level=warning")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#cross-events-table tbody tr")) == 1)
    row = browser.find_element(By.CSS_SELECTOR, "#cross-events-table tbody tr")
    assert row.get_attribute("data-level") == "warning" and row.get_attribute("data-run") == server.hostile_id
    assert row.find_elements(By.TAG_NAME, "td")[4].text == HOSTILE_NAME
    browser.get(f"{server.url}/experiments/{server.experiment_id}?view=events&kind=health_check&filter=" + urllib.parse.quote("attributes.status = 'FINISHED'"))
    wait(browser, lambda d: "1 event(s)" in d.find_element(By.ID, "events-count").text)
    assert browser.find_element(By.CSS_SELECTOR, "#cross-events-table tbody tr").get_attribute("data-level") == "info"
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "11-events")
    shows_filter_error(browser, server, "view=events")


def test_the_run_page_charts_every_metric_lists_events_and_shows_hostile_text_as_text(server, browser):
    browser.get(f"{server.url}/experiments/{server.experiment_id}/runs/{server.hostile_id}")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '.chart[data-metric="soc"] svg path'))
    assert browser.find_element(By.ID, "run-name").text == HOSTILE_NAME
    assert HOSTILE_TAG in browser.find_element(By.TAG_NAME, "main").text
    assert "20 points" in browser.find_element(By.CSS_SELECTOR, '.chart[data-metric="soc"] h3').text
    rows = browser.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")
    assert [row.get_attribute("data-level") for row in rows] == ["info", "warning"]
    assert rows[1].find_elements(By.TAG_NAME, "td")[3].text == HOSTILE_NAME
    assert injected(browser) == 0 and no_dialog(browser)
    shot(browser, "09-run")


def downloaded(browser, suffix, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [name for name in os.listdir(browser.downloads) if name.endswith(suffix)]
        if done:
            return os.path.join(browser.downloads, done[0])
        time.sleep(0.1)  # the browser writes the file on its own; there is no event to await from here
    raise AssertionError(f"no {suffix} download within {seconds} s")


def test_csv_and_xlsx_downloads_hold_the_filtered_rows(server, browser):
    import openpyxl

    open_runs(browser, server, "?filter=" + urllib.parse.quote("params.solver_type = 'milp'") + "&sort=" + urllib.parse.quote("metrics.total_cost ASC"))
    expected = api(server, "POST", "mlflow/runs/search", {"experiment_ids": [server.experiment_id], "filter": "params.solver_type = 'milp'", "order_by": ["metrics.total_cost ASC"]})["runs"]
    ids = [run["info"]["run_id"] for run in expected]
    browser.find_element(By.ID, "export-csv").click()
    with open(downloaded(browser, ".csv"), newline="") as file:
        rows = list(csv.reader(io.StringIO(file.read())))
    assert rows[0][:2] == ["run_id", "run_name"] and "params.solver_type" in rows[0] and "metrics.total_cost" in rows[0]
    assert [row[0] for row in rows[1:]] == ids
    assert {row[rows[0].index("params.solver_type")] for row in rows[1:]} == {"milp"}

    browser.find_element(By.ID, "export-xlsx").click()
    sheet = openpyxl.load_workbook(downloaded(browser, ".xlsx")).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0][:2]) == ["run_id", "run_name"]
    assert [row[0] for row in values[1:]] == ids
    cost = values[0].index("metrics.total_cost")
    costs = [row[cost] for row in values[1:] if row[cost] is not None]
    assert costs and all(isinstance(value, float) for value in costs) and costs == sorted(costs)


def tiny_png(width=4, height=3):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes([200, 30, 30] * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def put_artifact(server, path, body):
    request = urllib.request.Request(server.url + "/api/2.0/mlflow-artifacts/artifacts/" + urllib.parse.quote(path), data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_mlflow_ui_links_open_the_run_page_with_its_artifacts_previews_and_models(server, browser):
    run = api(server, "POST", "mlflow/runs/create", {"experiment_id": server.experiment_id, "run_name": "with-files"})["run"]["info"]
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    put_artifact(server, f"{root}/results/cost.csv", b'design,cost\nA,"1,5"\nB,2\n')
    put_artifact(server, f"{root}/notes/read me.txt", "energy ✓\n".encode())
    put_artifact(server, f"{root}/plot.png", tiny_png())
    put_artifact(server, f"{root}/page.html", b"<script>alert(1)</script>")
    put_artifact(server, f"{root}/figure.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    model = api(server, "POST", "mlflow/logged-models", {"experiment_id": server.experiment_id, "name": "surrogate", "source_run_id": run["run_id"]})["model"]
    api(server, "POST", "mlflow/runs/outputs", {"run_id": run["run_id"], "models": [{"model_id": model["info"]["model_id"], "step": 0}]})

    # The link every mlflow.start_run prints opens the same run here.
    browser.get(f"{server.url}/#/experiments/{server.experiment_id}/runs/{run['run_id']}")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#artifact-tree li"))
    assert urllib.parse.urlparse(browser.current_url).path == f"/experiments/{server.experiment_id}/runs/{run['run_id']}"
    assert browser.find_element(By.ID, "run-name").text == "with-files"
    top = [li.get_attribute("data-path") for li in browser.find_elements(By.CSS_SELECTOR, "#artifact-tree > li")]
    assert top == ["notes", "results", "figure.svg", "page.html", "plot.png"]
    assert "surrogate" in browser.find_element(By.ID, "run-models").text

    browser.find_element(By.CSS_SELECTOR, '#artifact-tree li[data-path="results"] > button').click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, 'li[data-path="results/cost.csv"] button.file'))
    browser.find_element(By.CSS_SELECTOR, 'li[data-path="results/cost.csv"] button.file').click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#artifact-table tbody tr"))
    cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in browser.find_elements(By.CSS_SELECTOR, "#artifact-table tbody tr")]
    assert cells == [["A", "1,5"], ["B", "2"]]

    browser.find_element(By.CSS_SELECTOR, '#artifact-tree li[data-path="notes"] > button').click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, 'li[data-path="notes/read me.txt"] button.file'))
    browser.find_element(By.CSS_SELECTOR, 'li[data-path="notes/read me.txt"] button.file').click()
    wait(browser, lambda d: "energy ✓" in d.find_element(By.ID, "artifact-preview").text)

    browser.find_element(By.CSS_SELECTOR, 'li[data-path="plot.png"] button.file').click()
    wait(browser, lambda d: d.execute_script("const i = document.querySelector('#artifact-preview img'); return i && i.complete && i.naturalWidth === 4"))
    shot(browser, "11-run-artifacts")
    for name in ("page.html", "figure.svg"):
        browser.find_element(By.CSS_SELECTOR, f'li[data-path="{name}"] button.file').click()
        wait(browser, lambda d: "No preview" in d.find_element(By.ID, "artifact-preview").text)
        assert browser.execute_script("return document.querySelectorAll('main script, main iframe, main object, main svg script').length") == 0
        assert no_dialog(browser)

    browser.get(f"{server.url}/#/experiments/{server.experiment_id}")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#run-count"))
    assert urllib.parse.urlparse(browser.current_url).path == f"/experiments/{server.experiment_id}"
