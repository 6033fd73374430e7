"""Exports of a model to files other tools load: GGUF for llama.cpp and Ollama (gguf_writer, gguf_vocab).

A package of its own rather than a file in lab/finetune: any model folder can be exported (a base model,
a merged fine-tune, a pruned or distilled one), and the format code has nothing to do with training.
"""
