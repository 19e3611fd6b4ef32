"""Simulating formulations (core.py: batches, grids, superposition of doses and classes), their
results (results.py) and metrics (metrics.py), and virtual animals (virtual_animals.py)."""
