"""Every page read as a person reads it, in real Chromium at 1440 × 900 and 1024 × 768 against a
synced simulated tenant with prices and a plan: the key columns of Users, Licenses,
Recommendations and a plan are inside the window without scrolling sideways, no table sits in a
scroll box of its own, the Edit link is visible; axe-core (pinned in the lock file, injected by
Playwright) finds no violation of serious or critical impact on any page; a screenshot of every
page at both sizes is kept under test-artefacts/screenshots. /api/docs renders its operations
from the package, with every request off this machine refused."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import Seatwise, Sim, serve
from tests.web.conftest import ARTEFACTS, Web, screenshot, sign_in

VIEWPORTS = {"1440": (1440, 900), "1024": (1024, 768)}
USERS = 160

# Page → (path, table, the columns (th data-col or heading text) whose cells must be in view).
KEY_COLUMNS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "users": (
        "/users",
        "#users-table",
        (
            "upn",
            "licenses",
            "last_activity",
            "days_since_last_activity",
            "block_credentials",
            "mfa_enabled",
            "country",
        ),
    ),
    "licenses": (
        "/licenses",
        "#licenses",
        ("name", "purchased", "assigned", "available", "expires", "annual", "unused", "change"),
    ),
    "recommendations": (
        "/recommendations",
        "table.rule-results",
        ("pick", "user", "action", "skus", "savings", "confidence", "when", "evidence"),
    ),
    "plan": ("", "#plan-items", ("user", "sku", "annual", "state", "why")),
    # Eleven services of dates: within 1,440 px (at 1,024 px the page scrolls, the users stay).
    "activity": ("/activity", "#activity", ("user", "Exchange", "Teams", "SharePoint", "as_of")),
}
PAGES = (
    ("overview", "/"),
    ("users", "/users"),
    ("user", ""),
    ("licenses", "/licenses"),
    ("license-edit", ""),
    ("activity", "/activity"),
    ("recommendations", "/recommendations"),
    ("reclamation", "/reclamation"),
    ("plan", ""),
    ("audit", "/reclamation/audit"),
    ("tasks", "/tasks"),
    ("settings", "/settings"),
    ("not-found", "/no-such-page"),
)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: the pages read the same views on PostgreSQL (the page tests run both)."""
    return f"sqlite:///{tmp_path / 'seatwise.db'}"


@pytest.fixture
def sim(seatwise: Seatwise, tmp_path: Path) -> Iterator[Sim]:
    """A synced simulated tenant with contract prices and an expired contract."""
    with serve(tmp_path / "sim", users=USERS) as served:
        assert seatwise.add_app_only(served).code == 0
        synced = seatwise("sync")
        assert synced.code == 0, synced.err
        for sku, cost, currency, more in (
            ("ENTERPRISEPACK", "23.00", "USD", ("--expiration-date", "2024-01-31")),
            ("SPE_E5", "57.00", "USD", ("--expiration-date", "2099-06-30")),
            ("SPE_E3", "36.00", "USD", ("--expiration-date", "2099-01-31")),
            ("DYN365_ENTERPRISE_SALES", "95.00", "USD", ()),
            ("POWER_BI_PRO", "9.40", "EUR", ()),
        ):
            done = seatwise(
                "license", "set", sku, "--cost", cost, "--currency", currency,
                "--payment-frequency", "monthly", *more,
            )  # fmt: skip
            assert done.code == 0, done.err
        yield served


def _axe_source() -> str:
    """axe-core as the dev dependency ships it (its version and hash pinned in uv.lock)."""
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.origin, "axe-playwright-python (dev dependency) is missing"
    return (Path(spec.origin).parent / "axe.min.js").read_text("utf-8")


