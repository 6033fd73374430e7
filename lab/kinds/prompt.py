"""Kind "prompt": ask a task's questions with several prompting strategies and score the answers.

    python -m lab spec prompt        # an example that runs on the default model on a CPU in a few minutes
    python -m lab run '{"kind": "prompt", "task": "arithmetic_1digit", "strategies": ["zero_shot", "few_shot"]}'

Recipe: load the task (lab.tasks) and the model, then for each condition (strategy, k, n) build every
question's prompt, generate in batches (lab.modeling.generation), extract answers with the task's filter
(lab.modeling.filters), vote for self-consistency, score with a Wilson interval (lab/prompting/run.py).

What the run writes (other tabs read these; the names are stable):
  artifacts/traces.jsonl, one line per (condition, question):
    strategy, k, n, main (False: an extra point of the accuracy-vs-k curve), question_index, question_id,
    question, prompt (the exact text sent, after the chat template and any truncation), prompt_tokens,
    truncated, exemplar_ids, output (raw text; the first path for self-consistency), span (the text the
    filter read), extracted (normalised answer or null), gold (normalised), correct, new_tokens (all
    paths), finish_reason; self-consistency adds paths [{output, extracted, new_tokens, finish_reason}]
    and votes {answer: count} (in order of first appearance; ties go to the answer reached first).
  the result (the worker puts plain numbers under "metrics", everything else under "outputs"):
    metrics: accuracy_<strategy> (one per chosen strategy, for the Runs tab's comparison), n_questions,
    context_length, load_seconds, wall_seconds, parameters;
    outputs: run_id, task, task_type, model, answer_filter, filter_params, filter_description,
    normalisation (the normaliser's docstring), normaliser (its name), strategies [{strategy, k, n, main,
    accuracy, ci_low, ci_high (95% Wilson), correct, total, tokens_per_question, seconds, truncated,
    prompt_tokens_mean}], k_curve (the same rows, one per k of
    strategies with exemplars), n_curve [{strategy, k, n, accuracy, ci_low, ci_high, tokens_per_question}],
    warnings (["no_chat_template", "truncated:<condition>:<count>"]).
  metrics records: one per finished condition (condition, strategy, k, n, accuracy, tokens_per_question).
"""
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.filters import FILTERS
from lab.modeling.models import DEFAULT_MODEL, check_model_name
from lab.prompting.prompts import PLACEMENTS
from lab.prompting.strategies import SELECTIONS, STRATEGIES
from lab.specs import KINDS, Kind, Spec, device_setting, setting, weights_dtype_setting
from lab.tasks import check_task_source, get_task

MAX_K = 16
MAX_PATHS = 40


