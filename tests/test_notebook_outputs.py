"""Every committed notebook output is portable and every code cell is one a reader can run anywhere.

nbval checks that a fresh run prints what the notebook stores; this checks *what* it stores
(CONVENTIONS.md, "Notebooks" and "Notebook outputs are portable"), statically, in milliseconds:

- no float printed with more than 10 significant digits: numpy dispatches to different SIMD
  code on different CPUs, so the last digits differ from machine to machine (``190.6420136081536``
  here, ``190.64201360815358`` on an AVX-512 EPYC); print what a reader needs (``f"{x:.4f}"``);
- no absolute path of this machine (``/home/…``, ``/work/…``, ``/tmp/…``, ``/root/…``) left after
  ``notebooks/sanitize.cfg`` has done its work (nbval compares sanitized text, a reader does not);
- no ``0x…`` address (``<Foo object at 0x7f…>``: give the object a repr, or show what it holds);
- no ``import`` of a private ``stackclub._…`` module: notebooks use the public API;
- no ``!`` shell cell (or ``%%bash``): it finds the tools only when the virtual environment is on
  ``PATH``; ``stackclub.run_command`` works however the kernel was started;
- no ``# NBVAL_…`` comment: it shows on the docs site and to the reader; use the cell *tag*
  ``nbval-ignore-output`` instead (nbval honours both; see ``test_nbval_honours_the_tag``).

Each failure names the notebook, the cell (its number in the notebook, 1-based, and its ``In [n]``)
and the offending text.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))  # 02a_..., 02b_... too
SANITIZE = ROOT / "notebooks" / "sanitize.cfg"

MAX_SIGNIFICANT_DIGITS = 10
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")

# A decimal number not glued to other digits, dots or letters (versions like 30.2026.4300 and
# addresses like 127.0.0.1 are not numbers; 1.5e-07 is one).
FLOAT = re.compile(r"(?<![\w.])[-+]?(\d+)\.(\d+)(?:[eE][-+]?\d+)?(?![\w.])")
MACHINE_PATH = re.compile(r"(?<![\w.:/~-])/(?:home|work|tmp|root)/[^\s'\"<>()\]]*")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
PRIVATE_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+stackclub(?:\.\w+)*\._\w+[ \t]+import\b.*"
    r"|import[ \t]+stackclub(?:\.\w+)*\._\w+.*"
    r"|from[ \t]+stackclub(?:\.\w+)*[ \t]+import[ \t]+.*\b_\w+.*)$",
    re.MULTILINE,
)
SHELL = re.compile(r"^\s*(!.*|%%(?:bash|sh|script)\b.*|%(?:sx|system)\b.*)$", re.MULTILINE)
NBVAL_COMMENT = re.compile(r"^\s*#\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    notebook: str
    cell: int  # 1-based position among all cells
    prompt: int | None  # the In [n] execution count
    rule: str
    text: str

    def __str__(self) -> str:
        prompt = f" [In {self.prompt}]" if self.prompt is not None else ""
        return f"{self.notebook} cell {self.cell}{prompt}: {self.rule}: {self.text!r}"


def sanitizers() -> list[tuple[re.Pattern[str], str]]:
    """The regex -> replacement pairs of notebooks/sanitize.cfg, read as nbval reads them."""
    parser = configparser.RawConfigParser()
    parser.read(SANITIZE)
    return [
        (re.compile(parser.get(section, "regex")), parser.get(section, "replace", fallback=""))
        for section in parser.sections()
    ]


def sanitize(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for regex, replacement in rules:
        text = regex.sub(replacement, text)
    return text


def significant_digits(whole: str, fraction: str) -> int:
    """Digits that carry information: ``190.6420136081536`` -> 16, ``0.000125`` -> 3, ``2.50`` -> 2."""
    return len((whole + fraction).lstrip("0").rstrip("0"))


def output_texts(output: dict) -> list[str]:
    """The text a reader sees in one output (images left out)."""
    kind = output.get("output_type")
    if kind == "stream":
        return ["".join(output.get("text", ""))]
    if kind == "error":
        return [
            f"{output.get('ename', '')}: {output.get('evalue', '')}",
            "\n".join(output.get("traceback", [])),
        ]
    texts = []
    for mime, value in output.get("data", {}).items():
        if mime in TEXT_MIMES or mime.endswith("+json"):
            texts.append(
                value
                if isinstance(value, str)
                else "".join(value)
                if isinstance(value, list)
                else json.dumps(value)
            )
    return texts


def scan_notebook(path: Path, rules: list[tuple[re.Pattern[str], str]] | None = None) -> list[Finding]:
    """Everything in one notebook that breaks the rules above."""
    rules = sanitizers() if rules is None else rules
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: list[Finding] = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell.get("cell_type") != "code":
            continue
        prompt = cell.get("execution_count")
        source = "".join(cell.get("source", ""))

        def add(rule: str, text: str, number: int = number, prompt: int | None = prompt) -> None:
            finding = Finding(path.name, number, prompt, rule, text)
            if finding not in found:  # text/plain and text/html of one output say the same
                found.append(finding)

        for m in PRIVATE_IMPORT.finditer(source):
            add("imports a private stackclub module (use the public API)", m.group(0).strip())
        for m in SHELL.finditer(source):
            add("a shell command (use stackclub.run_command)", m.group(1).strip())
        for m in NBVAL_COMMENT.finditer(source):
            add("an nbval comment (use the cell tag nbval-ignore-output)", m.group(0).strip())
        for output in cell.get("outputs", []):
            for raw in output_texts(output):
                for m in ADDRESS.finditer(raw):
                    add("a memory address", _context(raw, m))
                text = sanitize(raw, rules)
                for m in MACHINE_PATH.finditer(text):
                    add("a machine path not in sanitize.cfg", m.group(0))
                for m in FLOAT.finditer(text):
                    digits = significant_digits(m.group(1), m.group(2))
                    if digits > MAX_SIGNIFICANT_DIGITS:
                        add(f"a float with {digits} significant digits", m.group(0))
    return found


def _context(text: str, m: re.Match[str], width: int = 30) -> str:
    return text[max(m.start() - width, 0) : m.end() + 10].replace("\n", " ")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_portable_and_cells_runnable_anywhere(notebook: Path) -> None:
    findings = scan_notebook(notebook)
    assert not findings, f"{len(findings)} problems in {notebook.name}:\n" + "\n".join(map(str, findings))


# -- the scanner itself, on cells made for it ---------------------------------------------------------


def _notebook(tmp_path: Path, cells: list[dict]) -> Path:
    path = tmp_path / "99_Test.ipynb"
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def _code(source: str, *outputs: dict, count: int = 1, tags: list[str] | None = None) -> dict:
    return {
        "id": f"cell-{abs(hash(source)) % 10**8}",
        "cell_type": "code",
        "execution_count": count,
        "metadata": {"tags": tags or []},
        "outputs": list(outputs),
        "source": source,
    }


def _text(text: str) -> dict:
    return {
        "output_type": "execute_result",
        "execution_count": 1,
        "data": {"text/plain": text},
        "metadata": {},
    }


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_the_scanner_finds_each_problem_and_names_where(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": "# Title: 190.6420136081536 in prose is fine",
            },
            _code("x", _text("190.6420136081536"), count=3),
            _code("y", _stream("kept at /home/alice/data and /work/wt/x.fits\n"), count=4),
            _code("z", _text("<Foo object at 0x7f3a2b4c5d60>")),
            _code(
                "from stackclub._render import Table\nimport stackclub._lock\nfrom stackclub import _magics"
            ),
            _code("!stackclub --help\n%%bash\nls"),
            _code("# NBVAL_IGNORE_OUTPUT\nimport stackclub"),
        ],
    )
    found = [str(f) for f in scan_notebook(path)]
    assert found == [
        "99_Test.ipynb cell 2 [In 3]: a float with 16 significant digits: '190.6420136081536'",
        "99_Test.ipynb cell 3 [In 4]: a machine path not in sanitize.cfg: '/home/alice/data'",
        "99_Test.ipynb cell 3 [In 4]: a machine path not in sanitize.cfg: '/work/wt/x.fits'",
        "99_Test.ipynb cell 4 [In 1]: a memory address: '<Foo object at 0x7f3a2b4c5d60>'",
        "99_Test.ipynb cell 5 [In 1]: imports a private stackclub module (use the public API): "
        "'from stackclub._render import Table'",
        "99_Test.ipynb cell 5 [In 1]: imports a private stackclub module (use the public API): "
        "'import stackclub._lock'",
        "99_Test.ipynb cell 5 [In 1]: imports a private stackclub module (use the public API): "
        "'from stackclub import _magics'",
        "99_Test.ipynb cell 6 [In 1]: a shell command (use stackclub.run_command): '!stackclub --help'",
        "99_Test.ipynb cell 6 [In 1]: a shell command (use stackclub.run_command): '%%bash'",
        "99_Test.ipynb cell 7 [In 1]: an nbval comment (use the cell tag nbval-ignore-output): "
        "'# NBVAL_IGNORE_OUTPUT'",
    ]


def test_the_scanner_leaves_portable_output_alone(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        [
            _code(
                "from stackclub import run_command\nimport stackclub.pipe",
                _text("190.6420 2.5e-07 1234567890.0 0.000123456789 version 30.2026.4300 at 127.0.0.1"),
                # sanitize.cfg covers these: the checkout, temporary files, timings
                _stream(
                    f"{ROOT}/demo_repo/butler.yaml /tmp/stackclub-07-abc/all.qg took 12.3456789012345 s\n"
                ),
                _text("https://github.com/lsst/pipe_base/blob/main/tmp/x.py ~/work/x 0x1F"),
                tags=["nbval-ignore-output"],
            )
        ],
    )
    assert scan_notebook(path) == []
    assert significant_digits("0", "000123456789") == 9
    assert significant_digits("190", "6420136081536") == 16


def test_nbval_honours_the_tag(tmp_path: Path) -> None:
    """A stored output that a fresh run does not reproduce passes only with the cell tag."""
    stale = _text("a value from another day")
    cells = [_code("print('today')", stale, tags=["nbval-ignore-output"])]
    tagged = _notebook(tmp_path, cells)
    untagged = tmp_path / "98_Untagged.ipynb"
    untagged.write_text(tagged.read_text().replace('"nbval-ignore-output"', '"other-tag"'))
    run = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q"]
    args = ["-o", "addopts=", "--rootdir", str(tmp_path)]
    ok = subprocess.run([*run, *args, str(tagged)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout[-2000:]
    bad = subprocess.run([*run, *args, str(untagged)], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 1 and "Cell outputs differ" in bad.stdout, bad.stdout[-2000:]


# -- the second notebook pass of `make test`: numpy held to its baseline --------------------------------

BASELINE = ROOT / ".ci" / "numpy-baseline"

# Transcendental ufuncs on a fixed array: their SIMD code paths differ in the last bits.
PROBE = """
import hashlib, json, numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
x = np.linspace(0.5, 20.0, 20_001)
values = {}
for name in ("exp", "log", "sin", "cos", "tanh", "arctan", "cbrt", "log10"):
    for dtype in ("float64", "float32"):
        values[f"{name}/{dtype}"] = getattr(np, name)(x.astype(dtype))
