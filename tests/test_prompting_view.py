"""What the Prompting tab shows, without a browser: presets, table, figures, traces, detail, reveal."""
import pytest

from lab.errors import LabError
from lab.classroom import presets
from lab.kinds.prompt import PromptSpec
from lab.prompting import view

ROWS = [
    {"strategy": "zero_shot", "k": 0, "n": 1, "main": True, "accuracy": 0.35, "ci_low": 0.18, "ci_high": 0.57,
     "correct": 7, "total": 20, "tokens_per_question": 7.2, "seconds": 10.0, "truncated": 0, "prompt_tokens_mean": 50},
    {"strategy": "few_shot_cot", "k": 4, "n": 1, "main": True, "accuracy": 0.8, "ci_low": 0.58, "ci_high": 0.92,
     "correct": 16, "total": 20, "tokens_per_question": 15.3, "seconds": 40.0, "truncated": 2, "prompt_tokens_mean": 210},
    {"strategy": "self_consistency", "k": 4, "n": 3, "main": True, "accuracy": 0.8, "ci_low": 0.58, "ci_high": 0.92,
     "correct": 16, "total": 20, "tokens_per_question": 45.0, "seconds": 90.0, "truncated": 0, "prompt_tokens_mean": 210},
]
K_CURVE = [dict(ROWS[1], k=k, main=k == 4, accuracy=a) for k, a in ((0, 0.4), (1, 0.6), (4, 0.8))]
N_CURVE = [{"strategy": "self_consistency", "k": 4, "n": n, "accuracy": a, "ci_low": a - 0.2, "ci_high": a + 0.1,
            "tokens_per_question": 15.0 * n} for n, a in ((1, 0.7), (2, 0.7), (3, 0.8))]
RESULT = {"status": "succeeded", "metrics": {"context_length": 8192},
          "outputs": {"strategies": ROWS, "k_curve": K_CURVE, "n_curve": N_CURVE, "answer_filter": "last_number",
                      "filter_description": "The last number.", "normalisation": "doc", "normaliser": "normalise_text",
                      "warnings": ["truncated:few_shot_cot k=4:2", "no_chat_template"]}}
TRACES = [
    {"strategy": "zero_shot", "k": 0, "n": 1, "main": True, "question": "Calculate 5 - 2.", "prompt": "Q: Calculate 5 - 2.\nA:",
     "prompt_tokens": 12, "truncated": False, "output": "The answer is 1.", "span": "1.", "extracted": "1", "gold": "3",
     "correct": False, "new_tokens": 6, "finish_reason": "eos"},
    {"strategy": "self_consistency", "k": 4, "n": 3, "main": True, "question": "Calculate 5 - 2.", "prompt": "long",
     "prompt_tokens": 200, "truncated": True, "output": "5 - 2 = 3. The answer is 3.", "span": "3.", "extracted": "3",
     "gold": "3", "correct": True, "new_tokens": 40, "finish_reason": "eos",
     "paths": [{"output": "5 - 2 = 3. The answer is 3.", "extracted": "3", "new_tokens": 12},
               {"output": "The answer is 7.", "extracted": "7", "new_tokens": 8},
               {"output": "5 - 2 = 3.", "extracted": "3", "new_tokens": 20}],
     "votes": {"3": 2, "7": 1}},
]


@pytest.mark.parametrize("preset_id", [pid for _, pid in presets.choices("prompting", "en")])
def test_every_preset_is_a_valid_prompt_spec_with_both_languages(preset_id):
    data = presets.load(preset_id)
    spec = data.build()[0]
    assert isinstance(spec, PromptSpec) and spec.questions <= 20
    for lang in ("en", "zh"):
        assert data.title[lang].strip() and data.description[lang].strip()
    assert {label for label, _ in presets.choices("prompting", "zh")} != {label for label, _ in presets.choices("prompting", "en")}


def test_presets_refuse_paths_outside_their_folder():
    with pytest.raises(LabError):
        presets.load("prompting/../finetune/lora_ia3_prompt_2min")


def test_strategy_table_in_both_languages():
    frame = view.strategy_frame(RESULT, "en")
    assert list(frame.columns)[:4] == ["Strategy", "k", "n", "Accuracy"] and len(frame) == 3
    assert frame.iloc[1].tolist()[:5] == ["Few-shot CoT", 4, 1, "80%", "58–92%"]
    assert view.strategy_frame(RESULT, "zh").columns[0] == "策略"
    assert view.strategy_frame(None, "en").empty


def test_figures_are_built_from_the_result():
    bars = view.accuracy_bars(RESULT, "en")
    assert list(bars.data[0].y) == [0.35, 0.8, 0.8] and list(bars.data[0].error_y.array) == pytest.approx([0.22, 0.12, 0.12])
    k_figure = view.k_curve(RESULT, "en")
    assert list(k_figure.data[0].x) == [0, 1, 4] and k_figure.data[0].name == "Few-shot CoT"
    assert list(view.n_curve(RESULT, "en").data[0].y) == [0.7, 0.7, 0.8]
    cost = view.cost_figure(RESULT, "zh")
    assert len(cost.data) == 3 and "token" in cost.layout.xaxis.title.text and cost.layout.xaxis.type == "log"
    assert not view.k_curve(None, "en").data  # empty figure: only an annotation


def test_traces_table_filters_and_the_detail_shows_prompt_paths_and_votes():
    frame = view.traces_frame(TRACES, "en")
    assert frame.iloc[:, 0].tolist() == [0, 1] and frame.iloc[0, -1] == "✗"
    only = view.traces_frame(TRACES, "en", strategy="self_consistency")
    assert only.iloc[:, 0].tolist() == [1]
    assert view.traces_frame(TRACES, "en", only_wrong=True).iloc[:, 0].tolist() == [0]
    summary, prompt, paths = view.trace_detail(TRACES, 1, "en")
    assert prompt == "long" and "3: 2, 7: 1" in summary and "lost its beginning" in summary
    assert paths.iloc[:, 2].tolist() == ["3", "7", "3"]
    figure = view.vote_histogram(TRACES, 1, "en")
    assert list(figure.data[0].x) == ["3", "7"] and list(figure.data[0].y) == [2, 1]
    assert view.trace_detail(TRACES, None, "en")[1] == ""
    assert not view.vote_histogram(TRACES, 0, "en").data  # no vote for a greedy strategy


def test_normalisation_and_warnings_are_shown():
    text = view.normalisation_markdown(RESULT, "en")
    assert "last_number" in text and "1,000" in text
    assert "2 prompts of few_shot_cot k=4" in text and "8192" in text and "no chat template" in text
    assert "截" in view.normalisation_markdown(RESULT, "zh")


def test_reveal_names_the_best_strategy_and_whether_the_intervals_overlap():
    text = view.reveal_markdown(RESULT, "en")
    assert "Few-shot CoT" in text and "80%" in text  # the cheaper of the two at 80%
    assert "do not overlap" in text  # [0.18, 0.57] against [0.58, 0.92]
    close = {"outputs": {"strategies": [ROWS[0], dict(ROWS[1], ci_low=0.5)]}}
    assert "intervals overlap" in view.reveal_markdown(close, "en")
    assert view.reveal_markdown(None, "en") == ""
