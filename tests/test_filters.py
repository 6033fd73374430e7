"""Answer filters and exact match: what each filter extracts, how it normalises, and how it fails."""
import pytest

from lab.errors import LabError
from lab.modeling.filters import FILTERS, apply_filter, canonical_number, exact_match, normalise_text


def test_every_filter_is_registered_with_a_description():
    assert {"none", "regex", "last_number", "the_answer_is", "choice_letter"} <= set(FILTERS)
    assert all(entry.description for entry in FILTERS.entries().values())


@pytest.mark.parametrize("text, expected", [
    ("1,000", "1000"), ("3.0", "3"), ("3.50", "3.5"), ("$2.50", "2.5"), ("-7", "-7"), ("12.", "12"),
    ("0.1", "0.1"), ("1,2", None), ("abc", None), ("", None), ("-", None), ("1e5", None),
])
def test_canonical_number(text, expected):
    assert canonical_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("3 apples plus 4 is 7.", "7"), ("It costs $1,000 in total", "1000"), ("x = -3.50", "-3.5"),
    ("1,2,3", "3"), ("from 10 to 20.0", "20"), ("no digits here", None), ("", None),
])
def test_last_number(text, expected):
    assert apply_filter("last_number", text) == expected


@pytest.mark.parametrize("text, expected", [
    ("So the answer is 1,000.", "1000"), ("Answer: Paris. Next question", "paris"),
    ("THE ANSWER IS $5", "5"), ("The final answer is **B**.", "b"), ("answer:42\nmore text", "42"),
    ("the answer is 3.0 apples", "3.0 apples"), ("I do not know", None), ("The answer is ", None),
])
def test_the_answer_is(text, expected):
    assert apply_filter("the_answer_is", text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Answer: C", "C"), ("the answer is (b)", "B"), ("I pick (D) because", "D"), ("B. Paris", "B"),
    ("B", "B"), ("E) none of these", "E"), ("answer: E", "E"),
    ("A cat sat on the mat", None), ("I think it is F", None), ("", None),
])
def test_choice_letter(text, expected):
    assert apply_filter("choice_letter", text) == expected


def test_regex_filter_groups_and_selection():
    gsm8k = r"#### (\-?[0-9\.\,]+)"
    assert apply_filter("regex", "so 5 + 5 = 10\n#### 10", pattern=gsm8k) == "10"
    assert apply_filter("regex", "no marker", pattern=gsm8k) is None
    assert apply_filter("regex", "a=1 b=2", pattern=r"=(\d)", select="last") == "2"
    assert apply_filter("regex", "a=1 b=2", pattern=r"\w=\d", group=0) == "a=1"
    assert apply_filter("regex", "ANSWER 7", pattern=r"answer (\d)", ignore_case=True) == "7"


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}", "", "x" * 5000])
def test_bad_user_regexes_are_clear_errors(pattern):
    with pytest.raises(LabError) as info:
        apply_filter("regex", "some text", pattern=pattern)
    assert info.value.key == "bad_regex" and "\n" not in str(info.value)


def test_regex_group_out_of_range_and_runaway_patterns(monkeypatch):
    from lab.modeling import filters

    monkeypatch.setattr(filters, "REGEX_SECONDS", 0.2)
    with pytest.raises(LabError, match="no group 2"):
        apply_filter("regex", "a1", pattern=r"a(\d)", group=2)
    with pytest.raises(LabError) as info:
        apply_filter("regex", "a" * 60 + "b", pattern=r"(a|aa)+$")  # exponential backtracking
    assert info.value.key == "regex_timeout"


def test_unknown_filter():
    with pytest.raises(LabError, match="Known filters: choice_letter, last_number"):
        apply_filter("magic", "text")


@pytest.mark.parametrize("pred, gold, name, expected", [
    ("So the answer is 1,000.", "1000", "the_answer_is", True),
    ("The answer is 3.0", "3", "the_answer_is", True),
    ("The answer is Paris.", "paris", "the_answer_is", True),
    ("The answer is Rome.", "Paris", "the_answer_is", False),
    ("no answer given", "7", "the_answer_is", False),  # nothing found counts as wrong
    ("7 + 5 = 12", "12", "last_number", True),
    ("7 + 5 = 12", "12.0", "last_number", True),
    ("I have no idea", "12", "last_number", False),
    ("Answer: (c)", "C", "choice_letter", True),
    ("(B)", "(B)", "choice_letter", True),
    ("Answer: A", "B", "choice_letter", False),
    ("  Paris.  ", "paris", "none", True),
    ("Paris is nice", "paris", "none", False),
])
def test_exact_match(pred, gold, name, expected):
    assert exact_match(pred, gold, name) is expected


def test_exact_match_with_a_regex_and_normalise_text():
    assert exact_match("result: 1,234 apples", "1234", "regex", pattern=r"result: ([\d,]+)")
    assert normalise_text("  The  Cat. ") == "the cat"
    assert normalise_text("**42**") == "42"
