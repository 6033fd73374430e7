"""Batched generation: batching does not change answers, stopping per row, seeded sampling, logprobs."""
import pytest
from tiny_models import load_tiny

from lab.errors import LabError
from lab.modeling.generation import format_prompt, generate

PROMPTS = ["the cat", "the dog sat on the", "Paris is the capital", "one"]  # different lengths: left padding


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def tiny(request):
    model, tokenizer, _ = load_tiny(request.param)
    return model, tokenizer


@pytest.fixture(scope="module")
def llama():
    model, tokenizer, _ = load_tiny("llama")
    return model, tokenizer


def test_batched_equals_one_at_a_time_on_logprobs(tiny):
    model, tokenizer = tiny
    batched = generate(model, tokenizer, PROMPTS, max_new_tokens=10, batch_size=4, return_logprobs=True)
    for prompt, together in zip(PROMPTS, batched):
        alone = generate(model, tokenizer, [prompt], max_new_tokens=10, return_logprobs=True)[0]
        assert together.prompt == prompt
        assert len(together.token_logprobs) == together.new_tokens == alone.new_tokens
        # padding changes float rounding, not the model's probabilities
        assert together.token_logprobs == pytest.approx(alone.token_logprobs, abs=1e-3)


def test_logprobs_match_a_hand_computation(llama):
    import torch

    model, tokenizer = llama
    result = generate(model, tokenizer, ["the cat"], max_new_tokens=6, return_logprobs=True)[0]
    prompt_ids = tokenizer("the cat")["input_ids"]
    new_ids = tokenizer(result.text, add_special_tokens=False)["input_ids"]
    assert len(new_ids) == result.new_tokens == 6  # the text re-tokenizes the same way here
    ids = torch.tensor([prompt_ids + new_ids])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    expected = [logprobs[len(prompt_ids) - 1 + k, token].item() for k, token in enumerate(new_ids)]
    assert result.token_logprobs == pytest.approx(expected, abs=1e-4)
    assert all(lp == max(row) for lp, row in zip(expected, [logprobs[len(prompt_ids) - 1 + k].tolist()
                                                           for k in range(6)]))  # greedy took the argmax


def test_finish_reasons_length_eos_and_stop(llama):
    model, tokenizer = llama
    plain = generate(model, tokenizer, ["the cat"], max_new_tokens=12)[0]
    assert plain.finish_reason == "length" and plain.new_tokens == 12 and "mat" in plain.text

    stopped = generate(model, tokenizer, ["the cat", "one"], max_new_tokens=12, stop=["mat", "zzz"])
    assert stopped[0].finish_reason == "stop" and "mat" not in stopped[0].text
    assert plain.text.startswith(stopped[0].text) and stopped[0].new_tokens < 12

    # Pretend "." ends a sequence: the row stops there, counting that token, while others go on
    dot = tokenizer.convert_tokens_to_ids(".")
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [saved, dot]
    try:
        ended = generate(model, tokenizer, ["the cat"], max_new_tokens=12)[0]
    finally:
        model.generation_config.eos_token_id = saved
    assert ended.finish_reason == "eos" and ended.new_tokens < 12 and ended.text.endswith(".")


def test_sampling_is_reproducible_and_independent_of_batching(llama):
    model, tokenizer = llama
    settings = dict(max_new_tokens=10, do_sample=True, temperature=1.5, seed=7)
    first = generate(model, tokenizer, PROMPTS, batch_size=4, **settings)
    again = generate(model, tokenizer, PROMPTS, batch_size=4, **settings)
    one_by_one = generate(model, tokenizer, PROMPTS, batch_size=1, **settings)
    other_seed = generate(model, tokenizer, PROMPTS, batch_size=4, **{**settings, "seed": 8})
    assert [r.text for r in first] == [r.text for r in again] == [r.text for r in one_by_one]
    assert [r.text for r in first] != [r.text for r in other_seed]
    repeated = generate(model, tokenizer, ["the cat"] * 4, **settings)  # self-consistency: n different samples
    assert len({r.text for r in repeated}) > 1


def test_top_k_1_and_tiny_top_p_are_greedy(llama):
    model, tokenizer = llama
    greedy = [r.text for r in generate(model, tokenizer, PROMPTS, max_new_tokens=8)]
    top_k = [r.text for r in generate(model, tokenizer, PROMPTS, max_new_tokens=8, do_sample=True, top_k=1, seed=3)]
    top_p = [r.text for r in generate(model, tokenizer, PROMPTS, max_new_tokens=8, do_sample=True, top_p=0.01, seed=3)]
    assert greedy == top_k == top_p


def test_chat_template_and_progress(llama):
    model, tokenizer = llama
    text, add_special = format_prompt(tokenizer, "hello", use_chat_template=True)
    assert text == "<s>user: hello\n<s>assistant: " and add_special is False
    assert format_prompt(tokenizer, "hello", use_chat_template=False) == ("hello", True)
    calls = []
    results = generate(model, tokenizer, PROMPTS + ["two"], max_new_tokens=4, batch_size=2, use_chat_template=True,
                       on_batch=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert [r.prompt for r in results] == PROMPTS + ["two"]
    assert results.new_tokens == 20 and results.tokens_per_second > 0 and results.wall_seconds > 0


def test_sampling_needs_a_positive_temperature(llama):
    model, tokenizer = llama
    with pytest.raises(LabError) as info:
        generate(model, tokenizer, ["x"], do_sample=True, temperature=0)
    assert info.value.key == "bad_temperature"
    assert generate(model, tokenizer, [], max_new_tokens=4) == []
