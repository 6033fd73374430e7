"""LLM Lab: a guided, hands-on lab for adapting language models.

The library behind the app: typed job specs, the job runner, the model library, metrics and plots.
Nothing here imports torch at module level; job workers import it when they need it.
"""
