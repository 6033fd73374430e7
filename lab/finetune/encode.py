"""Turn examples into token ids and labels: the model's chat template applied, and by default only the
answer trained on (prompt tokens get label -100). Also the preview of what the model will see."""
from lab.errors import LabError

IGNORE = -100
PLAIN_TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:\n"  # for tokenizers without a chat template


def _prompt_text(tokenizer, messages) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PLAIN_TEMPLATE.format(prompt="\n\n".join(m["content"] for m in messages))


def prompt_for(tokenizer, question: str) -> str:
    """The prompt a trained model is asked with: the same template as in training."""
    return _prompt_text(tokenizer, [{"role": "user", "content": question}])


def encode_example(tokenizer, example: dict, max_length: int, answer_only: bool = True) -> dict:
    messages = example["messages"]
    prompt = _prompt_text(tokenizer, messages[:-1])
    answer = messages[-1]["content"] + (tokenizer.eos_token or "")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    input_ids = prompt_ids + answer_ids
    labels = ([IGNORE] * len(prompt_ids) if answer_only else list(prompt_ids)) + answer_ids
    return {"input_ids": input_ids, "labels": labels}


def encode_all(tokenizer, examples: list, max_length: int, answer_only: bool = True, where: str = "train") -> list:
    encoded = []
    for index, example in enumerate(examples):
        item = encode_example(tokenizer, example, max_length, answer_only)
        if len(item["input_ids"]) > max_length:
            raise LabError("data_too_long", split=where, index=index + 1, tokens=len(item["input_ids"]),
                           max_length=max_length)
        encoded.append(item)
    return encoded


def pack(encoded: list, max_length: int) -> list:
    """Concatenate examples into blocks of max_length tokens (no padding wasted). Labels keep their
    mask; attention crosses example borders, the usual price of simple packing."""
    blocks, ids, labels = [], [], []
    for item in encoded:
        if len(ids) + len(item["input_ids"]) > max_length and ids:
            blocks.append({"input_ids": ids, "labels": labels})
            ids, labels = [], []
        ids = ids + item["input_ids"]
        labels = labels + item["labels"]
    if ids:
        blocks.append({"input_ids": ids, "labels": labels})
    return blocks


class Collator:
    """Right-pads a batch; padding gets label -100 and attention 0."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list) -> dict:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [self.pad_id] * (width - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [IGNORE] * (width - len(item["labels"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (width - len(item["input_ids"])) for item in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


def preview(tokenizer, examples: list, max_length: int, answer_only: bool = True, rows: int = 3) -> list:
    """For the first rows: a list of (token text, trained) pairs, as the model sees them."""
    shown = []
    for example in examples[:rows]:
        item = encode_example(tokenizer, example, max_length, answer_only)
        tokens = [tokenizer.decode([token_id]) for token_id in item["input_ids"]]
        shown.append([(text, label != IGNORE) for text, label in zip(tokens, item["labels"])])
    return shown
