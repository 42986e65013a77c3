"""Run a module or script under a Python audit hook that records network and unpickling events.

    python audited.py EVENTS.json -m ran_desktop.cli.screen ARGS...
    python audited.py EVENTS.json path/to/script.py ARGS...

The hook is installed before anything else is imported and cannot be removed, so every socket the program creates,
every name lookup, every URL request and every class an unpickler looks up is recorded (from any thread). The
events are written to EVENTS.json when the program ends, also through sys.exit.
"""

from __future__ import annotations

import json
import runpy
import sys
import threading

WATCHED = (
    "socket.",  # __new__, bind, connect, sendto, sendmsg, getaddrinfo, gethostbyname, gethostbyaddr, getnameinfo...
    "urllib.Request",
    "http.client.",
    "ftplib.",
    "smtplib.",
    "poplib.",
    "imaplib.",
    "nntplib.",
    "telnetlib.",
    "webbrowser.open",
    "pickle.find_class",
)
# Harmless look-ups of this machine's own name (no packet leaves it): not a network connection.
LOCAL_ONLY = ("socket.gethostname", "socket.sethostname")

_events: list[dict[str, str]] = []
_lock = threading.Lock()


def _hook(event: str, args: tuple) -> None:
    if event.startswith(WATCHED) and event not in LOCAL_ONLY:
        with _lock:
            _events.append({"event": event, "args": _describe(args)})


def _describe(args: tuple) -> str:
    try:
        return repr(args)[:300]
    except Exception:  # an object whose repr fails must not break the program under test
        return "<unprintable>"


def main() -> int:
    out, *rest = sys.argv[1:]
    sys.addaudithook(_hook)
    code = 0
    try:
        if rest[0] == "-m":
            sys.argv = [rest[1], *rest[2:]]
            runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = rest
            runpy.run_path(rest[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        with _lock:
            events = list(_events)
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(events, fh, indent=1)
    return code


if __name__ == "__main__":
    sys.exit(main())
