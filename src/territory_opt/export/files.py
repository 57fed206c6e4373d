"""Export files: what a load file is, and how it is rendered to bytes.

Load files (what a CRM loader reads) are UTF-8 without BOM, RFC 4180 CSV with
LF line ends, and keep every cell exactly as it is: a cell that a spreadsheet
would run as a formula (it starts with ``= + - @``, a tab, CR or LF) is listed
in the manifest, not altered. Review copies (CSV with BOM, and XLSX) are for
people: there such cells get a leading ``'`` so that opening them runs nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

#: First characters that make a spreadsheet treat a cell as a formula (OWASP
#: "CSV injection"): = + - @, tab, carriage return and line feed.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
#: A plain number ("-12.5", "1e3") is not a formula even though it may start with -/+.
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: Characters that force RFC 4180 quoting.
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
#: Rows per sheet of the XLSX review copy. Excel holds 1,048,575; past 100,000 rows a
#: workbook is slow to write and to open, and the CSV review copy has every row.
XLSX_MAX_ROWS = 100_000
#: Sheet names are at most 31 characters in Excel.
XLSX_SHEET_NAME = 31
#: Fixed creation time written into XLSX review copies, so that the bytes repeat.
XLSX_CREATED = dt.datetime(2000, 1, 1)


class Operation(StrEnum):
    """What a loader does with the rows of a file."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    UPSERT = "upsert"


class Format(StrEnum):
    """File formats written by the exports."""

    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    GEOJSON = "geojson"
    GPKG = "gpkg"


@dataclass(frozen=True)
class Reference:
    """A column whose CRM Id is known only at load time.

    Attributes
    ----------
    column
        The column in the load file.
    object
        The object the Id belongs to (``Territory2``, ``ForecastingType``...).
    by
        How the Id is found: ``("DeveloperName",)`` when the cell holds the
        record's DeveloperName, or the key columns of this file (for the ``Id``
        of association and quota rows to delete or update).
    """

    column: str
    object: str
    by: tuple[str, ...] = ("DeveloperName",)


@dataclass(frozen=True)
class LoadFile:
    """One file of an export: rows for one object and one operation.

    Attributes
    ----------
    name
        File name without folder and step number, e.g. ``Territory2_insert_depth1.csv``.
    object
        The CRM object (or generic table) the rows are for.
    operation
        What the loader does with the rows.
    key
        Columns that identify a row; unique within the file.
    table
        The rows, every cell a string, columns in file order.
    how
        One sentence for the runbook: which tool and which action loads the file.
    references
        Columns that ``territory-opt export resolve`` fills with CRM Ids.
    fmt
        File format; non-CSV files carry their bytes in ``payload``.
    payload
        Rendered bytes for JSONL, Parquet and spatial files (``table`` then holds
        the same rows for checks and review copies).
    """

    name: str
    object: str
    operation: Operation
    key: tuple[str, ...]
    table: pd.DataFrame
    how: str
    references: tuple[Reference, ...] = ()
    fmt: Format = Format.CSV
    payload: bytes | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        """Number of records in the file."""
        return len(self.table)

    def data(self) -> bytes:
        """Return the file's bytes as loaded into the CRM."""
        if self.payload is not None:
            return self.payload
        return csv_bytes(self.table)


def text_frame(columns: Mapping[str, Iterable[object]]) -> pd.DataFrame:
    """Build a table whose cells are all Python strings (``""`` for missing).

    Examples
    --------
    >>> text_frame({"a": ["x", None], "b": [1, 2.5]}).to_dict("list")
    {'a': ['x', ''], 'b': ['1', '2.5']}
    """
    data = {name: [_text(v) for v in values] for name, values in columns.items()}
    n = len(next(iter(data.values()))) if data else 0
    return pd.DataFrame(data, index=pd.RangeIndex(n), dtype=object)


