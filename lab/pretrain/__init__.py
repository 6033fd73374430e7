"""Pre-training tiny causal LMs from scratch: architectures, tokenizers, data, training loop."""