print(json.dumps({
    "dispatch": {f: bool(__cpu_features__[f]) for f in __cpu_dispatch__},
    "digests": {k: hashlib.sha1(v.tobytes()).hexdigest() for k, v in values.items()},
    "arrays": {k: v.tolist()[::97] for k, v in values.items()},
}))
"""


def _environ_without_npy() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")
    }


def _baseline_features() -> str:
    out = subprocess.run(
        [sys.executable, str(BASELINE)], env=_environ_without_npy(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _run_in_kernel(code: str, env: dict[str, str], cwd: Path) -> str:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
    texts: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            texts.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            texts.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")

    try:
        kc.execute_interactive(code, output_hook=hook, timeout=120)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(texts)


def test_the_baseline_list_is_what_this_numpy_dispatches_to_on_this_cpu() -> None:
    import numpy as np
    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__

    features = _baseline_features().split()
    assert set(features) <= set(__cpu_dispatch__)
    assert not set(features) & set(__cpu_baseline__)  # naming one would stop numpy's import
    if not features:
        pytest.skip(f"numpy {np.__version__} dispatches to nothing beyond its baseline on this CPU")
    env = {**_environ_without_npy(), "NPY_DISABLE_CPU_FEATURES": " ".join(features)}
    # numpy imports without a word (-W error: not even an ImportWarning) ...
    quiet = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import numpy"], env=env, capture_output=True
    )
    assert quiet.returncode == 0 and quiet.stderr == b"", quiet.stderr.decode()
    # ... whereas a name it does not dispatch to (numpy 1.x's AVX512F, an ARM name) only warns, and a
    # baseline name is an error: why .ci/numpy-baseline computes the list.
    other = {**env, "NPY_DISABLE_CPU_FEATURES": "AVX512F NEON"}
    warned = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import numpy"], env=other, capture_output=True
    )
    assert warned.returncode == 0 and b"not part of the dispatched optimizations" in warned.stderr
    base = {**env, "NPY_DISABLE_CPU_FEATURES": __cpu_baseline__[-1]}
    failed = subprocess.run([sys.executable, "-c", "import numpy"], env=base, capture_output=True)
    assert failed.returncode != 0 and b"part of the baseline optimizations" in failed.stderr


def test_a_kernel_started_with_the_baseline_computes_other_last_digits(tmp_path: Path) -> None:
    features = _baseline_features()
    if not features:
        pytest.skip("numpy dispatches to nothing beyond its baseline on this CPU")
    full = json.loads(
        subprocess.run(
            [sys.executable, "-c", PROBE],
            env=_environ_without_npy(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    env = {**_environ_without_npy(), "NPY_DISABLE_CPU_FEATURES": features}
    held = json.loads(_run_in_kernel(PROBE, env, tmp_path))
    # The kernel reports every named feature disabled, the full run reports them on.
    assert {f for f, on in full["dispatch"].items() if on} == set(features.split())
    assert not any(held["dispatch"].values())
    # And computes other last digits: the difference the second pass of `make test` catches.
    differ = [k for k in full["digests"] if full["digests"][k] != held["digests"][k]]
    assert differ, "no ufunc result changed with numpy held to its baseline"
    name = differ[0]
    pairs = [(a, b) for a, b in zip(full["arrays"][name], held["arrays"][name], strict=True) if a != b]
    print(f"\n{len(differ)} of {len(full['digests'])} ufunc results differ, e.g. {name}: {pairs[:1]}")
