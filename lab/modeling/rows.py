"""Rows of an uploaded data file (JSONL or CSV), shared by fine-tune and align data, tasks and prompt sets.

A bad file is refused whole with a LabError that names the file, the line and what is wrong.
"""
import csv
import io
import json
from pathlib import Path

from lab.errors import LabError


def read_rows(path: Path) -> list[dict]:
    """Parse a JSONL or CSV file into dict rows; refuses the whole file at the first bad line."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LabError("data_not_text", file=name) from None
    except OSError as exc:
        raise LabError("cannot_read_file", path=name, detail=exc.strerror or str(exc)) from None
    suffix = path.suffix.lower()
    rows = []
    if suffix in (".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabError("data_bad_json", file=name, line=number, detail=exc.msg) from None
            if not isinstance(row, dict):
                raise LabError("data_not_object", file=name, line=number)
            row["_line"] = number
            rows.append(row)
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        for number, row in enumerate(reader, start=2):  # line 1 is the header
            if None in row:
                raise LabError("data_csv_columns", file=name, line=number)
            row["_line"] = number
            rows.append(row)
    else:
        raise LabError("data_bad_format", file=name, suffix=suffix or "(none)")
    if not rows:
        raise LabError("data_empty", file=name)
    return rows
