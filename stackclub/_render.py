"""One small table model that renders as escaped HTML (notebooks) and aligned text (terminals).

Helpers build a `Table` of rows first and let it render itself, so the HTML and the text
always show the same thing, and every value is escaped exactly once, here.
"""

from __future__ import annotations

__all__ = (
    "Link",
    "Styled",
    "Table",
    "escape",
    "warning_html",
    "warning_text",
)

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def escape(value: Any) -> str:
    """Return ``str(value)`` escaped for HTML text and attribute values.


    Parameters
    ----------
    value
        Anything; `str` of it is escaped.

    Returns
    -------
    text : `str`
        The escaped text.

    Examples
    --------
    >>> escape("<script>alert('x')</script> & [b]")
    '&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; [b]'
    """
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Link:
    """A table cell that is a hyperlink in HTML and plain text in a terminal.

    Examples
    --------
    >>> Link("Field", "https://example.org/?a=1&b=2").to_html()
    '<a href="https://example.org/?a=1&amp;b=2" target="_blank">Field</a>'
    """

    text: str
    url: str | None

    def __str__(self) -> str:
        return self.text

    def to_html(self) -> str:
        if not self.url:
            return escape(self.text)
        return f'<a href="{escape(self.url)}" target="_blank">{escape(self.text)}</a>'


@dataclass(frozen=True)
class Styled:
    """A table cell shown with an inline CSS style in HTML (e.g. a log level's colour).

    Examples
    --------
    >>> Styled("WARNING", "color: #b35c00").to_html()
    '<span style="color: #b35c00">WARNING</span>'
    """

    text: str
    style: str

    def __str__(self) -> str:
        return self.text

    def to_html(self) -> str:
        return f'<span style="{escape(self.style)}">{escape(self.text)}</span>'


def _cell_html(value: Any) -> str:
    if isinstance(value, Link | Styled):
        return value.to_html()
    return escape("" if value is None else value)


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class Table:
    """Rows under named columns, rendered as an HTML ``<table>`` or as aligned text.

    Attributes
    ----------
    columns
        Column headings.
    rows
        One sequence of cells per row; a cell is any value (shown with `str`), a `Link`
        or a `Styled`.
    title
        Optional caption.

    Examples
    --------
    >>> t = Table(["name", "value"], [["doBias", True], ["<x>", 1.5]])
    >>> print(t)
    name   value
    ------ -----
    doBias True
    <x>    1.5
    >>> "&lt;x&gt;" in t._repr_html_()
    True
    """

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str | None = None

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"row {i} has {len(row)} cells but the table has {len(self.columns)} columns"
                )

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self.rows)} rows × {len(self.columns)} columns>"

    def to_text(self, *, max_width: int | None = None) -> str:
        """Render as aligned plain text, one line per row (cells' newlines become spaces).

        Parameters
        ----------
        max_width
            Widest a column may be; longer cells are cut with ``…`` (`None`: no limit).

        Returns
        -------
        text : `str`
            The title, the header, a rule and one line per row.
        """
        grid = [[_cell_text(c).replace("\n", " ") for c in row] for row in self.rows]
        heads = [str(c) for c in self.columns]
        widths = [max([len(h)] + [len(r[i]) for r in grid]) for i, h in enumerate(heads)]
        if max_width is not None:
            widths = [min(w, max_width) for w in widths]

        def line(cells: Iterable[str]) -> str:
            out = []
            for text, width in zip(cells, widths, strict=True):
                if len(text) > width:
                    text = text[: max(width - 1, 0)] + "…"
                out.append(text.ljust(width))
            return " ".join(out).rstrip()

        lines = [self.title] if self.title else []
        lines += [line(heads), " ".join("-" * w for w in widths)]
        lines += [line(r) for r in grid]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        """Render as an HTML table with a header row; every cell is escaped."""
        parts = ['<div class="stackclub-table">', "<table>"]
        if self.title:
            parts.append(f"<caption>{escape(self.title)}</caption>")
        heads = "".join(f'<th scope="col" style="text-align:left">{escape(c)}</th>' for c in self.columns)
        parts.append(f"<thead><tr>{heads}")
        parts.append("</tr></thead><tbody>")
        for row in self.rows:
            parts.append(
                "<tr>" + "".join(f'<td style="text-align:left">{_cell_html(c)}</td>' for c in row) + "</tr>"
            )
        parts.append("</tbody></table></div>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()


_WARNING_STYLE = (
    "margin: 0.3em 0; padding: 0.3em 0.6em; border-left: 4px solid var(--jp-error-color1, #d32f2f); "
    "background: var(--jp-error-color3, #ffebee)"
)


def warning_text(message: str) -> str:
    """Return a warning line shown above a table in a terminal.

    Parameters
    ----------
    message
        What is wrong.

    Returns
    -------
    line : `str`
        The message after a warning sign.

    Examples
    --------
    >>> warning_text("C does not validate")
    '⚠ C does not validate'
    """
    return f"⚠ {message}"


def warning_html(message: str) -> str:
    """Return a warning paragraph shown above a table in a notebook (escaped).

    Parameters
    ----------
    message
        What is wrong.

    Returns
    -------
    html : `str`
        A ``<p class="stackclub-problem">`` in the notebook's error colours.

    Examples
    --------
    >>> warning_html("a < b").endswith('>⚠ a &lt; b</p>')
    True
    """
    return (
        f'<p class="stackclub-problem" style="{escape(_WARNING_STYLE)}">{escape(warning_text(message))}</p>'
    )
