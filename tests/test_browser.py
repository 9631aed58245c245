"""The dashboard in headless Chromium: the real app on a local port, driven the way a rep uses it.

Needs Debian's Chromium at /usr/bin/chromium (never downloaded). Without it these tests skip with a loud
reason, unless REQUIRE_BROWSER_TESTS=1 (CI), which makes them fail instead.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dashboard_data as data
from tests.conftest import PROJECT_ROOT
from zoom_homeroom import create_app
from zoom_homeroom.sandbox import LocalServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TIMEOUT_MS = 5_000


def _require_browser() -> None:
    reason = None
    if not CHROMIUM.is_file():
        reason = f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason is None:
        return
    message = f"BROWSER TESTS NOT RUN: {reason}"
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(message + " and REQUIRE_BROWSER_TESTS=1", pytrace=False)
    pytest.skip(message + "; set REQUIRE_BROWSER_TESTS=1 to make this a failure")


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(settings, calendar, clock, dataset) -> Iterator[str]:
    """The real app on a free localhost port, in a thread; yields its base URL."""
    app = create_app(settings, calendar=calendar, clock=clock)
    httpd = LocalServer(app, name="browser-app")
    yield httpd.url
    httpd.stop()


class Watched:
    """A page plus what it must never do: open a dialog or log a console error (a CSP violation is one)."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on(
            "console", lambda message: self.errors.append(message.text) if message.type == "error" else None
        )
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def assert_calm(self) -> None:
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture
def rep(browser, server) -> Iterator[Watched]:
    """A signed-in rep's page, at the overview."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    watched = Watched(context.new_page())
    page = watched.page
    page.goto("/")
    assert "/sign-in" in page.url
    page.fill("input[name=email]", data.REP)
    page.fill("input[name=password]", data.PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{server}/")
    yield watched
    context.close()


def test_rep_signs_in_and_reads_the_overview(rep):
    page = rep.page
    assert page.locator("h1").inner_text() == "Overview"
    assert page.get_by_text("2 unmatched participants waiting").is_visible()
    module_1 = page.locator("section.card", has=page.locator("h2", has_text="Module 1"))
    assert "72%" in module_1.locator(".rate").inner_text()
    description = module_1.locator("svg[role=img] desc").text_content()
    assert description.startswith("Week 1: 4 present, 1 late, 1 partial.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)
    rep.assert_calm()


def test_rep_opens_a_session_and_a_markup_name_shows_as_text(rep, dataset):
    page = rep.page
    page.click(f"a[href='/sessions/{dataset.week3}#unmatched']")
    page.wait_for_url(f"**/sessions/{dataset.week3}#unmatched")
    assert page.locator("h1").inner_text() == "Module 1 · Week 3"
    assert page.get_by_role("link", name=data.SCRIPT_NAME).is_visible()
    assert page.locator("script").count() == 0
    assert (
        page.get_by_role("link", name="Join on Zoom")
        .get_attribute("href")
        .startswith("https://zoom.example/j/")
    )
    rep.assert_calm()


def test_rep_assigns_an_unmatched_participant(rep, dataset):
    page = rep.page
    page.goto(f"/sessions/{dataset.week3}")
    card = page.locator("article.unmatched", has_text="Katherine J.")
    card.locator("select[name=student]").select_option(dataset.email("katherine"))
    card.get_by_role("button", name="Assign").click()
    page.wait_for_load_state()
    assert (
        "Katherine J. is now katherine@students.example.org in every session."
        in page.locator(".flash-ok").inner_text()
    )
    row = page.locator("tr", has=page.get_by_role("link", name="Katherine Johnson"))
    assert "present" in row.locator(".status").inner_text()
    assert page.locator("article.unmatched").count() == 0
    rep.assert_calm()


def test_rep_excuses_a_student(rep, dataset):
    page = rep.page
    page.goto(f"/sessions/{dataset.week3}")
    form = page.locator("#correct form")
    form.locator("select[name=email]").select_option(label="Alan Turing")
    form.locator("select[name=action]").select_option("excused")
    form.locator("input[name=note]").fill("Family emergency, told the rep on Monday")
    form.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.locator(".flash-ok").inner_text() == "Alan Turing is now excused."
    row = page.locator("tr", has=page.get_by_role("link", name="Alan Turing"))
    assert "excused" in row.locator(".status").inner_text()
    assert "Family emergency" in row.inner_text()
    page.goto("/modules/1")
    cell = page.locator("tr", has=page.get_by_role("link", name="Alan Turing")).locator("td.cell-excused")
    assert cell.inner_text().startswith("E")
    rep.assert_calm()


def test_rep_downloads_the_csv(rep):
    page = rep.page
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "attendance.csv"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and set(rows[0]) == {
        "email",
        "name",
        "module",
        "group",
        "week",
        "date",
        "kind",
        "status",
        "minutes",
        "first_join",
        "last_leave",
        "in_assigned_room",
    }
    formula = [row for row in rows if row["email"] == "formula@students.example.org"]
    assert formula and all(row["name"] == "'" + data.FORMULA_NAME for row in formula)
    grace = next(r for r in rows if r["email"] == "grace@students.example.org" and r["date"] == "2027-01-06")
    assert grace["status"] == "late" and grace["first_join"] == "2027-01-06T20:12:00Z"
    rep.assert_calm()


def test_every_page_renders_without_script_dialogs_or_console_errors(rep, dataset):
    page = rep.page
    for path in [
        "/",
        f"/sessions/{dataset.week3}",
        f"/sessions/{dataset.week4}",
        f"/sessions/{dataset.mix_it_up}",
        f"/students/{dataset.students['script']}",
        "/modules/1",
        "/modules/3",
    ]:
        page.goto(path)
        assert page.locator("script").count() == 0, path
    assert page.get_by_text("No Homeroom sessions or students yet.").is_visible()
    rep.assert_calm()


def test_pages_fit_a_phone_screen(browser, server, dataset):
    context = browser.new_context(base_url=server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/sign-in")
    page.fill("input[name=email]", data.REP)
    page.fill("input[name=password]", data.PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{server}/")
    for path in ["/", f"/sessions/{dataset.week3}", "/modules/1", f"/students/{dataset.students['ken']}"]:
        page.goto(path)
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    context.close()
