"""The settings GRPO, RLOO and RAFT share (policy, prompts, reward, sampling), declared once with their
help, and the checks that refuse a bad combination before the job starts.

The lab's defaults are chosen for a CPU and a LoRA policy, not copied from TRL (TRL 1.16's defaults are
for full fine-tuning on GPUs: GRPOConfig lr 1e-6, beta 0.0, num_generations 8, max_completion_length 512;
RLOOConfig the same but beta 0.05 and num_generations 2):
- 4 generations per prompt, 8 completions per step (2 prompts): a group of 4 is the smallest in which
  "better than its siblings" is informative; 8 per step keeps one step under ~10 s on the default model.
- learning rate 1e-4: LoRA moves ~100x less per step than full weights, and the budget is 30 steps.
- 24 new tokens: the one-digit answer "7 + 8 = 15. The answer is 15." is ~15 tokens.
"""
from dataclasses import dataclass
from pathlib import Path

from lab.align import fields
from lab.align.rewards import REWARDS
from lab.errors import LabError
from lab.specs import Spec, compose, setting

LEARNED = "model"  # the reward choice that scores with a reward-model run instead of a rule


def reward_choices() -> list[str]:
    return REWARDS.names() + [LEARNED]


def prompts_have_answers(dataset: str) -> bool:
    """Whether every prompt of a Fine-tune data set (built-in name or file) carries a checkable answer."""
    from lab.finetune.datasets import BUILTIN, load_examples

    if dataset in BUILTIN:
        return BUILTIN[dataset].has_answers
    return load_examples(dataset)[2]  # reads and checks the file (no torch): the job would refuse it anyway


@dataclass
@compose(fields.AdapterTraining, *REWARDS.groups())  # LoRA, dtype, remote code; then settings a rule owns (the length reward's target), after these
class RlSpec(Spec):
    """Fields of every RL kind (GRPO, RLOO, RAFT); subclasses set `kind` and add their own."""

    model: str = fields.model_field()
    start_from: str = setting("", en="Run id of a fine-tune (SFT) or DPO run to start from: its adapter is the policy and trains on. Empty: the model above with a fresh LoRA.",
                              zh="作为起点的微调(SFT)或 DPO 运行编号:它的适配器就是策略并继续训练。留空则在上面的模型上新建 LoRA。")
    dataset: str = setting("arithmetic_1digit", en="Prompts: a Fine-tune data set (arithmetic_1digit, arithmetic, chatterbot) or an uploaded JSONL/CSV file; its held-out 10% is only evaluated.",
                           zh="提示:一个微调数据集(arithmetic_1digit、arithmetic、chatterbot)或上传的 JSONL/CSV 文件;其中留出的 10% 只用于评估。")
    reward: str = setting("correct", en="What earns reward: correct (the answer equals the gold answer), format (ends with \"The answer is N.\"), length (a penalty past a word count), or model (the reward-model run below).",
                          zh="奖励来源:correct(答案等于标准答案)、format(以“The answer is N.”结尾)、length(超过字数的惩罚),或 model(下面的奖励模型运行)。",
                          choices=reward_choices())
    reward_run: str = setting("", en="Run id of a reward-model run (Align tab), used when reward is model. Its tokenizer may differ: each answer is re-tokenized as text for it.",
                              zh="奖励模型运行的编号(对齐页),当奖励为 model 时使用。分词器可以不同:每个回答都以文本形式为它重新分词。")
    num_generations: int = setting(4, en="Answers sampled per prompt (a group). The advantage of an answer is its reward against its group's. TRL's default: GRPO 8, RLOO 2.",
                                   zh="每个提示采样的回答数(一组)。回答的优势是它的奖励相对同组的比较。TRL 默认:GRPO 为 8,RLOO 为 2。", minimum=2, maximum=64)
    max_completion_length: int = setting(24, en="The longest sampled answer, in tokens (TRL's default is 512; short answers keep a CPU step short).",
                                         zh="采样回答的最大 token 数(TRL 默认 512;答案短则 CPU 上每步更快)。", minimum=1, maximum=4096)
    temperature: float = setting(1.0, en="Sampling temperature: higher gives more varied answers in a group, so more groups carry a learning signal.",
                                 zh="采样温度:越高同组回答越多样,有学习信号的组就越多。", minimum=0.05, maximum=3.0)
    learning_rate: float = setting(1e-4, en="Step size of the optimizer (LoRA; TRL's default 1e-6 is for full fine-tuning).",
                                   zh="优化器步长(LoRA;TRL 默认的 1e-6 用于全参数训练)。", minimum=1e-8, maximum=1.0)
    eval_prompts: int = setting(20, en="Held-out prompts answered (greedily) before and after, scored by the reward and, where answers are checkable, for accuracy.",
                                zh="训练前后(贪心)回答的留出提示数,用奖励打分;答案可核对时也计算准确率。", minimum=1, maximum=1000)
    use_lora: bool = setting(True, en="Train a LoRA adapter (fast, small); off = train every weight (TRL's default, slow on a CPU). A start run's adapter always trains on.",
                             zh="训练 LoRA 适配器(快、小);关闭则训练全部权重(TRL 的默认做法,在 CPU 上很慢)。起点运行的适配器总是继续训练。")

    def validate(self):
        check_policy_and_reward(self)


