"""The operations dashboard in a real browser: `python -m evals.traffic` plays customers and an agent against
the server's own data directory, then the demo admin logs in at /ops and sees the database's numbers.

The full-page screenshot of the dashboard is saved with the server's artifacts and its path printed.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.models import TurnRecord
from core.users import DEMO_USERS
from handoff.models import Ticket
from tests.browser.conftest import AppServer, _server_env

# Imported lazily at run time: without playwright the `browser` fixture skips (or fails under CI).
if TYPE_CHECKING:
    from playwright.sync_api import Browser

SEED_S = 300  # the CLI loads the embedding model and plays every customer through the real service
FIRST_PAGE_S = 120  # the server builds its service (and loads the model) on the first page
UI_S = 30
METRIC = '[data-testid="stMetric"]'
CHART = '[data-testid="stVegaLiteChart"]'


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_admin_sees_the_seeded_traffic_on_the_ops_dashboard(
    browser: Browser, app_server: AppServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from playwright.sync_api import expect

    seeded = subprocess.run(
        [sys.executable, "-m", "evals.traffic", "--customers", "6"],
        env=_server_env(app_server.data_dir),
        cwd=app_server.data_dir.parent,  # not the checkout: a developer's .env is not read
        capture_output=True,
        text=True,
        timeout=SEED_S,
    )
    assert seeded.returncode == 0, f"{seeded.stdout}\n{seeded.stderr[-3000:]}"
    assert "customers: 6, conversations: 6" in seeded.stdout
    with session_scope(f"sqlite:///{app_server.data_dir / 'support.db'}") as s:
        turns = s.scalar(select(func.count(TurnRecord.id)))
        tickets = s.scalar(select(func.count(Ticket.id)))
    assert turns and tickets  # six customers include one who asks for a person and one who is angry
    admin = next(u for u in DEMO_USERS if u.username == "admin")

    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        page = context.new_page()
        page.goto(app_server.url + "/ops")
        expect(page.get_by_role("heading", name="Operations")).to_be_visible(timeout=FIRST_PAGE_S * 1000)
        page.get_by_label("Username").fill(admin.username)
        page.get_by_label("Password", exact=True).fill(admin.password)  # not "Show password"
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text(f"Logged in as {admin.display_name}")).to_be_visible(timeout=UI_S * 1000)

        tiles = page.locator(METRIC)
        expect(tiles).to_have_count(5, timeout=UI_S * 1000)
        shown = tiles.filter(has_text="Customer turns").locator('[data-testid="stMetricValue"]')
        expect(shown).to_have_text(str(turns))
        expect(page.get_by_text(f"{tickets} tickets created")).to_be_visible()
        charts = page.locator(CHART)
        expect(charts).to_have_count(5, timeout=UI_S * 1000)
        expect(charts.first.locator("canvas, svg").first).to_be_visible(timeout=UI_S * 1000)
        expect(page.get_by_text("Customer turns per day, by the rung of the degradation")).to_be_visible()

        # Streamlit scrolls its main area, not the page: make the viewport as tall as the dashboard.
        height = page.locator('[data-testid="stMain"]').evaluate("el => el.scrollHeight")
        page.set_viewport_size({"width": 1440, "height": int(height) + 40})
        shot = app_server.artifacts / "ops-dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert shot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nops dashboard screenshot: {shot}")
