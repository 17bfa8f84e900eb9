"""Several OS processes on one SQLite file: compare-and-swap, claims, and a writer killed mid-batch.

Real processes (``python -c``), a real file, real SIGKILL; the parent process checks the file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import attrs
import pytest

from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell import Claim, ClaimHeld, CredentialId, StaleFence
from mintgate.shell.store_contract import record
from mintgate.shell.testing import PlainCipher

pytestmark = pytest.mark.anyio

PRELUDE = """
import json, sys, time
import anyio, attrs
from mintgate.adapters.sqlite import SQLiteStore
from mintgate.shell import Claim, CredentialId, RevisionConflict, StaleFence
from mintgate.shell.store_contract import record
from mintgate.shell.testing import PlainCipher
store = SQLiteStore(sys.argv[1], PlainCipher(), busy_timeout=30.0)
"""


def child(code: str, *args: str) -> subprocess.Popen[str]:
    script = PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120.0) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


HAMMER = """
credential = CredentialId.parse(sys.argv[2])
async def main():
    done = conflicts = 0
    while done < int(sys.argv[3]):
        current = await store.get(credential)
        n = current.state["count"] + 1
        try:
            changed = attrs.evolve(current, state={"api_key": "k", "count": n})
            await store.update(changed, current.revision)
            done += 1
        except RevisionConflict:
            conflicts += 1
    print(json.dumps({"done": done, "conflicts": conflicts}))
anyio.run(main)
"""


async def test_two_processes_hammering_compare_and_swap_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path, PlainCipher())
    made = await store.create(attrs.evolve(record(), state={"api_key": "k", "count": 0}))
    workers = [child(HAMMER, str(path), made.id, "150") for _ in range(2)]
    reports = [json.loads(finish(worker)) for worker in workers]
    final = await store.get(made.id)
    successes = sum(report["done"] for report in reports)
    assert successes == 300
    assert final.revision == 1 + successes  # no lost update
    assert final.state["count"] == successes  # each one built on the one before
    assert sum(report["conflicts"] for report in reports) > 0  # and they did collide


STALLER = """
credential = CredentialId.parse(sys.argv[2])
async def main():
    claim = await store.claim(credential, "staller", 1.0)
    print(json.dumps({"fence": claim.fence}), flush=True)
    time.sleep(2.5)  # stalls past its ttl while holding nothing any more
    current = await store.get(credential)
    try:
        changed = attrs.evolve(current, state={"api_key": "late"})
        await store.update(changed, current.revision, claim.fence)
        print(json.dumps({"late_write": "accepted"}))
    except StaleFence as error:
        print(json.dumps({"late_write": "refused", "newest": error.newest_fence}))
anyio.run(main)
"""


async def test_a_holder_that_stalls_past_its_ttl_has_its_late_write_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path, PlainCipher())
    made = await store.create(record())
    staller = child(STALLER, str(path), made.id)
    assert staller.stdout is not None
    first = json.loads(staller.stdout.readline())
    assert first["fence"] == 1
    await anyio.sleep(1.3)  # its ttl of 1 s is over
    claim = await store.claim(made.id, "fresh", 10.0)
    assert isinstance(claim, Claim)
    assert claim.fence == 2  # the fence grew across processes
    current = await store.get(made.id)
    fresh = attrs.evolve(current, state={"api_key": "fresh"})
    await store.update(fresh, current.revision, claim.fence)
    late = json.loads(finish(staller))
    assert late == {"late_write": "refused", "newest": 2}
    assert (await store.get(made.id)).state == {"api_key": "fresh"}


HOLDER = """
credential = CredentialId.parse(sys.argv[2])
async def main():
    claim = await store.claim(credential, "doomed", 1.5)
    print(json.dumps({"fence": claim.fence}), flush=True)
    await anyio.sleep_forever()
anyio.run(main)
"""


async def test_a_sigkilled_holders_claim_expires_and_another_process_takes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path, PlainCipher())
    credential = CredentialId.new()
    holder = child(HOLDER, str(path), credential)
    assert holder.stdout is not None
    assert json.loads(holder.stdout.readline()) == {"fence": 1}
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    held = await store.claim(credential, "heir", 5.0)
    assert isinstance(held, ClaimHeld)
    assert held.owner == "doomed"
    await anyio.sleep(max(0.0, held.expires_at - time.time()) + 0.1)
    taken = await store.claim(credential, "heir", 5.0)
    assert isinstance(taken, Claim)
    assert taken.fence == 2
    with pytest.raises(StaleFence):
        await store.renew(Claim(credential, "doomed", 1, held.expires_at))


BATCHER = """
async def main():
    batch = 0
    while True:
        records = [record(secret=f"batch-{batch}-{n}", tags=(f"b{batch}",)) for n in range(200)]
        results = await store.create_many(records)
        assert all(type(result).__name__ == "Success" for result in results)
        batch += 1
        if batch == 1:
            print("first batch", flush=True)
anyio.run(main)
"""


async def test_a_writer_killed_mid_create_many_leaves_each_record_whole_or_absent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    batcher = child(BATCHER, str(path))
    assert batcher.stdout is not None
    assert batcher.stdout.readline().strip() == "first batch"
    await anyio.sleep(0.3)  # mid-way through some later batch
    batcher.send_signal(signal.SIGKILL)
    batcher.wait(timeout=10)
    store = SQLiteStore(path, PlainCipher())
    seen = 0
    cursor = None
    while True:
        page = await store.list(None, limit=1000, cursor=cursor)
        for summary in page.items:
            got = await store.get(summary.id)  # every record there reads whole
            batch = got.tags[0].removeprefix("b")
            assert got.state["api_key"].startswith(f"batch-{batch}-")
            seen += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen >= 200
    assert seen % 200 == 0  # one transaction per batch: whole batches or nothing
