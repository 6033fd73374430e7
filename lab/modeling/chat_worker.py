"""Chat with a model kept loaded in its own process, the answer streamed while it is generated.

The app never imports torch, so the model lives in a child process (`python -m lab.modeling.chat_worker`)
that loads it once and answers one conversation turn at a time:

    target = resolve("20260101-120000-finetune-abc123", viewer)   # access-checked: a run the viewer may see
    process = POOL.get(target)                                      # started, or reused (LRU, bounded)
    for texts, finished in stream([(process, request)]):            # the texts so far, growing
        ...

Protocol: one JSON object a line. The app writes a request {"messages": [...], "max_new_tokens", "temperature",
"top_p", "seed"} to the child's stdin; the child writes {"ready": {...}} once the model is loaded, then for each
request {"chunk": "..."} lines (transformers' TextIteratorStreamer) and one {"done": {"text", "tokens",
"seconds"}} or {"error": {"key", "params"} | {"message"}}. The child exits after `idle` seconds without a
request (or when the app closes its stdin). The pool keeps at most N processes (lab.classroom.space_mode.
chat_limits), closing the least recently used idle one, and each process answers one request at a time.

What a visitor may chat with: a model name they may use (space_mode.check_chat_model), or a succeeded
fine-tune (its adapter on its base; a full fine-tune as it is) or export (the merged folder) that the run API
lets them see; a run they may not see is refused as if it did not exist.
"""
import collections
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from lab import config
from lab.errors import LabError

READY_SECONDS = 600  # a model load slower than this is reported as failed
BUSY_SECONDS = 60  # a request waits this long for its process to finish the previous answer
STALE_SECONDS = 15  # a holder that has not read its answer for this long was abandoned (the browser left)


@dataclass(frozen=True)
class Target:
    """What to load: a model (name, hub id or folder) and optionally a fine-tune run whose adapter goes on top.
    base: the model the fine-tune started from (what "base model side by side" answers with)."""

    model: str
    adapter_run: str = ""
    base: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.adapter_run)

    def base_target(self) -> "Target":
        return Target(self.base or self.model)


def resolve(choice: str, viewer) -> Target:
    """The model a chat choice names, checked for this viewer (LabError with the reason otherwise)."""
    from lab.classroom import space_mode
    from lab.modeling.catalog import check_model_name
    from lab.runs.folder import RUN_ID_PATTERN

    text = (choice or "").strip()
    if not text:
        raise LabError("bad_model_name", model="")
    if RUN_ID_PATTERN.fullmatch(text):
        return _run_target(text, viewer)
    check_model_name(text)
    space_mode.check_chat_model(text, viewer)
    return Target(text)


def _run_target(run_id: str, viewer) -> Target:
    from lab.finetune.load import adapter_folder, describe, is_whole_model
    from lab.runs import runner
    from lab.runs.folder import RunFolder

    row = runner.get(run_id, viewer)  # "no such run" for a run this viewer may not see
    if row["status"] != "succeeded" or row["kind"] not in ("finetune", "export"):
        raise LabError("chat_not_a_model", run_id=run_id)
    if row["kind"] == "export":
        merged = RunFolder(run_id).artifact_path("merged")
        if not (merged / "config.json").is_file():
            raise LabError("chat_not_a_model", run_id=run_id)
        source = RunFolder(run_id).read_spec().get("run_id", "")
        try:
            base = describe(source)["base_model"] if source else ""
        except LabError:
            base = ""
        return Target(str(merged), base=base or str(merged))
    folder, about = adapter_folder(run_id), describe(run_id)
    if is_whole_model(folder):
        return Target(str(folder), base=about["base_model"])
    return Target(about["base_model"], adapter_run=run_id, base=about["base_model"])


