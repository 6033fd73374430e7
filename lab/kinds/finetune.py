"""Kind "finetune": one PEFT method, one model, one data set, one budget (see lab/finetune/train.py)."""
from dataclasses import dataclass

from lab.errors import LabError
from lab.finetune.datasets import BUILTIN
from lab.finetune.methods import METHODS
from lab.modeling.models import DEFAULT_MODEL
from lab.runs.distributed import ProcessSettings
from lab.specs import KINDS, Kind, Spec, compose, setting


@dataclass
@compose(ProcessSettings, *METHODS.groups())  # processes (lab/runs/distributed.py), then each method's own settings
class FinetuneSpec(Spec):
    kind = "finetune"
    graceful_cancel = True  # a cancel saves a checkpoint at the end of the current step, then stops
    cancel_grace_seconds = 90.0

    model: str = setting(DEFAULT_MODEL, en="The base model: an offline model name, a local folder or a hub id.",
                         zh="基础模型:离线模型名称、本地文件夹或 Hub 模型 ID。")
    method: str = setting("lora", en="How to fine-tune: which parameters train (see the lesson of each method).",
                          zh="微调方法:决定哪些参数参与训练(见各方法的课程)。", choices=METHODS.names())
    dataset: str = setting("arithmetic", en="Training data: a built-in set (arithmetic, chatterbot) or the path of an uploaded JSONL/CSV file.",
                           zh="训练数据:内置数据集(arithmetic、chatterbot)或上传的 JSONL/CSV 文件路径。")
    max_steps: int = setting(30, en="The budget: optimizer steps to train. Methods compared on equal budgets get the same steps.",
                             zh="训练预算:优化器更新的步数。比较方法时使用相同步数。", minimum=1, maximum=1_000_000)
    learning_rate: float = setting(0.0, en="Step size of the optimizer. 0 uses the method's usual rate (prompt tuning needs ~30x LoRA's).",
                                   zh="优化器步长。0 表示使用该方法的常用值(提示微调约为 LoRA 的 30 倍)。", minimum=0.0, maximum=1.0)
    lr_scheduler: str = setting("cosine", en="How the learning rate changes over the run.", zh="学习率在训练中的变化方式。",
                                choices=["cosine", "linear", "constant", "constant_with_warmup"])
    warmup_ratio: float = setting(0.1, en="Share of the steps spent ramping the learning rate up from 0.",
                                  zh="学习率从 0 逐步升高所占的步数比例。", minimum=0.0, maximum=0.5)
    batch_size: int = setting(4, en="Examples per step, in all (with several processes each takes an equal share). Larger is smoother but slower and uses more memory.",
                              zh="每步的样本总数(多进程时各进程平分)。越大越平稳,但更慢、更占内存。", minimum=1, maximum=512)
    gradient_accumulation_steps: int = setting(1, en="Add up gradients over this many batches before a step (a bigger batch in the same memory).",
                                               zh="累积多少个批次的梯度再更新一次(用同样内存得到更大批次)。", minimum=1, maximum=256)
    max_length: int = setting(128, en="Longest example in tokens; longer ones are refused with their line number.",
                              zh="样本的最大 token 数;超长样本会被拒绝并给出行号。", minimum=16, maximum=32768)
    packing: bool = setting(False, en="Pack several short examples into one sequence so no compute is spent on padding.",
                            zh="把多个短样本拼接成一个序列,避免在填充上浪费计算。")
    answer_only: bool = setting(True, en="Train only on the answer tokens (the prompt is context, not a target).",
                                zh="只在回答部分计算损失(提示只是上下文,不是学习目标)。")
    eval_steps: int = setting(10, en="Measure loss on held-out examples every N steps (0: only at the end).",
                              zh="每 N 步在验证样本上计算一次损失(0 表示只在最后计算)。", minimum=0)
    eval_examples: int = setting(40, en="How many held-out examples the eval loss uses.", zh="计算验证损失所用的样本数。", minimum=1)
    accuracy_examples: int = setting(20, en="Held-out questions answered after training to measure task accuracy (0: skip).",
                                     zh="训练后回答多少道验证题来计算任务准确率(0 表示跳过)。", minimum=0)
    save_steps: int = setting(10, en="Save a checkpoint every N steps, so a cancelled or failed run can resume (0: only at the end).",
                              zh="每 N 步保存检查点,取消或失败的运行可以从中恢复(0 表示只在最后保存)。", minimum=0)
    resume_from: str = setting("", en="Run id of a cancelled or failed fine-tune to continue from its last checkpoint.",
                               zh="要继续训练的(已取消或失败的)运行编号,从其最后的检查点恢复。")
    dtype: str = setting("auto", en="Number format for training: auto = where the hardware has native bf16 (GPUs, AVX512-BF16/AMX CPUs) the frozen base in bf16 and the trained parameters in fp32, else fp32. The result says which and why.",
                         zh="训练数值格式:auto 表示硬件原生支持 bf16 时(GPU、支持 AVX512-BF16/AMX 的 CPU)冻结的基础模型用 bf16、训练的参数用 fp32,否则全部用 fp32。结果会说明用了哪种以及原因。", choices=["auto", "bf16", "fp32"])
    gradient_checkpointing: bool = setting(False, en="Recompute activations in the backward pass: less memory, about 30% slower.",
                                           zh="反向传播时重新计算激活值:更省内存,约慢 30%。")
    torch_compile: bool = setting(False, en="Compile the model's layers with torch.compile before training. On a CPU compiling takes minutes (4-5 on 2 busy cores even for a tiny model) and saves a little per step: it pays only for long runs (bench/compile_speed.py).",
                                  zh="训练前用 torch.compile 编译模型的各层。在 CPU 上编译需要几分钟(两个繁忙核心上即使很小的模型也要 4-5 分钟),每步只快一点:只有长时间训练才划算(bench/compile_speed.py)。")
    trust_remote_code: bool = setting(False, en="Run Python code shipped with a hub model. Only for models you trust.",
                                      zh="运行 Hub 模型自带的 Python 代码。仅对可信模型开启。")

    def validate(self):
        if not self.model.strip():
            raise LabError("bad_model_name", model=self.model)
        if self.eval_steps > self.max_steps:
            raise LabError("field_greater", field="eval_steps", value=self.eval_steps, other="max_steps", other_value=self.max_steps)
        if not self.dataset.strip():
            raise LabError("data_not_found", dataset=self.dataset, builtin=", ".join(BUILTIN))
        if self.resume_from:
            from lab.runs.folder import check_run_id

            check_run_id(self.resume_from)
        method = METHODS.get(self.method)
        from lab.finetune.architecture import check_method, model_type

        check_method(self.method, model_type(self.model))  # e.g. LoHa on GPT-2's Conv1D: refused naming both
        reason = method.refuse(None, self) if method.refuse else None  # what can be known before loading
        if reason is not None:
            raise reason

    @property
    def deterministic(self) -> bool:
        return not self.resume_from


def run(spec: FinetuneSpec, ctx) -> dict:
    from lab.finetune.train import finetune

    return finetune(spec, ctx)


KINDS.register(FinetuneSpec.kind, Kind(FinetuneSpec, run))
