"""What the Prune tab shows of OWL and structured pruning, as data: pure functions of run results (no
Gradio, no torch); pages/quantize.py only wires them.

    owl_figure(result, lang)                          OWL's per-layer plan at the highest target of a sweep
    structured_frame(result, recovery, lang)          dense / pruned / recovered: parameters, MB, tok/s, perplexities
    recovery_figure(result, recovery, lang)           perplexity dense → pruned → recovered (same validation rows)
    structured_summary(result, recovery, lang)
"""
import pandas as pd

from lab.prune import plots
from lab.present.i18n import t

STRUCTURED_COLUMNS = ("stage", "parameters", "parameters_vs_dense", "weights_mb", "tokens_per_second",
                      "speed_vs_dense", "ppl", "accuracy", "continuation_ppl")


def _outputs(result) -> dict:
    return (result or {}).get("outputs") or {}


def owl_figure(result: dict | None, lang: str):
    owl_rows = [r for r in _outputs(result).get("rows") or [] if r.get("layers")]
    if not owl_rows:
        return None
    row = max(owl_rows, key=lambda r: r.get("target_sparsity") or 0)
    return plots.owl_layers(pd.DataFrame(row["layers"]), float(row.get("target_sparsity") or 0), lang)


def stages(result: dict | None, recovery: dict | None) -> list:
    """Rows dense, pruned (from the structured run) and recovered (the LoRA fine-tune's eval perplexity, on
    the same validation rows as the others' continuation_ppl), as far as they exist."""
    rows = [dict(r) for r in _outputs(result).get("rows") or []]
    metrics = (recovery or {}).get("metrics") or {}
    if rows and (recovery or {}).get("status") == "succeeded" and metrics.get("eval_perplexity") is not None:
        rows.append({"stage": "recovered", "parameters": rows[-1].get("parameters"),
                     "parameters_vs_dense": rows[-1].get("parameters_vs_dense"),
                     "continuation_ppl": metrics["eval_perplexity"]})
    return rows


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def structured_frame(result: dict | None, recovery: dict | None, lang: str) -> pd.DataFrame:
    headers = [t(f"prune.col.{c}", lang) for c in STRUCTURED_COLUMNS]
    rows = stages(result, recovery)
    if not rows:
        return pd.DataFrame(columns=headers, dtype=object)
    shown = [[t(f"prune.stage.{r['stage']}", lang) if c == "stage" else _cell(r.get(c)) for c in STRUCTURED_COLUMNS]
             for r in rows]
    return pd.DataFrame(shown, columns=headers).astype(object)


def recovery_figure(result: dict | None, recovery: dict | None, lang: str):
    rows = stages(result, recovery)
    if not rows:
        return None
    return plots.recovery_bars(pd.DataFrame([{"stage": r["stage"], "ppl": r.get("continuation_ppl")} for r in rows]), lang)


def structured_summary(result: dict | None, recovery: dict | None, lang: str) -> str:
    outputs = _outputs(result)
    pruning = outputs.get("pruning") or {}
    if not pruning:
        return ""
    before, after = pruning.get("before") or {}, pruning.get("after") or {}
    metrics = (result or {}).get("metrics") or {}
    lines = [t("prune.page.structured_summary", lang, mode=pruning.get("mode", ""), importance=pruning.get("importance", ""),
               heads=f"{before.get('heads')}→{after.get('heads')}", kv_heads=f"{before.get('kv_heads')}→{after.get('kv_heads')}",
               channels=f"{before.get('intermediate_size')}→{after.get('intermediate_size')}",
               removed=f"{100 * float(pruning.get('parameters_removed_share') or 0):.1f}",
               speedup=f"{float(metrics.get('speedup') or 0):.2f}")]
    if outputs.get("model_folder"):
        lines.append(t("prune.page.structured_saved", lang, folder=outputs["model_folder"]))
    status = (recovery or {}).get("status")
    if status and status != "succeeded":
        lines.append(t("prune.page.recovery_status", lang, status=status))
    return "\n\n".join(lines)


def source_result(recovery: dict | None) -> dict | None:
    """The structured-pruning run a LoRA recovery started from (its model folder is that run's "model"
    artifact), read only to put the recovered figure beside its dense and pruned ones; None otherwise.
    The recovery run itself was access-checked by the panel showing it, and it could only name a run
    folder its owner may see (Space mode checks every model path it names)."""
    from pathlib import Path

    from lab.runs.folder import RUN_ID_PATTERN, RunFolder

    model = Path(str(((recovery or {}).get("spec") or {}).get("model") or ""))
    run_id = model.parent.parent.name
    if not RUN_ID_PATTERN.fullmatch(run_id):
        return None
    folder = RunFolder(run_id)
    try:
        if folder.artifact_path("model").resolve() != model.resolve():
            return None
    except Exception:  # noqa: BLE001 -- a path that is not that run's artifact: no source
        return None
    result = folder.read_result()
    return result if (result.get("spec") or {}).get("kind") == "prune_structured" else None
