"""Perplexity and multiple-choice scoring, checked against log-softmax computed by hand."""
import math

import pytest
from tiny_models import REPEATED_TEXT, load_tiny

from lab.errors import LabError
from lab.modeling.scoring import _windows, perplexity, score_choices


@pytest.fixture(scope="module")
def llama():
    import torch

    model, tokenizer, _ = load_tiny("llama")
    return model, tokenizer, torch


def _logprobs(model, torch, ids):
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)


def test_short_text_perplexity_by_hand(llama):
    model, tokenizer, torch = llama
    text = "the cat sat on the mat."
    ids = tokenizer(text)["input_ids"]
    logprobs = _logprobs(model, torch, ids)
    nll = -sum(logprobs[t - 1, ids[t]].item() for t in range(1, len(ids))) / (len(ids) - 1)
    result = perplexity(model, tokenizer, [text])
    assert result["tokens"] == len(ids) - 1 and result["windows"] == 1
    assert result["nll_per_token"] == pytest.approx(nll, abs=1e-4)
    assert result["perplexity"] == pytest.approx(math.exp(nll), rel=1e-4)
    assert result["perplexity"] < 10  # the trained model knows this text (a random one: ~300)


def test_windows_score_every_token_once():
    ids = list(range(40))
    windows = list(_windows(ids, max_length=16, stride=8))
    assert [w[0][0] for w in windows] == [0, 8, 16, 24]
    scored = [tok for window, first in windows for tok in window[first:]]
    assert scored == ids[1:]  # token 0 has no context; all others scored exactly once
    assert windows[1][1] == 8  # second window: 8 tokens of context, 8 new ones


def test_long_text_sliding_window_like_the_hf_guide(llama):
    model, tokenizer, torch = llama
    ids = tokenizer(REPEATED_TEXT)["input_ids"]
    assert len(ids) > 40
    max_length, stride = 16, 8
    # The Hugging Face perplexity guide: labels -100 on the context part, loss = mean over scored tokens
    total, count, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        new = end - previous_end
        window = torch.tensor([ids[begin:end]])
        labels = window.clone()
        labels[:, :-new] = -100
        with torch.no_grad():
            loss = model(input_ids=window, labels=labels).loss.item()
        scored = (labels[:, 1:] != -100).sum().item()  # the model shifts labels by one
        total, count, previous_end = total + loss * scored, count + scored, end
        if end == len(ids):
            break
    result = perplexity(model, tokenizer, [REPEATED_TEXT], max_length=max_length, stride=stride, batch_size=3)
    assert result["tokens"] == count == len(ids) - 1
    assert result["nll_per_token"] == pytest.approx(total / count, abs=1e-4)
    whole = perplexity(model, tokenizer, [REPEATED_TEXT], max_length=128)  # one window: more context, lower loss
    assert whole["windows"] == 1 and whole["tokens"] == count
    no_overlap = perplexity(model, tokenizer, [REPEATED_TEXT], max_length=16, stride=16)
    assert no_overlap["nll_per_token"] > result["nll_per_token"] - 1e-6  # less context per token


def test_perplexity_pools_texts_and_ignores_batch_size(llama):
    model, tokenizer, _ = llama
    texts = ["the cat sat on the mat.", "Rome is the capital of Italy.", REPEATED_TEXT]
    one = perplexity(model, tokenizer, texts, max_length=32, batch_size=1)
    many = perplexity(model, tokenizer, texts, max_length=32, batch_size=8)
    assert one["tokens"] == many["tokens"] == sum(len(tokenizer(t)["input_ids"]) - 1 for t in texts)
    assert one["nll_per_token"] == pytest.approx(many["nll_per_token"], abs=1e-4)


def test_perplexity_errors(llama):
    model, tokenizer, _ = llama
    with pytest.raises(LabError) as info:
        perplexity(model, tokenizer, ["the cat"], max_length=16, stride=17)
    assert info.value.key == "bad_stride"
    with pytest.raises(LabError) as info:
        perplexity(model, tokenizer, ["", "a"])
    assert info.value.key == "text_too_short"


def test_choices_by_hand(llama):
    model, tokenizer, torch = llama
    context, choices = "the cat sat on the", [" mat.", " log.", " dog sat"]
    [scores] = score_choices(model, tokenizer, [context], [choices])
    context_ids = tokenizer(context)["input_ids"]
    for k, choice in enumerate(choices):
        ids = tokenizer(context + choice)["input_ids"]
        logprobs = _logprobs(model, torch, ids)
        expected = sum(logprobs[t - 1, ids[t]].item() for t in range(len(context_ids), len(ids)))
        assert scores.logprob[k] == pytest.approx(expected, abs=1e-4)
        assert scores.n_tokens[k] == len(ids) - len(context_ids)
        assert scores.logprob_per_token[k] == pytest.approx(expected / scores.n_tokens[k], abs=1e-4)
        assert scores.logprob_per_char[k] == pytest.approx(expected / len(choice), abs=1e-4)
    assert scores.pick == scores.pick_per_char == 0  # the trained model says "the cat sat on the mat."


def test_choice_trailing_space_moves_batching_and_errors(llama):
    model, tokenizer, _ = llama
    spaced = score_choices(model, tokenizer, ["the cat sat on the "], [["mat.", "log."]])[0]
    plain = score_choices(model, tokenizer, ["the cat sat on the"], [[" mat.", " log."]])[0]
    assert spaced.logprob == pytest.approx(plain.logprob, abs=1e-5)
    contexts = ["the dog sat on the", "Paris is the capital of", "One plus one is", ""]
    choices = [[" log.", " mat."], [" France.", " Italy.", " two."], [" two.", " four."], ["the cat", "zzz"]]
    one = score_choices(model, tokenizer, contexts, choices, batch_size=1)
    many = score_choices(model, tokenizer, contexts, choices, batch_size=16)
    for a, b in zip(one, many):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4) and a.pick == b.pick
    assert one[3].pick == 0  # an empty context starts from BOS
    with pytest.raises(LabError, match="3 lists of choices"):
        score_choices(model, tokenizer, contexts, choices[:3])
    with pytest.raises(LabError) as info:
        score_choices(model, tokenizer, ["x"], [[]])
    assert info.value.key == "no_choices"
