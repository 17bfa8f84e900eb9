"""``mintgate demo``: one credential kept fresh live, through a token server's outage.

Unlike the simulator, this runs the real thing in real time: the shell's
:class:`~mintgate.shell.RefreshingProvider` with the OAuth2 client-credentials mint over httpx,
against the loopback token server of :mod:`mintgate.adapters.testing`. The server issues
short-lived tokens and fails on a schedule; a caller asks for the token a few times a second;
a live terminal view shows the refreshes, serving after a failure, the breaker opening, its
half-open probe and the recovery. Ctrl-C (or ``--duration``) stops it cleanly with a summary.

The policy is the default one scaled to the short tokens (see :func:`demo_config`), so that an
hour of behaviour fits in a minute.
"""

from __future__ import annotations

import math
import signal
import time
from collections import deque

import anyio
import attrs
from returns.pipeline import is_successful
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint
from mintgate.adapters.testing import Answer, TokenServer, token
from mintgate.policy import CredentialError, Notice, NoticeKind, RefreshConfig
from mintgate.shell import CredentialInfo, RefreshingProvider
from mintgate.simulations._scenario import Outage, OutageKind, format_duration

__all__ = ["demo_config", "run_demo"]

_NOTICES = {
    NoticeKind.MINT_STARTED: "mint started",
    NoticeKind.MINT_SUCCEEDED: "mint succeeded",
    NoticeKind.MINT_FAILED: "mint failed",
    NoticeKind.REFRESH_SCHEDULED: "refresh scheduled",
    NoticeKind.RETRY_SCHEDULED: "retry scheduled",
    NoticeKind.BREAKER_OPENED: "breaker opened",
    NoticeKind.BREAKER_HALF_OPEN: "breaker half-open: one probe may go",
    NoticeKind.BREAKER_CLOSED: "breaker closed",
    NoticeKind.TOKEN_EXPIRED: "token expired",
    NoticeKind.SERVED_STALE: "served past expiry",
    NoticeKind.CREDENTIAL_DEAD: "credential dead",
}
_STYLES = {
    NoticeKind.MINT_SUCCEEDED: "green",
    NoticeKind.MINT_FAILED: "yellow",
    NoticeKind.BREAKER_OPENED: "red",
    NoticeKind.BREAKER_HALF_OPEN: "magenta",
    NoticeKind.BREAKER_CLOSED: "green",
    NoticeKind.TOKEN_EXPIRED: "red",
    NoticeKind.CREDENTIAL_DEAD: "bold red",
}


def demo_config(lifetime: float) -> RefreshConfig:
    """The default policy with every duration scaled to a ``lifetime``-second token."""
    return RefreshConfig(
        floor=lifetime / 10,
        skew=min(5.0, lifetime / 20),
        retry_base=min(1.0, lifetime / 20),
        retry_cap=lifetime / 4,
        breaker_cooldown=lifetime / 8,
        breaker_cooldown_cap=lifetime / 2,
        breaker_rejecting_cap=lifetime / 4,
        mint_timeout=min(10.0, lifetime / 4),
    )


