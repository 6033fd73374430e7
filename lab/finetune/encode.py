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
    """First-fit-decreasing packing: the longest example first, each into the first block with room (blocks of at
    most max_length tokens; ~81% full where packing in order left ~75%). Each block keeps its examples apart:
    position_ids restart at 0 for every example (the model builds a block-diagonal causal mask from them when no
    attention mask is given and no cache is used: lab.finetune.train.LabTrainer), and the first token of each
    example gets no label (nothing before it in its own example predicts it). So a packed example has the same
    per-token loss as alone."""
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]["input_ids"]), i))
    blocks, room = [], []
    for index in order:
        item = encoded[index]
        size = len(item["input_ids"])
        slot = next((b for b, free in enumerate(room) if free >= size), None)
        if slot is None:
            blocks.append({"input_ids": [], "labels": [], "position_ids": []})
            room.append(max_length)
            slot = len(blocks) - 1
        block = blocks[slot]
        block["input_ids"] = block["input_ids"] + item["input_ids"]
        block["labels"] = block["labels"] + [IGNORE] + item["labels"][1:]
        block["position_ids"] = block["position_ids"] + list(range(size))
        room[slot] -= size
    return blocks


class Collator:
    """Right-pads a batch; padding gets label -100 and attention 0. Packed blocks also carry position_ids
    (the padding tail counts from 0 as an example of its own, so it stays apart too)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list) -> dict:
        import torch

        width = max(len(item["input_ids"]) for item in batch)
        ids = [item["input_ids"] + [self.pad_id] * (width - len(item["input_ids"])) for item in batch]
        labels = [item["labels"] + [IGNORE] * (width - len(item["labels"])) for item in batch]
        mask = [[1] * len(item["input_ids"]) + [0] * (width - len(item["input_ids"])) for item in batch]
        out = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}
        if all("position_ids" in item for item in batch):
            out["position_ids"] = torch.tensor([item["position_ids"] + list(range(width - len(item["position_ids"])))
                                                for item in batch])
        return out


def preview(tokenizer, examples: list, max_length: int, answer_only: bool = True, rows: int = 3) -> list:
    """For the first rows: a list of (token text, trained) pairs, as the model sees them."""
    shown = []
    for example in examples[:rows]:
        item = encode_example(tokenizer, example, max_length, answer_only)
        tokens = [tokenizer.decode([token_id]) for token_id in item["input_ids"]]
        shown.append([(text, label != IGNORE) for text, label in zip(tokens, item["labels"])])
    return shown
