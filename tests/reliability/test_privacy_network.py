"""The app and the CLI never open a network connection: not while screening, exporting or writing reports.

Three independent checks: in this process with Python's socket entry points replaced by traps; in child processes
(recorded_runs.py) under a Python audit hook, which sees every socket Python creates from any thread, and under
strace, which sees the system calls of C++ code too (Qt, torch); and in the source, which imports nothing that talks
to a network.
"""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest
from gui_helpers import drop, wait_idle
from recorded_runs import cli_has_reports, make_inputs
from sandbox import ROOT

from ran_desktop.cli.screen import main as screen_main
from ran_desktop.engine.records.review import ImageRecord
from ran_desktop.engine.records.session_export import write_session
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions

_FORBIDDEN_MODULES = (
    "socket", "ssl", "http", "urllib.request", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib",
    "xmlrpc", "webbrowser", "torch.hub", "huggingface_hub", "PySide6.QtNetwork", "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
)
_FORBIDDEN_NAMES = ("QNetworkAccessManager", "load_state_dict_from_url", "torch.hub", "download_url")


@pytest.fixture
def network_trap(monkeypatch) -> list[str]:
    """Every way Python code reaches the network is replaced by a trap that records the attempt and fails it."""
    attempts: list[str] = []

    def trap(name: str):
        def refuse(*args, **kwargs):
            attempts.append(f"{name}{args[1:] if name.startswith('socket.socket.') else args}")
            raise OSError(f"test: network access refused ({name})")

        return refuse

    for method in ("connect", "connect_ex", "bind", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, method, trap(f"socket.socket.{method}"))
    for function in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
                     "create_server"):
        monkeypatch.setattr(socket, function, trap(f"socket.{function}"))
    with pytest.raises(OSError, match="refused"):
        socket.create_connection(("192.0.2.1", 9))  # the trap is armed
    assert attempts == ["socket.create_connection(('192.0.2.1', 9),)"]
    attempts.clear()
    return attempts


def test_screening_exporting_and_reporting_in_process_touch_no_socket(network_trap, loaded, tiny_bundle, start_window,
                                                                      qtbot, sample_path, tmp_path, capsys):
    inputs = list(make_inputs(tmp_path / "photos", sample_path, unreadable=False).values())
    results = list(Screener(loaded, ScreeningOptions(heatmaps=True)).screen(inputs))
    write_session([ImageRecord(image_id=i, result=r) for i, r in enumerate(results)], tmp_path / "session.json")
    args = [*map(str, inputs), "--out", str(tmp_path / "r.csv"), "--model", str(tiny_bundle), "--device", "cpu",
            "--heatmaps", str(tmp_path / "heat"), "--quiet"]
    if cli_has_reports():
        args += ["--report", str(tmp_path / "reports")]
    assert screen_main(args) in (0, 1, 3), capsys.readouterr().err
    window = start_window()
    drop(window, inputs)
    wait_idle(qtbot, window, len(results))
    with qtbot.waitSignal(window.sessions.exported, timeout=60_000) as blocker:
        window.export_results(tmp_path / "export.csv")
    assert blocker.args[1] and network_trap == []


@pytest.mark.parametrize("which", ["app", "cli"])
def test_a_real_run_creates_no_socket_and_makes_no_network_system_call(which, app_run, cli_run):
    run = app_run if which == "app" else cli_run
    assert run.code in (0, 1), run.stderr
    network = [e for e in run.events if e["event"] != "pickle.find_class"]
    assert network == [], "Python created or used a socket, looked up a host or opened a URL"
    if which == "app":
        assert run.json("result")["qt_network_loaded"] is False
    if run.inet_syscalls is None:
        pytest.skip("strace is not available: the system-call check (for C++ code) was not made")
    assert run.inet_syscalls == [], "an internet socket was opened below Python (Qt, torch or another library)"


def test_the_source_imports_nothing_that_talks_to_a_network():
    offenders = []
    for source in sorted((ROOT / "ran_desktop").rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for name in names:
                if any(name == bad or name.startswith(f"{bad}.") for bad in _FORBIDDEN_MODULES):
                    offenders.append(f"{source.relative_to(ROOT)}:{node.lineno} imports {name}")
        offenders += [f"{source.relative_to(ROOT)} mentions {n}" for n in _FORBIDDEN_NAMES if n in text]
    assert offenders == []
    assert Path(ROOT / "ran_desktop" / "gui" / "main_window.py").exists()  # the scan looked at the real sources
