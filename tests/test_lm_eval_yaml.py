"""lm-eval task YAMLs as lab tasks (lab/tasks/lm_eval_yaml.py) and their scoring (lab/evaluate/lm_eval_metrics.py)."""
import json

import pytest

from lab.errors import LabError
from lab.evaluate.lm_eval_metrics import apply_filters, exact_match
from lab.evaluate.metrics import METRICS
from lab.tasks import ASSETS, check_task_source, get_task

SENTIMENT = f"""task: sentiment_yaml
dataset_path: json
dataset_kwargs:
  data_files:
    test: {ASSETS / 'tweet_sentiment.jsonl'}
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{choices.index(answer)}}}}"
doc_to_choice: choices
metric_list:
  - metric: acc
  - metric: acc_norm
"""

ARITHMETIC = """task: sums
dataset_path: json
dataset_kwargs:
  data_files:
    train: shots.csv
    test: sums.jsonl
output_type: generate_until
training_split: train
test_split: test
doc_to_text: "Q: {{a}} + {{b}} =?\\nA:"
doc_to_target: "{{a + b}}"
fewshot_delimiter: "\\n"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  do_sample: false
filter_list:
  - name: number
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    ignore_case: true
"""


def write(folder, name, text):
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_the_labs_own_task_file_reads_the_same_through_a_yaml(tmp_path):
    task = get_task(str(write(tmp_path, "sentiment.yaml", SENTIMENT)))
    builtin = get_task("tweet_sentiment")
    assert task.template == "lm_eval" and task.type == "multiple_choice" and task.name == "sentiment_yaml"
    assert len(task.questions) == len(builtin.items)  # the YAML reads every line of the file as the test split
    first = task.questions[0]
    assert first.question == f"Question: {builtin.items[0].question}\nAnswer:"
    assert first.choices == builtin.items[0].choices and first.answer_text == builtin.items[0].answer
    assert task.lm_eval["metrics"] == ["acc", "acc_norm"] and task.lm_eval["target_delimiter"] == " "


def test_a_hand_written_generation_yaml_with_fewshot_split_filters_and_csv(tmp_path):
    (tmp_path / "sums.jsonl").write_text("".join(json.dumps({"a": a, "b": b}) + "\n" for a, b in [(1, 2), (3, 4)]))
    (tmp_path / "shots.csv").write_text("a,b\n5,5\n")
    path = write(tmp_path, "sums.yaml", ARITHMETIC)
    assert check_task_source(str(path)) == str(path)
    task = get_task(str(path))
    assert task.type == "free_text" and [q.question for q in task.questions] == ["Q: 1 + 2 =?\nA:", "Q: 3 + 4 =?\nA:"]
    assert [q.answer for q in task.questions] == ["3", "7"]
    assert task.exemplars[0].question == "Q: 5 + 5 =?\nA:" and task.exemplars[0].answer == "10"  # CSV numbers typed
    assert task.lm_eval["until"] == ["\n"] and task.lm_eval["max_gen_toks"] == 8 and task.lm_eval["ignore_case"]
    assert apply_filters(" it is 7, not 8", task.lm_eval["filters"]) == "7"
    assert apply_filters(" no number", task.lm_eval["filters"]) == "[invalid]"
    assert exact_match("Paris", "paris", True, False) and not exact_match("Paris", "paris", False, False)
    assert exact_match("paris!", "paris", False, True)


@pytest.mark.parametrize("change, feature", [
    (("doc_to_choice: choices", "doc_to_choice: !function utils.choices"), "!function"),
    (("  - metric: acc_norm", "  - metric: bleu"), "bleu"),
    (("dataset_path: json", "dataset_path: super_glue"), "super_glue"),
    (("output_type: multiple_choice", "output_type: loglikelihood_rolling"), "loglikelihood_rolling"),
    (("task: sentiment_yaml", "task: sentiment_yaml\nprocess_docs: x"), "process_docs"),
])
def test_unsupported_features_are_refused_by_name(tmp_path, change, feature):
    path = write(tmp_path, "bad.yaml", SENTIMENT.replace(*change))
    with pytest.raises(LabError) as error:
        check_task_source(str(path))
    assert error.value.key == "lm_eval_unsupported" and feature in error.value.params["feature"]


def test_templates_run_in_a_sandbox(tmp_path):
    path = write(tmp_path, "evil.yaml", SENTIMENT.replace("Question: {{question}}", "{{ question.__class__.__mro__ }}"))
    with pytest.raises(LabError) as error:
        get_task(str(path))
    assert error.value.key == "lm_eval_bad_yaml"


