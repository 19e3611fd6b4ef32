"""The `nanocloak` command line: main.py holds the app and the simulation commands; each other
module one command group (lab, fit, learn, screen, evidence)."""


def main() -> None:
    from nanocloak.cli.main import main as run

    run()