def _serious(tab: Any, axe: str) -> list[str]:
    """axe-core's violations of serious or critical impact on the page, one line each."""
    if not tab.evaluate("typeof axe !== 'undefined'"):
        tab.evaluate(axe + "\n;0")  # through the debugger, which no Content-Security-Policy stops
    result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["passes"], "axe-core checked nothing"
    found = result["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def _nested_scroll_boxes(tab: Any) -> list[str]:
    """Tables with an ancestor (below <body>) that scrolls or clips its overflow."""
    found: list[str] = tab.evaluate(
        """() => {
          const out = [];
          for (const table of document.querySelectorAll('main table')) {
            for (let el = table.parentElement; el && el !== document.body; el = el.parentElement) {
              const s = getComputedStyle(el);
              if (['auto', 'scroll', 'hidden'].includes(s.overflowX)
                  || ['auto', 'scroll', 'hidden'].includes(s.overflowY)) {
                out.push((table.id || table.className) + ' in ' + el.tagName + '.' + el.className);
              }
            }
          }
          return out;
        }"""
    )
    return found


def _outside(tab: Any, table: str, columns: tuple[str, ...]) -> list[str]:
    """The key columns whose heading or first-row cell is not wholly inside the window."""
    found: list[str] = tab.evaluate(
        """([selector, columns]) => {
          const out = [];
          const width = document.documentElement.clientWidth;
          const table = document.querySelector(selector);
          if (!table) return ['no table ' + selector];
          const heads = [...table.querySelectorAll('thead th')];
          const row = table.querySelector('tbody tr');
          for (const key of columns) {
            const i = heads.findIndex(th => th.dataset.col === key);
            if (i < 0) { out.push(key + ': no such column'); continue; }
            const cells = [heads[i], row ? row.children[i] : null];
            for (const cell of cells) {
              if (!cell) continue;
              const box = cell.getBoundingClientRect();
              if (box.width === 0 || box.left < 0 || box.right > width + 0.5) {
                out.push(key + ' [' + Math.round(box.left) + ', ' + Math.round(box.right) + ']');
              }
            }
          }
          return out;
        }""",
        [table, list(columns)],
    )
    return found


def _spilling_tables(tab: Any) -> list[str]:
    """Tables that stick out of the card or frame around them."""
    found: list[str] = tab.evaluate(
        """() => [...document.querySelectorAll('main table')].flatMap(table => {
          const frame = table.parentElement.closest('.card, .table-wrap, main');
          const inner = table.getBoundingClientRect(), outer = frame.getBoundingClientRect();
          return inner.right > outer.right + 1
            ? [(table.id || table.className) + ' by ' + Math.round(inner.right - outer.right)
               + ' px'] : [];
        })"""
    )
    return found


def _small_chart_text(tab: Any) -> list[str]:
    """Charts whose smallest text shows under 11 px (font size × the chart's scale)."""
    found: list[str] = tab.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          const sizes = [...svg.querySelectorAll('text')].map(t => +t.getAttribute('font-size'));
          const px = Math.min(...sizes) * scale;
          return px < 11 ? [svg.getAttribute('aria-label') + ': ' + px.toFixed(1) + ' px'] : [];
        })"""
    )
    return found


def _sideways(tab: Any) -> list[str]:
    """A sentence when the page is wider than the window (it would scroll sideways)."""
    width = tab.evaluate("document.documentElement.scrollWidth")
    view = tab.evaluate("document.documentElement.clientWidth")
    return [f"the page scrolls sideways: {width} px wide in {view} px"] if width > view else []


def test_every_page_fits_and_passes_axe(
    sim: Sim, web: Web, seatwise: Seatwise, browser: Any
) -> None:
    planned = seatwise("reclaim", "plan", "--rule", "blocked")
    assert planned.code == 0, planned.err
    plan_id = re.search(r"\d+", planned.out)
    assert plan_id, planned.out
    users = seatwise("users", "--format", "json")
    first_user = users.json()[0]["id"]
    paths = {
        "user": f"/users/{first_user}",
        "plan": f"/reclamation/plans/{plan_id.group(0)}",
        "license-edit": "/licenses/6fd2c87f-b296-42f0-b197-1e91e994b900/edit",
    }
    axe = _axe_source()
    problems: list[str] = []
    for size, (width, height) in VIEWPORTS.items():
        context = browser.new_context(
            base_url=web.base_url, viewport={"width": width, "height": height}
        )
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        try:
            tab.goto("/login")
            screenshot(tab, f"layout-login-{size}")
            problems += [f"login at {size}: {p}" for p in _serious(tab, axe)]
            sign_in(tab, "admin")
            for name, path in PAGES:
                tab.goto(path or paths[name])
                assert tab.locator("h1").count() == 1, name
                screenshot(tab, f"layout-{name}-{size}")
                problems += [f"{name} at {size}: {p}" for p in _serious(tab, axe)]
                problems += [f"{name} at {size}: scroll box {p}" for p in _nested_scroll_boxes(tab)]
                problems += [f"{name} at {size}: {p}" for p in _small_chart_text(tab)]
                if size == "1440":  # at 1,024 px only the key pages' tables must fit
                    problems += [f"{name} at {size}: spills {p}" for p in _spilling_tables(tab)]
                if name in KEY_COLUMNS:  # and what a person sees first, without scrolling
                    tab.screenshot(path=str(ARTEFACTS / f"layout-{name}-{size}-first-screen.png"))
                if name in KEY_COLUMNS and (name != "activity" or size == "1440"):
                    _, table, columns = KEY_COLUMNS[name]
                    problems += [f"{name} at {size}: {p}" for p in _sideways(tab)]
                    problems += [f"{name} at {size}: {c}" for c in _outside(tab, table, columns)]
                if name == "licenses":
                    edit = tab.locator("#licenses a", has_text="Edit").first
                    if not edit.is_visible() or edit.evaluate(
                        "a => { const r = a.getBoundingClientRect();"
                        " return r.right > innerWidth || r.bottom > innerHeight; }"
                    ):
                        problems.append(f"licenses at {size}: Edit is not on the first screen")
                    expired = tab.locator('#licenses tr[data-sku="ENTERPRISEPACK"] .expired')
                    assert expired.count() == 1, "the expired contract is not flagged"
            if size == "1440":
                _select_all(tab)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
    # Without JavaScript the select-all box is a form field: every reclaim result of the rule.
    blocked = [
        r["upn"]
        for r in seatwise("recommendations", "--format", "json", "--rule", "blocked").json()
        if r["action"] == "reclaim"
    ]
    with web.client() as client:
        web.login(client)
        form = client.get("/recommendations").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        made = client.post(
            "/recommendations/plan", data={"csrf_token": token, "whole_rule": "blocked"}
        )
        assert made.status_code == 303, made.text
        shown = client.get(made.headers["location"]).text
        # A rule with nothing to reclaim (a downgrade) plans nothing, not every reclaim rule.
        empty = client.post(
            "/recommendations/plan", data={"csrf_token": token, "whole_rule": "e5-to-e3"}
        )
        assert empty.status_code == 400
        assert "no users to reclaim from" in empty.text
    assert sorted(re.findall(r'<span class="upn">([^<]+)</span>', shown.replace("<wbr>", ""))) == (
        sorted(blocked)
    )


def _select_all(tab: Any) -> None:
    """Select all of a rule ticks every box of its section (and only of its section)."""
    tab.goto("/recommendations")
    section = tab.locator("#rule-blocked")
    boxes = section.locator("input[name=pick]")
    assert boxes.count() > 1
    section.locator("input[data-select-all]").check()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert not tab.locator("#rule-never-used input[name=pick]:checked").count()
    boxes.first.uncheck()
    assert not section.locator("input[data-select-all]").is_checked()


def test_api_docs_render_offline(web: Web, browser: Any) -> None:
    context = browser.new_context(base_url=web.base_url, viewport={"width": 1440, "height": 900})
    outside: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(web.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        tab.goto("/api/docs")
        operations = tab.locator(".opblock-summary-path")
        operations.first.wait_for()
        shown = operations.all_inner_texts()
        assert len(shown) > 10 and any("/api/v1/licenses" in p for p in shown), shown
        screenshot(tab, "api-docs-1440")
        tab.goto("/api/redoc")
        tab.locator("h1", has_text="seatwise reporting API").first.wait_for()
        assert tab.locator("[data-section-id^='operation/']").count() > 10
        screenshot(tab, "api-redoc-1440")
        assert not outside, f"the docs asked for {outside}"
        with web.client() as client:
            icon = client.get("/favicon.ico")
            assert icon.status_code == 200 and icon.text.startswith("<svg")
            assert client.get("/api/docs/assets/nope.js").status_code == 404
    finally:
        context.close()