@dataclass
class PolicyGradientSpec(RlSpec):
    """GRPO and RLOO: a batch of sampled completions per optimizer step, and a KL weight β."""

    batch_size: int = setting(8, en="Completions per step (prompts per step = this / generations per prompt; must divide evenly).",
                              zh="每步的回答数(每步提示数 = 它 / 每个提示的回答数;必须整除)。", minimum=2, maximum=512)
    beta: float = setting(0.0, en="β, the weight of the KL penalty to the starting policy (0: no penalty and no reference pass; the lab still measures the KL). TRL's default: GRPO 0.0, RLOO 0.05.",
                          zh="β:相对起始策略的 KL 惩罚权重(0 表示不惩罚,也不计算参考模型;实验室仍会测量 KL)。TRL 默认:GRPO 0.0,RLOO 0.05。",
                          minimum=0.0, maximum=10.0)
    max_steps: int = setting(30, en="Optimizer steps of RL (each samples a fresh batch of answers).",
                             zh="强化学习的优化器步数(每步都重新采样一批回答)。", minimum=1, maximum=100_000)
    sample_every: int = setting(10, en="Every N steps, keep the sampled answers and their rewards in a table (and at the first step).",
                                zh="每 N 步(以及第一步)把采样的回答和它们的奖励记入表格。", minimum=1, maximum=100_000)

    def validate(self):
        super().validate()
        if self.batch_size % self.num_generations:
            raise LabError("rl_generations_divide", batch_size=self.batch_size, num_generations=self.num_generations)


def check_policy_and_reward(spec) -> None:
    """Model, prompts, start run and reward fit together (shared by GRPO, RLOO and RAFT)."""
    from lab.finetune.datasets import BUILTIN
    from lab.modeling.models import check_model_name
    from lab.runs.folder import check_run_id

    check_model_name(spec.model)
    if spec.dataset not in BUILTIN and not Path(spec.dataset).is_file():
        raise LabError("data_not_found", dataset=spec.dataset, builtin=", ".join(BUILTIN))
    if spec.start_from:
        check_run_id(spec.start_from)
    if spec.reward == LEARNED:
        if not spec.reward_run:
            raise LabError("rl_no_reward_run")
        check_run_id(spec.reward_run)
        check_reward_run(spec.reward_run, must_exist=False)
    elif REWARDS.get(spec.reward).needs_answers and not prompts_have_answers(spec.dataset):
        raise LabError("rl_no_answers", reward=spec.reward, dataset=Path(spec.dataset).name)


def check_reward_run(run_id: str, must_exist: bool = True) -> None:
    """A run that is there must be a reward-model run (a preset chain names runs still to come: must_exist=False)."""
    from lab.runs.folder import RunFolder

    folder = RunFolder(run_id)
    if not folder.exists():
        if must_exist:
            raise LabError("rl_not_reward_run", run_id=run_id, kind="-")
        return
    kind = folder.read_spec().get("kind", "-")
    if kind != "reward":
        raise LabError("rl_not_reward_run", run_id=run_id, kind=kind)
