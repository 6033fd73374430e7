"""Answer filters: pull the answer out of a model's free text, then compare it with the gold answer.

    apply_filter("last_number", "3 apples plus 4 is 7.")          -> "7"
    exact_match("So the answer is 1,000.", "1000", "the_answer_is") -> True

Each filter is registered once here (FILTERS) with the normalisation its exact match uses and a label
(`prompting.filter.<name>` in assets/i18n/<lang>/prompting.json); a task names its filter by key. A filter returns None when it finds nothing (which counts as wrong, never as a crash).
User regexes are compiled with the `regex` module and matched with a time limit: a pattern that
backtracks forever fails with a clear error instead of freezing the worker. Nothing is ever eval'd.
"""
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Callable, Optional

from lab.errors import LabError
from lab.registry import Registry

REGEX_SECONDS = 1.0  # time limit for one user-regex search
MAX_PATTERN_LENGTH = 1000


def canonical_number(text: str) -> Optional[str]:
    """"1,000" -> "1000", "3.0" -> "3", "$2.50" -> "2.5", "-0" -> "0"; None if text is not a number."""
    cleaned = text.strip().replace("$", "").replace("%", "").rstrip(".")
    if not re.fullmatch(r"[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?", cleaned) or not re.search(r"\d", cleaned):
        return None
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def normalise_text(text: str) -> str:
    """Exact-match normalisation: strip, drop markdown bold and a trailing period, lowercase, collapse
    spaces; numbers are compared by value ("1,000" == "1000", "3.0" == "3")."""
    text = " ".join(text.replace("**", "").strip().split()).rstrip(".").strip()
    number = canonical_number(text)
    return number if number is not None else text.lower()


def normalise_letter(text: str) -> str:
    """"(b)", "B.", " B " -> "B"."""
    return re.sub(r"[^A-Za-z]", "", text).upper()


@dataclass(frozen=True)
class AnswerFilter:
    extract: Callable[..., Optional[str]]  # extract(text, **params) -> answer text or None
    normalise: Callable[[str], str]
    description: str


FILTERS = Registry("answer filter", order=("none", "last_number", "the_answer_is", "choice_letter", "match_label", "regex"),
                   label_prefix="prompting.filter.", error="unknown_filter")


def as_filter(normalise: Callable[[str], str] = normalise_text) -> Callable:
    """The `wrap` of FILTERS.decorator: a function text -> answer or None becomes an AnswerFilter."""
    return lambda extract: AnswerFilter(extract, normalise, (extract.__doc__ or "").strip())


@FILTERS.decorator("none", as_filter())
def whole_text(text: str) -> Optional[str]:
    """The whole output is the answer."""
    return text


@FILTERS.decorator("last_number", as_filter())
def last_number(text: str) -> Optional[str]:
    """The last number in the text ("... so 7 + 5 = 12." -> "12"); commas as thousands separators."""
    numbers = re.findall(r"-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", text)
    return numbers[-1] if numbers else None


@FILTERS.decorator("the_answer_is", as_filter())
def the_answer_is(text: str) -> Optional[str]:
    """What follows the first "The answer is" or "Answer:" (any case), up to the end of that sentence."""
    match = re.search(r"(?:the\s+(?:final\s+)?answer\s+is|answer\s*:)\s*:?\s*(.+)", text, re.IGNORECASE)
    if not match:
        return None
    answer = re.split(r"\.\s|\n", match.group(1))[0].strip()  # "7. Next question..." -> "7"
    return answer or None


@FILTERS.decorator("choice_letter", as_filter(normalise_letter))
def choice_letter(text: str) -> Optional[str]:
    """An option letter A-E: "Answer: C", "the answer is (B)", "(B)", or a reply starting "B." / "B)" / "B"."""
    patterns = [
        r"(?i:answer)\s*(?:is|:)?\s*:?\s*\(?([A-E])\b",  # "Answer: C", "The answer is (B)"
        r"\(([A-Ea-e])\)",  # "(B)" anywhere
        r"^\s*([A-E])(?:[.):]|\s*$)",  # a reply that starts "B." or "B)" or is just "B"
    ]
    for pattern in patterns:
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            return match.group(1).upper()
    return None


@FILTERS.decorator("match_label", as_filter())
def first_label(text: str, labels=()) -> Optional[str]:
    """The label named first in the text ("Sentiment: Positive." -> "positive"); without labels, the first word."""
    if not labels:
        words = re.findall(r"[^\W_]+", text)
        return words[0] if words else None
    found = [(m.start(), label) for label in labels
             for m in [re.search(rf"(?<![^\W_]){re.escape(label)}(?![^\W_])", text, re.IGNORECASE)] if m]
    return min(found)[1] if found else None


@lru_cache(maxsize=256)
def compile_user_regex(pattern: str, ignore_case: bool = False):
    import regex

    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise LabError("bad_regex", pattern=str(pattern)[:80], detail=f"empty or longer than {MAX_PATTERN_LENGTH}")
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except (regex.error, TypeError, ValueError, OverflowError) as exc:
        raise LabError("bad_regex", pattern=pattern[:80], detail=str(exc)) from None


@FILTERS.decorator("regex", as_filter())
def regex_filter(text: str, pattern: str = "", group: Optional[int] = None, ignore_case: bool = False,
                 select: str = "first") -> Optional[str]:
    """Your own regular expression: the first (or last) match; `group` defaults to 1 if it has a group."""
    compiled = compile_user_regex(pattern, ignore_case)
    group = (1 if compiled.groups else 0) if group is None else group
    if not 0 <= group <= compiled.groups:
        raise LabError("bad_regex", pattern=pattern[:80], detail=f"no group {group}")
    try:
        matches = list(compiled.finditer(text, timeout=REGEX_SECONDS))
    except TimeoutError:
        raise LabError("regex_timeout", pattern=pattern[:80], seconds=REGEX_SECONDS) from None
    if not matches:
        return None
    found = (matches[-1] if select == "last" else matches[0]).group(group)
    return found if found is not None else None


def apply_filter(name: str, text: str, **params) -> Optional[str]:
    """Extract the answer with filter `name` and normalise it; None when nothing was found."""
    entry = FILTERS.get(name)
    found = entry.extract(text or "", **params)
    if found is None:
        return None
    normalised = entry.normalise(found)
    return normalised or None


def exact_match(pred: str, gold: str, filter_name: str = "none", **params) -> bool:
    """True when the answer extracted from `pred` equals `gold` under that filter's normalisation.

    `gold` is already an answer ("1000", "B", "Paris"): it is normalised, not extracted.
    """
    found = apply_filter(filter_name, pred, **params)
    return found is not None and found == FILTERS.get(filter_name).normalise(str(gold))
