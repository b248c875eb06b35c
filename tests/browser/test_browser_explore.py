"""The live task explorer in a real JupyterLab: click a switch, the picture changes.

A two-cell notebook (written here, on the tests' small SimCam repository) shows
``stackclub.explore_task(IsrTask, ...)``; the test runs it in headless Chromium, reads the bytes
of the panel's picture, clicks the ``doFlat`` checkbox and waits until the picture's bytes differ
and the panel's details list ``doFlat`` as changed.  Run with
``STACKCLUB_BROWSER_TEST=1 .venv/bin/python -m pytest tests/browser/test_browser_explore.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"
DATA_ID = {"exposure": 2026031500002, "detector": 4}
SWITCH = "doFlat"
# As tests/browser/conftest.py: autosave off, every cell rendered, no news checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
# The picture's bytes, read in the page: the Image widget shows them through a blob: URL.
READ_PICTURE = """async () => {
  const img = document.querySelector('img.stackclub-explorer-image');
  if (!img || !img.src || !img.complete || img.naturalWidth === 0) return null;
  const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(repo: str) -> dict[str, Any]:
    sources = [
        "import stackclub\nfrom stackclub.pipe import IsrTask",
        f"explorer = stackclub.explore_task(IsrTask, {DATA_ID!r}, repo={repo!r})\nexplorer",
    ]
    cells = [
        {
            "cell_type": "code",
            "id": f"cell{i}",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": s,
        }
        for i, s in enumerate(sources)
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def explore_lab(small_repo: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A JupyterLab server (loopback, token) serving the explorer notebook."""
    base = tmp_path_factory.mktemp("explore_lab")
    root = base / "notebooks"
    root.mkdir()
    (root / "explore.ipynb").write_text(json.dumps(_notebook(small_repo), indent=1))
    for rel, value in LAB_SETTINGS.items():
        (base / "settings" / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / "settings" / rel).write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        IPYTHONDIR=str(base / "ipython"),
    )
    log = base / "lab.log"
    command = [
        str(bin_dir / "jupyter"), "lab", "--no-browser", "--allow-root",
        f"--port={port}", "--port-retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={base / 'settings'}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": url, "token": token, "log": log}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _picture(page: Any, timeout: float = 180.0, differs_from: str | None = None) -> str:
    """The picture's bytes (base64), once shown (and, with ``differs_from``, once they changed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = page.evaluate(READ_PICTURE)
        if data and data != differs_from:
            return str(data)
        time.sleep(0.5)
    page.screenshot(path=str(SCREENSHOTS / "lab_explore_timeout.png"))
    raise AssertionError("the explorer's picture did not " + ("change" if differs_from else "appear"))


def test_a_switch_changes_the_picture(page: Any, explore_lab: dict[str, Any], screenshots: Path) -> None:
    page.goto(f"{explore_lab['url']}/lab/tree/explore.ipynb?token={explore_lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    select = ".jp-Dialog button:has-text('Select')"
    idle = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
    page.wait_for_selector(f"{select}, {idle}", timeout=120_000)
    if page.locator(select).count():
        page.click(select)
    page.wait_for_selector(idle, timeout=120_000)
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
        timeout=120_000,
    )
    t0 = time.monotonic()
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_selector(".stackclub-explorer", timeout=180_000)
    before = _picture(page)
    print(f"\n  the panel showed its first picture {time.monotonic() - t0:.0f} s after Run All")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [t for t in errors.all_inner_texts() if "Error" in t], errors.all_inner_texts()
    assert page.locator(".stackclub-explorer-switch").count() >= 5
    details = page.locator(".stackclub-explorer-details")
    assert "Config: the task" in details.inner_text()  # defaults: nothing changed yet
    page.locator(".stackclub-explorer").screenshot(path=str(screenshots / "lab_explore_before.png"))

    box = page.locator(f".stackclub-explorer-switch:has-text('{SWITCH}') input[type='checkbox']")
    assert box.count() == 1 and box.is_checked()
    t1 = time.monotonic()
    box.click()
    after = _picture(page, timeout=120.0, differs_from=before)
    print(f"  unticking {SWITCH} changed the picture {time.monotonic() - t1:.1f} s later")
    assert hashlib.sha256(after.encode()).digest() != hashlib.sha256(before.encode()).digest()
    page.wait_for_function(
        "(s) => document.querySelector('.stackclub-explorer-details')?.innerText.includes(s)",
        arg=SWITCH,
        timeout=60_000,
    )
    assert not box.is_checked()
    page.locator(".stackclub-explorer").screenshot(path=str(screenshots / "lab_explore_after.png"))
