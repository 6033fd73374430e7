"""Score answers for the RL stage: with a registered rule (lab/align/rewards/) or with a reward-model
run from the Align tab (the learned reward of RLHF).

    scorer = load_scorer(spec, ctx)
    scorer(questions, completions, answers) -> list of floats

The reward model is given TEXT: each (question, answer) is put in the reward model's own prompt template
and tokenized with its own tokenizer. So a policy and a reward model with different tokenizers work
together (nothing passes token ids between them); the price is one extra tokenization per answer.
"""
from lab.align.rewards import REWARDS
from lab.align.rl_spec import LEARNED, check_reward_run
from lab.errors import LabError


class RuleScorer:
    def __init__(self, name: str, spec):
        self.rule, self.spec, self.name = REWARDS.get(name), spec, name

    def __call__(self, questions, completions, answers) -> list[float]:
        return [float(self.rule.score(c, a, self.spec)) for c, a in zip(completions, answers)]


class RewardModelScorer:
    name = LEARNED

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def __call__(self, questions, completions, answers) -> list[float]:
        from lab.align.data import prompt_text
        from lab.align.reward import score

        prompts = [prompt_text(self.tokenizer, {"prompt": q}) for q in questions]
        return [round(r, 6) for r in score(self.model, self.tokenizer, prompts, list(completions))]


def load_reward_model_run(run_id: str, trust_remote_code: bool = False):
    """(model, tokenizer) of a finished reward run: the base with its scalar head, LoRA applied when it has one."""
    from transformers import AutoModelForSequenceClassification

    from lab.modeling.models import load_model
    from lab.runs.folder import RunFolder, read_json

    check_reward_run(run_id)
    folder = RunFolder(run_id).artifact_path("reward_model")
    about = read_json(folder / "lab_reward.json", None)
    if about is None:
        raise LabError("rl_not_reward_run", run_id=run_id, kind="reward (unfinished)")
    if about.get("lora"):
        from peft import PeftModel

        model, tokenizer, _ = load_model(about["base_model"], dtype="fp32", trust_remote_code=trust_remote_code,
                                         model_class=AutoModelForSequenceClassification, num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        model = PeftModel.from_pretrained(model, str(folder))
    else:
        model, tokenizer, _ = load_model(str(folder), dtype="fp32", trust_remote_code=trust_remote_code,
                                         model_class=AutoModelForSequenceClassification, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval(), tokenizer


def load_scorer(spec, ctx=None):
    if spec.reward != LEARNED:
        return RuleScorer(spec.reward, spec)
    if ctx is not None:
        ctx.progress(0, 1, message=f"loading the reward model of {spec.reward_run}", force=True)
    return RewardModelScorer(*load_reward_model_run(spec.reward_run, spec.trust_remote_code))
