"""Scaling laws: Kaplan and Chinchilla fits, bootstrap, compute-optimal allocation, data, plots."""
