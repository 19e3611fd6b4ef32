"""Serving the app: 127.0.0.1 by default (a warning on stderr for any other address), waitress
(a multi-threaded WSGI server, so one slow request never holds up another page), clean shutdown."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
LOOPBACK = ("127.0.0.1", "localhost", "::1")
THREADS = 8


def host_warning(host: str) -> str | None:
    """The warning printed when the app listens beyond this machine (None on loopback)."""
    if host in LOOPBACK:
        return None
    return (f"warning: nanocloak app is listening on {host}, not only on this machine (127.0.0.1): it has no login, "
            "so anyone who can reach this address can use it and run simulations on this computer")


def allowed_hosts(host: str, port: int) -> set[str] | None:
    if host not in LOOPBACK:
        return None
    return {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = False) -> None:
    from . import MAX_REQUEST_BYTES, backend, create_app

    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    app = create_app(allowed_hosts=allowed_hosts(host, port))
    threading.Thread(target=_warm, args=(backend, app), daemon=True, name="nanocloak-warm-up").start()

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown if host != '0.0.0.0' else '127.0.0.1'}:{port}/"
    print(f"nanocloak app on {url} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        try:
            from waitress import serve as waitress_serve
        except ImportError:
            app.run(host=host, port=port, debug=False, threaded=True)
        else:
            waitress_serve(app.server, host=host, port=port, threads=THREADS, ident="nanocloak",
                           max_request_body_size=MAX_REQUEST_BYTES, clear_untrusted_proxy_headers=True,
                           _quiet=True)
    except KeyboardInterrupt:
        pass
    except OSError as exc:                 # e.g. the port is taken
        print(f"nanocloak app: cannot listen on {host}:{port} ({exc.strerror or exc}); try another --port",
              file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        state = getattr(app, "_nanocloak_state", None)
        if state is not None:
            state.jobs.shutdown()
            state.store.close()


def _warm(backend, app) -> None:
    try:
        backend.warm_up()
        app._nanocloak_state.jobs.warm()          # the forkserver imports the package: after the page's needs
    except Exception as exc:  # noqa: BLE001 - a warm-up failure shows up again, clearly, on first use
        print(f"nanocloak app: warm-up failed ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m nanocloak.app", description="the nanocloak workbench in the browser")
    p.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8050)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    a = p.parse_args(argv)
    serve(a.host, a.port, a.open)
