"""GroupCommit: durable writes of many threads share commits; each returns only once it is on disk,
a failing write is undone alone, and a failed commit reports every write in it as failed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zoom_homeroom.storage import GroupCommit, Storage, StorageError

WRITERS = 8


class CountingStorage(Storage):
    """A Storage that counts its durable transactions (and can be made to fail one at its commit)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.durable_commits = 0
        self.fail_next_commit = False

    @contextmanager
    def write(self, *, durable: bool = False, savepoint: bool = True) -> Iterator:
        with super().write(durable=durable, savepoint=savepoint) as db:
            yield db
            if durable and self.fail_next_commit:
                self.fail_next_commit = False
                raise sqlite3.OperationalError("disk I/O error")
        if durable:
            self.durable_commits += 1


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "group.db"
    Storage.open(path).close()  # migrated
    return path


@pytest.fixture
def group(database: Path):
    opened: list[CountingStorage] = []

    def open_counting() -> CountingStorage:
        opened.append(CountingStorage.open(database, migrate=False))
        return opened[-1]

    group = GroupCommit(open_counting)
    group.opened = opened
    yield group
    group.close()


def insert_lock(name: str):
    def write(storage: Storage) -> str:
        storage.db.execute("INSERT INTO locks (name, owner, expires_at) VALUES (?, 't', 'x')", [name])
        return name

    return write


def names_on_disk(database: Path) -> set[str]:
    """Read through a fresh connection: what another process would see."""
    conn = sqlite3.connect(database)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM locks")}
    finally:
        conn.close()


def test_a_write_alone_commits_at_once_and_returns_its_result(group, database):
    assert group.write(insert_lock("alone")) == "alone"
    assert names_on_disk(database) == {"alone"}
    assert group.opened[0].durable_commits == 1


def test_writes_queued_during_a_commit_share_the_next_one(group, database):
    first_running, release_first = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow_first(storage: Storage) -> str:
        first_running.set()
        assert release_first.wait(10)
        return insert_lock("first")(storage)

    def run(name: str, write) -> None:
        results[name] = group.write(write)

    first = threading.Thread(target=run, args=("first", slow_first))
    first.start()
    assert first_running.wait(10)
    others = [threading.Thread(target=run, args=(f"w{n}", insert_lock(f"w{n}"))) for n in range(WRITERS - 1)]
    for thread in others:
        thread.start()
    while len(group._queue) < WRITERS - 1:  # every other writer has queued behind the first commit
        threading.Event().wait(0.005)
    assert names_on_disk(database) == set()  # nothing is committed while the first write runs
    release_first.set()
    for thread in [first, *others]:
        thread.join(10)
    expected = {"first", *(f"w{n}" for n in range(WRITERS - 1))}
    assert results == {name: name for name in expected}
    assert names_on_disk(database) == expected
    assert group.opened[0].durable_commits == 2  # the first alone, then the seven together


def test_a_failing_write_is_undone_alone_and_its_thread_gets_the_error(group, database):
    def half_then_fail(storage: Storage) -> None:
        insert_lock("half")(storage)
        raise ValueError("bad delivery")

    started, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def blocker(storage: Storage) -> str:
        started.set()
        assert release.wait(10)
        return insert_lock("blocker")(storage)

    def run(name: str, write) -> None:
        try:
            outcomes[name] = group.write(write)
        except ValueError as error:
            outcomes[name] = error

    threads = [threading.Thread(target=run, args=("blocker", blocker))]
    threads[0].start()
    assert started.wait(10)
    threads += [
        threading.Thread(target=run, args=("bad", half_then_fail)),
        threading.Thread(target=run, args=("good", insert_lock("good"))),
    ]
    for thread in threads[1:]:
        thread.start()
    while len(group._queue) < 2:
        threading.Event().wait(0.005)
    release.set()
    for thread in threads:
        thread.join(10)
    assert isinstance(outcomes["bad"], ValueError) and str(outcomes["bad"]) == "bad delivery"
    assert outcomes["good"] == "good" and outcomes["blocker"] == "blocker"
    assert names_on_disk(database) == {"blocker", "good"}  # "half" was rolled back with its write


def test_a_failed_commit_fails_every_write_in_it_and_nothing_is_kept(group, database):
    group.write(insert_lock("before"))
    group.opened[0].fail_next_commit = True
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        group.write(insert_lock("lost"))
    assert names_on_disk(database) == {"before"}
    assert group.write(insert_lock("after")) == "after"  # the next commit works again
    assert names_on_disk(database) == {"before", "after"}


def test_close_then_write_opens_a_new_connection(group, database):
    group.write(insert_lock("one"))
    group.close()
    group.write(insert_lock("two"))
    assert len(group.opened) == 2
    assert names_on_disk(database) == {"one", "two"}


def test_a_write_waiting_longer_than_the_limit_gives_up_with_a_storage_error(group, monkeypatch):
    import zoom_homeroom.storage.db as db

    monkeypatch.setattr(db, "GROUP_COMMIT_WAIT_SECONDS", 0.05)
    started, release = threading.Event(), threading.Event()

    def stuck(storage: Storage) -> None:
        started.set()
        assert release.wait(10)

    thread = threading.Thread(target=group.write, args=(stuck,))
    thread.start()
    assert started.wait(10)
    with pytest.raises(StorageError, match="waited over 0.05 s"):
        group.write(insert_lock("late"))
    release.set()
    thread.join(10)
    assert group.write(insert_lock("next")) == "next"  # the queue is not left stuck
