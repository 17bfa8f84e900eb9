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

from mintgate.adapters import cli
from mintgate.simulations import _cli
from mintgate.simulations._report import COLUMNS

MINTGATE = shutil.which("mintgate", path=str(Path(sys.executable).parent))


def test_simulate_writes_the_table_the_json_and_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--instances", "30", "--hours", "2", "--outage", "1h+10m:503"]
    argv += ["--policies", "mintgate,go-oauth2", "--seed", "3", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
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
    assert cli.main([*argv, "--policies", "authlib", "--out", str(tmp_path)]) == 0
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
        (["simulate", "--hours", "soon"], r"argument --hours: 'soon' is not a duration"),
        (["simulate", "--hours", "0"], r"argument --hours: '0' must be longer than 0"),
        (["simulate", "--lifetime", "-5"], r"argument --lifetime: '-5' is negative"),
        (["simulate", "--lifetime", "-5m"], r"argument --lifetime: '-5m' is negative"),
        (["simulate", "--instances", "1000000000"], r"--instances must be at most 100,000"),
        (["simulate", "--hours", "1e9"], r"--hours must be at most 168h \(a week\)"),
        (["simulate", "--hours", "200h"], r"--hours must be at most 168h \(a week\), got 200h"),
        (["simulate", "--latency", "0"], r"--latency must be a number > 0"),
        (["simulate", "--outage", "3h"], r"argument --outage: outage '3h' must look like"),
        (["simulate", "--outage", "3h+1m:500"], r"unknown kind '500'; known: 503, 429"),
        (["simulate", "--capacity", "0"], r"argument --capacity: '0' must be a number > 0"),
        (["simulate", "--policies", "boto"], r"unknown policy 'boto'; known: mintgate"),
        (
            ["simulate", "--policies", "mintgate:refresh_at=2"],
            r"policy 'mintgate:refresh_at=2': refresh_at must be in \(0, 1\]",
        ),
        (
            ["simulate", "--policies", "mintgate:refresh=0.5"],
            r"unknown mintgate setting 'refresh'; known: refresh_at, jitter",
        ),
        (
            ["simulate", "--policies", "mintgate:floor=soon"],
            r"floor must be a duration like 30s or 5m, got 'soon'",
        ),
        (["simulate", "--policies", "authlib:floor=1s"], r"only mintgate takes settings"),
        (["simulate", "--policies", "mintgate,mintgate"], r"policy 'mintgate' is named twice"),
        (["simulate", "--policies", "floor=1s"], r"setting 'floor=1s' must follow a mintgate:"),
        (["simulate", "--request-timeout", "0"], r"--request-timeout must be a number > 0"),
        (["simulate", "--hours", "1"], r"outage 3h\+20m:503 starts after the run ends \(1h\)"),
        (
            ["simulate", "--out", "/proc/mintgate"],
            r"argument --out: cannot create '/proc/mintgate'",
        ),
        (["simulate", "--out", "/proc/self"], r"argument --out: cannot write into '/proc/self'"),
        (["simulate", "--out", "/etc/hostname"], r"'/etc/hostname' is a file, not a folder"),
        (["demo", "--lifetime", "1s"], r"--lifetime must be at least 2s for the demo, got 1s"),
        (["demo", "--outage", "0+5s:invalid_grant"], r"the demo's outage kinds are 503, 429"),
        (["demo", "--outage", "1m+2m", "--cycle", "2m"], r"must end within --cycle \(120s\)"),
    ],
)
def test_a_bad_flag_is_named_and_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert err.startswith("usage: mintgate")


