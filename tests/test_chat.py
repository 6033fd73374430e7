"""The Chat tab's worker (lab/modeling/chat_worker.py): prompts from the chat template, streamed answers,
access to runs through the run API, the bounded pool and the idle exit. Tiny models only."""
import json
import time

import pytest

from lab.classroom.access import Viewer
from lab.errors import LabError
from lab.modeling import chat_worker
from lab.modeling.chat_worker import ChatProcess, Target, conversation, resolve, stream
from lab.present.i18n import t


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tiny_models import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("chat") / "tiny", train_steps=60)


def collect(process, request, timeout=240):
    """(chunks, done) of one request, read straight from the process's replies."""
    lock = process.send(request)
    chunks, deadline = [], time.time() + timeout
    try:
        while time.time() < deadline:
            for event in process.events(0.5):
                if "chunk" in event:
                    chunks.append(event["chunk"])
                elif "done" in event:
                    return chunks, event["done"]
                elif "error" in event or "exit" in event:
                    raise AssertionError(f"the chat process failed: {event}")
        raise AssertionError("no answer in time")
    finally:
        lock.release()


def test_a_multi_turn_conversation_is_rendered_with_the_chat_template():
    from tiny_models import make_tokenizer

    from lab.modeling.generation import format_chat

    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
               {"role": "user", "content": "two"}, {"role": "assistant", "content": [{"type": "text", "text": "2"}]}]
    messages = conversation(history, "be brief", "and three?", turns=10)
    text, add_special = format_chat(make_tokenizer(), messages)
    assert text == ("<s>system: be brief\n<s>user: hi\n<s>assistant: hello\n<s>user: two\n<s>assistant: 2\n"
                    "<s>user: and three?\n<s>assistant: ")
    assert add_special is False  # the template already holds the special tokens
    # the cap keeps the newest exchanges: with 2 turns, the new message and the one exchange before it
    short = conversation(history, "", "and three?", turns=2)
    assert [m["content"] for m in short] == ["two", "2", "and three?"]


def test_streaming_gives_several_chunks_that_join_to_the_answer_and_keeps_the_process(tiny_dir):
    process = ChatProcess(Target(str(tiny_dir)), idle_seconds=120)
    try:
        request = {"messages": conversation([], "", "the cat", 8), "max_new_tokens": 24, "temperature": 0,
                   "top_p": 1, "seed": 0}
        chunks, done = collect(process, request)
        assert len(chunks) >= 3, chunks
        assert "".join(chunks) == done["text"] and done["text"].strip()
        assert done["tokens"] <= 24
        again, done_again = collect(process, request)  # the same process answers again: greedy is repeatable
        assert done_again["text"] == done["text"] and process.alive()
        sampled = collect(process, dict(request, temperature=1.5, seed=3))[1]["text"]
        assert collect(process, dict(request, temperature=1.5, seed=3))[1]["text"] == sampled  # seeded
    finally:
        process.stop()


def test_idle_process_exits_and_the_pool_starts_a_new_one(tiny_dir, monkeypatch):
    monkeypatch.setenv("LAB_CHAT_IDLE_SECONDS", "1")
    pool = chat_worker.ChatPool()
    try:
        first = pool.get(Target(str(tiny_dir)))
        deadline = time.time() + 240
        while first.alive() and time.time() < deadline:
            time.sleep(0.5)
        assert not first.alive() and first.process.returncode == 0  # it left on its own, cleanly
        second = pool.get(Target(str(tiny_dir)))
        assert second is not first and second.alive()
    finally:
        pool.close()


