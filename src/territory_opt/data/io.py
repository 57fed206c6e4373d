"""Read input tables from CSV, XLSX, Parquet, GeoJSON and GeoPackage.

Every reader returns a :class:`RawTable`: the cells as the file holds them, the
row number a person would look up for each record, the file's sha256 and, for
spatial files, the geometry. Validation and type conversion happen in
:mod:`territory_opt.data.schema`, so that every problem can be reported with its
file, row and column. Nothing here modifies the input file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory_opt._errors import InputError, IssueCollector

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
SPATIAL_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".shp"})
SUPPORTED_SUFFIXES = CSV_SUFFIXES | EXCEL_SUFFIXES | PARQUET_SUFFIXES | SPATIAL_SUFFIXES

#: Bytes sniffed from the start of a text file to choose the delimiter.
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawTable:
    """An input table as read, before validation.

    Attributes
    ----------
    file
        The file name shown in messages.
    frame
        The cells; CSV cells are strings (``""`` when empty), typed formats keep
        their types. Column names are stripped of surrounding white space.
    rows
        For each record, the row number a person would look up: in CSV and
        Excel the header is row 1 and the first record row 2; in Parquet and
        spatial files the first record is row 1.
    sha256
        Hex digest of the file's bytes.
    geometry
        Shapely geometries for spatial files, else ``None``.
    geographic
        For spatial files: ``True`` when the CRS is geographic (lon/lat degrees),
        ``False`` when projected, ``None`` otherwise.
    crs
        For spatial files: the coordinate reference system as WKT, if any.
    """

    file: str
    frame: pd.DataFrame
    rows: np.ndarray
    sha256: str
    geometry: np.ndarray | None = None
    geographic: bool | None = None
    crs: str | None = None


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: str | Path, *, sheet: str | int = 0) -> RawTable:
    """Read one input table, whatever its format.

    Parameters
    ----------
    path
        A ``.csv``/``.tsv``/``.txt``, ``.xlsx``, ``.parquet``, ``.geojson`` or
        ``.gpkg`` file.
    sheet
        Excel sheet name or 0-based index.

    Returns
    -------
    RawTable

    Raises
    ------
    InputError
        When the file does not exist, has an unsupported extension, cannot be
        decoded, or has no records.
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise InputError.single(str(path), "file does not exist")
    if path.is_dir():
        raise InputError.single(str(path), "is a folder, expected a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise InputError.single(name, f"unsupported file type '{suffix}'; use one of {allowed}")
    if suffix in CSV_SUFFIXES:
        table = _read_csv(path)
    elif suffix in EXCEL_SUFFIXES:
        table = _read_excel(path, sheet)
    elif suffix in PARQUET_SUFFIXES:
        table = _read_parquet(path)
    else:
        table = _read_spatial(path)
    if len(table.frame) == 0:
        raise InputError.single(name, "the table is empty: it has a header but no records")
    return table


def _check_header(names: list[str], name: str) -> None:
    """Reject blank or repeated column names (pandas would silently rename them)."""
    collector = IssueCollector(name)
    seen: dict[str, int] = {}
    for position, col in enumerate(names, start=1):
        if col == "":
            collector.add(f"column {position} has no name in the header row", row=1)
        elif col in seen:
            collector.add(
                f"column '{col}' appears twice (columns {seen[col]} and {position})",
                row=1,
                column=col,
            )
        else:
            seen[col] = position
    collector.raise_if_any()


def _normalise_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    cols = [str(c).strip() for c in frame.columns]
    _check_header(cols, name)
    frame.columns = pd.Index(cols)
    return frame


def _decode_check(data: bytes, name: str) -> str:
    """Return the text encoding to use, or raise a clear error.

    UTF-8 with or without BOM is accepted. UTF-16 (a common Excel "Unicode text"
    export) and non-UTF-8 bytes are rejected with the line that fails.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError.single(
            name, "file is UTF-16 encoded; save it as 'CSV UTF-8' and try again"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start : err.start + 1].hex()
        raise InputError.single(
            name,
            f"file is not UTF-8 (byte 0x{bad} at line {line}, probably Windows-1252 or "
            "Latin-1); save it as 'CSV UTF-8' and try again",
            row=line,
        ) from None
    return "utf-8-sig"


def _check_no_nul(data: bytes, name: str) -> None:
    """Reject NUL bytes: UTF-16 without a byte-order mark, or not a text file at all.

    NUL is valid UTF-8, so such files pass decoding and would otherwise be read
    as one garbled column.
    """
    pos = data.find(b"\x00")
    if pos < 0:
        return
    line = data.count(b"\n", 0, pos) + 1
    raise InputError.single(
        name,
        f"file contains NUL bytes (first at line {line}): it is probably UTF-16 without a "
        "byte-order mark, or not a text file; save it as 'CSV UTF-8' and try again",
        row=line,
    )


def _sniff_delimiter(head: str) -> str:
    first = head.splitlines()[0] if head else ""
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path) -> RawTable:
    name = path.name
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise InputError.single(name, "the file is empty: it has no header and no records")
    encoding = _decode_check(data, name)
    _check_no_nul(data, name)
    head = data[:_SNIFF_BYTES].decode(encoding, errors="ignore")
    sep = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(head)
    first_line = head.splitlines()[0] if head else ""
    _check_header([c.strip() for c in next(csv.reader([first_line], delimiter=sep), [])], name)
    frame = _read_csv_fast(data, sep, encoding)
    if frame is None:
        frame = _read_csv_exact(data, sep, encoding, name)
    frame = _normalise_columns(frame, name)
    rows = np.arange(len(frame), dtype=np.int64) + 2
    frame, rows = _drop_blank_records(frame, rows)
    return RawTable(name, frame, rows, digest)


def _read_csv_fast(data: bytes, sep: str, encoding: str) -> pd.DataFrame | None:
    """Read every column as text with Arrow's multi-threaded parser.

    Returns None when Arrow rejects the file; the exact reader then produces
    the error message (with its line number).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    header = data[: data.find(b"\n") if b"\n" in data else len(data)].decode(encoding)
    names = next(csv.reader([header.rstrip("\r")], delimiter=sep), [])
    if not names or len(set(names)) != len(names):
        return None
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, pa.ArrowTypeError):
        return None
    return table.to_pandas()


