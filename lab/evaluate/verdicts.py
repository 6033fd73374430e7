"""Strict parsing of a judge model's reply into "A", "B", "tie" or "invalid".

Accepted, and nothing else: exactly one kind of bracketed verdict anywhere in the reply ("[[A]]",
"[[B]]", "[[C]]" or "[[tie]]", the MT-Bench format; C means tie), or a reply that is only the
verdict ("A", "B", "tie", "C", optionally with "Verdict:" before it and a full stop after it).
A reply naming two different verdicts, or none, is "invalid": it is counted and shown, never
guessed at, so a judge that rambles cannot hand out wins.
"""
import re

BRACKETED = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
BARE = re.compile(r"^\s*(?:(?:final\s+)?verdict\s*:\s*)?\(?\s*(A|B|C|tie)\s*\)?\s*[.!]?\s*$", re.IGNORECASE)
CANONICAL = {"a": "A", "b": "B", "c": "tie", "tie": "tie"}


def parse_verdict(reply: str) -> str:
    found = {CANONICAL[m.lower()] for m in BRACKETED.findall(reply or "")}
    if len(found) == 1:
        return found.pop()
    if found:  # "[[A]] ... no, [[B]]": two verdicts
        return "invalid"
    match = BARE.match(reply or "")
    return CANONICAL[match.group(1).lower()] if match else "invalid"
