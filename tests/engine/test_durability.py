"""Stop the engine with pending and deferred messages; a restart on the same file keeps them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ensync_tui.engine import EngineServer
from ensync_tui.engine.store import Store
from ensync_tui.protocol import frames

from .conftest import Connect, engine_config


async def test_restart_keeps_pending_deferred_and_acked(
    tmp_path: Path, ids, connect: Connect
) -> None:
    db = str(tmp_path / "engine.db")
    cfg = engine_config(ids, db=db)
    name = "orders/created"
    async with EngineServer(cfg) as first:
        alice = await connect(ids["alice"], server=first)
        bob = await connect(ids["bob"], server=first)
        published = [await alice.pub_ok(name, bob.public_key, {"n": i}) for i in range(4)]
        sent = [p["idem"] for p in published]
        await bob.ok(frames.Sub(bob.client_id, name).encode())
        first = await bob.take(1)
        second = await bob.record()
        await bob.ok(frames.Defer(bob.client_id, second.idem, name, 1500, "later").encode())
        third = await bob.record()  # left unanswered
        assert [r.idem for r in (*first, second, third)] == sent[:3]
        last_block = int(published[-1]["block"])
    # stopped: pending 2 (delivered) and 3, deferred 1, acked 0
    async with EngineServer(engine_config(ids, db=db)) as second:
        assert second.store.delivery_state(sent[0], ids["bob"].public_key) == "acked"
        assert second.store.delivery_state(sent[1], ids["bob"].public_key) == "deferred"
        bob = await connect(ids["bob"], server=second)
        await bob.ok(frames.Sub(bob.client_id, name).encode())
        assert [r.idem for r in await bob.take(2)] == sent[2:]
        again = await bob.record(timeout=5)
        assert again.idem == sent[1]
        await bob.no_record()
        alice = await connect(ids["alice"], server=second)
        new = await alice.pub_ok(name, bob.public_key, {"n": 9})
        assert int(new["block"]) == last_block + 1
        assert new["idem"] not in sent
        reply = await bob.request(frames.Replay(bob.client_id, sent[0], name).encode())
        assert reply.startswith("+REPLAY:")


async def test_deferred_due_while_stopped_is_delivered_at_start(
    tmp_path: Path, ids, connect: Connect
) -> None:
    db = str(tmp_path / "engine.db")
    async with EngineServer(engine_config(ids, db=db)) as first:
        alice = await connect(ids["alice"], server=first)
        bob = await connect(ids["bob"], server=first)
        sent = await alice.pub_ok("orders/created", bob.public_key)
        await bob.ok(frames.Defer(bob.client_id, sent["idem"], "orders/created", 1000, "").encode())
    await asyncio.sleep(1.1)
    async with EngineServer(engine_config(ids, db=db)) as second:
        bob = await connect(ids["bob"], server=second)
        await bob.ok(frames.Sub(bob.client_id, "orders/created").encode())
        assert (await bob.record()).idem == sent["idem"]


def test_store_uses_wal_and_indexes(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "x.db"))
    try:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE idem = ?", ("x",)
        ).fetchall()
        assert "USING INDEX" in str(plan)
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE recipient = ? AND name = ?"
            " AND state = 0 AND seq > 0 ORDER BY seq LIMIT 5",
            ("a", "b"),
        ).fetchall()
        assert "ix_pending" in str(plan)
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    import pytest

    from ensync_tui.engine.store import StoreError

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the engine database"):
        Store(str(bad))


def test_one_database_file_serves_one_engine_at_a_time(tmp_path: Path) -> None:
    import pytest

    from ensync_tui.engine.store import StoreInUse

    db = str(tmp_path / "e.db")
    first = Store(db)
    with pytest.raises(StoreInUse, match="in use by another running engine"):
        Store(db)
    first.close()
    again = Store(db)  # closing gives the file up
    again.close()
    Store(":memory:").close()  # nothing to hold for an in-memory database


async def test_a_second_engine_on_the_same_file_is_refused(tmp_path: Path, ids) -> None:
    import pytest

    from ensync_tui.engine.store import StoreInUse

    db = str(tmp_path / "e.db")
    async with EngineServer(engine_config(ids, db=db)):
        second = EngineServer(engine_config(ids, db=db))
        with pytest.raises(StoreInUse):
            await second.start()
        await second.stop()  # safe after a failed start
