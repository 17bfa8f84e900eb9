"""Encryption at rest (extra ``crypto``): a keyring of AES-256-GCM keys, and re-encryption.

A store seals each record's state and token through the shell's ``Cipher`` port; this module is
the cipher production uses. :class:`Keyring` seals under one primary key and opens under any key
it holds, so keys rotate without a flag day: add the new key as primary, keep the old one for
opening, run :func:`reencrypt`, then drop the old key.

The envelope (an on-disk format; ``docs/storage.md`` shows it byte by byte)::

    [0]      format version, 1
    [1:9]    key id: the first 8 bytes of SHA-256(key)
    [9:21]   nonce: 12 random bytes, fresh for every seal
    [21:-16] ciphertext (as long as the plaintext)
    [-16:]   GCM tag

The associated data authenticated with it is bytes 0-8 (version and key id) followed by what the
store binds the part to (record id, scope, type, state version, part), so a sealed part moved to
another record, or a header edited, fails to open.

This module imports ``cryptography``; ``import mintgate.adapters`` does not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NoReturn, final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mintgate.shell import (
    CredentialId,
    RecordNotFound,
    RecordUnreadable,
    RevisionConflict,
    StateStore,
)

__all__ = [
    "FORMAT",
    "OVERHEAD",
    "Keyring",
    "KeyringError",
    "ReencryptReport",
    "SealRefused",
    "reencrypt",
]

log = logging.getLogger("mintgate.adapters")

FORMAT = 1
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = 1 + KEY_ID_BYTES  # version and key id, authenticated as associated data
_PREFIX = _HEADER + NONCE_BYTES
OVERHEAD = _PREFIX + TAG_BYTES
"""Bytes a sealed part is longer than its plaintext: 37."""

_URLSAFE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class KeyringError(ValueError):
    """A key could not be had: missing, not base64, not 32 bytes, or a key file others can read.
    The message names the source (an argument, a variable, a file), never a key."""


class SealRefused(ValueError):
    """Bytes the keyring cannot open; ``reason`` says why (a key id in hex, never a key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_id_of(key: bytes) -> bytes:
    """A key's id: the first 8 bytes of its SHA-256 (it needs no registry and hides the key)."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


def _refuse(source: str, why: str) -> NoReturn:
    """Raise the error, without the base64 or OS error it may be raised during: the cause
    chain of a key error carries nothing from the key's bytes."""
    raise KeyringError(f"{source}: {why}") from None


def decode_key(text: object, source: str) -> bytes:
    """The 32 bytes of a base64 key (standard or URL-safe alphabet, padded or not)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            _refuse(source, "a key is base64 text, and this is not ASCII")
    if not isinstance(text, str):
        _refuse(source, f"a key is base64 text, not {type(text).__name__}")
    text = text.strip()
    if not text:
        _refuse(source, "the key is empty")
    try:
        if _URLSAFE.fullmatch(text):
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        else:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        _refuse(source, "the key is not base64")
    if len(key) != KEY_BYTES:
        _refuse(
            source,
            f"the key decodes to {len(key)} bytes; a key is {KEY_BYTES} random bytes in base64 "
            "(Keyring.generate() makes one)",
        )
    return key


def read_key_file(path: str, source: str) -> bytes:
    """A key from a file of its own, refused (on POSIX) if group or others may read it."""
    where = f"{source} ({path})"
    try:
        mode = os.stat(path).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            _refuse(
                where,
                f"the key file is open to group or others (mode {stat.S_IMODE(mode):04o}); "
                f"chmod 600 {path}",
            )
        text = Path(path).read_bytes()
    except OSError as error:
        _refuse(where, f"the key file cannot be read ({type(error).__name__})")
    return decode_key(text, where)


@attrs.frozen
class _Key:
    id: bytes
    aead: AESGCM = attrs.field(repr=False)


def _environment_keys(environ: Mapping[str, str]) -> tuple[bytes, list[bytes]]:
    """The primary and old keys from the environment: variables before files."""
    key, key_file = environ.get("MINTGATE_KEY"), environ.get("MINTGATE_KEY_FILE")
    if key:
        primary = decode_key(key, "MINTGATE_KEY")
        if key_file:
            log.warning("MINTGATE_KEY_FILE is ignored: MINTGATE_KEY is set and comes first")
    elif key_file:
        primary = read_key_file(key_file, "MINTGATE_KEY_FILE")
    else:
        raise KeyringError(
            "no key: pass one to Keyring(...), or set MINTGATE_KEY or MINTGATE_KEY_FILE "
            "(Keyring.generate() makes one; a key is never generated silently)"
        )
    old = [
        decode_key(text, f"MINTGATE_OLD_KEYS item {n}")
        for n, text in enumerate(_items(environ.get("MINTGATE_OLD_KEYS")), 1)
    ]
    old += [
        read_key_file(path, f"MINTGATE_OLD_KEY_FILES item {n}")
        for n, path in enumerate(_items(environ.get("MINTGATE_OLD_KEY_FILES")), 1)
    ]
    return primary, old


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


@final
class Keyring:
    """AES-256-GCM keys: one primary that seals, older ones kept for opening. A ``Cipher``.

    Keys are base64 of 32 random bytes. Sources, in this order:

    1. keys passed in code: ``Keyring(primary, old=[...])`` (then the environment is not read);
    2. ``MINTGATE_KEY`` (the primary) and ``MINTGATE_OLD_KEYS`` (comma-separated);
    3. ``MINTGATE_KEY_FILE`` (the primary, if ``MINTGATE_KEY`` is not set) and
       ``MINTGATE_OLD_KEY_FILES`` (comma-separated paths; one key per file). Old keys from
       variables and files are all kept.

    A missing key, bad base64, a key that is not 32 bytes, or (on POSIX) a key file that group
    or others may read is a :class:`KeyringError` naming the source. A key is never generated
    silently: :meth:`generate` makes one for a person to store. ``repr`` shows key ids only.

    Args:
        primary: The key that seals (base64 text), or None to read the environment.
        old: Keys that only open (records sealed before a rotation).
        environ: Where the variables are read (``os.environ`` by default).
    """

    def __init__(
        self,
        primary: str | bytes | None = None,
        old: Iterable[str | bytes] = (),
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(old, str | bytes):
            raise KeyringError("old: a collection of keys, not one string")
        old = list(old)
        if primary is not None:
            first = decode_key(primary, "primary")
            others = [decode_key(text, f"old key {n}") for n, text in enumerate(old, 1)]
        elif old:
            raise KeyringError("old keys were passed without a primary key")
        else:
            first, others = _environment_keys(os.environ if environ is None else environ)
        self._keys: dict[bytes, _Key] = {}
        for key in (first, *others):
            key_id = key_id_of(key)
            self._keys.setdefault(key_id, _Key(key_id, AESGCM(key)))
        self._primary = self._keys[key_id_of(first)]

    @staticmethod
    def generate() -> str:
        """A new key, as base64 text, for a person to store (a secret manager, a 0600 file)."""
        return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")

    def __repr__(self) -> str:
        old = ", ".join(key_id.hex() for key_id in self._keys if key_id != self._primary.id)
        return f"Keyring(primary={self.primary_key_id}, old=[{old}])"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Keyring is not pickled: it holds keys")

    @property
    def primary_key_id(self) -> str:
        """The primary key's id, 16 hex characters."""
        return self._primary.id.hex()

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key's id, the primary's first."""
        return tuple(key_id.hex() for key_id in self._keys)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        header = bytes((FORMAT,)) + self._primary.id
        nonce = os.urandom(NONCE_BYTES)
        return (
            header + nonce + self._primary.aead.encrypt(nonce, plaintext, header + associated_data)
        )

    def key_id(self, sealed: bytes) -> str | None:
        """The id of the key that sealed these bytes, read from their header (None if they are
        not an envelope this keyring knows)."""
        if len(sealed) < _HEADER or sealed[0] != FORMAT:
            return None
        return bytes(sealed[1:_HEADER]).hex()

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        if len(sealed) < OVERHEAD:
            raise SealRefused(f"it is {len(sealed)} bytes, too short to be sealed")
        if sealed[0] != FORMAT:
            raise SealRefused(f"its envelope format {sealed[0]} is unknown (this reads {FORMAT})")
        key_id = bytes(sealed[1:_HEADER])
        key = self._keys.get(key_id)
        if key is None:
            raise SealRefused(
                f"it was sealed under key {key_id.hex()}, which the keyring does not hold"
            )
        nonce = sealed[_HEADER:_PREFIX]
        try:
            return key.aead.decrypt(nonce, sealed[_PREFIX:], sealed[:_HEADER] + associated_data)
        except InvalidTag:
            raise SealRefused(
                f"it fails authentication under key {key_id.hex()}: altered, or sealed for "
                "another record, scope, type or version"
            ) from None


@final
@attrs.frozen
class ReencryptReport:
    """What :func:`reencrypt` did: records sealed anew under the primary key, records it found
    under the primary already, and each record it could not reseal, with the reason."""

    resealed: int
    skipped: int
    failed: tuple[tuple[CredentialId, str], ...]


async def reencrypt(
    store: StateStore, keyring: Keyring, *, page_size: int = 200
) -> ReencryptReport:
    """Seal every record of ``store`` under the keyring's primary key.

    Page by page, by id: a record the listing shows sealed under the primary is skipped (so an
    interrupted run, run again, goes on where it stopped); any other is read and written back
    with compare-and-swap, which seals it anew (its revision grows by one). A record written by
    someone else meanwhile is read again. A record that does not open is reported and left
    byte for byte as it is; the others go on. A store that is unavailable stops the run (run it
    again later).

    Raises:
        ValueError: ``store`` does not seal with ``keyring``.
    """
    if store.cipher is not keyring:
        raise ValueError("reencrypt needs the store built with this keyring as its cipher")
    primary = keyring.primary_key_id
    resealed = skipped = 0
    failed: list[tuple[CredentialId, str]] = []
    cursor: str | None = None
    while True:
        page = await store.list(None, limit=page_size, cursor=cursor)
        for summary in page.items:
            if summary.sealed_by == primary:
                skipped += 1
                continue
            outcome = await _reseal(store, summary.id)
            if outcome is None:
                resealed += 1
            elif outcome:
                failed.append((summary.id, outcome))
        cursor = page.next_cursor
        if cursor is None:
            break
    if resealed or failed:
        log.info("reencrypt: %d resealed, %d skipped, %d failed", resealed, skipped, len(failed))
    return ReencryptReport(resealed, skipped, tuple(failed))


async def _reseal(store: StateStore, credential_id: CredentialId) -> str | None:
    """None once resealed; ``""`` if the record is gone; else why it could not be."""
    for _ in range(5):
        try:
            record = await store.get(credential_id)
            await store.update(record, expected_revision=record.revision)
        except RevisionConflict:
            continue  # written meanwhile, and sealed by that writer: read it again
        except RecordNotFound:
            return ""  # deleted meanwhile: nothing left to seal
        except RecordUnreadable as error:
            return error.reason
        return None
    return "it kept changing under compare-and-swap"
