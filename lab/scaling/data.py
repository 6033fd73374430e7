"""Scaling-law data points (N, D, C, loss) from an uploaded CSV or from the lab's own sweep.

A CSV needs a model-size column, a training-tokens or training-compute column (D = C/(6N) when only
C is given), and a final-loss column. Headers are recognised by common names, case, spaces and
punctuation ignored: "N", "params", "Model Size"; "D", "tokens"; "C", "flops", "Training FLOP";
"loss", "val_loss". Numbers may be written 1.4e9, 1,400,000,000 (quoted), 1.4B or 70M. A text
column named name/run/model/label is kept as the point's label. Anything else is refused with a
message naming the column, or the row (its line in the file, the header being line 1).

    points = read_points_csv(text)   # pandas DataFrame: N, D, C, loss, label, row
"""
import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from lab.errors import LabError
from lab.scaling.allocation import FLOPS_PER_PARAM_TOKEN

HEADER_NAMES = {
    "N": {"n", "params", "parameters", "n_params", "num_params", "nparams", "model_size", "model_params",
          "non_embedding_params", "non_embedding_parameters", "size"},
    "D": {"d", "tokens", "n_tokens", "num_tokens", "training_tokens", "train_tokens", "data", "data_size",
          "dataset_size"},
    "C": {"c", "flops", "flop", "compute", "training_flop", "training_flops", "train_flops", "training_compute"},
    "loss": {"loss", "final_loss", "eval_loss", "val_loss", "validation_loss", "test_loss", "heldout_loss",
             "held_out_loss", "l"},
}
LABEL_NAMES = {"name", "run", "run_id", "model", "label", "id"}
SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}  # 70M, 1.4B, 10T
MAX_BYTES = 5_000_000
COLUMNS = ["N", "D", "C", "loss", "label", "row"]


def normalise_header(text: str) -> str:
    """"Model Size" -> "model_size", "Training FLOP(s)" -> "training_flop_s"."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def header_role(text: str) -> str | None:
    name = normalise_header(text)
    for role, names in HEADER_NAMES.items():
        if name in names or name.rstrip("s") in names:
            return role
    if name in LABEL_NAMES:
        return "label"
    return None


def parse_number(text: str) -> float | None:
    """A float from '1.4e9', '1,400,000', '1_000', '70M', '1.4B'; None if it is not a number."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        return None
    scale = 1.0
    if cleaned[-1].lower() in SUFFIXES and len(cleaned) > 1 and not cleaned[-2].isalpha():
        scale = SUFFIXES[cleaned[-1].lower()]
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * scale
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _delimiter(header_line: str) -> str:
    for candidate in ("\t", ";"):
        if candidate in header_line and "," not in header_line:
            return candidate
    return ","


def read_points_csv(text: str) -> pd.DataFrame:
    """Parse CSV text into points; raise LabError naming the column or row of any problem."""
    if len(text) > MAX_BYTES:
        raise LabError("scaling_csv_too_large", size=len(text), limit=MAX_BYTES)
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise LabError("scaling_csv_empty")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first))
    header, header_line = None, 0
    for cells in reader:
        if any(cell.strip() for cell in cells):
            header, header_line = cells, reader.line_num
            break
    roles = {}
    for position, cell in enumerate(header, start=1):
        role = header_role(cell)
        if role is None:
            raise LabError("scaling_unknown_header", column=cell.strip(), position=position)
        if role in roles:
            raise LabError("scaling_duplicate_column", column=cell.strip(), role=role, other=header[roles[role]].strip())
        roles[role] = position - 1
    for needed in ("N", "loss"):
        if needed not in roles:
            raise LabError("scaling_missing_column", role=needed, names=", ".join(sorted(HEADER_NAMES[needed])))
    if "D" not in roles and "C" not in roles:
        raise LabError("scaling_missing_tokens", names=", ".join(sorted(HEADER_NAMES["D"] | HEADER_NAMES["C"])))

    records = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = reader.line_num
        if len(cells) != len(header):
            raise LabError("scaling_ragged_row", row=row, cells=len(cells), expected=len(header))
        record = {"row": row, "label": cells[roles["label"]].strip() if "label" in roles else ""}
        for role in ("N", "D", "C", "loss"):
            if role not in roles:
                continue
            cell = cells[roles[role]]
            value = parse_number(cell)
            if value is None:
                raise LabError("scaling_not_a_number", column=header[roles[role]].strip(), row=row, value=cell.strip())
            if value <= 0:
                raise LabError("scaling_not_positive", column=header[roles[role]].strip(), row=row, value=cell.strip())
            record[role] = value
        records.append(record)
    if not records:
        raise LabError("scaling_csv_no_rows", row=header_line)
    points = pd.DataFrame.from_records(records)
    if "D" not in points:
        points["D"] = points["C"] / (FLOPS_PER_PARAM_TOKEN * points["N"])
    if "C" not in points:
        points["C"] = FLOPS_PER_PARAM_TOKEN * points["N"] * points["D"]
    return points[COLUMNS].reset_index(drop=True)


MAX_CSV_BYTES = 5 * 2**20


def read_points_file(path) -> pd.DataFrame:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:  # a points file is a few KB; never read a huge one whole
            raise LabError("csv_too_large", file=path.name, limit=MAX_CSV_BYTES // 2**20)
        raw = path.read_bytes()
    except OSError as exc:
        raise LabError("cannot_read_file", path=str(path), detail=exc.strerror or str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return read_points_csv(text)


def points_from_records(records: list[dict]) -> pd.DataFrame:
    """Points from the sweep's metrics records (those with N, D and loss)."""
    rows = [{"N": r["N"], "D": r["D"], "C": r.get("C") or FLOPS_PER_PARAM_TOKEN * r["N"] * r["D"], "loss": r["loss"],
             "label": r.get("label", ""), "row": i + 1}
            for i, r in enumerate(records) if all(k in r for k in ("N", "D", "loss"))]
    return pd.DataFrame(rows, columns=COLUMNS)


def points_to_csv(points: pd.DataFrame) -> str:
    columns = ["label", "N", "D", "C", "loss"]
    return points[columns].to_csv(index=False, float_format="%.12g")  # enough digits that a refit sees the same data


def frontier_points(points: pd.DataFrame, by: str) -> pd.DataFrame:
    """The points Kaplan's single-variable laws describe: for L(N), each N's most-trained run (largest
    D); for L(D), each D's largest model; for L(C), the compute-efficient frontier (runs no cheaper run
    beats). Returned sorted by the variable."""
    if by == "N":
        chosen = points.loc[points.groupby("N")["D"].idxmax()]
    elif by == "D":
        chosen = points.loc[points.groupby("D")["N"].idxmax()]
    else:
        ordered = points.sort_values(["C", "loss"], kind="stable")
        best = np.minimum.accumulate(ordered["loss"].to_numpy())
        chosen = ordered[ordered["loss"].to_numpy() <= best]
    return chosen.sort_values(by).reset_index(drop=True)
