"""The data preview, computed in the app's own process without torch: what the model will see.

`tokenizers` and jinja2 (both light) stand in for a transformers tokenizer: the same tokenizer.json,
the same chat template, fed through the same encode.preview() that training uses, so the preview
shows exactly the tokens and the loss mask of training.
"""
import json
from pathlib import Path

from lab.errors import LabError
from lab.finetune import encode
from lab.finetune.datasets import load_examples


class LightTokenizer:
    """The few tokenizer methods encode.py uses, from a model folder's tokenizer files."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        if not (folder / "tokenizer.json").is_file():
            raise LabError("preview_needs_model", folder=folder.name)
        self.backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")) \
            if (folder / "tokenizer_config.json").is_file() else {}
        self.eos_token = _token_text(config.get("eos_token")) or ""
        self.bos_token = _token_text(config.get("bos_token")) or ""
        template_file = folder / "chat_template.jinja"
        self.chat_template = config.get("chat_template") or (
            template_file.read_text(encoding="utf-8") if template_file.is_file() else None)

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        return {"input_ids": self.backend.encode(text, add_special_tokens=add_special_tokens).ids}

    def decode(self, ids) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)

    def apply_chat_template(self, messages, tokenize: bool = False, add_generation_prompt: bool = False) -> str:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise LabError("chat_template_error", detail=str(message))

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        environment.globals["raise_exception"] = raise_exception
        return environment.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt, eos_token=self.eos_token,
            bos_token=self.bos_token)


def _token_text(token) -> str | None:
    if isinstance(token, dict):
        return token.get("content")
    return token


def model_folder(model: str) -> Path:
    from lab.modeling.models import resolve_model

    ref = resolve_model(model)
    if ref.kind == "hub":
        raise LabError("preview_needs_model", folder=model)
    return Path(ref.location)


def preview(dataset: str, model: str, max_length: int = 128, answer_only: bool = True, rows: int = 3) -> dict:
    """{"train": n, "validation": n, "has_answers": bool, "rows": [[(token, trained), ...], ...]}"""
    train, validation, has_answers = load_examples(dataset)
    tokenizer = LightTokenizer(model_folder(model))
    shown = encode.preview(tokenizer, train, max_length, answer_only, rows)
    lengths = [len(encode.encode_example(tokenizer, e, max_length, answer_only)["input_ids"]) for e in train[:200]]
    return {"train": len(train), "validation": len(validation), "has_answers": has_answers, "rows": shown,
            "longest": max(lengths) if lengths else 0, "too_long": sum(n > max_length for n in lengths)}
