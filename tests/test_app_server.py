"""`nanocloak app --port P` answers on 127.0.0.1 within 60 s (no browser needed; skipped without
the [app] extra). The command is run as `nanocloak app` would run it: cli_app registered on a typer app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("dash")
pytest.importorskip("plotly")

LAUNCH = ("import typer\nfrom nanocloak import cli_app\napp = typer.Typer()\n"
          "@app.callback()\ndef main():\n    'nanocloak'\ncli_app.register(app)\napp()\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> float:
    """Seconds until `url` answers 200 (the app's page layout: the page is usable then)."""
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise AssertionError(f"the app exited with {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, timeout - (time.time() - start))) as resp:
                if resp.status == 200:
                    return time.time() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_nanocloak_app_answers_on_localhost_within_60_s():
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "app", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        took = wait_until_up(f"http://127.0.0.1:{port}/_dash-layout", proc)
        assert took < 60
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert b"nanocloak" in resp.read()
        # only this machine: the listening socket is bound to loopback
        with pytest.raises(OSError):
            socket.create_connection((_lan_address(), port), timeout=1).close()
    finally:
        stop(proc)
    err = proc.stderr.read().decode(errors="replace")
    assert f"http://127.0.0.1:{port}/" in err and "warning" not in err.lower()
    assert proc.returncode in (0, -signal.SIGTERM)


def _lan_address() -> str:
    """An address of this machine that is not loopback (a UDP 'connect' sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            addr = s.getsockname()[0]
        except OSError:
            addr = "127.0.0.1"
    if addr.startswith("127."):
        pytest.skip("this machine has no non-loopback address to probe")
    return addr
