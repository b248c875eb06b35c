"""Finding source code: `where_is` links an object's definition, `uses_of` a config field's uses.

Both are re-exported by `stackclub` (``from stackclub import where_is, uses_of``).  One concern
per module:

- `stackclub.source.links`: `where_is`, `source_url` and the `SourceLink` they return;
- `stackclub.source.uses`: `uses_of` and its `FieldUses` table;
- `stackclub.source.rules`: per-project rules (version -> git tag, file layout, documentation)
  and the Rubin packages the teaching pipeline mirrors;
- ``_names`` (dotted name -> object), ``_resolve`` (object -> file and lines), ``_index`` (the
  `ast` index of a file), ``_packages`` (which distribution installed a file, at which git ref)
  and ``_urls`` (building the links).
"""

from __future__ import annotations

__all__ = (
    "FieldUse",
    "FieldUses",
    "SourceLink",
    "source_url",
    "uses_of",
    "where_is",
)

from .links import SourceLink, source_url, where_is
from .uses import FieldUse, FieldUses, uses_of
