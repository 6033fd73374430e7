"""Result tables sized to their content (lab/present/table_layout.py; issue 25, item 1)."""
import pandas as pd

from lab.present.table_layout import CELL_PAD_PX, CHAR_PX, column_chars, column_widths


def test_a_long_answer_wraps_and_leaves_room_for_every_other_column():
    frame = pd.DataFrame([["What is 23 + 45?", "The sum is sixty-eight. " * 20, "23 + 45 = 68. " * 10]],
                         columns=["Question", "Base model", "Tuned model"])
    widths = column_widths(frame, container_px=1300)
    assert all(w.endswith("%") for w in widths) and abs(sum(float(w[:-1]) for w in widths) - 100) < 0.5
    assert float(widths[2][:-1]) > 25  # the tuned model's answers are visible, not pushed past the edge


def test_headers_never_break_inside_a_word():
    frame = pd.DataFrame([["fp32", "8.94", "0.45"]], columns=["variant", "packed bits/weight", "perplexity"])
    chars = column_chars(frame)
    assert chars[1][0] >= len("bits/weight") and chars[2][0] >= len("perplexity")
    chinese = column_chars(pd.DataFrame(columns=["每秒词元数"]))
    assert chinese[0][0] >= 8  # a CJK character counts as two Latin ones


def test_too_many_columns_scroll_in_pixels_and_few_fill_the_width():
    many = pd.DataFrame([["1.0"] * 16], columns=[f"measured figure {i}" for i in range(16)])
    widths = column_widths(many, container_px=700)
    assert all(w.endswith("px") for w in widths)  # the page shows a scroll cue (assets/table_cue.js)
    assert sum(float(w[:-2]) for w in widths) > 700
    few = column_widths(pd.DataFrame([["a", "1"]], columns=["name", "value"]), container_px=700)
    assert [w.endswith("%") for w in few] == [True, True]
    assert CHAR_PX * 4 + CELL_PAD_PX < 700
