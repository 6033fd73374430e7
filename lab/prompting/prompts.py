"""Prompt construction: the exact text a strategy sends for one question.

Plain text (chat template off), instruction before, two worked exemplars (few-shot CoT):

    Solve the problem. Finish with "The answer is" and the number.

    Q: Calculate 84 - 67.
    A: 84 - 67 = 17. The answer is 17.

    Q: Calculate 87 + 87.
    A: 87 + 87 = 174. The answer is 174.

    Q: Calculate 2 + 36.
    A:

Zero-shot CoT ends "A: Let's think step by step." (Kojima et al.); without worked solutions an
exemplar's answer is just "The answer is 17." (Wei et al.'s "standard prompting"). A system prompt
opens the text, followed by a blank line. With the chat template on, each exemplar is a user turn and
an assistant turn, the system prompt is the system message (empty: the model's own default), the
instruction goes at the start of the first user turn ("before") or the end of the last ("after"), and
the trigger ends the last user turn. Multiple-choice questions list their options "A. ..." (lab.tasks).
"""
from dataclasses import dataclass

from lab.prompting.strategies import THINK_TRIGGER, Strategy

PLACEMENTS = ("before", "after", "none")
INSTRUCTIONS = {  # the task instruction of each task type, unless the user writes their own
    "numeric": "Solve the problem.",
    "multiple_choice": "Choose the correct option.",
    "classification": "Classify the text as one of: {labels}.",
}
FORMATS = {  # the output-format instruction: how to state the final answer, so the filter finds it
    "numeric": 'Finish with "The answer is" and the number.',
    "multiple_choice": 'Finish with "The answer is" and the letter of your choice.',
    "classification": 'Finish with "The answer is" and the label.',
}
STOP_PLAIN = ["\nQ:"]  # plain-text prompts: the model would go on to write the next question itself


@dataclass(frozen=True)
class PromptCraft:
    """How the question is asked, apart from the strategy (the course notes' prompt-craft options)."""

    system_prompt: str = ""  # a role ("You are a careful math teacher."); empty: none (chat: the model's default)
    instruction: str = ""  # the task instruction; empty: the task type's default (INSTRUCTIONS)
    placement: str = "before"  # where the instruction goes: before the exemplars, after the question, or none
    output_format: bool = True  # add the format instruction (FORMATS)
    chat_template: bool = True  # send chat messages through the model's template, or plain text


def instruction_text(task, craft: PromptCraft) -> str:
    labels = ", ".join(task.labels)
    parts = []
    if craft.placement != "none":
        parts.append(craft.instruction.strip() or INSTRUCTIONS[task.type].format(labels=labels))
    if craft.output_format:
        parts.append(FORMATS[task.type].format(labels=labels))
    return " ".join(parts)


def answer_block(task, item, worked: bool) -> str:
    """An exemplar's answer: its worked solution (CoT) or just "The answer is X."."""
    if worked and item.solution:
        return item.solution
    shown = f"({item.answer})" if task.type == "multiple_choice" else item.answer
    return f"The answer is {shown}."


def build_messages(task, item, exemplars, strategy: Strategy, craft: PromptCraft) -> list[dict]:
    """Chat messages: [system], (user, assistant) per exemplar, then the question as the last user turn."""
    instruction = instruction_text(task, craft)
    before = craft.placement == "before"  # "none" keeps only the format instruction, after the question
    messages = [{"role": "system", "content": craft.system_prompt.strip()}] if craft.system_prompt.strip() else []
    turns = [(task.prompt_text(e), answer_block(task, e, strategy.worked)) for e in exemplars]
    turns.append((task.prompt_text(item), None))
    for number, (question, answer) in enumerate(turns):
        last = number == len(turns) - 1
        if number == 0 and before and instruction:
            question = f"{instruction}\n\n{question}"
        if last and not before and instruction:
            question = f"{question}\n{instruction}"
        if last and strategy.trigger:
            question = f"{question}\n{THINK_TRIGGER}"
        messages.append({"role": "user", "content": question})
        if answer is not None:
            messages.append({"role": "assistant", "content": answer})
    return messages


def build_text(task, item, exemplars, strategy: Strategy, craft: PromptCraft) -> str:
    """Plain text: [system], [instruction], "Q: ...\\nA: ..." per exemplar, the question, "A:" (+ trigger)."""
    instruction = instruction_text(task, craft)
    before = craft.placement == "before"
    blocks = [craft.system_prompt.strip()] if craft.system_prompt.strip() else []
    if before and instruction:
        blocks.append(instruction)
    blocks += [f"Q: {task.prompt_text(e)}\nA: {answer_block(task, e, strategy.worked)}" for e in exemplars]
    last = f"Q: {task.prompt_text(item)}\n"
    if not before and instruction:
        last += f"{instruction}\n"
    last += f"A: {THINK_TRIGGER}" if strategy.trigger else "A:"
    blocks.append(last)
    return "\n\n".join(blocks)


def render(tokenizer, task, item, exemplars, strategy: Strategy, craft: PromptCraft) -> tuple[str, bool]:
    """(the exact text the tokenizer reads, whether the chat template was used). No template: plain text."""
    if craft.chat_template and getattr(tokenizer, "chat_template", None):
        messages = build_messages(task, item, exemplars, strategy, craft)
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), True
    return build_text(task, item, exemplars, strategy, craft), False
