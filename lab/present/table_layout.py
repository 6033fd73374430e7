"""Column widths for result tables, from their content: no header broken inside a word, long text wrapped.

Gradio's table sizes a column by its widest cell on one line, so one long answer takes the whole width and
pushes the other columns past the right edge, while a narrow number column breaks its header one letter per
line ("wi ns"). column_widths(frame) gives each column at least its header's longest word and its widest
short cell, and shares what is left among the long-text columns (capped, they wrap). When the minimums fit
the container the widths are percentages (the table fills it, nothing hidden); when they do not, they are
pixels and the table scrolls sideways with a visible cue (assets/style.css, app.py's TABLE_SCROLL_CUE).

    column_widths(frame, wide=("Prompt", "Answer"))   # -> ["22%", "39%", "39%"] or ["90px", ...]
"""
import re

import pandas as pd

CHAR_PX = 8.0  # one character of the lab's table font at ~15 px (Source Sans), bold headers a little wider
BOLD = 1.15  # a bold header character is wider than a body one
CELL_PAD_PX = 22  # cell padding (8 px a side) and borders; the column menu button floats over the cell
SHORT_CELL = 24  # cells up to this many characters stay on one line; longer ones wrap
WIDE_MIN_CHARS = 16  # a long-text column is never narrower than this
CONTAINER_PX = 700  # the usual table width at 1440 px: a page's main column (scale 3 of 5)


_UNBREAKABLE = re.compile(r"[^\s\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef]+")  # CJK may break between characters
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uff00-\uffef]")


def _width(text: str) -> int:
    """Characters as wide as a Latin one: a CJK character counts two."""
    return len(text) + len(_WIDE.findall(text))


def _longest_word(text: str) -> int:
    """The widest piece a line cannot break inside (a Latin word; two CJK characters)."""
    text = str(text)
    longest = max((len(word) for word in _UNBREAKABLE.findall(text)), default=0)
    return max(longest, 4) if _WIDE.search(text) else longest


def column_chars(frame: pd.DataFrame, wide=()) -> list[tuple[int, bool]]:
    """(minimum characters, wraps) per column: the header's longest word, the widest short cell; a
    column whose cells are long (or named in `wide`) wraps."""
    out = []
    for index, header in enumerate(frame.columns):
        cells = [str(v) for v in frame.iloc[:, index].tolist() if v is not None and str(v) != "nan"]
        widest = max((_width(c) for c in cells), default=0)
        wraps = header in wide or index in wide or widest > SHORT_CELL
        content = min(max((_longest_word(c) for c in cells), default=0), WIDE_MIN_CHARS) if wraps else widest
        heading = max(_longest_word(header) * BOLD, min(_width(str(header)), 8))
        needed = round(max(heading, content, 3))  # ids in text may break
        out.append((max(needed, WIDE_MIN_CHARS) if wraps else needed, wraps))
    return out


def column_widths(frame: pd.DataFrame, wide=(), container_px: int = CONTAINER_PX) -> list[str]:
    """Gradio column_widths for `frame`: percentages when every column fits `container_px`, else pixels."""
    chars = column_chars(frame, wide)
    if not chars:
        return []
    px = [n * CHAR_PX + CELL_PAD_PX for n, _ in chars]
    if sum(px) > container_px:  # cannot fit: fixed widths, the table scrolls (with a cue)
        return [f"{round(p)}px" for p in px]
    spare = container_px - sum(px)
    wrapping = [i for i, (_, wraps) in enumerate(chars) if wraps]
    share = spare / len(wrapping) if wrapping else 0.0
    final = [p + (share if i in wrapping else 0.0) for i, p in enumerate(px)]
    if not wrapping:  # only short columns: stretch them all in proportion
        final = [p * container_px / sum(px) for p in px]
    total = sum(final)
    return [f"{100 * p / total:.1f}%" for p in final]