def conversation(history: list[dict], system: str, message: str, turns: int) -> list[dict]:
    """The messages to send: the system prompt, the last `turns` exchanges of the history, the new message.
    history is a gr.Chatbot's value (messages format: {"role", "content"}; only text turns are kept)."""
    kept = [{"role": m["role"], "content": _text(m.get("content"))} for m in history or []
            if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    kept = [m for m in kept if m["content"]]
    users = [i for i, m in enumerate(kept) if m["role"] == "user"]
    if turns and len(users) >= turns:
        kept = kept[users[len(users) - turns + 1]:] if turns > 1 else []
    system = (system or "").strip()
    return ([{"role": "system", "content": system}] if system else []) + kept + [{"role": "user", "content": message}]


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio 6 may hand back [{"type": "text", "text": ...}]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


class ChatProcess:
    """One child process holding one loaded model; one request at a time."""

    def __init__(self, target: Target, idle_seconds: int):
        self.target = target
        self.idle_seconds = idle_seconds
        self.replies: queue.Queue = queue.Queue()
        self.busy = threading.Lock()
        self.last_read = time.time()
        self.ready = False
        self.info: dict = {}
        command = [sys.executable, "-m", "lab.modeling.chat_worker", "--model", target.model,
                   "--adapter-run", target.adapter_run, "--idle", str(idle_seconds)]
        env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
        self.process = subprocess.Popen(command, cwd=config.REPO, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                self.replies.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.replies.put({"exit": self.process.wait()})

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict) -> threading.Lock:
        """Queue one request (given an "id" the child echoes); the caller reads events() until its "done" or
        "error", then releases the returned lock. A holder that stopped reading (a page closed mid-answer,
        its generator never resumed) is taken over after STALE_SECONDS; its late events are skipped by id."""
        deadline = time.time() + BUSY_SECONDS
        lock = self.busy
        while not lock.acquire(timeout=0.5):
            if time.time() - self.last_read > STALE_SECONDS:
                lock = self.busy = threading.Lock()  # the abandoned holder keeps (and releases) the old one
            elif time.time() > deadline:
                raise LabError("chat_busy")
            else:
                lock = self.busy
        self.last_read = time.time()
        request.setdefault("id", os.urandom(6).hex())
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            lock.release()
            raise LabError("chat_failed", reason="the chat process has ended")
        return lock

    def release(self) -> None:
        if self.busy.locked():
            self.busy.release()

    def events(self, timeout: float) -> list[dict]:
        """The replies waiting (at most `timeout` seconds for the first)."""
        self.last_read = time.time()
        try:
            found = [self.replies.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                found.append(self.replies.get_nowait())
            except queue.Empty:
                return found

    def stop(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)  # a loaded child exits when its stdin closes
        except subprocess.TimeoutExpired:
            self.process.kill()  # still loading (it reads requests only once loaded)
            self.process.wait(timeout=10)


class ChatPool:
    """At most `limit` chat processes, the least recently used idle one closed to make room."""

    def __init__(self):
        self.processes: "collections.OrderedDict[tuple, ChatProcess]" = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, target: Target) -> ChatProcess:
        from lab.classroom.space_mode import chat_limits

        limits = chat_limits()
        with self.lock:
            process = self.processes.get(target.key)
            if process is not None and process.alive():
                self.processes.move_to_end(target.key)
                return process
            self.processes.pop(target.key, None)
            for key in [k for k, p in self.processes.items() if not p.alive()]:
                del self.processes[key]  # exited after its idle time
            while len(self.processes) >= limits["processes"]:
                idle = next((k for k, p in self.processes.items() if not p.busy.locked()), None)
                if idle is None:
                    raise LabError("chat_full", limit=limits["processes"])
                self.processes.pop(idle).stop()
            process = ChatProcess(target, limits["idle_seconds"])
            self.processes[target.key] = process
            return process

    def close(self) -> None:
        with self.lock:
            for process in self.processes.values():
                process.stop()
            self.processes.clear()


POOL = ChatPool()


def stream(jobs: list[tuple[ChatProcess, dict]], tick: float = 0.05):
    """Send each (process, request) and yield (texts, states) as the answers grow, side by side.
    states[i]: "loading" | "answering" | "done" | LabError (the reason that answer stopped)."""
    texts, states, locks = [""] * len(jobs), ["loading"] * len(jobs), [None] * len(jobs)
    try:
        for i, (process, request) in enumerate(jobs):
            locks[i] = process.send(request)
        started = time.time()
        while any(s in ("loading", "answering") for s in states):
            changed = False
            for i, (process, request) in enumerate(jobs):
                if states[i] not in ("loading", "answering"):
                    continue
                for event in process.events(tick / len(jobs)):
                    if event.get("id", request["id"]) != request["id"]:
                        continue  # the rest of an abandoned earlier answer
                    changed = True
                    if "ready" in event:
                        process.ready, process.info = True, event["ready"]
                        states[i] = "answering"
                    elif "chunk" in event:
                        texts[i] += event["chunk"]
                        states[i] = "answering"
                    elif "done" in event:
                        texts[i] = event["done"]["text"]
                        states[i] = "done"
                    elif "error" in event:
                        states[i] = _error(event["error"])
                    elif "exit" in event:
                        states[i] = LabError("chat_failed", reason=f"the chat process ended (code {event['exit']})")
                if states[i] == "loading" and not process.ready and time.time() - started > READY_SECONDS:
                    states[i] = LabError("chat_failed", reason=f"the model did not load in {READY_SECONDS} s")
            if changed:
                yield list(texts), list(states)
        yield list(texts), list(states)
    finally:
        for lock in locks:
            if lock is not None and lock.locked():
                lock.release()


def _error(error: dict) -> LabError:
    if error.get("key"):
        return LabError(error["key"], **error.get("params", {}))
    return LabError("chat_failed", reason=str(error.get("message", ""))[:300])


# -- the child process --------------------------------------------------------------------------------
def _serve(model_name: str, adapter_run: str, idle: float, out) -> int:
    import torch

    from lab.modeling.models import load_model

    def send(obj) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        if adapter_run:
            from lab.modeling.finetuned import load_finetuned

            model, tokenizer, info = load_finetuned(adapter_run)
        else:
            model, tokenizer, info = load_model(model_name)
        model.eval()
    except LabError as error:
        send({"error": {"key": error.key, "params": {k: str(v) for k, v in error.params.items()}}})
        return 1
    except Exception as error:  # noqa: BLE001 -- any load failure is reported to the page, then the child ends
        send({"error": {"message": f"{type(error).__name__}: {error}"}})
        return 1
    send({"ready": {"model": model_name, "adapter_run": adapter_run,
                    "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)}})
    lines: queue.Queue = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=idle)
        except queue.Empty:
            return 0  # idle: free the memory; the app starts a new process when asked again
        if line is None:
            return 0
        request = {}
        try:
            request = json.loads(line)
            _answer(model, tokenizer, request, lambda obj: send({**obj, "id": request.get("id")}), torch)
        except Exception as error:  # noqa: BLE001 -- one bad request does not end the process
            send({"error": {"message": f"{type(error).__name__}: {error}"}, "id": request.get("id")})


def _answer(model, tokenizer, request: dict, send, torch) -> None:
    from transformers import TextIteratorStreamer

    from lab.modeling.generation import format_chat

    messages = list(request["messages"])
    max_new = int(request.get("max_new_tokens", 128))
    temperature, top_p = float(request.get("temperature", 0.0)), float(request.get("top_p", 1.0))
    context = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    while True:  # drop the oldest exchanges until the prompt and the answer fit the model's context
        text, add_special = format_chat(tokenizer, messages)
        ids = tokenizer(text, add_special_tokens=add_special, return_tensors="pt")
        first = 1 if messages[0]["role"] == "system" else 0
        if not context or ids["input_ids"].shape[1] + max_new <= context or len(messages) - first <= 1:
            break
        del messages[first:first + 2]
    if context:
        max_new = max(1, min(max_new, context - ids["input_ids"].shape[1]))
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    device = next(model.parameters()).device
    kwargs = dict(**{k: v.to(device) for k, v in ids.items()}, max_new_tokens=max_new, streamer=streamer,
                  pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    result: dict = {}

    def run() -> None:
        torch.manual_seed(int(request.get("seed", 0)))
        try:
            with torch.inference_mode():
                result["sequences"] = model.generate(**kwargs)
        except Exception as error:  # noqa: BLE001 -- reported after the streamer ends
            result["error"] = error
            streamer.end()

    started = time.time()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    for chunk in streamer:
        if chunk:
            send({"chunk": chunk})
    thread.join()
    if "error" in result:
        raise result["error"]
    new = result["sequences"][0, ids["input_ids"].shape[1]:]
    send({"done": {"text": tokenizer.decode(new, skip_special_tokens=True), "tokens": int(new.shape[0]),
                   "seconds": round(time.time() - started, 3), "prompt_tokens": int(ids["input_ids"].shape[1])}})


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="A chat process for the Chat tab (started by the app).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--adapter-run", default="")
    parser.add_argument("--idle", type=float, default=900)
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # load messages and warnings must not mix into the protocol
    os.dup2(sys.stderr.fileno(), 1)
    return _serve(args.model, args.adapter_run, args.idle, out)


if __name__ == "__main__":
    sys.exit(main())
