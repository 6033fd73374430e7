"""Prompting: strategies (strategies.py), prompt construction (prompts.py), answers and votes (scoring.py),
the run of kind "prompt" (run.py) and what the tab shows (view.py)."""
