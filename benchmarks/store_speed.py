"""How fast is the SQLite store? Reads, compare-and-swap, batches, and bytes per record.

Figures, each beside a baseline measured in the same run:

- ``get`` p50 and p99 against a raw ``sqlite3`` primary-key read of the same row through
  ``anyio.to_thread`` (goal <= 1.5x);
- compare-and-swap updates per second (``get`` then ``update``) from one process, and from
  two processes at once on one file (each on its own record);
- ``create_many(100)`` against 100 ``create`` calls (goal >= 5x faster);
- bytes per record on disk (the file after a checkpoint, over the records in it).

Run: ``.venv/bin/python benchmarks/store_speed.py``
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import attrs

from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell.store_contract import record
from mintgate.shell.testing import PlainCipher

_UPDATER = """
import sys, time, anyio, attrs
from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell import CredentialId
from mintgate.shell.testing import PlainCipher
store = SQLiteStore(sys.argv[1], PlainCipher(), busy_timeout=30.0)
async def main():
    credential, count = CredentialId.parse(sys.argv[2]), int(sys.argv[3])
    for n in range(count):
        current = await store.get(credential)
        await store.update(attrs.evolve(current, state={"api_key": f"v{n}"}), current.revision)
anyio.run(main)
"""


def _raw_read(raw: sqlite3.Connection, credential: str) -> object:
    return raw.execute("SELECT * FROM records WHERE id = ?", (credential,)).fetchone()


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def reads(folder: Path, records: int, reads_count: int) -> tuple[float, float, float, float]:
    store = SQLiteStore(folder / "reads.db", PlainCipher())
    made = await store.create_many([record() for _ in range(records)])
    ids = [result.unwrap().id for result in made]
    raw = sqlite3.connect(store.path, check_same_thread=False)
    ours: list[float] = []
    bare: list[float] = []
    for n in range(reads_count):
        credential = ids[n % len(ids)]
        started = time.perf_counter()
        await store.get(credential)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        await anyio.to_thread.run_sync(partial(_raw_read, raw, credential))
        bare.append(time.perf_counter() - started)
    raw.close()
    return (*_quantiles(ours), *_quantiles(bare))


async def one_process_updates(folder: Path, count: int) -> float:
    store = SQLiteStore(folder / "cas.db", PlainCipher())
    current = await store.create(record())
    started = time.perf_counter()
    for n in range(count):
        current = await store.update(
            attrs.evolve(current, state={"api_key": f"v{n}"}), current.revision
        )
    return count / (time.perf_counter() - started)


async def two_process_updates(folder: Path, count: int) -> float:
    store = SQLiteStore(folder / "cas2.db", PlainCipher())
    ids = [(await store.create(record())).id for _ in range(2)]
    started = time.perf_counter()
    workers = [
        subprocess.Popen([sys.executable, "-c", _UPDATER, str(store.path), credential, str(count)])
        for credential in ids
    ]
    for worker in workers:
        assert worker.wait(timeout=600) == 0
    return 2 * count / (time.perf_counter() - started)


async def batches(folder: Path, rounds: int) -> tuple[float, float]:
    store = SQLiteStore(folder / "batch.db", PlainCipher())
    one_by_one = batched = float("inf")
    for _ in range(rounds):
        singles, batch = [record() for _ in range(100)], [record() for _ in range(100)]
        started = time.perf_counter()  # the store's work only: the records are built already
        for made in singles:
            await store.create(made)
        one_by_one = min(one_by_one, time.perf_counter() - started)
        started = time.perf_counter()
        await store.create_many(batch)
        batched = min(batched, time.perf_counter() - started)
    return one_by_one, batched


def bytes_per_record(path: Path) -> float:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    return path.stat().st_size / count


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        ours50, ours99, bare50, bare99 = await reads(folder, args.records, args.reads)
        print(f"get, {args.reads:,} reads of {args.records:,} records, microseconds")
        print(f"  SQLiteStore.get        p50 {ours50 * 1e6:7.1f}  p99 {ours99 * 1e6:7.1f}")
        print(f"  raw sqlite3 via thread p50 {bare50 * 1e6:7.1f}  p99 {bare99 * 1e6:7.1f}")
        ratios = f"p50 {ours50 / bare50:7.2f}x p99 {ours99 / bare99:6.2f}x"
        print(f"  ratio                  {ratios}   goal <= 1.5x")
        one = await one_process_updates(folder, args.updates)
        two = await two_process_updates(folder, args.updates)
        print(f"\ncompare-and-swap updates per second: one process {one:,.0f},", end="")
        print(f" two processes {two:,.0f}")
        slow, fast = await batches(folder, args.rounds)
        print(
            f"\n100 records: 100 x create {slow * 1e3:.1f} ms, create_many(100) "
            f"{fast * 1e3:.1f} ms: {slow / fast:.1f}x faster   goal >= 5x"
        )
        print(f"\nbytes per record on disk: {bytes_per_record(folder / 'batch.db'):,.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}\n")
    anyio.run(run, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
