"""The ``mintgate`` command: it writes what it says, and a bad flag is named without a traceback."""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from mintgate.simulations import _cli

MINTGATE = shutil.which("mintgate", path=str(Path(sys.executable).parent))


def test_simulate_writes_the_table_the_json_and_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--instances", "30", "--hours", "2", "--outage", "1h+10m:503"]
    argv += ["--policies", "mintgate,go-oauth2", "--seed", "3", "--out", str(tmp_path)]
    assert _cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert "30 instances x 2h" in shown
    assert "go-oauth2" in shown

    document = json.loads((tmp_path / "metrics.json").read_text())
    assert document["scenario"]["instances"] == 30
    assert document["scenario"]["outages"] == ["1h+10m:503"]
    assert document["scenario"]["seed"] == 3
    policies = [p["policy"] for p in document["policies"]]
    assert policies == ["mintgate", "go-oauth2"]
    assert len(document["policies"][0]["series_requests"]) == 120

    table = (tmp_path / "table.md").read_text()
    assert table.startswith("30 instances x 2h")
    assert re.search(r"^\| mintgate \| [\d,]+ \|", table, re.MULTILINE)
    assert (tmp_path / "simulation.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_flags_change_the_preset_and_none_clears_its_outages(tmp_path: Path) -> None:
    argv = ["simulate", "--preset", "short-tokens", "--instances", "5", "--hours", "0.5"]
    argv += ["--outage", "none", "--capacity", "none", "--skew", "0", "--no-plot"]
    assert _cli.main([*argv, "--policies", "authlib", "--out", str(tmp_path)]) == 0
    scenario = json.loads((tmp_path / "metrics.json").read_text())["scenario"]
    assert scenario["outages"] == []
    assert scenario["lifetime"] == 300.0  # from the preset
    assert scenario["max_skew"] == 0.0
    assert scenario["capacity"] is None
    assert not (tmp_path / "simulation.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], r"the following arguments are required: COMMAND"),
        (["simulate", "--frobnicate"], r"unrecognized arguments: --frobnicate"),
        (["simulate", "--preset", "nope"], r"argument --preset: invalid choice: 'nope'"),
        (["simulate", "--instances", "0"], r"argument --instances: '0' must be at least 1"),
        (["simulate", "--instances", "ten"], r"argument --instances: 'ten' is not a whole number"),
        (["simulate", "--hours", "soon"], r"argument --hours: 'soon' is not a number"),
        (["simulate", "--lifetime", "-5"], r"argument --lifetime: '-5' is not a duration"),
        (["simulate", "--outage", "3h"], r"argument --outage: outage '3h' must look like"),
        (["simulate", "--outage", "3h+1m:500"], r"unknown kind '500'; known: 503, 429"),
        (["simulate", "--capacity", "0"], r"argument --capacity: '0' must be a number > 0"),
        (["simulate", "--policies", "boto"], r"unknown policy 'boto'; known: mintgate"),
        (["simulate", "--request-timeout", "0"], r"Scenario.request_timeout must be a number > 0"),
        (["simulate", "--hours", "1"], r"outage 3h\+20m:503 starts after the run ends \(1h\)"),
        (
            ["simulate", "--out", "/proc/mintgate"],
            r"argument --out: cannot create '/proc/mintgate'",
        ),
        (["demo", "--lifetime", "1s"], r"--lifetime must be at least 2s for the demo, got 1s"),
        (["demo", "--outage", "0+5s:invalid_grant"], r"the demo's outage kinds are 503, 429"),
        (["demo", "--outage", "1m+2m", "--cycle", "2m"], r"must end within --cycle \(120s\)"),
    ],
)
def test_a_bad_flag_is_named_and_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert err.startswith("usage: mintgate")


def test_a_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if rich were not installed
    assert _cli.main(["simulate", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "mintgate simulate needs rich: pip install 'mintgate[sim]'\n"


def test_the_installed_command_reports_a_bad_flag_without_a_traceback() -> None:
    assert MINTGATE is not None
    done = subprocess.run(
        [MINTGATE, "simulate", "--outage", "3h+20m:teapot"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown kind 'teapot'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_the_progress_bar_appears_only_once_a_run_has_taken_a_second() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)
    progress = _cli._Progress(console, ["mintgate", "go-oauth2"])
    progress.callback(0)(0.5)
    assert not progress.shown
    progress.started -= 1.5  # as if the run had gone on for 1.5 s
    progress.callback(1)(0.5)
    assert progress.shown
    progress.close()
    assert "go-oauth2" in screen.getvalue()


def _read(fd: int, seconds: float) -> bytes:
    """What the pseudo terminal shows for ``seconds`` (or until the program closes it)."""
    out, end = b"", time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], min(left, 0.1))
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the program exited and closed its side
                break
            if not chunk:
                break
            out += chunk
    return out


def test_the_demo_runs_live_in_a_terminal_and_ctrl_c_stops_it_cleanly() -> None:
    import fcntl  # noqa: PLC0415 - POSIX only, like the pseudo terminal itself
    import pty  # noqa: PLC0415
    import struct  # noqa: PLC0415
    import termios  # noqa: PLC0415

    assert MINTGATE is not None
    main_fd, side_fd = pty.openpty()
    fcntl.ioctl(side_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    # 3-second tokens; the server fails from 2 s to 6 s: the refresh fails, the breaker opens,
    # probes fail until the server is back, then one succeeds and the breaker closes.
    argv = [MINTGATE, "demo", "--lifetime", "3s", "--outage", "2s+4s", "--cycle", "60s"]
    process = subprocess.Popen(argv, stdin=side_fd, stdout=side_fd, stderr=side_fd)
    os.close(side_fd)
    try:
        shown = _read(main_fd, 10.0)
        process.send_signal(signal.SIGINT)
        shown += _read(main_fd, 10.0)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        os.close(main_fd)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown.decode(errors="replace"))
    for seen in (
        "mintgate demo: 3s tokens",
        "OUTAGE (503)",
        "mint failed (unavailable",
        "the current token, served after a failed refresh",
        "breaker opened (probe",
        "breaker half-open: one probe may go",
        "mint started (probe)",
        "breaker closed",
        "stopped after",
    ):
        assert seen in text, seen
    assert "Traceback" not in text
    assert "demo-secret" not in text
    assert "access-" not in text  # the server's tokens are access-N: never shown
