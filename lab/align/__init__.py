"""The Align tab's library: preference data, the reward-model and DPO recipes (TRL), judging before vs after."""