def _read_csv_exact(data: bytes, sep: str, encoding: str, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
        )
    except pd.errors.ParserError as err:
        row, problem = _parser_problem(str(err), sep)
        raise InputError.single(name, problem, row=row) from None


#: pandas' C parser: "Expected 8 fields in line 4, saw 9" (line 1-based, header = 1).
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
#: pandas' C parser: "EOF inside string starting at row 3" (row 0-based, header = 0).
_QUOTE_ERROR = re.compile(r"inside string starting at row (\d+)")


def _parser_problem(message: str, sep: str) -> tuple[int | None, str]:
    """Turn a pandas parser error into (spreadsheet row, problem with the usual fix)."""
    shown = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(sep, repr(sep))
    fields = _FIELDS_ERROR.search(message)
    if fields:
        expected, line, saw = (int(g) for g in fields.groups())
        return line, (
            f"this row has {saw} cells but the header has {expected} (separator {shown}); "
            "put cells that contain the separator in double quotes"
        )
    quote = _QUOTE_ERROR.search(message)
    if quote:
        return int(quote.group(1)) + 1, (
            "a double quote opened in this row is never closed; close it or remove it"
        )
    return None, f"not a valid delimited text file: {message}"


def _drop_blank_records(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop records whose every cell is empty (blank lines carry no data)."""
    if frame.empty or frame.shape[1] == 0:
        return frame, rows
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        values = frame[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            cell_blank = values.isna() | (values.astype(str).str.strip() == "")
        else:
            cell_blank = values.isna()
        blank &= cell_blank.to_numpy(dtype=bool)
    if not blank.any():
        return frame, rows
    keep = ~blank
    return frame.loc[keep].reset_index(drop=True), rows[keep]


def _read_excel(path: Path, sheet: str | int) -> RawTable:
    name = path.name
    digest = sha256_of(path)
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as err:  # openpyxl raises many types for damaged files
        raise InputError.single(name, f"not a readable Excel workbook: {err}") from None
    with book:
        sheets = [str(s) for s in book.sheet_names]
        if (isinstance(sheet, str) and sheet not in sheets) or (
            isinstance(sheet, int) and not 0 <= sheet < len(sheets)
        ):
            raise InputError.single(name, f"no sheet {sheet!r}; sheets are: {', '.join(sheets)}")
        cells = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    if cells.empty:
        raise InputError.single(name, "the sheet is empty: it has no header and no records")
    header = ["" if pd.isna(v) else str(v) for v in cells.iloc[0].tolist()]
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index(header)
    frame = _normalise_columns(frame, name)
    rows = np.arange(len(frame), dtype=np.int64) + 2
    frame, rows = _drop_blank_records(frame, rows)
    return RawTable(name, frame, rows, digest)


def _read_parquet(path: Path) -> RawTable:
    name = path.name
    digest = sha256_of(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises ArrowInvalid/OSError for damaged files
        raise InputError.single(name, f"not a readable Parquet file: {err}") from None
    frame = _normalise_columns(frame.reset_index(drop=True), name)
    rows = np.arange(len(frame), dtype=np.int64) + 1
    return RawTable(name, frame, rows, digest)


def _read_spatial(path: Path) -> RawTable:
    import geopandas as gpd  # imported lazily: it is slow to import

    name = path.name
    digest = sha256_of(path)
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as err:  # pyogrio raises DataSourceError and friends
        raise InputError.single(name, f"not a readable spatial file: {err}") from None
    geographic: bool | None = None
    if gdf.crs is not None:
        geographic = bool(gdf.crs.is_geographic)
    elif path.suffix.lower() in {".geojson", ".json"}:
        geographic = True  # RFC 7946: GeoJSON coordinates are WGS84 lon/lat
    geometry = np.asarray(gdf.geometry.array, dtype=object)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame = _normalise_columns(frame.reset_index(drop=True), name)
    rows = np.arange(len(frame), dtype=np.int64) + 1
    crs = gdf.crs.to_wkt() if gdf.crs is not None else None
    return RawTable(name, frame, rows, digest, geometry=geometry, geographic=geographic, crs=crs)


def frame_from_records(name: str, frame: pd.DataFrame, *, sha256: str = "") -> RawTable:
    """Wrap an in-memory DataFrame (e.g. from a notebook) as a :class:`RawTable`.

    Rows are numbered as in a spreadsheet export (first record = row 2). The
    caller's frame is copied, never modified.
    """
    copy = _normalise_columns(frame.reset_index(drop=True).copy(), name)
    rows = np.arange(len(copy), dtype=np.int64) + 2
    if len(copy) == 0:
        raise InputError.single(name, "the table is empty: it has a header but no records")
    return RawTable(name, copy, rows, sha256 or _frame_digest(copy))


def _frame_digest(frame: pd.DataFrame) -> str:
    hashed: Any = pd.util.hash_pandas_object(frame, index=False)
    return hashlib.sha256(np.asarray(hashed, dtype=np.uint64).tobytes()).hexdigest()
