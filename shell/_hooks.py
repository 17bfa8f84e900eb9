"""Hooks: where the core's notices go, and what may wrap each mint.

A provider hands every notice to a tuple of hooks, each with one payload that describes the
credential (:class:`CredentialInfo`). Logging and the statistics are two such hooks; the
application adds its own (metrics, audit). A hook may also wrap each mint call in an async
context manager (``mint(credential, attempt)``), so that an OpenTelemetry span encloses the mint
and its HTTP request.

A hook is the application's code running inside ours, so it is fenced: whatever it raises is
logged (once per hook and kind of call, not once per call) and changes nothing the provider
does; a mint hook's ``__aexit__`` can never swallow the mint's failure, because its return value
is ignored.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, final, runtime_checkable

import attrs

from mintgate.policy import Notice, scrub
from mintgate.shell._telemetry import log, log_notice, log_traceback

__all__ = ["CredentialInfo", "FencedHook", "Hook", "LoggingHook", "MintHook"]


@final
@attrs.frozen
class CredentialInfo:
    """What a hook is told about the credential a notice concerns. Holds no secret.

    Attributes:
        name: The credential's name.
        type: Its credential type's name when a manager hosts it; None for a bare provider.
        scope: Its tenant scope when a manager hosts it; None for a bare provider.
    """

    name: str
    type: str | None = None
    scope: str | None = None


@runtime_checkable
class Hook(Protocol):
    """Receives every notice of every step. Called inline on the loop: it must not block."""

    def notice(self, credential: CredentialInfo, notice: Notice) -> None: ...


@runtime_checkable
class MintHook(Protocol):
    """Wraps each mint call: ``async with hook.mint(credential, attempt): <the mint>``."""

    def mint(
        self, credential: CredentialInfo, attempt: int
    ) -> AbstractAsyncContextManager[object]: ...


@final
class LoggingHook:
    """The notices as stdlib log records on ``mintgate.shell`` (see ``log_notice``)."""

    __slots__ = ()

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        log_notice(credential.name, notice)


@final
class FencedHook:
    """A user's hook whose exceptions never reach the provider: each is logged at ERROR the
    first time this hook raises on a kind of call (a notice kind, or ``mint``), with its
    traceback as text at DEBUG."""

    __slots__ = ("_failed", "hook")

    def __init__(self, hook: Hook | MintHook) -> None:
        self.hook = hook
        self._failed: set[str] = set()

    @property
    def receives_notices(self) -> bool:
        return callable(getattr(self.hook, "notice", None))

    @property
    def wraps_mints(self) -> bool:
        return callable(getattr(self.hook, "mint", None))

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        try:
            self.hook.notice(credential, notice)  # type: ignore[union-attr]
        except Exception as error:
            self._report(credential, f"a {notice.kind.value} notice", notice.kind.value, error)

    def mint(self, credential: CredentialInfo, attempt: int) -> _FencedMint:
        return _FencedMint(self, credential, attempt)

    def _report(self, credential: CredentialInfo, what: str, kind: str, error: Exception) -> None:
        if kind in self._failed:
            return
        self._failed.add(kind)
        try:
            text = scrub(str(error))
        except Exception:
            text = ""
        log.error(
            "%s: hook %s raised %s%s on %s; the provider goes on as if it had not, and this "
            "hook's further errors there are not logged",
            credential.name,
            type(self.hook).__name__,
            type(error).__name__,
            f" ({text})" if text else "",
            what,
        )
        log_traceback(credential.name, "the hook raised", error)


@final
class _FencedMint:
    """The user's mint context, entered and left under the fence; never swallows anything."""

    __slots__ = ("_credential", "_entered", "_fence", "_inner", "attempt")

    def __init__(self, fence: FencedHook, credential: CredentialInfo, attempt: int) -> None:
        self._fence, self._credential, self.attempt = fence, credential, attempt
        self._inner: AbstractAsyncContextManager[object] | None = None
        self._entered = False

    async def __aenter__(self) -> None:
        try:
            self._inner = self._fence.hook.mint(self._credential, self.attempt)  # type: ignore[union-attr]
            await self._inner.__aenter__()
            self._entered = True
        except Exception as error:
            self._fence._report(self._credential, "a mint", "mint", error)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # None: the mint's own outcome always stands
        if not self._entered or self._inner is None:
            return
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        except Exception as error:
            self._fence._report(self._credential, "a mint", "mint", error)
