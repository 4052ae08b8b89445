"""The Dagster UI in a real headless browser, as a fresh user meets it after `make dev`.

A small sample pipeline (one target, one scoring cutoff and its training cutoffs) runs
into a temporary ``GOSALES_HOME`` with the project's ``dagster.yaml`` as the instance.
``dagster dev`` (webserver, daemon and code server, as ``make dev`` starts them) then
serves that instance on a free loopback port, and Debian's Chromium, driven through
chromedriver, checks that:

- the asset graph shows every layer and every asset;
- an asset's partitions page shows the materialized partition, with its metadata;
- the model card's gains and calibration plots render;
- the launchpad materializes one star partition (queued run, daemon, pools, instance).

Screenshots go to ``$GOSALES_SCREENSHOT_DIR`` (``make test-browser`` sets it to
``reports/screenshots``), else under the test's temporary folder. Without
``/usr/bin/chromium`` the browser tests are skipped, unless
``GOSALES_REQUIRE_BROWSER=1`` makes that a failure. The browser never downloads
anything: the network is closed and every background service is off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from gosales_assets.config import current_config
from gosales_assets.runner import dagster_instance, run_pipeline
from gosales_assets.sample_data import generate
from gosales_assets_tests.conftest import point_env_at

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = "workspace.yaml"  # what `make dev` serves
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
CUTOFF = dt.date(2024, 6, 30)
TARGET = "Printers"
LOAD_DATE = "2024-07-31"
# a star partition nobody materialized yet: the launchpad test materializes it
LAUNCH_CUTOFF = "2024-05-31"
# layers the sample pipeline materializes (validation and monitoring need later data)
SEEDED_LAYERS = ("raw", "star", "features", "labels", "models", "scoring")
SERVER_START_SECONDS = 240.0
RUN_SECONDS = 300.0
PAGE_SECONDS = 60.0
# the asset graph renders full node cards (status, checks, kinds) from this zoom on
GRAPH_DETAIL_SCALE = 0.68
GRAPH_MAX_VIEWPORT = (5200, 3200)


@dataclass(frozen=True)
class Seeded:
    base: Path
    env: dict[str, str]
    asset_keys: list[dg.AssetKey]


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return (
            self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
        )


def _screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("GOSALES_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(
    condition: Callable[[], Any], seconds: float, what: str, detail: Callable[[], str]
) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(
        f"timed out after {seconds:.0f}s waiting for {what}\n{detail()}"
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The sample pipeline at CUTOFF for TARGET, in a persistent instance."""
    base = tmp_path_factory.mktemp("ui")
    patch = pytest.MonkeyPatch()
    try:
        point_env_at(patch, base, base / "raw", LOAD_DATE)
        patch.setenv("GOSALES_REPORTS_DIR", str(base / "reports"))
        patch.setenv("DAGSTER_HOME", str(base / "home" / "dagster"))
        cfg = current_config()
        generate(
            base / "raw",
            cfg,
            customers=600,
            start=dt.date(2021, 1, 1),
            end=CUTOFF,
            seed=21,
        )
        instance = dagster_instance(cfg)  # copies the project's dagster.yaml
        try:
            summary = run_pipeline(cfg, CUTOFF, [TARGET], instance=instance)
        finally:
            instance.dispose()
        assert summary.success, summary.runs
        from gosales_assets.definitions import defs

        keys = sorted(
            defs().resolve_asset_graph().get_all_asset_keys(),
            key=lambda k: k.to_user_string(),
        )
        env = {
            k: os.environ[k]
            for k in (
                "GOSALES_HOME",
                "GOSALES_RAW_DIR",
                "GOSALES_REPORTS_DIR",
                "GOSALES_LOAD_DATE",
                "DAGSTER_HOME",
            )
        }
        yield Seeded(base=base, env=env, asset_keys=keys)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[Server]:
    """``dagster dev`` as ``make dev`` runs it, on a free loopback port."""
    port = _free_port()
    log = seeded.base / "dagster_dev.log"
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, **seeded.env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", WORKSPACE],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: webserver, daemon, code
        )
    srv = Server(url=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_until_loaded(srv, proc)
        yield srv
    finally:
        _stop(proc)


def _wait_until_loaded(srv: Server, proc: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"dagster dev exited early:\n{srv.log_tail()}")
        try:
            with urllib.request.urlopen(f"{srv.url}/server_info", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    _wait(up, SERVER_START_SECONDS, "/server_info", srv.log_tail)

    def loaded() -> bool:
        data = srv.graphql(
            "{ workspaceOrError { __typename ... on Workspace { locationEntries { "
            "name loadStatus locationOrLoadError { __typename "
            "... on PythonError { message } } } } } }"
        )
        entries = data["workspaceOrError"].get("locationEntries") or []
        for entry in entries:
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                raise AssertionError(
                    f"code location failed: {error['message']}\n{srv.log_tail()}"
                )
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    _wait(loaded, SERVER_START_SECONDS, "the code location to load", srv.log_tail)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group this fixture started (dagster dev and its children):
    Ctrl+C first, as a user would; a group that ignores it is killed."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):  # children that outlived it
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium through chromedriver, with a new empty profile."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if missing:
        reason = (
            f"no headless browser: missing {', '.join(missing)}; install with "
            "`apt-get install -y --no-install-recommends chromium chromium-driver`"
        )
        if os.environ.get("GOSALES_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GOSALES_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1920,1080")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _screenshot_dir(tmp_path_factory)


# --------------------------------------------------------------------------- helpers


def _viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _open(driver: Any, srv: Server, path: str) -> None:
    """Open ``path`` as a returning user: the community sign-up dialog dismissed."""
    driver.get(f"{srv.url}/server_info")  # same origin, so localStorage applies
    driver.execute_script("window.localStorage.setItem('communityNux', '\"1\"')")
    driver.get(f"{srv.url}{path}")


def _page_text(driver: Any) -> str:
    return str(driver.execute_script("return document.body.innerText"))


def _screenshot(driver: Any, path: Path, seconds: float = 15.0) -> None:
    """Save a screenshot once no loading spinner is visible (best effort: a page that
    keeps one, such as a live run, is shot after ``seconds``)."""
    spinning = (
        "return Array.from(document.querySelectorAll('[class*=Spinner_spinner]'))"
        ".some(e => e.offsetParent !== null)"
    )
    deadline = time.monotonic() + seconds
    while driver.execute_script(spinning) and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(0.5)  # icons and fonts of the last render
    driver.save_screenshot(str(path))


def _wait_for_text(
    driver: Any, texts: list[str], shots: Path, name: str, seconds: float = PAGE_SECONDS
) -> str:
    def found() -> str:
        text = _page_text(driver)
        return text if all(t in text for t in texts) else ""

    def detail() -> str:
        driver.save_screenshot(str(shots / f"failed_{name}.png"))
        text = _page_text(driver)
        return (
            f"missing {[t for t in texts if t not in text]}; page text:\n{text[:3000]}"
        )

    return str(_wait(found, seconds, f"{texts} on {name}", detail))


def _click_button(driver: Any, label: str, seconds: float = PAGE_SECONDS) -> None:
    """Click the last visible, enabled button whose text contains ``label``. One
    script finds and clicks it, so a re-render in between cannot leave a stale
    element; it is retried until the button exists."""
    script = (
        "const label = arguments[0];"
        "const found = Array.from(document.querySelectorAll('button')).filter(b =>"
        "  b.innerText.replace(/\\s+/g, ' ').includes(label) &&"
        "  !b.disabled && b.offsetParent !== null);"
        "if (!found.length) return false;"
        "found[found.length - 1].click(); return true;"
    )
    _wait(
        lambda: driver.execute_script(script, label),
        seconds,
        f"an enabled button {label!r}",
        lambda: _page_text(driver)[:3000],
    )


# --------------------------------------------------------------------------- tests


def test_every_materialized_asset_carries_table_metadata(seeded: Seeded) -> None:
    """Column schema and row count on the latest materialization of every asset of
    the layers the sample run covers: what the UI's Columns and row-count views read."""
    expected = [k for k in seeded.asset_keys if k.path[0] in SEEDED_LAYERS]
    assert {k.path[0] for k in expected} == set(SEEDED_LAYERS)
    problems = []
    with dg.DagsterInstance.from_config(seeded.env["DAGSTER_HOME"]) as instance:
        events = {k: instance.get_latest_materialization_event(k) for k in expected}
    for key, event in events.items():
        if event is None or event.asset_materialization is None:
            problems.append(f"{key.to_user_string()}: never materialized")
            continue
        meta = event.asset_materialization.metadata
        schema = meta.get("dagster/column_schema")
        if schema is None or not schema.value.columns:
            problems.append(f"{key.to_user_string()}: no dagster/column_schema")
        if not {"dagster/row_count", "dagster/partition_row_count"} & set(meta):
            problems.append(f"{key.to_user_string()}: no row count")
        if "dagster/table_name" not in meta:
            problems.append(f"{key.to_user_string()}: no dagster/table_name")
        if "gosales/rows_in" not in meta:
            problems.append(f"{key.to_user_string()}: no gosales/rows_in")
    assert not problems, "\n".join(problems)


def test_asset_graph_shows_every_layer_and_asset(
    browser: Any, server: Server, seeded: Seeded, shots: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _viewport(browser, 1920, 1080)
    _open(browser, server, "/asset-groups")
    browser.execute_script(
        "window.localStorage.setItem('asset-graph-direction', '\"vertical\"')"
    )
    browser.refresh()
    layers = sorted({k.path[0] for k in seeded.asset_keys})
    _wait_for_text(browser, ["Global asset lineage", *layers], shots, "asset_graph")
    # expand every layer (Alt+E), hide the navigation and the asset tree, fit to screen
    ActionChains(browser).key_down(Keys.ALT).send_keys("e").key_up(Keys.ALT).perform()
    browser.execute_script(
        "document.querySelectorAll('button').forEach(b => {"
        "  if (b.querySelector('[aria-label=panel_show_right]')) b.click(); })"
    )
    # expanded: asset names show (zoomed out, long names are still abbreviated)
    expanded = ["fact_transactions", "propensity_model", "icp_scores"]
    _wait_for_text(browser, expanded, shots, "asset_graph")
    size = browser.execute_script(
        "const s = document.querySelector('[data-svg-viewport=\"1\"] svg');"
        "return [Number(s.getAttribute('width')), Number(s.getAttribute('height'))]"
    )
    width = min(int(size[0] * GRAPH_DETAIL_SCALE) + 160, GRAPH_MAX_VIEWPORT[0])
    height = min(int(size[1] * GRAPH_DETAIL_SCALE) + 200, GRAPH_MAX_VIEWPORT[1])
    _viewport(browser, max(width, 1600), max(height, 900))
    time.sleep(1)  # let the viewport observe its new size before fitting
    browser.execute_script(
        "document.querySelector('[data-svg-viewport=\"1\"]')"
        ".dispatchEvent(new MouseEvent('dblclick', {bubbles: true}))"
    )
    names = sorted({k.path[-1] for k in seeded.asset_keys})
    text = _wait_for_text(browser, names, shots, "asset_graph")
    for layer in layers:
        assert layer in text
    time.sleep(1.5)  # the fit animates
    _screenshot(browser, shots / "asset_graph.png")
    _viewport(browser, 1920, 1080)


def test_partitions_page_shows_the_materialized_partition(
    browser: Any, server: Server, shots: Path
) -> None:
    partition = f"{CUTOFF.isoformat()}|{TARGET}"
    _viewport(browser, 1920, 1080)
    _open(
        browser,
        server,
        f"/assets/scoring/icp_scores?view=partitions&partition={partition}",
    )
    heading = f"{partition}\nMaterialized\n"  # the selected partition's status
    _wait_for_text(
        browser,
        [
            "icp_scores",
            heading,
            "Materialized (1)",
            "dagster/column_schema",
            "dagster/partition_row_count",
            "model_version",
        ],
        shots,
        "asset_partitions",
    )
    _screenshot(browser, shots / "asset_partitions.png")


def test_model_card_plots_render(browser: Any, server: Server, shots: Path) -> None:
    partition = f"{CUTOFF.isoformat()}|{TARGET}"
    _viewport(browser, 1920, 1200)
    _open(
        browser,
        server,
        f"/assets/models/propensity_model?view=partitions&partition={partition}",
    )
    _wait_for_text(browser, [partition, "plots", "model_card"], shots, "model_plots")
    # the "plots" metadata row's [Show Markdown] link, found and clicked in one script
    show = (
        "const link = document.evaluate(\"//td[normalize-space()='plots']"
        "/following-sibling::td//a[contains(normalize-space(), 'Show Markdown')]\","
        " document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;"
        "if (!link) return false; link.scrollIntoView(); link.click(); return true;"
    )
    _wait(
        lambda: browser.execute_script(show),
        PAGE_SECONDS,
        "the plots link",
        lambda: _page_text(browser)[:3000],
    )

    # the dialog's images, decoded (a broken data URI has no natural width)
    loaded = (
        "const images = Array.from(document.querySelectorAll('[role=dialog] img'));"
        "if (!images.length || images.some(i => !i.complete || !i.naturalWidth))"
        "  return null;"
        "return images.map(i => i.alt);"
    )
    alts = _wait(
        lambda: browser.execute_script(loaded),
        PAGE_SECONDS,
        "the model plots",
        lambda: _page_text(browser)[:3000],
    )
    assert sorted(alts) == ["calibration", "gains"]
    _screenshot(browser, shots / "model_plots.png")


def test_launchpad_materializes_a_star_partition(
    browser: Any, server: Server, seeded: Seeded, shots: Path
) -> None:
    """A fresh user's first materialization from the UI: pick one partition of the
    star schema in the launch dialog, launch, and the daemon runs it to success."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _viewport(browser, 1920, 1080)
    _open(browser, server, "/assets/star/fact_transactions")
    _wait_for_text(browser, ["fact_transactions", "Materialize"], shots, "launch")
    _click_button(browser, "Materialize")
    # star_schema writes all eight star tables together: the UI asks to confirm that
    _wait_for_text(browser, ["Additional assets will be materialized"], shots, "launch")
    _click_button(browser, "Confirm")
    _wait_for_text(
        browser,
        ["Launch runs to materialize", "Partition selection"],
        shots,
        "launch",
    )
    # One step per poll, each judged from the page as it is now: the dialog opens on
    # the last 90 days (older partitions are "not found" until "Show all partitions"),
    # a failed entry leaves an error dialog, and a re-render can replace the field.
    click = (
        "const label = arguments[0];"
        "const found = Array.from(document.querySelectorAll('button, a')).filter(b =>"
        "  b.innerText.replace(/\\s+/g, ' ').trim() === label &&"
        "  b.offsetParent !== null);"
        "if (!found.length) return false;"
        "found[found.length - 1].click(); return true;"
    )

    def selected() -> bool:
        text = _page_text(browser)
        if "Launch 1 run" in text:
            return True
        if "Could not find partition" in text:
            browser.execute_script(click, "OK")
            return False
        if "Show all partitions" in text:
            browser.execute_script(click, "Show all partitions")
            return False
        try:
            field = browser.find_element(
                By.XPATH, "//*[@role='dialog']//input[@type='text']"
            )
            field.clear()
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.BACK_SPACE)
            if field.get_attribute("value"):
                return False  # not emptied: never type onto leftover text
            field.send_keys(LAUNCH_CUTOFF, Keys.ENTER)
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        time.sleep(1.0)  # let the dialog count the selection before judging it
        return "Launch 1 run" in _page_text(browser)

    _wait(
        selected, PAGE_SECONDS, "the partition selection", lambda: _page_text(browser)
    )
    _screenshot(browser, shots / "launchpad.png")
    _click_button(browser, "Launch 1 run")

    query = (
        "query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { "
        "... on Runs { results { runId status tags { key value } } } } }"
    )
    variables = {
        "filter": {"tags": [{"key": "dagster/partition", "value": LAUNCH_CUTOFF}]}
    }

    def finished() -> dict[str, Any] | None:
        runs = server.graphql(query, variables)["runsOrError"]["results"]
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return done[0] if done else None

    run = _wait(finished, RUN_SECONDS, f"the run of {LAUNCH_CUTOFF}", server.log_tail)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("dagster/from_ui") == "true", tags
    assert run["status"] == "SUCCESS", (run, server.log_tail())
    with dg.DagsterInstance.from_config(seeded.env["DAGSTER_HOME"]) as instance:
        done = instance.get_materialized_partitions(
            dg.AssetKey(["star", "dim_customer"])
        )
    assert LAUNCH_CUTOFF in done, sorted(done)
    _open(
        browser,
        server,
        f"/assets/star/fact_transactions?view=partitions&partition={LAUNCH_CUTOFF}",
    )
    heading = f"{LAUNCH_CUTOFF}\nMaterialized\n"
    text = _wait_for_text(
        browser,
        [heading, f"Materialized ({len(done)})", "dagster/partition_row_count"],
        shots,
        "launched_partition",
    )
    panel = text[text.index(heading) :]
    assert f"Run\n{run['runId'][:8]}" in panel, panel[:400]