def test_yaml_multiple_choice_scores_like_the_builtin_path(tmp_path):
    from tiny_models import load_tiny

    model, tokenizer, _ = load_tiny()
    task = get_task(str(write(tmp_path, "sentiment.yaml", SENTIMENT)))
    builtin = get_task("tweet_sentiment")
    options = {"shots": 0, "batch_size": 4, "max_new_tokens": 4, "use_chat_template": False}
    figures, rows = METRICS.get("multiple_choice").compute(task, task.questions[:6], model, tokenizer, options, lambda *_: None)
    expected, base = METRICS.get("multiple_choice").compute(builtin, builtin.items[:6], model, tokenizer, options, lambda *_: None)
    for mine, theirs in zip(rows, base):
        assert mine["logprobs"] == pytest.approx(theirs["logprobs"], abs=1e-3)
    assert figures["accuracy"] == expected["accuracy"] and figures["n"] == 6


LOCAL_SENTIMENT = SENTIMENT.replace(str(ASSETS / "tweet_sentiment.jsonl"), "data/moods.jsonl")


def moods(rows=4) -> str:
    lines = (ASSETS / "tweet_sentiment.jsonl").read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[:rows]) + "\n"


def test_a_yaml_task_uploads_as_a_zip_or_with_its_data_files(lab_home, tmp_path):
    import zipfile

    from lab.tasks import save_upload

    bundle = tmp_path / "my task.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("moods.yaml", LOCAL_SENTIMENT)
        archive.writestr("data/moods.jsonl", moods())
    stored = save_upload(str(bundle), "")
    assert stored.endswith("moods.yaml") and str(lab_home / "uploads") in stored
    task = get_task(stored)
    assert task.template == "lm_eval" and len(task.questions) == 4
    # the same two files uploaded side by side (the YAML naming its data next to it)
    (tmp_path / "flat.yaml").write_text(LOCAL_SENTIMENT.replace("data/moods.jsonl", "moods.jsonl"))
    (tmp_path / "moods.jsonl").write_text(moods(3))
    flat = save_upload([str(tmp_path / "flat.yaml"), str(tmp_path / "moods.jsonl")], "")
    assert len(get_task(flat).questions) == 3 and check_task_source(flat) == flat
    # a plain JSONL task still uploads as before
    assert save_upload(str(ASSETS / "tweet_sentiment.jsonl"), "").endswith("tweet_sentiment.jsonl")


@pytest.mark.parametrize("member, key", [("../evil.jsonl", "upload_bad_member"), ("/etc/evil.jsonl", "upload_bad_member"),
                                         ("run.py", "task_bad_format")])
def test_a_zip_cannot_escape_its_folder_or_carry_code(lab_home, tmp_path, member, key):
    import zipfile

    from lab.tasks import save_upload

    bundle = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("moods.yaml", LOCAL_SENTIMENT)
        archive.writestr(member, "x")
    with pytest.raises(LabError) as info:
        save_upload(str(bundle), "")
    assert info.value.key == key
    assert not (lab_home / "uploads" / "evil.jsonl").exists() and not (lab_home / "evil.jsonl").exists()


def test_a_yaml_reads_data_only_inside_its_own_folder(lab_home, tmp_path):
    from lab.tasks import save_upload

    secret = tmp_path / "secret.jsonl"
    secret.write_text(moods(2))
    for name in (str(secret), "../secret.jsonl", "../../secret.jsonl"):
        folder = tmp_path / "upload"
        folder.mkdir(exist_ok=True)
        path = write(folder, "peek.yaml", LOCAL_SENTIMENT.replace("data/moods.jsonl", name))
        with pytest.raises(LabError) as info:
            get_task(str(path))
        assert info.value.key == "lm_eval_data_outside" and "secret.jsonl" in str(info.value)
    with pytest.raises(LabError) as info:  # an upload refers to a file of the server: refused when uploaded
        save_upload([str(write(tmp_path / "upload", "peek.yaml", LOCAL_SENTIMENT.replace("data/moods.jsonl", str(secret))))], "")
    assert info.value.key == "lm_eval_data_outside"
    (tmp_path / "two").mkdir()
    with pytest.raises(LabError) as info:  # one YAML per upload
        save_upload([str(write(tmp_path / "two", "a.yaml", LOCAL_SENTIMENT)), str(write(tmp_path / "two", "b.yaml", LOCAL_SENTIMENT))], "")
    assert info.value.key == "task_upload_yaml_count" and "a.yaml" in str(info.value)
