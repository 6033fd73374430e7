"""The Evaluate tab's library: pairwise judging, win rates, Bradley–Terry ratings, length control, the arena.

    outcomes.py       one game from two verdicts (both orders); win/tie/loss counts, win rate, position bias
    bradley_terry.py  ratings by maximum likelihood on an Elo-like scale, seeded bootstrap intervals
    length_control.py AlpacaEval 2 length-controlled win rate (joint fit with per-prompt difficulty; minimal fallback)
    verdicts.py       strict parsing of a judge's reply: "A", "B", "tie" or "invalid"
    judges.py         the judges registry (llm, logprob, reference, rule, human)
    prompt_sets.py    built-in prompt sets and uploaded JSONL, with line-numbered errors
    contestants.py    what a contestant name means (a model, a folder, a hub id or a fine-tune run id)
    arena.py          class votes in SQLite (its own file, arena.db), feeding the same Bradley–Terry fit
    report.py         from answers and judgments to the figures the run's result keeps
    metrics.py        the metrics registry of the evaluate kind (multiple choice, generation, perplexity)
    view.py           the tab's tables, texts and figures from a run's result or the arena's votes
    plots.py          win-rate heatmap, ratings with intervals, length vs win
Nothing here imports torch at module level.
"""
