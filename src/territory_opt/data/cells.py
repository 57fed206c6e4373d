"""Cell-level conversion of raw input columns, with the rows that fail.

Each converter takes a column as read (strings for CSV, typed values for Excel,
Parquet and spatial files) and returns the converted numpy array together with
boolean masks of the cells that are empty or invalid, so that the caller can
report every bad cell with its row.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

#: Characters that, removed, often turn a spreadsheet-formatted number into a
#: plain one ("$1,234" or "1 234 €"). Used only to suggest a fix, never applied.
_NUMBER_DECORATION = re.compile(r"[\s$€£¥%']")


#: Spellings of "no value" that spreadsheets and databases export.
MISSING_MARKERS = frozenset({"nan", "na", "n/a", "#n/a", "null", "none", "-nan"})


def text_cells(values: pd.Series) -> np.ndarray:
    """Return the cells as stripped strings, ``""`` for empty cells.

    Whole floats (Excel and Parquet store ids such as ``1017`` as ``1017.0``)
    become integer strings, so ids read the same from every format.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64)
        out = np.full(len(arr), "", dtype=object)
        ok = np.isfinite(arr)
        whole = ok & (arr == np.round(arr))
        out[whole] = arr[whole].astype(np.int64).astype(str)
        frac = ok & ~whole
        out[frac] = arr[frac].astype(str)
        return out
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return np.asarray(values.astype(str).to_numpy(), dtype=object)
    if pd.api.types.is_string_dtype(values.dtype) and not _has_non_strings(values):
        stripped = values.fillna("").str.strip()
        return np.asarray(stripped.to_numpy(dtype=object), dtype=object)
    return np.array([_text_of(v) for v in values.to_numpy(dtype=object)], dtype=object)


def _has_non_strings(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    return not all(isinstance(v, str) or v is None for v in values.to_numpy(dtype=object))


def _text_of(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if not np.isfinite(value):
            return ""
        return str(int(value)) if value == round(value) else str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def number_cells(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a column as float64.

    Returns
    -------
    numbers
        The parsed values; NaN where empty or invalid.
    empty
        True where the cell is empty.
    invalid
        True where the cell holds something that is not a number.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        n = len(values)
        return np.full(n, np.nan), np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return arr, np.isnan(arr), np.zeros(len(arr), dtype=bool)
    fast = _cast_numbers(values)
    if fast is not None:
        n = len(fast)
        return fast, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    text = pd.Series(text_cells(values), dtype=object)
    empty = (text == "").to_numpy(dtype=bool) | text.str.lower().isin(MISSING_MARKERS).to_numpy()
    parsed = pd.to_numeric(text.where(~empty, None), errors="coerce")
    numbers = np.asarray(parsed.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    invalid = ~empty & np.isnan(numbers)
    return numbers, empty, invalid


def _cast_numbers(values: pd.Series) -> np.ndarray | None:
    """Arrow's C++ cast when every cell is a plain number; None otherwise."""
    if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pc.cast(pa.array(values), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if arr.null_count:
        return None
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return None if np.isnan(out).any() else out


def number_problem(raw: object) -> str:
    """Explain why a cell is not a number, suggesting the usual fix.

    Spreadsheet formatting is recognised: currency and percent signs, thousands
    separators (``1,200`` or ``1.200.000``) and decimal commas (``36,5`` or
    ``1.200,50``). The suggestion is only a message; the cell is never changed.

    Examples
    --------
    >>> number_problem("1.200,50")
    "'1.200,50' is not a plain number: it looks like a decimal comma; write 1200.50"
    >>> number_problem("$1,200").endswith("(write 1200)")
    True
    """
    text = str(raw)
    core = _NUMBER_DECORATION.sub("", text)
    if _THOUSANDS_COMMA.match(core):
        fixed = core.replace(",", "")
    elif _THOUSANDS_DOT.match(core):
        fixed = core.replace(".", "")
    elif _DECIMAL_COMMA.match(core):
        fixed = core.replace(".", "").replace(",", ".")
        return f"'{text}' is not a plain number: it looks like a decimal comma; write {fixed}"
    else:
        fixed = core
    try:
        float(fixed)
    except ValueError:
        return f"'{text}' is not a number"
    return (
        f"'{text}' is not a plain number; remove thousands separators, currency and "
        f"percent signs (write {fixed})"
    )


#: ``1,200`` or ``1,200,000.5``: commas that group thousands.
_THOUSANDS_COMMA = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: ``1.200.000``: dots that group thousands (two or more groups, so ``1.200`` stays a decimal).
_THOUSANDS_DOT = re.compile(r"^[-+]?\d{1,3}(\.\d{3}){2,}$")
#: ``36,5`` or ``1.200,50``: a decimal comma, optionally after dot-grouped thousands.
_DECIMAL_COMMA = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+$")


#: Excel stores dates as days since 1899-12-30; serials in this range are the years
#: 1927 to 2119, where an integer in a date column is almost surely a date.
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIALS = (10_000, 80_000)


def date_problem(raw: object) -> str:
    """Explain why a cell is not a date, recognising Excel serial numbers.

    Examples
    --------
    >>> "Excel serial date (2024-01-01)" in date_problem("45292")
    True
    """
    text = str(raw).strip()
    try:
        serial = float(text)
    except ValueError:
        serial = float("nan")
    if _EXCEL_SERIALS[0] <= serial <= _EXCEL_SERIALS[1] and serial == int(serial):
        day = (_EXCEL_EPOCH + dt.timedelta(days=int(serial))).isoformat()
        return (
            f"'{text}' is not a date: it looks like an Excel serial date ({day}); "
            f"format the column as a date or write {day}"
        )
    return f"'{text}' is not a date; use YYYY-MM-DD"


def looks_numeric(values: pd.Series) -> bool:
    """Return True when most non-empty cells of a column parse as numbers.

    A column is taken as a metric when at least half of its non-empty cells are
    numbers, so that a stray ``n/a`` is reported as an error instead of silently
    turning the whole column into text.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        return True
    _, empty, invalid = number_cells(values)
    filled = int((~empty).sum())
    return filled > 0 and int(invalid.sum()) * 2 <= filled


def date_cells(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column of dates (ISO text or Excel dates).

    Returns
    -------
    dates
        ``datetime64[D]`` values, NaT where empty or invalid.
    invalid
        True where the cell is non-empty and not a date.
    """
    text = text_cells(values)
    empty = text == ""
    parsed = pd.to_datetime(
        pd.Series(text, dtype=object).where(~empty, None), errors="coerce", format="ISO8601"
    )
    dates = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    invalid = ~empty & np.isnat(dates)
    return dates, invalid
