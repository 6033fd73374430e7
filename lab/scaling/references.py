"""Published scaling-law fits, drawn beside the user's own as reference overlays.

Units matter: each fit's loss is in nats per token of its own tokenizer and data set, N counts
parameters by its own convention, so the absolute values do not transfer to the lab's tiny
byte-level models; the exponents (how fast loss falls, how N_opt grows with C) are what compares.

- Hoffmann et al. (2022), Chinchilla, Approach 3: MassiveText, SentencePiece 32k tokens, N = all
  parameters (embeddings included).
- Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt" (Epoch AI): refit the same
  approach to data read off Hoffmann et al.'s own figure and found different values (E ≈ 1.82,
  B ≈ 2,085, β ≈ 0.37), consistent with the ~20 tokens per parameter rule, unlike the published
  fit. A correct fitter on Chinchilla-like data need not return the published numbers.
- Kaplan et al. (2020): WebText2, GPT-2 BPE; N = non-embedding parameters, D tokens, C_min in
  PF-days (1 PF-day = 8.64e19 FLOP); single-variable laws L(X) = (X_c/X)^α_X; compute-optimal
  N ∝ C^0.73 (they trained far from convergence on a fixed schedule, one reason the optimum moved).
"""
PF_DAY = 8.64e19  # FLOP

CHINCHILLA = {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28}
EPOCH_REPLICATION = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}

CHINCHILLA_FITS = {
    "chinchilla": CHINCHILLA,
    "epoch_replication": EPOCH_REPLICATION,
}

KAPLAN = {
    "N": {"alpha": 0.076, "X_c": 8.8e13},  # non-embedding parameters
    "D": {"alpha": 0.095, "X_c": 5.4e13},  # tokens
    "C": {"alpha": 0.050, "X_c": 3.1e8 * PF_DAY},  # C_min, converted from PF-days to FLOP
}
KAPLAN_N_OPT_EXPONENT = 0.73  # N_opt ∝ C^0.73 (Kaplan et al., section 6)
