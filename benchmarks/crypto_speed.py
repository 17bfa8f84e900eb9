"""What does encryption at rest cost? Sealing and opening, SQLite writes and reads, and bytes.

Figures, each beside a baseline measured in the same run:

- sealing and opening one record (its state and its token, as a store does) with ``Keyring``,
  against a plain copy of the same bytes and against ``PlainCipher`` (no encryption);
- ``SQLiteStore`` ``create``, compare-and-swap ``update`` and ``get`` with a ``Keyring``
  against the same with ``PlainCipher`` (ratio);
- bytes of overhead: a sealed part against its plaintext, and the file per record.

Run: ``.venv/bin/python benchmarks/crypto_speed.py``
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import attrs

from mintgate.adapters.crypto import Keyring
from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell import Cipher, CredentialId, CredentialRecord, StoredToken
from mintgate.shell.testing import PlainCipher

AD = b"mintgate-record-v1\0state\0" + b"0" * 36 + b"\0org:acme/team:eng\0oauth2_refresh_token\x001"


def oauth_record() -> CredentialRecord:
    """A typical record: a refresh-token credential and its last access token."""
    state = {
        "token_url": "https://auth.example.com/oauth/token",
        "client_id": "billing-service",
        "client_secret": "cs_" + "x" * 40,
        "refresh_token": "rt_" + "y" * 60,
        "scope": "invoices:read invoices:write",
        "auth_method": "client_secret_basic",
    }
    token = StoredToken("at_" + "z" * 800, expires_at=2e9, issued_at=1.9e9)  # a JWT-sized token
    return CredentialRecord(
        CredentialId.new(), "org:acme/team:eng", "oauth2_refresh_token", 1, state, token
    )


@attrs.define
class Capture:
    """A ``Cipher`` that keeps what it is given to seal."""

    plaintexts: list[bytes]

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        self.plaintexts.append(plaintext)
        return plaintext

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        return sealed

    def key_id(self, sealed: bytes) -> str | None:
        return None


def best(fn: Callable[[], object], count: int, repeats: int) -> float:
    """Seconds per call, best of ``repeats`` runs of ``count`` calls."""
    fastest = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        fastest = min(fastest, (time.perf_counter() - started) / count)
    return fastest


def per_record(count: int, repeats: int) -> None:
    from mintgate.shell._records import seal_state, seal_token  # noqa: PLC0415 - the store's own

    keyring, plain, made = Keyring(Keyring.generate()), PlainCipher(), oauth_record()
    parts: list[bytes] = []  # the plaintexts a store seals for this record
    seal_state(Capture(parts), made)
    seal_token(Capture(parts), made)
    sealed = [keyring.seal(part, AD) for part in parts]

    def copy() -> None:
        for part in parts:
            bytearray(part)

    def ciphered(cipher: Cipher) -> Callable[[], None]:
        def run() -> None:
            for part in parts:
                cipher.seal(part, AD)

        return run

    def opened() -> None:
        for part in sealed:
            keyring.open(part, AD)

    base = best(copy, count, repeats)
    figures = {
        "plain copy of the bytes": base,
        "PlainCipher seal": best(ciphered(plain), count, repeats),
        "Keyring seal": best(ciphered(keyring), count, repeats),
        "Keyring open": best(opened, count, repeats),
    }
    sizes = " + ".join(str(len(part)) for part in parts)
    print(f"one record's state and token ({sizes} bytes), microseconds per record")
    for label, seconds in figures.items():
        print(f"  {label:24} {seconds * 1e6:7.2f}   {seconds / base:6.1f}x the copy")
    overhead = [len(s) - len(p) for s, p in zip(sealed, parts, strict=True)]
    print(f"\nbytes of overhead per sealed part: {overhead[0]} (state), {overhead[1]} (token)")


async def store_ops(path: Path, cipher: Cipher, records: int) -> dict[str, float]:
    store = SQLiteStore(path, cipher)
    made = [oauth_record() for _ in range(records)]
    started = time.perf_counter()
    for one in made:
        await store.create(one)
    created = (time.perf_counter() - started) / records
    started = time.perf_counter()
    for one in made:
        current = await store.get(one.id)
        await store.update(attrs.evolve(current, display_name="x"), current.revision)
    updated = (time.perf_counter() - started) / records
    started = time.perf_counter()
    for one in made:
        await store.get(one.id)
    read = (time.perf_counter() - started) / records
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"create": created, "get + update": updated, "get": read, "bytes": path.stat().st_size}


async def stores(records: int, repeats: int) -> None:
    keyring = Keyring(Keyring.generate())
    results: dict[str, dict[str, float]] = {"plain": {}, "keyring": {}}
    with tempfile.TemporaryDirectory() as name:
        for round_ in range(repeats):  # alternate, so both see the same machine
            for label, cipher in (("plain", PlainCipher()), ("keyring", keyring)):
                path = Path(name) / f"{label}-{round_}.db"
                figures = await store_ops(path, cipher, records)
                for key, value in figures.items():
                    results[label][key] = min(results[label].get(key, float("inf")), value)
    print(f"\nSQLiteStore, {records:,} records, microseconds per record (best of {repeats})")
    print(f"  {'':14} {'PlainCipher':>12} {'Keyring':>10} {'ratio':>8}")
    for key in ("create", "get + update", "get"):
        plain, ciphered = results["plain"][key], results["keyring"][key]
        print(f"  {key:14} {plain * 1e6:12.1f} {ciphered * 1e6:10.1f} {ciphered / plain:7.2f}x")
    plain_bytes = results["plain"]["bytes"] / records
    keyring_bytes = results["keyring"]["bytes"] / records
    print(
        f"  bytes/record   {plain_bytes:12,.0f} {keyring_bytes:10,.0f}"
        f" {keyring_bytes / plain_bytes:7.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="seals per timing")
    parser.add_argument("--records", type=int, default=1000, help="records per store run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}\n")
    per_record(args.count, args.repeats)
    anyio.run(stores, args.records, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
