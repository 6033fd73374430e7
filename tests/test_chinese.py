"""Chinese without gaps (issue 25, item 10): every shipped preset has a Chinese title, the lessons hold no
diagram drawn with characters (whose columns drift when Chinese characters are twice as wide), and no
plot shows Gradio's own English "Plot" label."""
import re
from pathlib import Path

import pytest

from lab.classroom import presets

REPO = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
BOX_DRAWING = re.compile(r"[\u2500-\u257f]")  # ─ │ └ ┌ ...: a character diagram


@pytest.mark.parametrize("preset_id", [p for p in presets.all_ids() if not p.startswith("class/")])
def test_every_shipped_preset_has_a_chinese_title(preset_id):
    preset = presets.load(preset_id)
    zh, en = preset.text("title", "zh"), preset.text("title", "en")
    assert CJK.search(zh) and zh != en, f"{preset_id}: zh title {zh!r}"


def test_guided_path_steps_read_in_chinese():
    from lab.classroom.guided_path import step_choices

    for label, preset_id in step_choices("zh"):
        title = label.split("—", 1)[1]
        assert CJK.search(title), f"{preset_id}: {label!r}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lessons_draw_no_character_diagrams(lang):
    drawn = [p.name for p in sorted((REPO / "assets" / "lessons" / lang).glob("*.md"))
             if BOX_DRAWING.search(p.read_text(encoding="utf-8"))]
    assert not drawn, f"character diagrams misalign in Chinese; use a table: {drawn}"


def test_no_plot_shows_gradios_own_english_label():
    """gr.Plot without show_label=False (or a translated label) shows "Plot" in English in every language;
    the lab's figures carry their own translated titles."""
    bare = []
    for path in sorted((REPO / "pages").glob("*.py")):
        for match in re.finditer(r"gr\.Plot\(([^()]*(?:\([^()]*\)[^()]*)*)\)", path.read_text(encoding="utf-8")):
            if "show_label=False" not in match.group(1) and "label=" not in match.group(1):
                bare.append(f"{path.name}: {match.group(0)[:60]}")
    assert not bare, bare
