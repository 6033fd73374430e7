"""Log-likelihood multiple-choice scoring on a tiny model, and the shared-context path that must match it."""
import pytest
from tiny_models import load_tiny

from lab.modeling.scoring import score_choices

CONTEXTS = ["the cat sat on the", "Question: what is the capital of France? Answer:", "1 2 3", "A B C D E F"]
CHOICES = [[" mat", " log", " dog sat"], [" Paris", " Rome", " the mat"], [" 4", " 5 6 7"], [" G", " H", " G H I J", " x"]]


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer, _ = load_tiny("llama")
    return model, tokenizer


def test_trained_tiny_model_prefers_what_it_saw(tiny):
    model, tokenizer = tiny
    scores = score_choices(model, tokenizer, ["the cat sat on the", "the dog sat on the"], [[" mat", " log"]] * 2)
    assert scores[0].pick == 0 and scores[1].pick == 1  # it was trained on "the cat sat on the mat. the dog ... log."
    assert all(lp < 0 for s in scores for lp in s.logprob)


@pytest.mark.parametrize("prefix", ["", "the cat sat on the mat. the dog sat on the log. "])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_shared_context_gives_the_same_scores(tiny, prefix, batch_size):
    model, tokenizer = tiny
    contexts = [prefix + c for c in CONTEXTS]
    plain = score_choices(model, tokenizer, contexts, CHOICES, batch_size=2)
    shared = score_choices(model, tokenizer, contexts, CHOICES, batch_size=batch_size, share_context=True)
    for a, b in zip(plain, shared):
        assert a.n_tokens == b.n_tokens and a.pick == b.pick and a.pick_per_char == b.pick_per_char
        assert b.logprob == pytest.approx(a.logprob, abs=1e-3)


def test_length_normalisation_can_change_the_pick(tiny):
    model, tokenizer = tiny
    # a long continuation the model knows well vs one short unlikely token: the raw sum favours the short one
    score = score_choices(model, tokenizer, ["the cat"], [[" sat on the mat. the dog sat on the log.", " x"]])[0]
    assert score.n_tokens[0] > score.n_tokens[1]
    assert score.logprob_per_token[0] > score.logprob_per_token[1]
    assert score.pick_per_token == 0
