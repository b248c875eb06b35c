"""Open pages of the built docs site (``make docs``) in headless Chromium.

A notebook page must show its stored HTML tables and images and carry the Binder and download
links (the download must be served); an API page must show its example's table and figure.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

DOCS_HTML = Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"
NOTEBOOK_PAGES = ("02a_PipelineTasks", "01_FindingSource")


def _rendered_images(page: Any, selector: str) -> list[list[Any]]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])"
    )


def _check_tables(page: Any, selector: str) -> int:
    tables = page.locator(selector)
    n = tables.count()
    assert n >= 1, f"no table matches {selector!r}"
    headerless = page.eval_on_selector_all(selector, "els => els.filter(t => !t.querySelector('th')).length")
    assert headerless == 0, f"{headerless} of {n} tables have no <th>"
    tables.first.scroll_into_view_if_needed()
    assert tables.first.is_visible()
    assert page.locator(f"{selector} td").count() > 0
    return n


def test_notebook_page(page: Any, docs_site: str, screenshots: Path) -> None:
    stem = next(s for s in NOTEBOOK_PAGES if (DOCS_HTML / "notebooks" / f"{s}.html").exists())
    print(f"\ndocs page: notebooks/{stem}.html")
    page.goto(f"{docs_site}/notebooks/{stem}.html")
    page.wait_for_load_state("load")

    n = _check_tables(page, ".cell_output table")
    images = _rendered_images(page, "article img")
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images did not render: {broken}"
    print(f"  {n} HTML tables in cell outputs, {len(images)} images rendered")

    binder = page.locator("a:has-text('Open on Binder')")
    assert binder.count() == 1
    assert binder.get_attribute("href").endswith(f"labpath=notebooks%2F{stem}.ipynb")
    download = page.locator("a.download:has-text('Download this notebook')")
    assert download.count() == 1
    href = download.get_attribute("href")
    with urllib.request.urlopen(f"{docs_site}/notebooks/{href}") as response:
        assert response.status == 200
        assert b'"cells"' in response.read()
    page.locator(".cell_output table").first.screenshot(path=str(screenshots / f"docs_{stem}_table.png"))
    page.screenshot(path=str(screenshots / f"docs_{stem}.png"))


# page -> (images its examples draw, CSS selector of an output that must be visible)
API_PAGES = {
    "where_is": (0, ".cell_output a[href*='pipelineTask.py']"),
    "config_docs": (0, ".cell_output .stackclub-config table"),
    "logs": (0, ".cell_output .stackclub-logs"),
    "display": (2, ".cell_output img"),
    "versions": (0, ".cell_output table"),
    "simcam": (1, ".cell_output img"),
    "pipe": (0, ".cell_output table"),
}


@pytest.mark.parametrize("api_page", sorted(API_PAGES))
def test_api_page(page: Any, docs_site: str, screenshots: Path, api_page: str) -> None:
    min_images, must_show = API_PAGES[api_page]
    page.goto(f"{docs_site}/api/{api_page}.html")
    page.wait_for_load_state("load")
    cells = page.locator("div.cell")
    assert cells.count() >= 1, "no example cell"
    without_output = page.eval_on_selector_all(
        "div.cell", "els => els.filter(c => !c.querySelector('.cell_output')).length"
    )
    assert without_output == 0, f"{without_output} example cells have no output"
    shown = page.locator(must_show).first
    shown.scroll_into_view_if_needed()
    assert shown.is_visible(), f"{must_show!r} is not visible"
    images = _rendered_images(page, ".cell_output img")
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images did not render: {broken}"
    assert len(images) >= min_images
    assert page.locator("dl.py.function, dl.py.class").count() >= 1, "no autodoc entry"
    tables = page.locator(".cell_output table").count()
    if tables:
        _check_tables(page, ".cell_output table")
    if api_page == "config_docs":
        page.locator(".cell_output .stackclub-config").first.screenshot(
            path=str(screenshots / "docs_api_show_config.png")
        )
    if images:
        page.locator(".cell_output img").first.screenshot(
            path=str(screenshots / f"docs_api_{api_page}_image.png")
        )
    print(
        f"\napi/{api_page}.html: {cells.count()} examples with output, {tables} tables, {len(images)} images"
    )
