"""Before vs after: a rule judge for checkable answers, and the spec that hands both models (a DPO or RL
run and its start) to the Evaluate tab's win-rate judge.

The rule judge needs no model: on a checkable task (arithmetic) an answer is right or wrong, so for
each prompt the model that answered right wins, and two right (or two wrong) answers are a tie.
"""
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.modeling.filters import apply_filter, exact_match

JUDGE_KIND = "judge"


def is_correct(text: str, answer: str) -> bool:
    """The answer a model gave ("The answer is N", else its last number) equals the right one."""
    guess = apply_filter("the_answer_is", text) or apply_filter("last_number", text)
    return bool(guess is not None and exact_match(guess, answer, "none"))


def rule_win_rate(before: list[str], after: list[str], answers: list[str]) -> dict:
    """Wins, ties and losses of `after` against `before`; win rate counts a tie as half a win."""
    if not (len(before) == len(after) == len(answers)) or not answers:
        raise LabError("align_judge_mismatch", before=len(before), after=len(after), answers=len(answers))
    wins = ties = losses = 0
    for old, new, answer in zip(before, after, answers):
        old_right, new_right = is_correct(old, answer), is_correct(new, answer)
        if new_right and not old_right:
            wins += 1
        elif old_right and not new_right:
            losses += 1
        else:
            ties += 1
    n = len(answers)
    return {"wins": wins, "ties": ties, "losses": losses, "win_rate": round((wins + 0.5 * ties) / n, 4),
            "accuracy_before": round(sum(is_correct(t, a) for t, a in zip(before, answers)) / n, 4),
            "accuracy_after": round(sum(is_correct(t, a) for t, a in zip(after, answers)) / n, 4)}


JUDGED_KINDS = {"dpo": "DPO", "grpo": "GRPO", "rloo": "RLOO", "raft": "RAFT"}  # kinds that answer held-out prompts before/after


def judge_spec_from_run(run_id: str) -> dict:
    """The Evaluate tab's "judge" spec comparing a finished DPO or RL (GRPO, RLOO, RAFT) run with the model it
    started from (its SFT/fine-tune run, else the base model), on the held-out prompts it answered before and
    after. Those prompts (with their right answers when the data is checkable) are written to the run's
    artifacts/judge_prompts.jsonl, the judge's prompt set; a checkable set is judged by the rule judge (a
    right answer beats a wrong one), any other by log-probability."""
    import json

    folder = RunFolder(run_id)
    spec = folder.read_spec()
    result = folder.read_result()
    kind = spec.get("kind")
    if kind not in JUDGED_KINDS or result.get("status") != "succeeded":
        raise LabError("align_not_a_dpo_result", run_id=run_id)
    asked = [item for item in (result.get("outputs") or {}).get("outputs") or [] if item.get("prompt")]
    if not asked:
        raise LabError("align_no_prompts", run_id=run_id)
    rows = [{"prompt": item["prompt"], **({"answer": str(item["answer"])} if item.get("answer") else {})}
            for item in asked]
    prompt_file = folder.write_artifact_text("judge_prompts.jsonl",
                                             "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    checkable = all("answer" in row for row in rows)
    reference = spec.get("start_from") or spec.get("model")
    tokens = spec.get("max_new_tokens") or spec.get("max_completion_length") or 48
    return {"kind": JUDGE_KIND, "contestants": [reference, run_id], "prompt_set": str(prompt_file),
            "n_prompts": len(rows), "judge": "rule" if checkable else "logprob",
            "max_new_tokens": int(tokens), "name": f"{JUDGED_KINDS[kind]} {run_id} vs {reference}"}


judge_spec_from_dpo = judge_spec_from_run  # the name the DPO panel and its tests know


def judge_available() -> bool:
    from lab.specs import KINDS

    return JUDGE_KIND in KINDS


def submit_judge(run_id: str, owner: str = "", viewer=None) -> str:
    """Queue the Evaluate tab's judge on a DPO or RL run and its start; a clear error while no judge exists.
    With a viewer, a run this viewer may not see is refused as unknown (the run API's check)."""
    from lab.runs import runner
    from lab.specs import spec_from_dict

    if not judge_available():
        raise LabError("align_no_judge")
    spec = spec_from_dict(judge_spec_from_run(run_id if viewer is None else runner.get(run_id, viewer)["id"]))
    return runner.submit(spec, owner=owner) if viewer is None else runner.submit(spec, owner=owner, viewer=viewer)