@attrs.define
class _Schedule:
    """When the token server fails: ``outage`` again every ``cycle`` seconds from ``started``."""

    lifetime: float
    outage: Outage | None
    cycle: float
    started: float = attrs.field(factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def failing(self) -> tuple[bool, float]:
        """Whether the server fails now, and for how long yet (or until it next fails)."""
        if self.outage is None:
            return False, float("inf")
        into = self.elapsed() % self.cycle
        if into < self.outage.start:
            return False, self.outage.start - into
        if into < self.outage.end:
            return True, self.outage.end - into
        return False, self.cycle - into + self.outage.start

    def answer(self, n: int) -> Answer:
        failing, left = self.failing()
        if not failing or self.outage is None:
            return token(lifetime=max(1, round(self.lifetime)), n=n)
        kind = self.outage.kind
        if kind is OutageKind.RATE_LIMITED:
            return Answer(status=429, headers={"Retry-After": "5"})
        if kind is OutageKind.HANG:
            return Answer(status=503, delay=left + 1.0)
        return Answer(status=503)


@attrs.define
class _Board:
    """What the live view shows: the notices and the caller's outcomes so far."""

    schedule: _Schedule
    events: deque[Text] = attrs.field(factory=lambda: deque(maxlen=14))
    served: int = 0
    served_after_failure: int = 0  # the provider's statistic, kept for the closing summary
    errors: int = 0
    failing_caller: str | None = None
    refresh_failing: bool = False
    stopped_by: int | None = None  # the signal that stopped the demo, if one did

    def log(self, text: str, style: str = "") -> None:
        self.events.append(Text(f"{self.schedule.elapsed():7.1f}s  {text}", style=style))

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        label = _NOTICES.get(notice.kind)
        if notice.kind is NoticeKind.MINT_FAILED:
            self.refresh_failing = True
        elif notice.kind is NoticeKind.MINT_SUCCEEDED:
            self.refresh_failing = False
        if label is None:
            return
        details = []
        if notice.reason is not None:
            details.append(notice.reason.value)
        if notice.generation is not None and notice.kind is NoticeKind.MINT_SUCCEEDED:
            details.append(f"generation {notice.generation}")
        if notice.when is not None:
            what = "probe" if notice.kind is NoticeKind.BREAKER_OPENED else "at"
            details.append(f"{what} {notice.when - self._clock_offset():.1f}s")
        if notice.error is not None:
            details.append(_shown(notice.error))
        text = f"{label} ({'; '.join(details)})" if details else label
        self.log(text, _STYLES.get(notice.kind, ""))

    def _clock_offset(self) -> float:
        # Notice times are on the event loop's clock; show them as seconds into the demo.
        return anyio.current_time() - self.schedule.elapsed()

    def called(self, error: CredentialError | None) -> None:
        if error is None:
            self.served += 1
            if self.failing_caller is not None:
                self.log("callers served again", "green")
                self.failing_caller = None
            return
        self.errors += 1
        if self.failing_caller != error.kind.value:
            self.failing_caller = error.kind.value
            self.log(f"caller refused: {_shown(error)}", "bold red")


def _shown(error: CredentialError) -> str:
    """An error as the demo prints it: its retry-after rounded up to 0.1 s."""
    text = f"{error.kind.value}: {error.message}"
    if error.retry_after is not None:
        text += f" (retry after {math.ceil(error.retry_after * 10) / 10:.1f} s)"
    return text


def _view(board: _Board, provider: RefreshingProvider[str], url: str) -> Group:
    stats = provider.statistics()
    schedule = board.schedule
    failing, left = schedule.failing()
    kind = schedule.outage.kind.value if schedule.outage is not None else ""
    server = (
        Text(f"OUTAGE ({kind}), {left:.0f}s left", style="bold red")
        if failing
        else Text("up" + ("" if left == float("inf") else f", next outage in {left:.0f}s"), "green")
    )
    expiry = stats.seconds_to_expiry
    if stats.generation == 0:
        serving = Text("no token yet")
    elif expiry is not None and expiry <= provider.config.skew:
        serving = Text("nothing: the token has expired", style="bold red")
    elif board.refresh_failing:
        serving = Text("the current token, served after a failed refresh", "yellow")
    else:
        serving = Text("a fresh token", style="green")
    breaker_style = {"closed": "green", "open": "red", "half_open": "magenta"}[stats.breaker]
    rows = Table.grid(padding=(0, 2))
    rows.add_row("elapsed", f"{schedule.elapsed():.1f}s")
    rows.add_row("token server", server)
    rows.add_row("token", f"generation {stats.generation}, " + _expiry(expiry))
    rows.add_row("callers get", serving)
    rows.add_row("breaker", Text(stats.breaker.replace("_", "-"), style=breaker_style))
    rows.add_row(
        "mints",
        f"{stats.mints_started} started, {stats.mints_succeeded} succeeded, "
        f"{stats.mints_failed} failed ({stats.consecutive_failures} in a row)",
    )
    rows.add_row(
        "calls",
        f"{board.served} served ({board.served_after_failure} served after a failure), "
        f"{board.errors} refused",
    )
    title = Text(
        f"mintgate demo: {format_duration(schedule.lifetime)} tokens from {url}; Ctrl-C stops",
        style="bold",
    )
    return Group(title, rows, Text(""), Text("events", style="bold"), *board.events)


def _expiry(seconds: float | None) -> str:
    if seconds is None:
        return "never expires"
    if seconds < 0:
        return f"expired {-seconds:.1f}s ago"
    return f"expires in {seconds:.1f}s"


async def _run(board: _Board, server: TokenServer, console: Console, call_every: float) -> None:
    schedule = board.schedule
    config = demo_config(schedule.lifetime)
    credentials = ClientCredentials(
        server.url, "demo-client", "demo-secret", timeout=config.mint_timeout * 0.8
    )
    mint = ClientCredentialsMint(credentials)
    async with (
        mint,
        RefreshingProvider(mint, config=config, name="demo", hooks=[board]) as provider,
        anyio.create_task_group() as group,
    ):

        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for received in signals:
                    board.stopped_by = received
                    group.cancel_scope.cancel()

        async def call() -> None:
            while True:
                result = await provider.token_result()
                board.called(None if is_successful(result) else result.failure())
                board.served_after_failure = provider.statistics().served_after_failure
                await anyio.sleep(call_every)

        async def show() -> None:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                while True:
                    live.update(_view(board, provider, server.url))
                    await anyio.sleep(0.25)

        group.start_soon(stop_on_signal)
        group.start_soon(call)
        group.start_soon(show)


def run_demo(
    *,
    lifetime: float,
    outage: Outage | None,
    cycle: float,
    duration: float | None,
    call_every: float,
    console: Console | None = None,
) -> int:
    """Run the demo until Ctrl-C or ``duration``; print a summary; return the exit status."""
    console = Console() if console is None else console
    schedule = _Schedule(lifetime, outage, cycle)
    board = _Board(schedule)
    server = TokenServer()
    server.answer = schedule.answer

    async def main() -> None:
        with anyio.move_on_after(float("inf") if duration is None else duration):
            await _run(board, server, console, call_every)

    with server.running():
        anyio.run(main)
    if not console.is_terminal:
        console.print()  # the live view's last frame ends without a newline in a pipe
    console.print(
        f"stopped after {schedule.elapsed():.1f}s: {len(server.requests)} token requests, "
        f"{board.served} calls served ({board.served_after_failure} served after a failure), "
        f"{board.errors} refused",
        soft_wrap=True,  # one line, whatever the width: a pipe's reader greps it
    )
    # Stopped by Ctrl-C (or SIGTERM): the shell's convention, 128 + the signal, like simulate.
    return 0 if board.stopped_by is None else 128 + board.stopped_by
