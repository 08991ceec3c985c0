"""Parallel layouts (TP/PP/DP/CP/EP, micro-batch, recompute, sharding): plans, their
validity rules, and the memory each needs per GPU."""
