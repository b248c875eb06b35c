"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, a JupyterLab server.

These tests are skipped by a plain ``pytest`` / ``make test`` run (they need a browser and take
a few minutes); ``make test-browser`` sets ``STACKCLUB_BROWSER_TEST=1`` and runs them.  Without a
Chromium on PATH they skip with the reason.  Never run ``playwright install``: the browser is
Debian's (``apt-get install chromium``), passed to Playwright as ``executable_path``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOKS = ROOT / "notebooks"
DOCS_HTML = ROOT / "docs" / "_build" / "html"
SCREENSHOTS = ROOT / "test-output" / "browser"
ENABLED = os.environ.get("STACKCLUB_BROWSER_TEST") == "1"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# JupyterLab user settings for the test server: never write the notebook back (autosave off),
# render every cell (no windowing, so all outputs are in the DOM), no news/update checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="browser test: runs under `make test-browser` (STACKCLUB_BROWSER_TEST=1)")
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``notebook`` runs once per notebook under test (select one with ``-k``)."""
    if "notebook" in metafunc.fixturenames:
        notebooks = notebooks_under_test()
        metafunc.parametrize("notebook", notebooks, ids=[p.stem for p in notebooks])


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notebook_under_test() -> Path:
    """``02b_RunningTasks`` when it exists, else ``01_FindingSource``."""
    for stem in ("02b_RunningTasks", "01_FindingSource"):
        path = NOTEBOOKS / f"{stem}.ipynb"
        if path.exists():
            return path
    raise FileNotFoundError(f"neither 02b_RunningTasks nor 01_FindingSource is in {NOTEBOOKS}")


def notebooks_under_test() -> list[Path]:
    """The notebooks the lab test runs: `notebook_under_test` and ``07_ScalingUp`` (a few minutes)."""
    found = [notebook_under_test()]
    scaling = NOTEBOOKS / "07_ScalingUp.ipynb"
    return found + [scaling] if scaling.exists() else found


def environment_bin_dirs() -> list[str]:
    """The virtual environment's directories of commands (what activating it puts on PATH)."""
    import sysconfig

    return list(dict.fromkeys([str(Path(sys.executable).parent), sysconfig.get_path("scripts")]))


def path_without_the_venv(path: str) -> str:
    """``PATH`` as a shell that never activated the virtual environment has it."""
    venv = {os.path.abspath(d) for d in environment_bin_dirs()}
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and os.path.abspath(p) not in venv)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.skip(
            "no Chromium found: install Debian's (`apt-get install -y chromium`; .ci/run does), "
            "or set CHROMIUM=/path/to/chromium"
        )
    return path


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _wait_for_http(url: str, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"the server exited with {proc.returncode}; its log:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s; server log:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A JupyterLab server on a free loopback port with a token, serving copies of the notebooks.

    Started as ``.venv/bin/jupyter lab`` from a shell that never activated the virtual
    environment: its directory is *not* on ``PATH`` (nor ``VIRTUAL_ENV`` set), as when a learner
    runs JupyterLab by its path, from VS Code or on Binder.  Whatever a notebook runs must be
    found without it (``stackclub.run_command`` does that; a ``!pipetask`` cell would not).
    """
    notebook = notebook_under_test()
    base = tmp_path_factory.mktemp("lab")
    root_dir = base / "notebooks"
    root_dir.mkdir()
    # Copies without outputs: the page can only show what this run produced, and the committed
    # notebooks are never written (autosave is off as well).
    for source in notebooks_under_test():
        nb = json.loads(source.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
                # A collapsed input (an exercise's solution) shows a placeholder without the
                # execution-count prompt the test waits for: show every input.
                cell["metadata"].get("jupyter", {}).pop("source_hidden", None)
        (root_dir / source.name).write_text(json.dumps(nb, indent=1))
    settings = base / "settings"
    for rel, value in LAB_SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "NPY_DISABLE_CPU_FEATURES")}
    env["PATH"] = path_without_the_venv(env.get("PATH", ""))
    elsewhere = shutil.which("pipetask", path=env["PATH"])
    if elsewhere is not None:  # the test then proves less: say so
        print(f"\nnote: a pipetask outside the virtual environment is on PATH: {elsewhere}")
    env["JUPYTER_RUNTIME_DIR"] = str(base / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(base / "config")
    env["IPYTHONDIR"] = str(base / "ipython")
    log = base / "lab.log"
    command = [
        str(bin_dir / "jupyter"), "lab", "--no-browser", "--allow-root",
        f"--port={port}", "--port-retries=0", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log, timeout=120)
        yield {
            "url": f"http://127.0.0.1:{port}",
            "token": token,
            "notebook": notebook,
            "notebooks": notebooks_under_test(),
            "log": log,
            "path": env["PATH"],
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, SCREENSHOTS / "jupyterlab.log")  # kept with the screenshots (CI artifact)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def docs_site() -> Iterator[str]:
    """The built docs (``make docs``) served over HTTP on a free loopback port."""
    if not (DOCS_HTML / "index.html").exists():
        pytest.fail(f"{DOCS_HTML} has no index.html: run `make docs` first (make test-browser does)")
    handler = functools.partial(_QuietHandler, directory=str(DOCS_HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
