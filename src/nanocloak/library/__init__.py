"""The sourced data tables (tables.py), what `nanocloak library KIND` lists (listing.py) and the
calibrations of the model's constants (calibrations.py)."""
