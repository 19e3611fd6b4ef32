"""model.therapy."""
