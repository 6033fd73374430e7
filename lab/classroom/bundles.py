"""Run bundles: a run folder as one zip, to hand in from a laptop and gather on the class board.

export_run(run_id) writes exports/<run_id>.zip: bundle.json (what it is), the run folder's own files
(lab.runs.folder.RUN_FILES, under their names in the folder) and the artifacts up to a size limit
(bigger files are listed in bundle.json as left out). import_bundle(path, owner) checks the zip before anything is written:

- it is a zip, at most MAX_BUNDLE_MB, at most MAX_MEMBERS entries, at most MAX_UNPACKED_MB unpacked,
  and no entry compresses suspiciously well (a zip bomb);
- every name is relative, without "..", backslashes, drive letters or links, and is one of the run
  folder's own files or under artifacts/;
- bundle.json says it is a lab bundle; the spec is a valid spec of a kind this lab has; the result
  is a finished run's result with numeric figures.
- no member is code or a web page (.py, .html, .svg, .js ...: a bundle carries figures, logs and
  weights, never something a browser or Python would run), and no config.json in its artifacts asks
  for remote code (auto_map);
- unpacking counts the bytes really written, so a member whose declared size lies stops the import;
  any failure removes the half-written folder (no orphan the store does not know);
- in Space mode a visitor imports at most LAB_VISITOR_MAX_IMPORTS bundles an hour (default 10).
Then it becomes a new run (a new id) owned by the importer, remembering the original id. Imported
results are never replayed as cached results for others (store.find_succeeded skips them).
"""
import shutil
import time
import json
import stat
import zipfile
from pathlib import Path, PurePosixPath

from lab import config
from lab.runs import runner, store
from lab.runs.folder import ARTIFACTS, RESULT, RUN_FILES, SPEC, RunFolder
from lab.errors import LabError
from lab.classroom.presets import PRESET_ID
from lab.specs import spec_from_dict
from lab.runs.versioning import code_version

FORMAT = 1
MAX_BUNDLE_MB = 100
MAX_UNPACKED_MB = 400
MAX_MEMBERS = 2000
MAX_RATIO = 100  # uncompressed / compressed, per entry above RATIO_FLOOR bytes, and for the whole archive
RATIO_FLOOR = 64 * 2**10  # tiny entries (JSON) compress well and are harmless
REFUSED_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".dll", ".dylib", ".exe", ".sh", ".bat", ".html", ".htm",
                    ".xhtml", ".svg", ".js", ".mjs", ".xml", ".php", ".pkl", ".pickle", ".pt", ".pth", ".bin")
MAX_ARTIFACT_MB = 50  # per file, on export: adapters fit, whole models do not


def export_run(run_id: str, viewer=None) -> Path:
    """The run as exports/<run_id>.zip (raises LabError for an unknown run or one the viewer may not see)."""
    row = runner.get(run_id, viewer)
    if row["status"] not in store.TERMINAL:
        raise LabError("bundle_run_active", run_id=run_id)
    folder = runner.read(run_id, viewer).path
    left_out = []
    meta = {"lab_bundle": FORMAT, "run_id": run_id, "kind": row["kind"], "name": row["name"],
            "preset": row.get("preset"), "status": row["status"], "spec_hash": row["spec_hash"],
            "code_version": row["code_version"], "left_out": left_out}
    target_dir = config.lab_home() / "exports"
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{run_id}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in RUN_FILES:
            if (folder / name).is_file():
                archive.write(folder / name, name)
        for path in sorted(p for p in (folder / ARTIFACTS).rglob("*") if p.is_file() and not p.is_symlink()):
            relative = path.relative_to(folder).as_posix()
            if path.stat().st_size > MAX_ARTIFACT_MB * 2**20 or path.suffix.lower() in REFUSED_SUFFIXES:
                # too big, or a file an import refuses (a checkpoint's pickled optimizer state)
                left_out.append(relative)
                continue
            archive.write(path, relative)
        archive.writestr("bundle.json", json.dumps(meta, indent=2, ensure_ascii=False))
    tmp.replace(target)
    return target


def _check_name(name: str) -> str:
    path = PurePosixPath(name)
    bad = (not name or name.startswith("/") or "\\" in name or ".." in path.parts or ":" in path.parts[0]
           or any(part in ("", ".") for part in path.parts))
    if bad:
        raise LabError("bundle_bad_path", name=name[:200])
    if name not in (*RUN_FILES, "bundle.json") and path.parts[0] != ARTIFACTS:
        raise LabError("bundle_bad_path", name=name[:200])
    if path.suffix.lower() in REFUSED_SUFFIXES:  # .pt/.bin/.pkl: pickles run code when loaded; safetensors do not
        raise LabError("bundle_refused_file", name=name[:200])
    return name


def _read_json_member(archive, name: str, bundle: str):
    try:
        return json.loads(archive.read(name).decode("utf-8"))
    except KeyError:
        raise LabError("bundle_missing_file", bundle=bundle, name=name) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabError("bundle_bad_file", bundle=bundle, name=name, detail=str(exc)[:200]) from None


