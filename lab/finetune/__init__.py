"""Fine-tuning: PEFT methods as registered entries, data preparation and the training recipe."""
