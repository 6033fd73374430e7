"""The shared task registry: every shipped task loads and is well formed; uploads parse or fail naming the line."""
import json

import pytest

from lab import tasks
from lab.errors import LabError
from lab.modeling.filters import FILTERS, apply_filter
from lab.present.i18n import messages


@pytest.mark.parametrize("name", tasks.task_names())
def test_every_builtin_task_loads_with_a_pool_questions_and_gold_answers(name):
    entry = tasks.TASKS[name]
    task = tasks.get_task(name)
    assert task.type == entry.type in tasks.TYPES and task.filter in FILTERS
    assert len(task.exemplars) >= 16 and len(task.questions) >= 100
    assert {i.id for i in task.exemplars}.isdisjoint({i.id for i in task.questions})
    assert len({i.id for i in task.items}) == len(task.items)
    for item in task.items:
        assert item.question and item.answer
        if task.type == "numeric":
            assert item.choices == () and apply_filter("last_number", item.answer) == task.gold(item)
        else:
            assert item.choices[item.answer_index] == item.answer_text
        if item.solution:  # worked answers end with the gold answer, so few-shot CoT exemplars are right
            final = item.solution[item.solution.rindex("The answer is"):]
            assert apply_filter(task.filter, final, **task.filter_params) == task.gold(item), item.id
    for lang in ("en", "zh"):
        assert entry.description_key in messages(lang)
        assert f"tasks.type.{entry.type}" in messages(lang)


def test_arithmetic_levels_have_worked_solutions_for_few_shot_cot():
    for name in ("arithmetic_1digit", "arithmetic_2digit", "arithmetic_3terms", "word_problems"):
        assert all(item.solution for item in tasks.get_task(name).exemplars)


def test_multiple_choice_prompt_text_lists_lettered_options():
    task = tasks.get_task("mmlu_cot")
    item = task.questions[0]
    text = task.prompt_text(item)
    assert text.startswith(item.question) and f"\nA. {item.choices[0]}" in text and f"\nB. {item.choices[1]}" in text
    assert apply_filter(task.filter, f"The answer is ({item.answer}).") == task.gold(item)


def test_classification_labels_are_the_choices_and_the_label_filter_finds_them():
    task = tasks.get_task("tweet_sentiment")
    assert task.labels == ("negative", "neutral", "positive")
    assert apply_filter("match_label", "Sentiment: Positive, not negative.", **task.filter_params) == "positive"
    assert apply_filter("match_label", "I cannot tell.", **task.filter_params) is None


def write(tmp_path, rows, name="upload.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_upload_numeric_infers_type_and_splits_a_pool(tmp_path):
    rows = [{"question": f"What is {i} + 1?", "answer": i + 1} for i in range(10)]
    task = tasks.load_jsonl(write(tmp_path, rows))
    assert task.type == "numeric" and task.filter == "last_number"
    assert len(task.exemplars) == 2 and len(task.questions) == 8  # first 20% are the pool
    assert task.questions[0].answer == "3" and task.source == "upload.jsonl"


def test_upload_multiple_choice_accepts_letter_index_or_text(tmp_path):
    rows = [{"question": "Sky?", "choices": ["red", "blue"], "answer": "b", "split": "test"},
            {"question": "Grass?", "choices": ["green", "blue"], "answer": 0, "split": "test"},
            {"question": "Snow?", "choices": ["black", "white"], "answer": "white", "split": "exemplar"}]
    task = tasks.load_jsonl(write(tmp_path, rows))
    assert task.type == "multiple_choice"
    assert [i.answer for i in task.questions] == ["B", "A"] and task.exemplars[0].answer == "B"
    assert [i.answer_text for i in task.items] == ["white", "blue", "green"]  # pool first


def test_upload_classification_uses_the_distinct_answers_as_labels(tmp_path):
    rows = [{"question": f"text {i}", "answer": ["yes", "no"][i % 2]} for i in range(6)]
    task = tasks.load_jsonl(write(tmp_path, rows))
    assert task.type == "classification" and task.labels == ("no", "yes") and task.filter_params == {"labels": ["no", "yes"]}


@pytest.mark.parametrize("rows, key, line", [
    ([{"question": "a", "answer": "1"}, {"question": "b"}], "task_missing_field", "line 2"),
    ([{"question": "a", "answer": "1"}, "{not json"], "data_bad_json", "line 2"),
    (["[1, 2]"], "data_not_object", "line 1"),
    ([{"question": "", "answer": "1"}], "task_empty_field", "line 1"),
    ([{"question": "a", "choices": ["x"], "answer": "A"}], "task_bad_choices", "line 1"),
    ([{"question": "a", "choices": ["x", "y"], "answer": "A"}, {"question": "b", "answer": "B"}], "task_mixed_choices", "line 2"),
    ([{"question": "a", "choices": ["x", "y"], "answer": "A"}, {"question": "b", "choices": ["x", "y"], "answer": "z"}],
     "task_answer_not_a_choice", "line 2"),
    ([{"question": "a", "answer": "1", "split": "train"}], "task_bad_split", "line 1"),
    ([{"question": "a", "answer": "1", "split": "exemplar"}], "task_no_questions", "upload.jsonl"),
])
def test_bad_uploads_name_the_line(tmp_path, rows, key, line):
    with pytest.raises(LabError) as caught:
        tasks.load_jsonl(write(tmp_path, rows))
    assert caught.value.key == key
    assert line in str(caught.value) and "upload.jsonl" in str(caught.value)


def test_unknown_task_names_the_builtins(tmp_path):
    with pytest.raises(LabError) as caught:
        tasks.get_task("no_such_task")
    assert caught.value.key == "unknown_task" and "arithmetic_2digit" in str(caught.value)
    with pytest.raises(LabError):
        tasks.check_task_source(str(write(tmp_path, [{"question": "a", "answer": "1"}], name="data.csv")))


def test_save_upload_stays_in_the_visitors_folder_and_checks_the_file(tmp_path, lab_home):
    source = write(tmp_path, [{"question": "a", "answer": "1"}, {"question": "b", "answer": "2"}],
                   name="..%2F..%2Fevil name.jsonl")
    saved = tasks.save_upload(str(source), visitor="../../someone")
    folder = (lab_home / "uploads").resolve()
    assert str(tasks.Path(saved).resolve()).startswith(str(folder)) and tasks.Path(saved).is_file()
    assert tasks.Path(saved).resolve().parent.parent.parent == folder  # "/" stripped from both names: no climbing
    bad = write(tmp_path, [{"question": "a"}], name="bad.jsonl")
    with pytest.raises(LabError) as caught:
        tasks.save_upload(str(bad))
    assert "line 1" in str(caught.value)
