"""The web UI in a real headless Chromium against a real ``tidewell`` (-target=all,
multi-tenancy on): type a query (autocompletion of our metric names), see a graph with
the expected number of series, switch to the table, see the error of a bad query, share
the URL, switch tenants, and open every status page and the cardinality page."""

from __future__ import annotations

from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import TidewellProcess
from tests.e2e.ui.conftest import push_series, wait_queryable

WAIT_S = 60


def wait(driver: WebDriver, cond, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(cond)


def open_ui(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))


def set_query(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, "#expr .cm-content")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def graph_series(driver: WebDriver) -> int:
    el = wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "#graph[data-series]")))
    return int(el.get_attribute("data-series"))


def test_query_graph_table_errors_tenants_and_status_pages(
        tidewell: TidewellProcess, browser: WebDriver) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=true",
                     "-querier.cardinality-analysis-enabled=true"]
    tidewell.start()
    url = tidewell.url
    push_series(url, "t1", [{"__name__": "demo_requests", "pod": f"p{i}", "job": "api"}
                            for i in range(5)])
    push_series(url, "t2", [{"__name__": "demo_requests", "pod": "other", "job": "web"}])
    wait_queryable(url, "t1", "demo_requests", 5)

    open_ui(browser, f"{url}/ui/#/query?tenant=t1")
    # Autocompletion offers our metric name, fetched from /prometheus/api/v1/label/…/values.
    set_query(browser, "demo_req")
    option = wait(browser, ec.visibility_of_element_located(
        (By.CSS_SELECTOR, ".cm-tooltip-autocomplete li")))
    assert "demo_requests" in option.text
    set_query(browser, "demo_requests")
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: graph_series(d) == 5)
    legend = browser.find_elements(By.CSS_SELECTOR, "#graph .u-legend .u-series")
    assert len(legend) == 6  # the time column and five series
    assert 'pod="p3"' in browser.find_element(By.ID, "graph").text

    # The URL holds the state: opened anew, it shows the same graph.
    shared = browser.current_url
    assert "q=demo_requests" in shared and "tenant=t1" in shared
    browser.get("about:blank")
    open_ui(browser, shared)
    wait(browser, lambda d: graph_series(d) == 5)

    browser.find_element(By.ID, "tab-table").click()
    rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#table tbody tr"))
    assert len(rows) == 5 and "tab=table" in browser.current_url
    assert {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows} == {
        "60", "61", "62", "63", "64"}  # value = index + 60 at the last sample

    # Warnings and infos are shown as the API returns them.
    browser.find_element(By.ID, "tab-graph").click()
    set_query(browser, "rate(demo_requests[5m])")
    browser.find_element(By.ID, "run").click()
    info = wait(browser, ec.visibility_of_element_located((By.CSS_SELECTOR, "#messages .info")))
    assert "might not be a counter" in info.text
    wait(browser, lambda d: graph_series(d) == 5)

    set_query(browser, "sum(rate(demo_requests[5m]) by (pod)")
    browser.find_element(By.ID, "run").click()
    error = wait(browser, ec.visibility_of_element_located((By.ID, "error")))
    assert "bad_data" in error.text and "parse error" in error.text

    # Another tenant sees only its own series.
    open_ui(browser, f"{url}/ui/#/query?tenant=t2&tab=graph&q={quote('demo_requests')}")
    wait(browser, lambda d: graph_series(d) == 1)
    assert "other" in browser.find_element(By.ID, "graph").text

    pages = {"buildinfo": "#buildinfo", "runtime": "#runtime-config", "services": "#services",
             "rings": "#partitions", "blocks": "#blocks", "compactor": "#compactor",
             "ingest": "#ingest", "cardinality": "#label-names"}
    for page, selector in pages.items():
        open_ui(browser, f"{url}/ui/#/{page}?tenant=t1")
        wait(browser, lambda d: d.find_element(By.ID, "page").get_attribute("data-loaded")
             or d.find_elements(By.CSS_SELECTOR, "#cardinality[data-loaded]"))
        assert not browser.find_elements(By.CSS_SELECTOR, "#page .alert.error"), (
            page, browser.find_element(By.ID, "page").text[:500])
        assert browser.find_elements(By.CSS_SELECTOR, selector), page
    assert "Grafana Mimir" in _page_after(browser, f"{url}/ui/#/buildinfo", "#buildinfo")
    names = _page_after(browser, f"{url}/ui/#/cardinality?tenant=t1&label=pod", "#label-values")
    assert "p4" in names
    ingest = _page_after(browser, f"{url}/ui/#/ingest", "#ingest")
    assert "t1" in ingest and "t2" in ingest


def _page_after(driver: WebDriver, url: str, selector: str) -> str:
    open_ui(driver, url)
    return wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, selector))).text
