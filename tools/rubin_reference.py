#!/usr/bin/env python
"""Write ``tests/data/rubin_reference.yaml``: the names and defaults of the Rubin tasks we mirror.

The teaching pipeline (`stackclub.pipe`) mirrors drp_pipe's HSC ``isr`` (``lsst.ip.isr.IsrTask``)
and ``calibrateImage`` (``lsst.pipe.tasks.calibrateImage.CalibrateImageTask``).  The real packages
need the C++ stack, which is not on PyPI, so they cannot be imported here: this script reads
their source *as text* from bare git mirrors (``git show TAG:path``) and interprets it with
Python's `ast`, without running any of it.  It records, for each task and each of its subtasks
(recursively):

- every config field path with its kind, type and default, layer by layer: the field's own
  default, the ``setDefaults`` of the config classes above it (in the order they run), then the
  instrument overrides that ``pipetask`` applies for HSC (obs_subaru ``config/<_DefaultName>.py``)
  and the ``config:`` blocks of drp_pipe's HSC DRP pipeline with its imports;
- ``_DefaultName``, the class and a link to its source at the tag;
- the connections (dataset type name, storage class, dimensions, flags);
- the ``run()`` arguments and the fields of the Struct it returns.

Names and values only: no code and no documentation is copied.  Statements the interpreter does
not understand are listed under ``not_interpreted`` with their file and line, so nothing is
silently skipped.

Usage::

    python tools/rubin_reference.py                      # newest weekly tag of every mirror
    python tools/rubin_reference.py --tag ip_isr=w.2026.30 --mirrors /work/.mirror
    python tools/rubin_reference.py --check               # exit 1 if the committed file is stale

Mirrors are bare clones named ``lsst+<repo>/repo`` under ``--mirrors`` (``git clone --mirror
https://github.com/lsst/<repo>``).  Nothing fetched is committed: only this script, its package
``tools/rubinref/`` and its output.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rubinref.reference import main

if __name__ == "__main__":
    sys.exit(main())
