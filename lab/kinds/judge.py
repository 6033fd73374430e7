"""Kind "judge": contestants answer the same prompts; a judge compares every pair in both orders.

    python -m lab spec judge > judge.json && python -m lab run judge.json --wait

Recipe: load the prompt set; let each contestant answer it (one model in memory at a time); show the
judge every pair of answers twice (A/B, then swapped); combine the two verdicts (a flip is a tie,
an unparseable reply is "invalid"); fit Bradley–Terry ratings with bootstrap intervals, the
length-controlled win rate against the baseline (all contestants fitted together, length_control.fit_many),
and the judge's position bias. Writes
artifacts/answers.jsonl (+ answers.csv) and artifacts/judgments.jsonl (the Arena draws its battles from the former).

Answers are computed once (lab/evaluate/answer_reuse.py): a contestant whose greedy answers to these prompts an
earlier judge run (one the submitter may see) already generated under the same key is not asked again; the result
says which (outputs.reused_answers). answers_from names a run whose answers are re-judged as they are.
"""
import gc
import json
import time
from dataclasses import dataclass
from itertools import combinations

from lab.errors import LabError
from lab.evaluate.judges import JUDGES
from lab.modeling.filters import FILTERS
from lab.modeling.models import DEFAULT_MODEL
from lab.specs import KINDS, Kind, Spec, device_setting, setting, weights_dtype_setting


