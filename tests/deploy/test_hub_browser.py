"""A user logs in through the hub's login page in a real browser (Playwright driving Debian's
Chromium) and does the whole flow in their JupyterLab at /user/<name>/lab: tag the parameters
cell, define a grid, productionize, read the leaderboard. Selectors are the command id and
the panel's aria labels and roles, which survive a restyling of the panel."""

from __future__ import annotations

import os
import re
import time

import pytest
import requests
from nbformat.v4 import new_code_cell, new_notebook
from playwright.sync_api import expect, sync_playwright

from tests.deploy.hubclient import BODY, PARAMS

CHROMIUM = os.environ.get("MVDP_CHROMIUM", "/usr/bin/chromium")
USER = "carol"


def untagged_notebook() -> dict:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [new_code_cell(PARAMS), new_code_cell(BODY)]
    return nb


@pytest.mark.timeout(600)
def test_login_through_the_hub_tag_grid_productionize_leaderboard(hub, tmp_path):
    token = hub.server(USER)
    base = f"{hub.url}/user/{USER}/"
    auth = {"Authorization": f"token {token}"}
    put = requests.put(
        f"{base}api/contents/browser.ipynb",
        json={"type": "notebook", "format": "json", "content": untagged_notebook()},
        headers=auth,
        timeout=60,
    )
    assert put.status_code in (200, 201), put.text

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{hub.url}/hub/login?next=%2Fuser%2F{USER}%2Flab%2Ftree%2Fbrowser.ipynb")
            page.fill("#username_input", USER)
            page.fill("#password_input", "any password: the dummy authenticator")
            page.click("#login_submit")
            page.wait_for_url(re.compile(rf"/user/{USER}/lab"), timeout=120_000)
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells).to_have_count(2, timeout=120_000)

            # tag the first cell as the parameters cell from its cell toolbar
            cells.nth(0).click()
            cells.nth(0).hover()
            cells.nth(0).locator('[data-command="mvdp:toggle-parameters-cell"]').click()

            page.locator('.lm-TabBar-tab[data-id="jp-mvdp-panel"]').click()
            panel = page.locator("#jp-mvdp-panel")
            expect(panel.get_by_label("x mode")).to_be_visible(timeout=60_000)
            panel.get_by_label("x mode").select_option("values")
            panel.get_by_label("x values").fill("1, 2")
            panel.get_by_label("metric", exact=True).fill("score")
            button = panel.get_by_role("button", name="Productionize", exact=True)
            expect(button).to_be_enabled(timeout=60_000)
            button.click()

            run = page.locator(".jp-mvdp-runView")  # the run opens in the main area
            expect(run.locator(".jp-mvdp-point.jp-mvdp-state-success")).to_have_count(
                2, timeout=180_000
            )
            board = run.locator(".jp-mvdp-leaderboard")
            expect(board.locator("th").filter(has_text="score")).to_have_count(1)
            expect(board.locator(".jp-mvdp-point")).to_have_count(2)
            page.screenshot(path=str(tmp_path / "hub-leaderboard.png"))
        finally:
            browser.close()

    # The run the browser started is the hub user's, and it finished as the panel showed.
    listed = requests.get(f"{base}mvdp/runs", headers=auth, timeout=60).json()["runs"]
    mine = [r for r in listed if r["notebook"] == "browser.ipynb"]
    assert len(mine) == 1 and f"_{USER}_" in mine[0]["pipeline"]
    deadline = time.monotonic() + 120
    run = mine[0]
    while run["state"] not in ("success", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.5)
        run = requests.get(f"{base}mvdp/runs/{run['run_id']}", headers=auth, timeout=60).json()
    assert run["state"] == "success" and run["best"]["parameters"] == {"x": 2}
