"""Benchmarks and evaluations that measure the co-pilot against baselines run beside it; nothing imports them."""
