"""The app's pages: each module has layout() and register(app, state)."""