def test_a_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if rich were not installed
    assert cli.main(["simulate", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "mintgate simulate needs rich: pip install 'mintgate[sim]'\n"


def test_each_subcommand_names_its_own_missing_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # as if httpx were not installed
    for name in [n for n in sys.modules if n.startswith("httpx.")]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [n for n in sys.modules if n.startswith("mintgate.adapters._")]:
        monkeypatch.delitem(sys.modules, name)  # so the demo imports its adapters afresh
    monkeypatch.delitem(sys.modules, "mintgate.adapters.oauth2", raising=False)
    monkeypatch.delitem(sys.modules, "mintgate.simulations._demo", raising=False)
    assert cli.main(["demo", "--duration", "1s"]) == 1
    assert capsys.readouterr().err == "mintgate demo needs httpx: pip install 'mintgate[sim]'\n"


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
        assert process.wait(timeout=10) == 130  # as simulate does after Ctrl-C
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


def test_hours_take_durations_and_a_bare_number_is_hours(tmp_path: Path) -> None:
    for hours, seconds in (("90m", 5400.0), ("1.5", 5400.0), ("1h30m", 5400.0)):
        argv = ["simulate", "--instances", "3", "--hours", hours, "--outage", "none"]
        assert cli.main([*argv, "--no-plot", "--out", str(tmp_path)]) == 0
        scenario = json.loads((tmp_path / "metrics.json").read_text())["scenario"]
        assert scenario["duration"] == seconds


def test_help_shows_every_flags_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["simulate", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    options = text.split("options:", 1)[1].split("Presets:", 1)[0]
    entries = [" ".join(e.split()) for e in re.split(r"\n  (?=-)", options) if e.strip()]
    assert len(entries) >= 15
    for entry in entries:
        assert entry.startswith("-h") or "(default: " in entry, entry
    shown = " ".join(text.split())  # argparse wraps its help
    assert "(default: the preset's; fleet-outage: 500)" in shown
    assert "(default: the preset's; fleet-outage: 8h)" in shown
    assert "fleet-outage: 3h+20m:503" in shown


def test_the_table_comes_with_a_legend_and_the_json_holds_each_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--instances", "20", "--hours", "2", "--outage", "1h+10m:503"]
    argv += ["--policies", "mintgate,mintgate:breaker_rejecting_cap=30s,refresh_at=0.5,go-oauth2"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    for column in COLUMNS:
        assert re.search(rf"^{re.escape(column.header)} +{re.escape(column.meaning)}", shown, re.M)
    assert "Every figure is explained in docs/simulations.md." in shown
    document = json.loads((tmp_path / "metrics.json").read_text())
    names = [p["policy"] for p in document["policies"]]
    assert names == ["mintgate", "mintgate:breaker_rejecting_cap=30s,refresh_at=0.5", "go-oauth2"]
    table = (tmp_path / "table.md").read_text()
    assert "| mintgate:breaker_rejecting_cap=30s,refresh_at=0.5 |" in table
    entry = document["policies"][0]
    for column in COLUMNS:  # each column's JSON field is in every policy's entry
        for field in column.field.split(", "):
            name = field.removeprefix("recovery[].")
            assert name in entry or name in entry["recovery"][0], field
    variant, default = document["policies"][1], document["policies"][0]
    assert variant != default  # the settings took effect


def test_the_demo_keeps_its_summary_on_a_line_of_its_own_in_a_pipe() -> None:
    assert MINTGATE is not None
    argv = [MINTGATE, "demo", "--duration", "4s", "--lifetime", "3s", "--outage", "1s+2s:429"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("stopped after ")
    assert lines[-1].endswith(" refused")
    assert "stopped after" not in "".join(lines[:-1])
    retries = re.findall(r"retry after (\d+(?:\.\d+)?) s", done.stdout)
    assert retries, done.stdout
    assert all(re.fullmatch(r"\d+\.\d", value) for value in retries), retries


def test_the_plot_says_its_axes_are_symlog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.axes import Axes  # noqa: PLC0415 - the sim extra

    from mintgate.simulations import Scenario, simulate  # noqa: PLC0415
    from mintgate.simulations._report import write_plot  # noqa: PLC0415

    labels: list[str] = []
    original = Axes.set_ylabel

    def set_ylabel(self: Axes, label: str, *args: object, **kwargs: object) -> object:
        labels.append(label)
        return original(self, label, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Axes, "set_ylabel", set_ylabel)
    scenario = Scenario(instances=3, duration=600.0)
    write_plot(tmp_path / "plot.png", scenario, [simulate(scenario, "mintgate")])
    assert len(labels) == 3
    assert all("symlog" in label for label in labels)
