"""Every visible text, looked up by key from per-language JSON files (assets/i18n/<lang>/<area>.json).

Each area (core, models, app, one per tab) keeps its own file in each language; the files of a
language are merged into one key space.

`t("runs.status.running", "zh")` -> "运行中". Missing keys in a language fall back to English and
then to the key itself; tests/test_i18n.py fails if any key lacks a translation.
"""
import json
import string
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("en", "zh")
ASSETS = Path(__file__).resolve().parents[2] / "assets"


@lru_cache(maxsize=None)
def messages(lang: str) -> dict:
    merged = {}
    for path in sorted((ASSETS / "i18n" / lang).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def t(key: str, lang: str = "en", /, **params) -> str:
    lang = lang if lang in LANGUAGES else "en"
    text = messages(lang).get(key)
    if text is None:
        text = messages("en").get(key, key)
    if not params:
        return text
    try:
        return string.Formatter().vformat(text, (), _SafeDict(params))
    except (ValueError, IndexError):
        return text


class _SafeDict(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def lesson(name: str, lang: str = "en") -> str:
    """The markdown lesson assets/lessons/<lang>/<name>.md (English if the translation is missing)."""
    for candidate in (lang, "en"):
        path = ASSETS / "lessons" / candidate / f"{name}.md"
        if path.exists():
            return path.read_text(encoding="utf-8")
    return ""
