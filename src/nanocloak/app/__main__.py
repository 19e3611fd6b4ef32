"""`python -m nanocloak.app [--host 127.0.0.1] [--port 8050]`: the same as `nanocloak app`."""

from .server import main

if __name__ == "__main__":
    main()
