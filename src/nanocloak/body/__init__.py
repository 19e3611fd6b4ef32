"""The body: species physiology (species.py)."""