@dataclass
class JudgeSpec(Spec):
    kind = "judge"

    contestants: list[str] = setting(
        [DEFAULT_MODEL, f"{DEFAULT_MODEL}@plain"],
        en="Who competes, one per line: a model name, a local folder, a hub id, or the run id of a fine-tune (or DPO) run. "
           "Add @plain (no chat template) or @sampled (random sampling) to try a variant of the same model.",
        zh="参赛者,每行一个:模型名、本地文件夹、Hub 模型 ID,或微调(或 DPO)运行的编号。"
           "加 @plain(不用对话模板)或 @sampled(随机采样)可比较同一模型的不同用法。")
    prompt_set: str = setting("chatterbot", en="The prompts every contestant answers: a built-in set (chatterbot: everyday questions with reference answers; arithmetic: checkable sums held out of fine-tuning), any task of the Prompting tab, or an uploaded JSONL/CSV file with a \"prompt\" column.",
                              zh="每位参赛者都要回答的提示集:内置集(chatterbot:带参考答案的日常问题;arithmetic:微调时留出的可核对算术题)、提示工程页的任一任务,或上传的含 \"prompt\" 列的 JSONL/CSV 文件。")
    n_prompts: int = setting(12, en="How many prompts of the set to use. More prompts give narrower intervals but take longer.",
                             zh="使用提示集中的多少条。提示越多,区间越窄,但耗时越长。", minimum=1, maximum=2000)
    judge: str = setting("logprob", en="Who decides: llm (a model writes a verdict), logprob (the model's probability of \"A\" vs \"B\"), reference (closeness to the reference answer), rule (a correct answer beats a wrong one), human (the class votes in the Arena).",
                         zh="由谁裁决:llm(模型写出裁决)、logprob(比较模型回答 \"A\" 与 \"B\" 的概率)、reference(与参考答案的接近程度)、rule(答对胜过答错)、human(全班在竞技场投票)。",
                         choices=JUDGES.names())
    judge_model: str = setting(DEFAULT_MODEL, en="The judge's model for the llm and logprob judges: a model name, folder, hub id or run id. A small judge is strongly biased: the tab measures by how much.",
                               zh="llm 和 logprob 裁判所用的模型:模型名、文件夹、Hub ID 或运行编号。小模型当裁判偏差很大:本页会测出偏差有多大。")
    baseline: str = setting("", en="The contestant the length-controlled win rate compares against (empty: the first contestant).",
                            zh="长度控制胜率的比较基准(留空则为第一位参赛者)。")
    max_new_tokens: int = setting(48, en="The longest answer a contestant may give, in tokens.",
                                  zh="参赛者回答的最大长度(以 token 计)。", minimum=1, maximum=2048)
    answer_filter: str = setting("auto", en="Rule judge: how the answer is pulled out of the text (auto: the prompt set's own; last_number for uploads).",
                                 zh="规则裁判:如何从回答中提取答案(auto:提示集自带的方式;上传文件用 last_number)。",
                                 choices=["auto", *[name for name in FILTERS.names() if name not in ("regex", "match_label")]])
    reuse_answers: bool = setting(True, en="Reuse a contestant's answers from an earlier judge run (one you may see) with the same prompts and the same greedy decoding settings instead of generating them again. Sampled answers are always drawn afresh.",
                                  zh="若之前的评判运行(你可见的)已用相同提示和相同的贪心解码设置生成过某参赛者的回答,则直接复用,不再重新生成。采样得到的回答总是重新生成。")
    answers_from: str = setting("", en="Re-judge: the run id of a finished judge run whose answers are judged again as they are (nothing is generated; its prompt set is used; every contestant must have answered there). Empty: generate or reuse answers.",
                                zh="重新评判:一次已完成评判运行的编号,直接再次评判其中的回答(不生成任何内容;使用其提示集;每位参赛者都必须在该运行中回答过)。留空则生成或复用回答。")
    bootstrap_rounds: int = setting(200, en="Bootstrap resamples for the 95% intervals of the ratings (0: no intervals).",
                                    zh="评分 95% 区间的自助法重抽样次数(0 表示不计算区间)。", minimum=0, maximum=5000)
    batch_size: int = setting(8, en="Prompts answered (or judged) together.", zh="同时回答(或评判)的提示数。", minimum=1, maximum=256)
    dtype: str = weights_dtype_setting()
    device: str = device_setting()

    def validate(self):
        from lab.evaluate.contestants import check_contestant
        from lab.evaluate.prompt_sets import check_prompt_set

        names = [name.strip() for name in self.contestants if name.strip()]
        if len(names) < 2:
            raise LabError("too_few_contestants", count=len(names))
        seen = set()
        for name in names:
            if name in seen:
                raise LabError("duplicate_contestant", contestant=name)
            seen.add(name)
            check_contestant(name)
        self.contestants = names
        self.answers_from = (self.answers_from or "").strip()
        if self.answers_from:
            from lab.evaluate.answer_reuse import source_spec
            from lab.runs.folder import check_run_id

            source = source_spec(check_run_id(self.answers_from))
            self.prompt_set = source.get("prompt_set", self.prompt_set)  # its answers are to its prompts
            for name in names:
                if name not in (source.get("contestants") or []):
                    raise LabError("answers_missing_contestant", run_id=self.answers_from, contestant=name)
        check_prompt_set(self.prompt_set)
        if self.baseline and self.baseline not in names:
            raise LabError("baseline_not_contestant", baseline=self.baseline, contestants=", ".join(names))
        if JUDGES.get(self.judge).needs_model:
            check_contestant(self.judge_model)

    @property
    def deterministic(self) -> bool:
        return True  # greedy answers, seeded sampling and a seeded bootstrap


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run(spec: JudgeSpec, ctx) -> dict:
    import torch

    from lab.evaluate import answer_reuse as reuse
    from lab.evaluate import contestants as contest
    from lab.evaluate.judges import Case, JudgeSetup
    from lab.evaluate.outcomes import combine
    from lab.evaluate.prompt_sets import load_prompts
    from lab.evaluate.report import summarise
    from lab.modeling.generation import generate
    from lab.runs.folder import write_atomic

    torch.set_num_threads(ctx.threads)
    started = time.time()
    judge = JUDGES.get(spec.judge)
    prompts, set_filter, filter_params = load_prompts(spec.prompt_set, spec.n_prompts, needs=judge.needs)
    pairs = list(combinations(spec.contestants, 2))
    total = len(spec.contestants) * len(prompts) + (2 * len(pairs) * len(prompts) if judge.automatic else 0)
    done = 0
    ctx.log(f"{len(prompts)} prompts from {spec.prompt_set}, {len(spec.contestants)} contestants, "
            f"{len(pairs)} pairs, judge {spec.judge}")

    # 1. every contestant answers every prompt (or its answers are reused: computed once)
    answers, reused, keys = [], {}, {}
    texts = [p["prompt"] for p in prompts]
    searcher = reuse.owner_viewer(ctx.run_id) if spec.reuse_answers and not spec.answers_from else None
    for name in spec.contestants:
        settings = {"use_chat_template": True, **contest.generation_settings(name)}
        key = reuse.answer_key(name, spec.prompt_set, settings, spec.max_new_tokens, spec.dtype, spec.device)
        found = None
        if spec.answers_from:
            found = {"run_id": spec.answers_from, "rows": reuse.answers_of(spec.answers_from, name, texts)}
        elif spec.reuse_answers:
            found = reuse.find_answers(key, name, texts, searcher, exclude=ctx.run_id)
        if found is not None:
            source_keys = {row.get("key") for row in found["rows"]}
            keys[name] = source_keys.pop() if len(source_keys) == 1 else None
            reused[name] = found["run_id"]
            answers += [{"prompt_index": i, "prompt": p["prompt"], "contestant": name, "text": row["text"],
                         "finish_reason": row.get("finish_reason"), "key": keys[name], "reused_from": found["run_id"]}
                        for i, (p, row) in enumerate(zip(prompts, found["rows"]))]
            done += len(prompts)
            ctx.progress(done, total, message=f"{contest.label(name)}: answers reused from {found['run_id']}", force=True)
            ctx.log(f"{name}: {len(prompts)} answers reused from run {found['run_id']} (not generated again)")
            continue
        keys[name] = key

        def loading(step, steps, message, name=name):
            ctx.progress(done, total, message=f"{contest.label(name)}: loading ({message})", force=True)

        model, tokenizer, info = contest.load(name, dtype=spec.dtype, device=spec.device, progress=loading)

        def answered(count, _, name=name, base=done):
            ctx.progress(base + count, total, message=f"{contest.label(name)}: answered {count}/{len(prompts)}")

        results = generate(model, tokenizer, [p["prompt"] for p in prompts], max_new_tokens=spec.max_new_tokens,
                           seed=spec.seed, batch_size=spec.batch_size, on_batch=answered, **settings)
        answers += [{"prompt_index": i, "prompt": p["prompt"], "contestant": name, "text": r.text.strip(),
                     "finish_reason": r.finish_reason, "key": key, "reused_from": None}
                    for i, (p, r) in enumerate(zip(prompts, results))]
        done += len(prompts)
        ctx.log(f"{name}: {results.new_tokens} tokens in {results.wall_seconds:.1f} s ({info['parameters'] / 1e6:.1f}M parameters)")
        del model, tokenizer
        _free()
    write_atomic(ctx.artifact_dir / "answers.jsonl", "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    write_atomic(ctx.artifact_dir / "answers.csv", reuse.answers_csv(answers))
    figures = {"contestants": spec.contestants, "labels": {n: contest.label(n) for n in spec.contestants},
               "judge": spec.judge, "prompt_set": spec.prompt_set, "n_prompts": len(prompts),
               "answer_keys": keys, "reused_answers": reused, "answers_reused": len(reused)}
    if not judge.automatic:
        ctx.progress(total, total, message="answers ready for the Arena", force=True)
        return {**figures, "arena": True, "wall_seconds": round(time.time() - started, 2)}

    # 2. the judge sees every pair in both orders
    text = {(a["prompt_index"], a["contestant"]): a["text"] for a in answers}
    cases, keys = [], []
    for a, b in pairs:
        for i, p in enumerate(prompts):
            for first, second, order in ((a, b, "ab"), (b, a, "ba")):
                cases.append(Case(p["prompt"], text[(i, first)], text[(i, second)], p.get("reference"), p.get("answer")))
                keys.append((i, a, b, order))
    auto = spec.answer_filter == "auto"
    setup = JudgeSetup(answer_filter=set_filter if auto else spec.answer_filter,
                       filter_params=filter_params if auto else {}, batch_size=spec.batch_size)
    if judge.needs_model:
        setup.model, setup.tokenizer, _ = contest.load(spec.judge_model, dtype=spec.dtype, device=spec.device)
    base = done
    setup.progress = lambda count, _: ctx.progress(base + count, total, message=f"judging {count}/{len(cases)}")
    verdicts = judge.judge(cases, setup)
    by_game: dict = {}
    for (i, a, b, order), verdict in zip(keys, verdicts):
        game = by_game.setdefault((i, a, b), {"prompt_index": i, "a": a, "b": b})
        game[f"verdict_{order}"], game[f"raw_{order}"] = verdict.slot, verdict.raw
    judgments = [dict(game, outcome=combine(game["verdict_ab"], game["verdict_ba"])) for game in by_game.values()]
    write_atomic(ctx.artifact_dir / "judgments.jsonl",
                 "".join(json.dumps(j, ensure_ascii=False) + "\n" for j in judgments))

    # 3. ratings, win rates, length control, position bias
    ctx.progress(total, total, message="fitting ratings", force=True)
    summary = summarise(spec.contestants, answers, judgments, baseline=spec.baseline or spec.contestants[0],
                        rounds=spec.bootstrap_rounds, seed=spec.seed)
    bias = summary["position_bias"]
    ctx.log(f"position bias: first slot preferred in {bias['n_A']} of {bias['decisive']} decisive verdicts; "
            f"{summary['invalid_games']} invalid games of {summary['games']}")
    for row in summary["leaderboard"]:
        ctx.log(f"  {row['rating']:7.1f} [{row['low']}, {row['high']}]  {row['name']}  "
                f"{row['wins']}W {row['ties']}T {row['losses']}L")
    return {**figures, **summary, "first_slot_rate": bias["first_slot_rate"],
            "wall_seconds": round(time.time() - started, 2)}


KINDS.register(JudgeSpec.kind, Kind(JudgeSpec, run))
