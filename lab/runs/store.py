"""The job table: every run's state in SQLite (stdlib sqlite3, WAL), in the lab's data folder.

The UI, the CLI and the dispatcher all read and write here, so a page reload or an app restart
sees the same runs. Each call opens its own short connection: safe across processes and forks.
"""
import json
import os
import sqlite3
import time
from contextlib import contextmanager

from lab import config

TERMINAL = ("succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,              -- submission order: the queue runs in this order
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    private INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,              -- queued, running, succeeded, failed, cancelled
    spec_hash TEXT NOT NULL,
    code_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,                       -- the worker's process (and process group) id
    pid_start TEXT,                    -- its start time in /proc, so a reused pid is not mistaken for it
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    cached_from TEXT,
    group_id TEXT,                     -- runs submitted together (a method comparison, a sweep)
    metrics TEXT NOT NULL DEFAULT '{}', -- the key figures of the run's result, for the runs table
    preset TEXT,                       -- the class preset it ran (the Home path's check marks, the class board)
    imported_from TEXT                 -- a run bundle's original run id: never replayed as a cached result
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, seq);
CREATE TABLE IF NOT EXISTS lease (
    name TEXT PRIMARY KEY,
    holder_pid INTEGER NOT NULL,
    holder_start TEXT,
    expires_at REAL NOT NULL
);
"""


def db_path():
    return config.lab_home() / "lab.db"


@contextmanager
def open_database(path, schema: str, migrate=None):
    """A WAL-mode SQLite connection with `schema` applied (and `migrate(conn)` run), closed on exit."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(schema)
        if migrate is not None:
            migrate(conn)
        yield conn
    finally:
        conn.close()


@contextmanager
def connect():
    with open_database(db_path(), SCHEMA, _migrate) as conn:
        yield conn


def _migrate(conn) -> None:
    """Columns added after a data folder was created (runs from older versions keep working)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name in ("group_id", "preset", "imported_from"):
        if name not in columns:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} TEXT")


@contextmanager
def transaction():
    """BEGIN IMMEDIATE: one writer at a time, so check-then-write is atomic across processes."""
    with connect() as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _row(row) -> dict | None:
    if row is None:
        return None
    data = dict(row)
    data["metrics"] = json.loads(data.get("metrics") or "{}")
    return data


def insert_run(run_id: str, kind: str, name: str, owner: str, private: bool, spec_hash: str,
               code_version: str, status: str = "queued", cached_from: str | None = None,
               metrics: dict | None = None, group_id: str | None = None, preset: str | None = None,
               imported_from: str | None = None) -> None:
    now = time.time()
    with transaction() as conn:
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0]
        conn.execute(
            "INSERT INTO runs (id, seq, kind, name, owner, private, status, spec_hash, code_version, created_at,"
            " finished_at, cached_from, metrics, group_id, preset, imported_from)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, seq, kind, name, owner, int(private), status, spec_hash, code_version, now,
             now if status in TERMINAL else None, cached_from, json.dumps(metrics or {}), group_id, preset,
             imported_from))


def get_run(run_id: str) -> dict | None:
    with connect() as conn:
        return _row(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())


def get_runs(run_ids: list[str]) -> list[dict]:
    """The rows of these runs, in the order asked, unknown ids left out: one connection, not one each
    (opening one applies the schema, which costs more than the query; timers ask every second)."""
    wanted = list(dict.fromkeys(run_ids))
    if not wanted:
        return []
    with connect() as conn:
        found = {r["id"]: _row(r) for r in conn.execute(
            f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(wanted))})", wanted)}
    return [found[run_id] for run_id in run_ids if run_id in found]


def list_runs(limit: int = 500, statuses=None, viewer=None, preset: str | None = None) -> list[dict]:
    """Newest first. viewer (lab.classroom.access.Viewer): only the runs they may see; None: every run."""
    from lab.classroom.access import sql_filter

    clauses, params = [], []
    if statuses:
        clauses.append(f"status IN ({','.join('?' * len(statuses))})")
        params += list(statuses)
    if preset is not None:
        clauses.append("preset = ?")
        params.append(preset)
    visible, visible_params = sql_filter(viewer)
    if visible:
        clauses.append(visible)
        params += visible_params
    query = "SELECT * FROM runs" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY seq DESC LIMIT ?"
    with connect() as conn:
        rows = [_row(r) for r in conn.execute(query, (*params, limit))]
    positions = queue_positions()
    for row in rows:
        row["queue_position"] = positions.get(row["id"])
    return rows


def group_runs(group_id: str) -> list[dict]:
    with connect() as conn:
        return [_row(r) for r in conn.execute("SELECT * FROM runs WHERE group_id = ? ORDER BY seq", (group_id,))]


def queue_positions() -> dict[str, int]:
    with connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY seq")]
    return {run_id: i + 1 for i, run_id in enumerate(ids)}


def find_succeeded(spec_hash: str, code_version: str, owner: str | None = None) -> dict | None:
    """A succeeded run of this spec and code to replay: shared, or the same owner's (owner=None: any)."""
    mine = "" if owner is None else " AND (private = 0 OR owner = ?)"
    params = (spec_hash, code_version) if owner is None else (spec_hash, code_version, owner)
    with connect() as conn:
        return _row(conn.execute(
            "SELECT * FROM runs WHERE spec_hash = ? AND code_version = ? AND status = 'succeeded'"
            " AND imported_from IS NULL" + mine + " ORDER BY seq LIMIT 1", params).fetchone())


def imports_since(owner: str, since: float) -> int:
    """Bundles this owner imported since a time (the per-visitor import rate limit)."""
    with connect() as conn:
        return conn.execute("SELECT COUNT(*) FROM runs WHERE owner = ? AND imported_from IS NOT NULL AND created_at >= ?",
                            (owner, since)).fetchone()[0]


def active_count(owner: str) -> int:
    """Queued or running runs of one owner (the per-visitor queue limit)."""
    with connect() as conn:
        return conn.execute("SELECT COUNT(*) FROM runs WHERE owner = ? AND status IN ('queued', 'running')",
                            (owner,)).fetchone()[0]


def update_run(run_id: str, **values) -> None:
    if "metrics" in values:
        values["metrics"] = json.dumps(values["metrics"])
    columns = ", ".join(f"{k} = ?" for k in values)
    with transaction() as conn:
        conn.execute(f"UPDATE runs SET {columns} WHERE id = ?", (*values.values(), run_id))


def claim_next_queued(running_limit: int) -> dict | None:
    """Move the oldest queued run to 'running' if fewer than running_limit runs are running."""
    with transaction() as conn:
        running = conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
        if running >= running_limit:
            return None
        row = conn.execute("SELECT * FROM runs WHERE status = 'queued' ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        conn.execute("UPDATE runs SET status = 'running', started_at = ? WHERE id = ?", (time.time(), row["id"]))
    data = _row(row)
    data["status"] = "running"
    return data


def request_cancel(run_id: str) -> str | None:
    """Queued runs are cancelled at once; running ones are flagged for the dispatcher. Returns the prior status."""
    with transaction() as conn:
        row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        if row["status"] == "queued":
            conn.execute("UPDATE runs SET status = 'cancelled', finished_at = ?, error = ? WHERE id = ?",
                         (time.time(), "cancelled before it started", run_id))
        elif row["status"] == "running":
            conn.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
        return row["status"]


def delete_run(run_id: str) -> None:
    with transaction() as conn:
        conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


# -- the dispatcher lease: one dispatcher per data folder, whoever started it -------------------

def process_start_time(pid: int) -> str | None:
    """The start time of a live process from /proc (None if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return None
        return fields[19]
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return None


def process_alive(pid: int | None, start: str | None) -> bool:
    if not pid:
        return False
    now_start = process_start_time(pid)
    return now_start is not None and (start is None or now_start == start)


def try_acquire_lease(ttl: float, name: str = "dispatcher") -> bool:
    """Take or renew the lease; a lease whose holder process is gone is free at once."""
    pid, start, now = os.getpid(), process_start_time(os.getpid()), time.time()
    with transaction() as conn:
        row = conn.execute("SELECT * FROM lease WHERE name = ?", (name,)).fetchone()
        mine = row is not None and row["holder_pid"] == pid and row["holder_start"] == start
        free = row is None or row["expires_at"] < now or not process_alive(row["holder_pid"], row["holder_start"])
        if not (mine or free):
            return False
        conn.execute("INSERT OR REPLACE INTO lease (name, holder_pid, holder_start, expires_at) VALUES (?,?,?,?)",
                     (name, pid, start, now + ttl))
        return True


def release_lease(name: str = "dispatcher") -> None:
    with transaction() as conn:
        conn.execute("DELETE FROM lease WHERE name = ? AND holder_pid = ?", (name, os.getpid()))


def lease_holder(name: str = "dispatcher") -> dict | None:
    with connect() as conn:
        row = conn.execute("SELECT * FROM lease WHERE name = ?", (name,)).fetchone()
    if row is None or row["expires_at"] < time.time() or not process_alive(row["holder_pid"], row["holder_start"]):
        return None
    return dict(row)
