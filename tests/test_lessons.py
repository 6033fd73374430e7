"""Lessons: every tab and every registered entry of every registry (lab/present/lessons.py) has its lesson in
English and Chinese; entry lessons ask a "Predict, then run" question and point to a source; the
lesson texts of the classroom state the cross-machine tolerance."""
import re

import pytest
from lab.present import lessons
from lab.present.i18n import lesson

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_registry_with_a_lesson_prefix_is_owed_its_lessons(monkeypatch):
    """lessons.owed() walks lab.registry.all_registries(): no hand list to forget a registry in."""
    from lab import registry

    owed = lessons.owed()
    for name in ("method_lora", "scheme_nf4", "prune_wanda", "strategy_few_shot_cot", "judge_logprob",
                 "metric_perplexity"):
        assert name in owed
    monkeypatch.setattr(registry, "_ALL", list(registry._ALL))  # the registry below lives for this test only
    newcomer = registry.Registry("test entry", lesson_prefix="newcomer_")
    newcomer.register("x", object())
    assert "newcomer_x" in lessons.owed()
    assert "en/newcomer_x.md" in lessons.missing() and "zh/newcomer_x.md" in lessons.missing()


def test_every_tab_and_registered_entry_has_both_lesson_files():
    assert lessons.missing() == []


@pytest.mark.parametrize("name", [n for n in lessons.owed() if n not in lessons.TABS])
def test_entry_lessons_predict_then_run_and_cite_a_source(name):
    english, chinese = lesson(name, "en"), lesson(name, "zh")
    assert "Predict, then run" in english, name
    assert "先预测" in chinese and CJK.search(chinese), name
    assert "http" in english and "http" in chinese, f"{name}: no pointer to the original paper"


def test_the_lessons_state_the_cross_machine_tolerance():
    for lang in ("en", "zh"):
        text = lesson("runs", lang)
        assert re.search(r"1\s?%", text) and ("bit" in text or "逐位" in text), lang


@pytest.mark.parametrize("name, english_words, chinese_words", [
    ("home", ("Pre-training", "Instruction tuning", "Alignment", "Utilization"), ("预训练", "指令微调", "对齐", "使用")),
    ("scaling", ("Kaplan", "Chinchilla", "Emergent", "Predict, then run"), ("Kaplan", "Chinchilla", "涌现", "先预测")),
    ("generate", ("Predict, then run", "temperature"), ("先预测", "温度")),
])
def test_tab_lessons_cover_their_topics(name, english_words, chinese_words):
    """Home: the LLM lifecycle; Scaling: KM and Chinchilla laws and emergent abilities; Generate: decoding."""
    english, chinese = lesson(name, "en"), lesson(name, "zh")
    assert [w for w in english_words if w not in english] == []
    assert [w for w in chinese_words if w not in chinese] == []


def test_every_spec_field_has_help_in_both_languages_that_the_form_shows():
    """The form builder (pages/forms.py) puts Spec.help(name, lang) into each widget's info: check that
    the help exists, differs between the languages and is Chinese in Chinese, for every kind."""
    import dataclasses

    from lab.specs import KINDS

    for kind, entry in KINDS.entries().items():
        for field in dataclasses.fields(entry.spec_class):
            english, chinese = entry.spec_class.help(field.name, "en"), entry.spec_class.help(field.name, "zh")
            assert english.strip() and chinese.strip() and english != chinese, f"{kind}.{field.name}"
            assert CJK.search(chinese), f"{kind}.{field.name}: the Chinese help has no Chinese"