def _text(value: object) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return ""
        return number_text(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def number_text(value: float) -> str:
    """Shortest plain decimal text of a number: no exponent, no trailing ``.0``.

    Examples
    --------
    >>> number_text(150000.0), number_text(1234.5), number_text(0.1)
    ('150000', '1234.5', '0.1')
    """
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = np.format_float_positional(value, trim="-")
    return text


def _quoted(values: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    if len(out) == 0:
        return out
    needs = pd.Series(out, dtype=object).str.contains(_NEEDS_QUOTES.pattern, regex=True)
    for pos in np.flatnonzero(needs.to_numpy(dtype=bool)):
        out[pos] = '"' + str(out[pos]).replace('"', '""') + '"'
    return out


def csv_text(table: pd.DataFrame) -> str:
    r"""Render a table as RFC 4180 CSV with LF line ends (quotes only where needed).

    Examples
    --------
    >>> csv_text(text_frame({"a": ["x,y", 'say "hi" now'], "b": ["1", "line\rbreak"]}))
    'a,b\n"x,y",1\n"say ""hi"" now","line\rbreak"\n'
    """
    header = ",".join(_quoted(np.array([str(c) for c in table.columns], dtype=object)))
    if len(table) == 0:
        return header + "\n"
    cols = [_quoted(table[c].to_numpy(dtype=object)) for c in table.columns]
    rows = [",".join(cells) for cells in zip(*cols, strict=True)]
    return header + "\n" + "\n".join(rows) + "\n"


def csv_bytes(table: pd.DataFrame) -> bytes:
    """CSV load file bytes: UTF-8 without BOM, RFC 4180, LF line ends."""
    return csv_text(table).encode("utf-8")


def is_formula_trigger(text: str) -> bool:
    """Tell whether a spreadsheet would read ``text`` as a formula.

    Examples
    --------
    >>> is_formula_trigger("=HYPERLINK(1)"), is_formula_trigger("-12.5"), is_formula_trigger("Acme")
    (True, False, False)
    """
    return text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(text)


def neutralise(text: str) -> str:
    """Prefix a formula-like cell with ``'`` (review copies only).

    Examples
    --------
    >>> neutralise("@SUM(A1)"), neutralise("Acme")
    ("'@SUM(A1)", 'Acme')
    """
    return "'" + text if is_formula_trigger(text) else text


def review_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``table`` with formula-like cells neutralised."""
    out = table.copy()
    for col in out.columns:
        out[col] = [neutralise(v) for v in out[col].to_numpy(dtype=object)]
    return out


def review_csv_bytes(table: pd.DataFrame) -> bytes:
    """Review copy: UTF-8 with BOM (so Excel reads it as UTF-8), formula cells neutralised."""
    return b"\xef\xbb\xbf" + csv_bytes(review_table(table))


def review_xlsx_bytes(sheets: Sequence[tuple[str, pd.DataFrame]]) -> bytes:
    """One workbook with a sheet per table; cells are strings, nothing is a formula.

    Sheets over :data:`XLSX_MAX_ROWS` are cut, with a last row that says so.
    """
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    book.set_properties({"created": XLSX_CREATED})
    bold = book.add_format({"bold": True})
    for title, table in sheets:
        sheet = book.add_worksheet(title[:XLSX_SHEET_NAME])
        for j, col in enumerate(table.columns):
            sheet.write_string(0, j, str(col), bold)
        shown = review_table(table.iloc[:XLSX_MAX_ROWS])
        for i, row in enumerate(shown.itertuples(index=False), start=1):
            for j, cell in enumerate(row):
                sheet.write_string(i, j, cell)
        if len(table) > len(shown):
            sheet.write_string(
                len(shown) + 1,
                0,
                f"... {len(table) - len(shown):,} more rows: see the CSV review copy",
            )
    book.close()
    return buf.getvalue()


def jsonl_bytes(records: Iterable[Mapping[str, object]]) -> bytes:
    """One compact JSON object per line, keys in the given order, LF line ends."""
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def parquet_bytes(table: pd.DataFrame) -> bytes:
    """Parquet bytes of a text table (string columns, no index)."""
    buf = io.BytesIO()
    table.astype("string").to_parquet(buf, index=False)
    return buf.getvalue()
