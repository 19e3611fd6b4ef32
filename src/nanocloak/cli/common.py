"""Helpers every command shares: the consoles, the error guard (exit 2 for a user's mistake, 1 for a
bug), output options (--format, --json, --force), tables that fit the terminal, and progress."""

from __future__ import annotations

import os
import sys
from typing import Callable

import typer
from rich.console import Console
from rich.table import Table

from nanocloak.errors import NanocloakError

out = Console()
err = Console(stderr=True)


def force_option():
    return typer.Option(False, "--force", help="write into a non-empty folder (or over a file) that nanocloak did not "
                        "write; nothing already there is deleted or replaced")


def print_json(obj) -> None:
    """One JSON document on stdout (dataclasses as objects, NaN/inf as null, numpy scalars as numbers)."""
    import dataclasses
    import json
    import math

    def plain(x):
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    sys.stdout.write(json.dumps(plain(obj), indent=2, default=str) + "\n")


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def guard(fn: Callable[[], None]) -> None:
    """Run a command body, turning user errors into one message and exit status 2."""
    try:
        fn()
    except NanocloakError as exc:
        fail(escape(str(exc)))
    except (OSError, ValueError, KeyError) as exc:  # unreadable paths, bad numbers passed as options
        fail(escape(f"{type(exc).__name__}: {exc}"))
    except typer.Exit:
        raise
    except Exception as exc:  # a bug, not the user's input: say so, without a traceback wall
        if os.environ.get("NANOCLOAK_DEBUG"):
            raise
        fail(escape(f"internal error ({type(exc).__name__}: {exc}); this is a bug in nanocloak, please report it "
                      "with the input file (NANOCLOAK_DEBUG=1 shows the traceback)"), code=1)


FORMATS = ("table", "csv", "json")


def format_option(default: str = "table"):
    return typer.Option(default, "--format", help="table (folded to the terminal width), csv or json, on stdout")


def json_option():
    return typer.Option(False, "--json", help="the same as --format json")


def chosen_format(fmt: str, json_flag: bool = False) -> str:
    """The output format asked for (`--json` is `--format json`); a clear error for anything else."""
    if json_flag:
        return "json"
    f = fmt.strip().lower()
    if f not in FORMATS:
        from nanocloak.errors import did_you_mean

        raise NanocloakError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}{did_you_mean(f, list(FORMATS))}")
    return f


LONG_TEXT_COLUMNS = ("label", "description", "equation", "source", "params (95% CI)", "note")


def emit_table(frame, fmt: str, title: str = "", justify_numbers: bool = True) -> None:
    """A pandas table on stdout: JSON records, CSV, or a rich table that fits the terminal. A table
    too wide for the console first drops its long free-text columns (said in a note), then falls
    back to one small field/value block per row."""
    import json
    import math

    if fmt == "json":
        records = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                   for row in frame.to_dict(orient="records")]
        sys.stdout.write(json.dumps(records, indent=2, default=str) + "\n")
        return
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = _rich_table(frame, title, justify_numbers)
    if _natural_width(table) <= out.width:
        out.print(table)
        return
    dropped = [c for c in frame.columns if c in LONG_TEXT_COLUMNS]
    if dropped:
        narrow = _rich_table(frame.drop(columns=dropped), title, justify_numbers)
        if _natural_width(narrow) <= out.width:
            out.print(narrow)
            err.print(f"({', '.join(dropped)} left out at this width; --format csv or json shows every column)",
                      highlight=False, markup=False)
            return
    _emit_records(frame, title)


def _natural_width(table: Table) -> int:
    """The table's width with no cell folded (rich's measure caps at the console width otherwise)."""
    from rich.measure import Measurement

    title, table.title = table.title, None    # a long title wraps; it must not force the block layout
    try:
        return Measurement.get(out, out.options.update_width(100_000), table).maximum
    finally:
        table.title = title


def _rich_table(frame, title: str, justify_numbers: bool) -> Table:
    table = Table(title=title or None)
    for col in frame.columns:
        numeric = justify_numbers and frame[col].dtype.kind in "fiu"
        table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*[escape(format_cell(v)) for v in row])
    return table


def _emit_records(frame, title: str) -> None:
    """Rows as blocks of `field  value` lines: readable at 80 columns whatever the column count."""
    if title:
        out.print(title, highlight=False, markup=False)
    first = frame.columns[0]
    for row in frame.to_dict(orient="records"):
        out.print(f"\n{first}: {format_cell(row[first])}", highlight=False, markup=False, soft_wrap=True)
        block = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
        block.add_column(overflow="fold", style="dim")
        block.add_column(overflow="fold")
        for k, v in list(row.items())[1:]:
            block.add_row(str(k), escape(format_cell(v)))
        out.print(block)


def format_cell(value) -> str:
    """A table cell: floats to 4 significant digits, missing blank, anything else as text."""
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def escape(text: str) -> str:
    return text.replace("[", "\\[")


class LineProgress:
    """Progress for a stderr that is not a terminal (a pipe, a log file, CI): one plain line every
    few seconds with done/total, rate and time left, and a last line at the end. rich's live bar
    draws nothing there, so long runs looked hung; this keeps rich's add_task/advance/update calls."""

    EVERY_S = 5.0

    def __init__(self, console: Console, every_s: float = EVERY_S):
        self.console, self.every_s = console, every_s
        self.tasks: dict[int, dict] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:  # a closing line only for runs long enough to have reported progress
            for task in self.tasks.values():
                if task["printed"] is not None and task["done"] != task["printed"]:
                    self._line(task)

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        import time

        key = len(self.tasks)
        self.tasks[key] = {"description": description, "total": total, "done": 0.0, "printed": None,
                           "start": time.monotonic(), "last": time.monotonic()}
        return key

    def advance(self, key: int, n: float = 1) -> None:
        self.update(key, completed=self.tasks[key]["done"] + n)

    def update(self, key: int, completed: float | None = None, description: str | None = None,
               total: float | None = None, **_) -> None:
        import time

        task = self.tasks[key]
        if completed is not None:
            task["done"] = float(completed)
        if description is not None:
            task["description"] = description
        if total is not None:
            task["total"] = total
        now = time.monotonic()
        if now - task["last"] >= self.every_s:
            task["last"] = now
            self._line(task)

    def _line(self, task: dict) -> None:
        import time

        elapsed = max(time.monotonic() - task["start"], 1e-9)
        rate = task["done"] / elapsed
        total = task["total"]
        text = f"{task['description']}: {task['done']:.0f}" + (f"/{total:.0f}" if total else "")
        text += f", {rate:.3g}/s"
        if total and rate > 0:
            text += f", about {max(total - task['done'], 0) / rate:.0f} s left"
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)
        task["printed"] = task["done"]


def progress(total: int, description: str):
    """A live bar on a terminal; plain periodic lines when stderr is piped or logged."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if not err.is_terminal:
        return LineProgress(err)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=True, disable=total < 2)