def test_the_pool_is_bounded_and_closes_the_least_recently_used(tiny_dir, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("LAB_CHAT_PROCESSES", "2")
    copies = [shutil.copytree(tiny_dir, tmp_path / f"m{i}") for i in range(3)]
    pool = chat_worker.ChatPool()
    try:
        a, b = pool.get(Target(str(copies[0]))), pool.get(Target(str(copies[1])))
        assert pool.get(Target(str(copies[0]))) is a  # reused, and now the most recent
        c = pool.get(Target(str(copies[2])))
        assert len(pool.processes) == 2 and b.process.poll() is not None and a.alive() and c.alive()
        a.busy.acquire(), c.busy.acquire()  # both answering: no room for a third
        with pytest.raises(LabError) as refused:
            pool.get(Target(str(copies[1])))
        assert refused.value.key == "chat_full"
    finally:
        pool.close()


def _finetune_run(run_id, owner, private, base, status="succeeded"):
    from lab.runs import store
    from lab.runs.folder import RunFolder

    store.insert_run(run_id, "finetune", "", owner, private, "hash", "version", status=status)
    folder = RunFolder(run_id).create()
    adapter = folder.artifact_path("adapter")
    adapter.mkdir(parents=True)
    (adapter / "lab_finetune.json").write_text(json.dumps({"method": "lora", "base_model": str(base),
                                                           "run_id": run_id}))
    return adapter


def test_a_run_the_viewer_may_not_see_is_refused_like_a_missing_one(lab_home, tiny_dir, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "1")
    _finetune_run("20260101-120000-finetune-aaaaaa", "visitor-a", True, tiny_dir)
    owner, other = Viewer("visitor-a", "visitor"), Viewer("visitor-b", "visitor")
    target = resolve("20260101-120000-finetune-aaaaaa", owner)
    assert target == Target(str(tiny_dir), "20260101-120000-finetune-aaaaaa", str(tiny_dir))
    with pytest.raises(LabError) as hidden:
        resolve("20260101-120000-finetune-aaaaaa", other)
    with pytest.raises(LabError) as missing:
        resolve("20260101-120000-finetune-bbbbbb", other)
    assert hidden.value.key == missing.value.key == "no_such_run"
    assert (t("error.no_such_run", "en", **hidden.value.params).replace("aaaaaa", "x")
            == t("error.no_such_run", "en", **missing.value.params).replace("bbbbbb", "x"))
    from lab.present import chat_view

    with pytest.raises(LabError) as download:  # "where is my model" checks the same way
        chat_view.download_source("20260101-120000-finetune-aaaaaa", other)
    assert download.value.key == "no_such_run"
    assert chat_view.download_source("20260101-120000-finetune-aaaaaa", owner)[1] == "chat.where_adapter"
    # a visitor may not name a server folder as the model either
    with pytest.raises(LabError) as path:
        resolve(str(tiny_dir), other)
    assert path.value.key == "not_allowed_ref"


def test_a_run_that_is_not_a_finished_model_is_refused(lab_home, tiny_dir):
    _finetune_run("20260101-120000-finetune-cccccc", "", False, tiny_dir, status="failed")
    with pytest.raises(LabError) as refused:
        resolve("20260101-120000-finetune-cccccc", Viewer("", "visitor"))
    assert refused.value.key == "chat_not_a_model"


def lora_run(run_id, base, owner="", private=False):
    """A succeeded "finetune" run holding a LoRA adapter on `base` whose B matrices are not zero (the
    adapter changes the answers), as the fine-tune job leaves it; also used by the browser test."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = _finetune_run(run_id, owner, private, base)
    torch.manual_seed(0)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                                LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    peft_model.save_pretrained(adapter)
    return adapter


def test_a_lora_fine_tune_answers_beside_its_base(lab_home, tiny_dir):
    """The adapter goes on its base in the chat process; stream() runs both answers side by side."""
    lora_run("20260101-120000-finetune-dddddd", tiny_dir)
    target = resolve("20260101-120000-finetune-dddddd", Viewer("", "visitor"))
    pool = chat_worker.ChatPool()
    try:
        request = {"messages": conversation([], "", "the dog", 8), "max_new_tokens": 16, "temperature": 0,
                   "top_p": 1, "seed": 0}
        jobs = [(pool.get(target), request), (pool.get(target.base_target()), request)]
        growth = []
        for texts, states in stream(jobs):
            growth.append(list(texts))
        assert states == ["done", "done"], states
        assert jobs[0][0].info["adapter_run"] == "20260101-120000-finetune-dddddd"
        assert jobs[1][0].info["adapter_run"] == ""
        assert len({tuple(g) for g in growth}) >= 3  # the texts grew over several updates
        assert texts[0] != texts[1]  # the adapter changed the answer
    finally:
        pool.close()
