"""What the Home tab shows as data: the models the lab knows, in the chosen language."""
import pandas as pd

from lab.present.i18n import t

MODEL_COLUMNS = ("name", "description", "installed", "converted")


def model_choices() -> tuple[list[str], str]:
    """Names for the model picker, and the default; the picker also takes a folder or a hub id."""
    from lab.modeling.models import DEFAULT_MODEL, available_models  # no torch: models.py imports it lazily

    return [m["name"] for m in available_models()], DEFAULT_MODEL


def models_frame(lang: str) -> pd.DataFrame:
    from lab.modeling.models import available_models

    def yes_no(flag) -> str:
        return t("common.yes", lang) if flag else t("common.no", lang)

    records = [[m["name"] + (" ★" if m["default"] else ""), m["description"], yes_no(m["installed"]),
                yes_no(m["converted"])] for m in available_models(lang)]
    return pd.DataFrame(records, columns=[t(f"home.models.{c}", lang) for c in MODEL_COLUMNS], dtype=object)


def models_markdown(lang: str) -> str:
    """The models table as markdown (it wraps long descriptions better than a data grid)."""
    frame = models_frame(lang)
    cell = lambda value: str(value).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
