"""One connection to the database and its writes: queued, transactional, durable when asked, plus the
named locks processes take. No table of the service's own is known here but `locks`.

Every connection uses WAL (web workers and the scheduler share the file), a long busy timeout, and
`BEGIN IMMEDIATE` for writes, taken in turn on a file lock, so processes queue for the write lock
instead of failing with "database is locked". A write acknowledged to someone outside (a webhook's
2xx) uses `write(durable=True)`: once answered, it is on disk. `GroupCommit` lets the threads of a
process share those durable commits: one transaction and one fsync for whatever they queued meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from sqlite_utils import Database

try:
    import fcntl
except ImportError:  # not on Windows: the busy handler alone queues writers there
    fcntl = None  # type: ignore[assignment]

from ..core.times import parse_utc_text, to_utc_text
from ..errors import HomeroomError

BUSY_TIMEOUT_MS = 30_000
# fdatasync flushes the data and whatever metadata reading it back needs (the size, when the WAL
# grew), but not the modification time: as SQLite itself syncs on Linux, and much faster than fsync
# on ext4 once the WAL is being rewritten in place after a checkpoint. Where it is missing, fsync.
_sync = getattr(os, "fdatasync", os.fsync)
# How long a thread waits for the group commit that holds its write: past the busy timeout, so only a
# stuck commit (never a queue of writers) gives up, and the caller answers an error, never a 2xx.
GROUP_COMMIT_WAIT_SECONDS = BUSY_TIMEOUT_MS / 1000 + 5
# Under load (the last commit held more than one write), the committer waits this long before taking
# the queue, so the threads already parsing their deliveries join this commit instead of the next: at
# 8 threads a commit holds 6-7 deliveries instead of 4-5, for 10-20% more deliveries a second. A
# delivery arriving alone never waits.
GROUP_COMMIT_WINDOW_SECONDS = 0.0003


class StorageError(HomeroomError):
    """The database cannot be used (unreadable file, newer schema, …)."""


def connect(path: Path | str) -> Database:
    """Open the database with the pragmas every process needs."""
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN IMMEDIATE ourselves
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as error:
        raise permission_error(path, error) or StorageError(
            f"{path}: cannot open the database: {error}"
        ) from None
    return Database(conn, execute_plugins=False)


# What SQLite says when the file or its folder cannot be written (it keeps -wal and -shm beside it).
_PERMISSION_MESSAGES = ("attempt to write a readonly database", "unable to open database file")


def permission_error(path: Path | str, error: sqlite3.Error | None = None) -> StorageError | None:
    """A one-line StorageError naming the file and the permission it lacks, for an error its
    permissions caused (None for any other error). Without an error: whether the file and its folder
    can be written at all (None when they can)."""
    if error is not None and not any(message in str(error) for message in _PERMISSION_MESSAGES):
        return None
    database = Path(path)
    folder = database.parent.resolve()
    if database.exists() and not os.access(database, os.R_OK):
        lacking = "cannot be read: this user needs read and write permission on the file"
    elif database.exists() and not os.access(database, os.W_OK):
        lacking = "is read-only: this user needs write permission on the file"
    elif not os.access(folder, os.W_OK):
        lacking = (
            f"is in a read-only folder: this user needs write permission on {folder}, where SQLite "
            f"keeps {database.name}-wal and {database.name}-shm"
        )
    elif error is None:
        return None
    else:
        lacking = f"cannot be written ({error}): check the file, its folder and the file system"
    return StorageError(f"{database}: the database {lacking}")


class _WriterQueue:
    """Writers of one database queue on a file lock before `BEGIN IMMEDIATE`.

    SQLite's busy handler polls with sleeps of up to 100 ms, so under steady writes one writer can
    starve for seconds while another keeps winning. A blocking `flock` is granted as soon as the
    holder releases it: the wait is the other writers' work, not a sleep. Where there is no file
    (an in-memory database) or no `fcntl`, the busy handler alone still keeps writes correct.
    """

    def __init__(self, path: Path | str):
        self._fd: int | None = None
        if fcntl is None or str(path) in ("", ":memory:"):
            return
        with contextlib.suppress(OSError):
            self._fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Connection:
    """A connection to the database with its writer queue; every storage area builds on it."""

    def __init__(self, db: Database, *, path: Path | str = ""):
        self.db = db
        self._path = str(path)
        self._writers = _WriterQueue(path)
        self._wal_fd: int | None = None

    def close(self) -> None:
        self.db.close()
        self._writers.close()
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None

    def check_writable(self) -> None:
        """Raise the one-line StorageError when the file or its folder cannot be written: a service that
        could only read would refuse every webhook."""
        if self._path not in ("", ":memory:") and (problem := permission_error(self._path)):
            raise problem

    def ping(self) -> bool:
        """True when the database answers a query."""
        return self.db.execute("SELECT 1").fetchone() == (1,)

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, durable: bool = False, savepoint: bool = True) -> Iterator[Database]:
        """One write transaction. Nested calls become savepoints of the outer one (or, with
        `savepoint=False`, simply part of it: for single statements the outer one covers).

        `durable=True` returns only once the transaction is on disk: use it where the write is
        acknowledged to someone (a webhook's 2xx). The commit itself runs with synchronous=NORMAL,
        which writes the WAL frames but does not fsync them; the WAL is then fsynced after the
        write lock is released, so other writers need not wait for this disk flush, and flushes of
        concurrent writers coalesce in the filesystem. Frames a checkpoint moved meanwhile are safe
        too: a checkpoint syncs the WAL before it and the database after it.
        """
        conn = self.db.conn
        if conn.in_transaction:
            if not savepoint:
                yield self.db
                return
            with self.db.atomic():
                yield self.db
            return
        wal = self._wal() if durable else None
        fallback = durable and wal is None
        if fallback:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            with self._writers.turn():
                self._begin()
                try:
                    yield self.db
                except BaseException as error:
                    conn.execute("ROLLBACK")
                    if isinstance(error, sqlite3.OperationalError):
                        raise permission_error(self._path, error) or error from None
                    raise
                conn.execute("COMMIT")
        finally:
            if fallback:
                conn.execute("PRAGMA synchronous = NORMAL")
        if wal is not None:
            _sync(wal)

    def _begin(self) -> None:
        """BEGIN IMMEDIATE: where the database cannot be written, the one-line StorageError saying why."""
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise permission_error(self._path, error) or error from None

    def _wal(self) -> int | None:
        """A descriptor of the database's WAL file, for fsync; None where there is none (in memory)."""
        if self._wal_fd is None and self._path not in ("", ":memory:"):
            with contextlib.suppress(OSError):
                self._wal_fd = os.open(f"{self._path}-wal", os.O_RDONLY)
        return self._wal_fd

    # -- locks --------------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, *, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Take the named lock unless someone else holds an unexpired one."""
        with self.write():
            row = self.db.execute("SELECT owner, expires_at FROM locks WHERE name = ?", [name]).fetchone()
            if row and row[0] != owner and row[1] > to_utc_text(now):
                return False
            self.db["locks"].upsert(
                {"name": name, "owner": owner, "expires_at": to_utc_text(now + ttl)}, pk="name"
            )
            return True

    def release_lock(self, name: str, owner: str) -> None:
        with self.write():
            self.db["locks"].delete_where("name = ? AND owner = ?", [name, owner])


C = TypeVar("C", bound=Connection)
T = TypeVar("T")


class _Queued:
    """One thread's write waiting in a group commit, and what became of it."""

    __slots__ = ("write", "wake", "woken", "finished", "result", "error")

    def __init__(self, write: Callable[[Connection], object]):
        self.write = write
        # Released (and `woken` set) when the write is finished, or when its thread is to commit next:
        # a bare lock is the cheapest thing a thread can sleep on.
        self.wake = threading.Lock()
        self.wake.acquire()
        self.woken = False
        self.finished = False
        self.result: object = None
        self.error: BaseException | None = None


class GroupCommit(Generic[C]):
    """Durable writes from many threads of one process, committed together.

    `write(function)` queues `function(connection)` and returns its result once the transaction that
    ran it is on disk. One thread at a time commits: it takes every write queued so far (its own among
    them), runs them in one `write(durable=True)` transaction and wakes their threads once the commit
    and its fsync are done. Writes queued meanwhile wait for the next commit, made by the first of
    their threads, which the committer wakes for that. So under load one fsync covers many writes
    (and, while the last commit held several, the committer first waits GROUP_COMMIT_WINDOW_SECONDS
    for the writes on their way); alone, a write commits at once.

    A write that raises is undone alone and its thread gets the exception: the batch is rolled back and
    run again with each write in its own savepoint (so a write must depend on the connection only: it
    may run twice). When the commit itself fails, every write in it gets that error: nothing is
    reported done that is not on disk.

    The connection is this object's own (opened on first use, in the process that uses it: a forked
    gunicorn worker opens its own), used only by the committing thread.
    """

    def __init__(self, open_connection: Callable[[], C]):
        self._open = open_connection
        self._connection: C | None = None
        self._pid = 0
        self._last_batch = 0
        self._lock = threading.Lock()  # guards the queue, `_committing` and every `woken`
        self._queue: list[_Queued] = []
        self._committing = False

    def write(self, function: Callable[[C], T]) -> T:
        """Run `function(connection)` in the next group commit; returns its result once on disk."""
        queued = _Queued(function)  # type: ignore[arg-type]
        with self._lock:
            self._queue.append(queued)
            leads, self._committing = not self._committing, True
        if not leads:
            if not queued.wake.acquire(timeout=GROUP_COMMIT_WAIT_SECONDS):
                self._give_up(queued)
            leads = not queued.finished
        if leads:
            self._commit_queued()
        if queued.error is not None:
            raise queued.error
        return queued.result  # type: ignore[return-value]

    def _give_up(self, queued: _Queued) -> None:
        """After waiting too long: leave the queue and fail, unless woken meanwhile."""
        with self._lock:
            if queued.woken:
                return
            if queued in self._queue:
                self._queue.remove(queued)
        raise StorageError(f"a durable write waited over {GROUP_COMMIT_WAIT_SECONDS:g} s for its commit")

    def _commit_queued(self) -> None:
        if self._last_batch > 1:
            time.sleep(GROUP_COMMIT_WINDOW_SECONDS)
        with self._lock:
            batch, self._queue = self._queue, []
        self._last_batch = len(batch)
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._wake(self._queue[0])  # its thread commits the next batch
                else:
                    self._committing = False

    def _commit(self, batch: list[_Queued]) -> None:
        try:
            connection = self._current()
            try:
                with connection.write(durable=True):
                    for queued in batch:
                        queued.result = queued.write(connection)
            except Exception:
                if len(batch) == 1:
                    raise
                # One of them failed and the batch was rolled back: again, each write on its own.
                with connection.write(durable=True):
                    for queued in batch:
                        self._run_alone(connection, queued)
        except BaseException as error:  # the commit failed: none of these writes is on disk
            for queued in batch:
                queued.error = queued.error or error
        with self._lock:
            for queued in batch:
                queued.finished = True
                self._wake(queued)

    @staticmethod
    def _wake(queued: _Queued) -> None:
        """Call holding `_lock`."""
        if not queued.woken:
            queued.woken = True
            queued.wake.release()

    @staticmethod
    def _run_alone(connection: C, queued: _Queued) -> None:
        """One write in a savepoint of the batch's transaction: a failing write is undone alone."""
        conn = connection.db.conn
        conn.execute("SAVEPOINT group_commit_write")
        try:
            queued.result = queued.write(connection)
        except Exception as error:
            conn.execute("ROLLBACK TO group_commit_write")
            queued.error = error
        conn.execute("RELEASE group_commit_write")

    def _current(self) -> C:
        if self._connection is None or self._pid != os.getpid():
            # A connection inherited through fork is never used (nor closed: it is the parent's).
            self._connection, self._pid = self._open(), os.getpid()
        return self._connection

    def close(self) -> None:
        """Close the connection (a later write opens a new one). Call when no write is in progress."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.close()


def where(
    equal: dict[str, object], *, since: tuple[str, dt.date | None] | None = None
) -> tuple[str, list[object]]:
    """` WHERE a = ? AND ...` for the filters that are given (None: no filter), with its parameters;
    `since` adds `column >= date`. Dates compare as ISO text, as they are stored."""
    clauses, params = [], []
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value.isoformat() if isinstance(value, dt.date) else value)
    if since is not None and since[1] is not None:
        clauses.append(f"{since[0]} >= ?")
        params.append(since[1].isoformat())
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def optional_time(text: str | None) -> dt.datetime | None:
    """A stored time that may be NULL."""
    return parse_utc_text(text) if text else None