def check_bundle(path: Path) -> tuple[dict, dict, dict, list]:
    """(bundle meta, spec data, result, members to unpack) or LabError naming the first problem."""
    path = Path(path)
    bundle = path.name
    if path.stat().st_size > MAX_BUNDLE_MB * 2**20:
        raise LabError("bundle_too_large", bundle=bundle, limit=MAX_BUNDLE_MB)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise LabError("bundle_not_zip", bundle=bundle) from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise LabError("bundle_too_many", bundle=bundle, limit=MAX_MEMBERS)
        total = 0
        for member in members:
            _check_name(member.filename)
            if stat.S_ISLNK(member.external_attr >> 16):
                raise LabError("bundle_bad_path", name=member.filename[:200])
            total += member.file_size
            if member.file_size > RATIO_FLOOR and member.file_size > MAX_RATIO * max(1, member.compress_size):
                raise LabError("bundle_too_large", bundle=bundle, limit=MAX_UNPACKED_MB)
        compressed = sum(m.compress_size for m in members)
        if total > MAX_UNPACKED_MB * 2**20 or total > RATIO_FLOOR + MAX_RATIO * max(1, compressed):
            raise LabError("bundle_too_large", bundle=bundle, limit=MAX_UNPACKED_MB)
        for member in members:
            if PurePosixPath(member.filename).name == "config.json" and member.filename.startswith("artifacts/"):
                config_data = _read_json_member(archive, member.filename, bundle)
                if isinstance(config_data, dict) and "auto_map" in config_data:
                    raise LabError("bundle_refused_file", name=member.filename[:200])
        meta = _read_json_member(archive, "bundle.json", bundle)
        if not isinstance(meta, dict) or meta.get("lab_bundle") != FORMAT:
            raise LabError("bundle_bad_file", bundle=bundle, name="bundle.json", detail="not an LLM Lab run bundle")
        spec_data = _read_json_member(archive, SPEC, bundle)
        spec = spec_from_dict(spec_data)  # a LabError here names the bad field
        result = _read_json_member(archive, RESULT, bundle)
        if not isinstance(result, dict) or result.get("status") not in store.TERMINAL:
            raise LabError("bundle_bad_file", bundle=bundle, name=RESULT, detail="not a finished run")
        metrics = result.get("metrics") or {}
        if not isinstance(metrics, dict) or not all(isinstance(v, (int, float, str, bool)) or v is None
                                                    for v in metrics.values()):
            raise LabError("bundle_bad_file", bundle=bundle, name=RESULT, detail="figures must be numbers")
        preset = meta.get("preset")
        if preset is not None and not (isinstance(preset, str) and PRESET_ID.match(preset)):
            raise LabError("bundle_bad_file", bundle=bundle, name="bundle.json", detail="bad preset id")
        return meta, spec.to_dict(), result, members


def check_import_rate(owner: str) -> None:
    """Space mode: a visitor imports at most LAB_VISITOR_MAX_IMPORTS bundles an hour."""
    from lab.classroom import space_mode

    if not config.space_mode() or not space_mode.is_visitor(owner):
        return
    limit = config._int_env("LAB_VISITOR_MAX_IMPORTS", 10, minimum=0)
    if limit and store.imports_since(owner, time.time() - 3600) >= limit:
        raise LabError("limit_imports", limit=limit)


def _unpack(path: Path, folder: Path) -> None:
    """Write the members, counting the bytes really read: a member larger than it declared stops it."""
    budget = MAX_UNPACKED_MB * 2**20
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir() or member.filename == "bundle.json":
                continue
            target = folder / _check_name(member.filename)
            if folder.resolve() not in target.resolve().parents:  # belt and braces after the name check
                raise LabError("bundle_bad_path", name=member.filename[:200])
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with archive.open(member) as source, open(target, "wb") as handle:
                    while chunk := source.read(2**20):
                        written += len(chunk)
                        budget -= len(chunk)
                        if written > member.file_size or budget < 0:
                            raise LabError("bundle_too_large", bundle=path.name, limit=MAX_UNPACKED_MB)
                        handle.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a lying size, a bad CRC, a full disk
                raise LabError("bundle_bad_file", bundle=path.name, name=member.filename[:200],
                               detail=str(exc)[:200]) from None


def import_bundle(path, owner: str = "", private: bool | None = None) -> str:
    """Check a bundle, then unpack it as a new run owned by `owner`; returns the new run id."""
    from lab.classroom import space_mode

    path = Path(path)
    check_import_rate(owner)
    meta, spec_data, result, _ = check_bundle(path)
    spec = spec_from_dict(spec_data)
    run_id = runner.new_run_id(spec.kind)
    run_folder = RunFolder(run_id).create()
    try:
        _unpack(path, run_folder.path)
        result = run_folder.write_result(**{**result, "imported_from": meta.get("run_id")})
    except BaseException:
        shutil.rmtree(run_folder.path, ignore_errors=True)  # never leave a folder the store does not know
        raise
    if private is None:
        private = space_mode.private_by_default() and space_mode.is_visitor(owner)
    metrics = {k: v for k, v in (result.get("metrics") or {}).items() if isinstance(v, (int, float))}
    store.insert_run(run_id, spec.kind, spec.name, owner, private, spec.spec_hash(),
                     str(meta.get("code_version") or code_version()), status=result["status"], metrics=metrics,
                     preset=meta.get("preset"), imported_from=str(meta.get("run_id") or path.stem)[:80])
    return run_id
