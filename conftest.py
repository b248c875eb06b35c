"""Root pytest configuration, shared by the unit tests and the nbval notebook run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Notebook cells run `!stackclub ...` and `!pipetask ...`: make the commands installed next to
# this interpreter (the project's .venv) findable by the kernels nbval starts, as `make` does.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
