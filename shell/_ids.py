"""What names a credential: a ``CredentialId`` (a random UUID) and a ``Scope`` (a tenant path).

Both are ``str`` subclasses: an id is a dict key on the hot path of a manager with many
credentials, so it must hash and compare at C speed, and both go into stores and logs as the
plain text they are. Each is built only through ``parse`` (or ``CredentialId.new``), which
checks it, so a value of either type is valid by construction.
"""

from __future__ import annotations

import re
import uuid
from typing import Self, final

__all__ = ["CredentialId", "Scope"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KIND = re.compile(r"[a-z][a-z0-9-]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

MAX_SEGMENT = 64
MAX_DEPTH = 8


@final
class CredentialId(str):
    """A credential's id: a random UUID in canonical text form (lower-case, hyphenated)."""

    __slots__ = ()

    @classmethod
    def new(cls) -> CredentialId:
        """A fresh random id (UUID version 4)."""
        return str.__new__(cls, str(uuid.uuid4()))

    @classmethod
    def parse(cls, text: object) -> CredentialId:
        """``text`` as an id.

        Raises:
            ValueError: It is not a UUID in canonical form (naming what was given).
        """
        if isinstance(text, CredentialId):
            return text
        if not isinstance(text, str) or not _UUID.fullmatch(text):
            shown = repr(text)[:60]
            raise ValueError(
                f"a credential id is a UUID in canonical form (8-4-4-4-12 lower-case hex), "
                f"got {shown}"
            )
        return str.__new__(cls, text)

    def __repr__(self) -> str:
        return f"CredentialId({str(self)!r})"


@final
class Scope(str):
    """A tenant path, ``org:acme/team:eng/service:api``: up to 8 segments ``kind:name``.

    A kind is ``[a-z][a-z0-9-]*``, a name ``[A-Za-z0-9][A-Za-z0-9._-]*``, each at most 64
    characters. A scope contains itself and every scope below it: ``org:acme`` contains
    ``org:acme/team:eng``, not ``org:acme-labs``.
    """

    __slots__ = ()

    @classmethod
    def parse(cls, text: object) -> Scope:
        """``text`` as a scope.

        Raises:
            ValueError: Naming the bad segment and what is wrong with it.
        """
        if isinstance(text, Scope):
            return text
        if not isinstance(text, str) or not text:
            raise ValueError(f"a scope is a non-empty string like org:acme/team:eng, got {text!r}")
        segments = text.split("/")
        if len(segments) > MAX_DEPTH:
            raise ValueError(f"scope {text[:200]!r} is {len(segments)} deep; at most {MAX_DEPTH}")
        for position, segment in enumerate(segments, start=1):
            _check_segment(text, position, segment)
        return str.__new__(cls, text)

    @property
    def segments(self) -> tuple[tuple[str, str], ...]:
        """``(kind, name)`` pairs from the top down."""
        return tuple((kind, name) for kind, _, name in (s.partition(":") for s in self.split("/")))

    @property
    def parent(self) -> Scope | None:
        """The scope one level up, or None at the top."""
        head, slash, _ = self.rpartition("/")
        return str.__new__(Scope, head) if slash else None

    def contains(self, other: str) -> bool:
        """Whether ``other`` is this scope or below it (by whole segments)."""
        return other == self or other.startswith(self + "/")

    def child(self, kind: str, name: str) -> Self:
        """The scope one level down."""
        return type(self).parse(f"{self}/{kind}:{name}")

    def __repr__(self) -> str:
        return f"Scope({str(self)!r})"


def _check_segment(text: str, position: int, segment: str) -> None:
    kind, colon, name = segment.partition(":")
    where = f"scope {text[:200]!r}: segment {position} {segment[:80]!r}"
    if not colon:
        raise ValueError(f"{where} must be kind:name")
    if not _KIND.fullmatch(kind):
        raise ValueError(f"{where} has kind {kind[:80]!r}, not [a-z][a-z0-9-]*")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{where} has name {name[:80]!r}, not [A-Za-z0-9][A-Za-z0-9._-]*")
    if len(kind) > MAX_SEGMENT or len(name) > MAX_SEGMENT:
        raise ValueError(f"{where} is too long: kind and name are at most {MAX_SEGMENT} each")
