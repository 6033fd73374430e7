"""Numbers and durations as every table of the app writes them (runs, fine-tune, align, reports)."""
import math


def format_duration(seconds) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer() and abs(value) < 1e12):
        return str(int(value))
    return f"{value:.4g}"


def parse_run_ids(text: str) -> list[str]:
    """Run ids kept as "id1,id2" in a browser state (a tab's group of runs); anything not an id is dropped."""
    from lab.runs.run_files import RUN_ID_PATTERN

    ids = [part for part in (text or "").split(",") if part]
    return [run_id for run_id in ids if RUN_ID_PATTERN.fullmatch(run_id)]