@dataclass
class PromptSpec(Spec):
    kind = "prompt"

    model: str = setting(DEFAULT_MODEL, en="Which model answers: an offline model name, a local folder, or a Hugging Face hub id.",
                         zh="由哪个模型回答:离线模型名、本地文件夹,或 Hugging Face Hub 上的模型 ID。")
    task: str = setting("arithmetic_1digit", en="The questions: a built-in task, or the path of an uploaded .jsonl file (question/answer, or question/choices/answer per line).",
                        zh="题目:内置任务,或上传的 .jsonl 文件路径(每行 question/answer,或 question/choices/answer)。")
    strategies: list[str] = setting(["zero_shot", "few_shot", "zero_shot_cot", "few_shot_cot"],
                                    en="The ways of asking to compare, all on the same questions: zero_shot, few_shot, zero_shot_cot, few_shot_cot, self_consistency.",
                                    zh="要比较的提问方式,全部使用相同的题目:zero_shot、few_shot、zero_shot_cot、few_shot_cot、self_consistency。")
    questions: int = setting(20, en="How many of the task's test questions to ask (the first ones; 0 = all). More questions give a narrower confidence interval but take longer.",
                             zh="提问任务中多少道测试题(取前面的题;0 表示全部)。题越多,置信区间越窄,但耗时越长。", minimum=0, maximum=5000)
    k: int = setting(4, en="Few-shot strategies: how many solved examples (shots) come before the question.",
                     zh="少样本策略:在问题前放多少个已解答的示例(shot)。", minimum=1, maximum=MAX_K)
    selection: str = setting("first", en="Which examples: first (the same first k for every question), random (drawn per question, seeded), similar (those sharing the most words with the question).",
                             zh="选哪些示例:first(每题都用前 k 个)、random(每题随机抽取,有种子)、similar(与问题共享词语最多的)。",
                             choices=SELECTIONS.names())
    shuffle_order: bool = setting(False, en="Shuffle the order of the chosen examples for each question (seeded): shows how much the order alone changes the answers.",
                                  zh="对每道题打乱所选示例的顺序(有种子):展示仅顺序不同会让答案变化多少。")
    k_values: list[int] = setting([], en="Accuracy vs number of shots: also run the few-shot strategies with each of these k (e.g. 0, 1, 2, 4, 8). Empty: only k.",
                                  zh="准确率随示例数的变化:对少样本策略再分别用这些 k 运行(如 0, 1, 2, 4, 8)。留空则只用 k。")
    n_paths: int = setting(5, en="Self-consistency: how many reasoning paths are sampled per question before the majority vote.",
                           zh="自洽性:每道题采样多少条推理路径,再进行多数投票。", minimum=1, maximum=MAX_PATHS)
    temperature: float = setting(0.7, en="Self-consistency: sampling temperature. Higher gives more varied paths (0.5-1.0 is usual).",
                                 zh="自洽性:采样温度。越高推理路径越多样(常用 0.5-1.0)。", minimum=0.05, maximum=2.0)
    top_p: float = setting(0.95, en="Self-consistency: sample only from the likeliest tokens holding this much probability (1.0 = all).",
                           zh="自洽性:只从累计概率达到该值的高概率 token 中采样(1.0 表示全部)。", minimum=0.05, maximum=1.0)
    system_prompt: str = setting("", en="A role or system prompt, e.g. \"You are a careful math teacher.\" Empty: none (with the chat template, the model's default).",
                                 zh="角色/系统提示,如“你是一位细心的数学老师。”留空表示不加(使用对话模板时为模型默认值)。")
    instruction: str = setting("", en="The task instruction. Empty: the task type's default (\"Solve the problem.\", \"Choose the correct option.\", ...).",
                               zh="任务指令。留空使用该任务类型的默认指令(如 \"Solve the problem.\")。")
    instruction_placement: str = setting("before", en="Where the instruction goes: before the examples, after the question, or none (leave it out).",
                                         zh="指令放在哪里:示例之前(before)、问题之后(after),或不放(none)。", choices=list(PLACEMENTS))
    output_format: bool = setting(True, en="Add an output-format instruction: finish with \"The answer is ...\", so the answer can be found.",
                                  zh="加入输出格式指令:以 \"The answer is ...\" 结尾,便于提取答案。")
    use_chat_template: bool = setting(True, en="Send the prompt as chat messages through the model's template (as instruction-tuned models were trained), or as plain Q:/A: text.",
                                      zh="通过模型的对话模板以对话消息发送(与指令微调模型的训练方式一致),或以纯文本 Q:/A: 形式发送。")
    answer_filter: str = setting("auto", en="How the answer is pulled out of the reply: auto (the task's own filter), or a filter of the model library.",
                                 zh="如何从回复中提取答案:auto(任务自带的过滤器),或模型库中的某个过滤器。",
                                 choices=["auto", *FILTERS.names()])
    regex_pattern: str = setting("", en="With the regex filter: your regular expression; its first group is the answer.",
                                 zh="使用 regex 过滤器时:你的正则表达式;第一个分组即为答案。")
    max_new_tokens: int = setting(16, en="Answer budget in tokens for strategies that answer directly.",
                                  zh="直接作答的策略的回答长度上限(token 数)。", minimum=1, maximum=1024)
    cot_max_new_tokens: int = setting(96, en="Answer budget in tokens for strategies that reason first (chain of thought, self-consistency).",
                                      zh="先推理再作答的策略(思维链、自洽性)的回答长度上限(token 数)。", minimum=1, maximum=4096)
    batch_size: int = setting(8, en="Prompts answered together. Larger batches are faster per question but use more memory.",
                              zh="同时回答的提示数。批越大,每道题越快,但占用内存越多。", minimum=1, maximum=256)
    dtype: str = weights_dtype_setting()
    device: str = device_setting()
    trust_remote_code: bool = setting(False, en="Allow a hub model to run its own Python code. Only for models whose authors you trust.",
                                      zh="允许 Hub 上的模型运行它自带的 Python 代码。仅对你信任其作者的模型开启。")

    def validate(self):
        check_model_name(self.model)
        check_task_source(self.task)
        if not self.strategies:
            raise LabError("no_strategies", strategies=", ".join(STRATEGIES.names()))
        for name in self.strategies:
            STRATEGIES.get(name)  # LabError unknown_strategy naming it
        if len(set(self.strategies)) != len(self.strategies):
            raise LabError("duplicate_strategy", strategies=", ".join(self.strategies))
        chosen = [STRATEGIES.get(name) for name in self.strategies]
        task = get_task(self.task)  # a data file: cheap, and the only way to know the pool's size
        pool = len(task.exemplars)
        for k in [self.k, *self.k_values] if any(s.shots for s in chosen) else []:
            if not 0 <= k <= pool:
                raise LabError("k_too_large", k=k, pool=pool, task=task.name)
        if any(s.worked for s in chosen) and not all(e.solution for e in task.exemplars):
            raise LabError("no_worked_solutions", task=task.name,
                           strategies=", ".join(n for n in self.strategies if STRATEGIES.get(n).worked))
        if self.answer_filter == "regex":
            from lab.modeling.filters import compile_user_regex

            compile_user_regex(self.regex_pattern)  # a bad pattern is refused now, not after loading the model

    @property
    def deterministic(self) -> bool:
        return True  # greedy, or sampling from generators seeded by `seed`


def run(spec: PromptSpec, ctx) -> dict:
    from lab.prompting.run import run_prompting

    return run_prompting(spec, ctx)


KINDS.register(PromptSpec.kind, Kind(PromptSpec, run))
