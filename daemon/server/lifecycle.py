"""The daemon: a Unix socket server that turns hook frames into committed rows.

Lifecycle, after uvicorn: `serve()` = start up, wait for SIGTERM/SIGINT, shut down.
- Start-up: private run directory, instance lock, pid file, store (migrated), socket (a stale
  one replaced, anything else at its path refused), then the writer (writer.py), the spool
  replay (replay.py), the sweeper of stalled connections (connection.py) and the store's
  upkeep (upkeep.py).
- Each connection carries one frame; the reply is sent once the event is committed (`OK`),
  put in the spool because the buffer is full (`SPOOLED`), refused for good (`ERR reason`),
  or `BUSY reason` when the daemon cannot take it now (the hook then spools it).
- Forwarding (if configured): one task per sink, woken by each commit (forwarder.py).
- Shut-down: stop accepting, commit what is buffered (a few seconds at most), spool whatever
  could not be committed, one last forwarding attempt (a few seconds at most), close, remove
  the socket and pid file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skilltrack import __version__, config, pause
from skilltrack.config import Settings
from skilltrack.consent import ConsentWatch
from skilltrack.daemon.ingest import pipeline as ingest
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.server import instance, spool, upkeep
from skilltrack.daemon.server.connection import MAX_CONNECTIONS, Connection, Intake
from skilltrack.daemon.server.counters import Counters
from skilltrack.daemon.server.replay import SpoolReplay
from skilltrack.daemon.server.usage import UsageReader
from skilltrack.daemon.server.writer import BufferFull, Writer
from skilltrack.daemon.store.database import check_sqlite, is_corrupt, quarantine
from skilltrack.daemon.store.outbox import ForwardStore, sink_specs
from skilltrack.daemon.store.records import Record
from skilltrack.daemon.store.schema import LegacySchemaError
from skilltrack.daemon.store.tokens import TokenStore
from skilltrack.errors import StartupError
from skilltrack.format import iso
from skilltrack.paths import (
    MAX_SOCKET_PATH,
    InsecurePathError,
    Paths,
    dir_problem,
    ensure_private_dir,
    ensure_private_dirs,
    open_private,
    trust_problem,
    write_private,
)
from skilltrack.wire import ACK_SPOOLED, FrameError, RawFrame, split_frame

if TYPE_CHECKING:
    from skilltrack.daemon.forward.forwarder import Forwarder
    from skilltrack.daemon.report.dashboard import Dashboard

log = logging.getLogger(__name__)

FRAME_TIMEOUT_S = 5.0  # a connection must deliver its whole frame within this
DRAIN_TIMEOUT_S = 3.0
SPOOL_RETRY_S = 2.0  # at shutdown, how long a failing spool is tried before the fallback
LOST_NOTE_BYTES = 4096


class Daemon:
    def __init__(
        self,
        paths: Paths,
        settings: Settings | None = None,
        *,
        frame_timeout: float = FRAME_TIMEOUT_S,
    ) -> None:
        self.paths = paths
        self.settings = settings or Settings()
        self.intake = Intake(frame_timeout=frame_timeout)
        self.counters = Counters()
        self.ingest = ingest.Ingest(
            self.settings,
            SkillLocator(),
            ConsentWatch(paths.consent).granted,
            home=str(Path.home()),
        )
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._signals = 0
        self.failed = False  # a background task died: exit non-zero
        self._store: ForwardStore | None = None
        self._writer: Writer | None = None
        self._forwarder: Forwarder | None = None
        self._usage: UsageReader | None = None
        self._dashboard: Dashboard | None = None
        self.quarantined: str | None = None  # what happened to an unreadable database
        self.lost_at_last_shutdown: str | None = None  # the note a failed shutdown left
        self.dashboard_error: str | None = None
        self._fallback_problem: str | None = None  # why the fallback folder was not collected

    @property
    def writer(self) -> Writer:
        assert self._writer is not None, "daemon not started"
        return self._writer

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        keys = config.read_sink_keys(self.settings)  # before anything: a missing key stops us
        lock_fd = self._prepare()
        try:
            self._collect_fallback()
            self._read_lost_note()
            self._store = await self._open_store()
            forward_store = None
            token_store = None
            try:
                # What can fail before the socket serves fails the start: stated in one line
                # (StartupError: the start-failed note, status, the hooks' backing off), not
                # left to a traceback and a connection thread that keeps the process alive.
                try:
                    # The sinks that new events are queued for: none, if forwarding is off.
                    await self._store.configure_sinks(sink_specs(self.settings))
                    if self.settings.forward:
                        # Imported only when used: aiohttp costs a daemon without sinks ~10 MiB.
                        from skilltrack.daemon.forward.forwarder import Forwarder

                        # Its own connection (and thread): forwarding never queues behind
                        # commits.
                        forward_store = await ForwardStore.open(self.paths.db)
                        self._forwarder = Forwarder(self.settings, forward_store)
                    # Its own connection too: reading transcripts never holds up a commit.
                    token_store = await TokenStore.open(self.paths.db)
                    self._usage = UsageReader(
                        token_store,
                        Path.home(),
                        self.settings.prices,
                        on_read=self._forwarder.wake if self._forwarder else None,
                    )
                except sqlite3.Error as exc:
                    raise StartupError(f"cannot write to {self.paths.db}: {exc}") from exc
                server = await self._listen()
                try:
                    await self._run(server, loop, keys)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        self.paths.socket.unlink()
            finally:
                if token_store is not None:
                    await token_store.close()
                if forward_store is not None:
                    await forward_store.close()
                await self._store.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.paths.pid.unlink()
            os.close(lock_fd)
            log.info("stopped")

    async def _open_store(self) -> ForwardStore:
        """The store; a file SQLite cannot read as a database is moved aside (never
        deleted or written over) and a fresh one made, so that events keep being stored."""
        try:
            try:
                return await ForwardStore.open(self.paths.db)
            except LegacySchemaError as exc:  # readable, and the user's: never moved aside
                raise StartupError(f"cannot use {self.paths.db}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise
                moved = quarantine(self.paths.db)
                self.quarantined = f"{self.paths.db} was unreadable ({exc}): moved to {moved}"
                log.error("%s; starting a fresh database", self.quarantined)
                return await ForwardStore.open(self.paths.db)
        except (sqlite3.Error, OSError) as exc:  # read-only, a folder, no space, ...
            raise StartupError(f"cannot open {self.paths.db}: {exc}") from exc

    def _prepare(self) -> int:
        os.umask(0o077)
        try:
            # Each checked before anything is made in it: nothing of ours goes where another
            # user could read it, plant a link or put a socket of their own.
            ensure_private_dirs(self.paths)
        except OSError as exc:
            raise StartupError(str(exc)) from exc
        # A link at one of our files' names, a file or socket of another user's: said in one
        # line now, rather than as the error of whichever open meets it first.
        problem = trust_problem(self.paths)
        if problem is not None:
            raise InsecurePathError(problem)
        if len(os.fsencode(self.paths.socket)) > MAX_SOCKET_PATH:
            raise StartupError(
                f"socket path {self.paths.socket} is longer than {MAX_SOCKET_PATH} bytes; "
                "set SKILLTRACK_HOME to a shorter directory"
            )
        try:  # once the run directory is there for the start-failed note
            check_sqlite()
        except sqlite3.NotSupportedError as exc:
            raise StartupError(str(exc)) from None
        lock_fd = instance.acquire(self.paths)
        instance.write_pid(self.paths)
        with contextlib.suppress(FileNotFoundError):
            self.paths.start_failed.unlink()  # this start gets as far as the lock
        # The hooks cannot read the config file: its `enabled` reaches them as a marker.
        try:
            if pause.sync(self.paths, self.settings.enabled) is not None:
                log.info("tracking is paused: hooks keep nothing (%s)", self.paths.paused)
        except OSError as exc:
            log.warning("cannot keep the pause marker in step with the config: %s", exc)
        _raise_fd_limit()
        return lock_fd

    async def _listen(self) -> asyncio.Server:
        path = self.paths.socket
        try:
            st = path.lstat()
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(st.st_mode):
                raise StartupError(f"{path} exists and is not a socket; refusing to replace it")
            if _is_listening(path):
                raise StartupError(f"another process is serving on {path}")
            log.info("replacing stale socket %s", path)
            path.unlink()
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(
            lambda: Connection(self, self.intake), str(path), backlog=1024, start_serving=False
        )
        os.chmod(path, 0o600)
        return server

    async def _run(
        self,
        server: asyncio.Server,
        loop: asyncio.AbstractEventLoop,
        keys: dict[str, str | None],
    ) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        tasks = self._start_tasks()
        if self._forwarder is not None:
            for task in await self._forwarder.start(keys):
                task.add_done_callback(self._forwarder_ended)
        await server.start_serving()
        if self.settings.dashboard:
            await self.open_dashboard()  # if it cannot be served, that is logged: serve hooks
        log.info(
            "skilltrack daemon %s (pid %d) listening on %s, store %s",
            __version__, os.getpid(), self.paths.socket, self.paths.db,
        )  # fmt: skip
        await self._stop.wait()
        await self._shutdown(server, tasks)

    def _start_tasks(self) -> list[asyncio.Task[None]]:
        """The writer first (shutdown drains it), then the helpers around it."""
        assert self._store is not None
        self._writer = Writer(
            self._store,
            self.counters,
            on_commit=self._forwarder.wake if self._forwarder else None,
            on_stored=self._usage.notify if self._usage else None,
        )
        replay = SpoolReplay(
            self.paths.spool_dir,
            self._writer,
            self.parse,
            self.reject,
            self.counters,
            collect=self._collect_fallback,
        )
        tasks = [
            asyncio.create_task(self._writer.run(), name="writer"),
            asyncio.create_task(replay.run(), name="replay"),
            asyncio.create_task(self.intake.sweep(), name="sweeper"),
            asyncio.create_task(upkeep.checkpoint_loop(self._store), name="checkpointer"),
            asyncio.create_task(upkeep.span_sweep_loop(self._store), name="span-sweep"),
            asyncio.create_task(
                upkeep.retention_loop(self._store, self.settings.retention_days),
                name="retention",
            ),
        ]
        if self._usage is not None:
            tasks.append(asyncio.create_task(self._usage.run(), name="usage"))
        for task in tasks:
            task.add_done_callback(self._task_ended)
        return tasks

    async def _shutdown(self, server: asyncio.Server, tasks: list[asyncio.Task[None]]) -> None:
        """Stop accepting, commit what is buffered (bounded), spool the rest, close."""
        writer, helpers = tasks[0], tasks[1:]
        log.info("stopping: draining %d buffered events", self.writer.backlog)
        server.close()
        self.writer.close()
        for task in helpers:
            task.cancel()
        # wait(), not wait_for(): a writer that died must not skip the rest of the shutdown.
        _done, late = await asyncio.wait({writer}, timeout=DRAIN_TIMEOUT_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        leftover = self.writer.take_uncommitted()
        if leftover:
            spooled = await self._keep([record for record, _ in leftover])
            for _, future in leftover:
                if future.done():
                    continue
                if spooled:
                    future.set_result(False)  # the hook hears SPOOLED
                else:
                    future.cancel()  # no answer: the hook spools it itself
        if self._forwarder is not None:
            await self._forwarder.stop()
        if self._dashboard is not None:
            await self._dashboard.stop()
        self.intake.close_all()

    async def open_dashboard(self) -> dict[str, str]:
        """Serve the dashboard (once): `{"url": …}`, or `{"error": …}` saying why it cannot."""
        # Imported only when used, like the forwarder: aiohttp is ~10 MiB of an idle daemon.
        from skilltrack.daemon.report.dashboard import Dashboard, DashboardError

        try:
            if self._dashboard is None:
                self._dashboard = Dashboard(self.paths, self.settings.dashboard_port)
            url = await self._dashboard.start()
        except (DashboardError, OSError) as exc:  # a port taken, a token file unwritable
            self.dashboard_error = str(exc)
            if isinstance(exc, DashboardError):  # the port: say which option picks another
                self.dashboard_error += (
                    f"; set dashboard_port in {self.paths.config} to a free port "
                    "(0: any free port, a new one at each start)"
                )
            log.error("dashboard: %s", exc)
            return {"error": self.dashboard_error}
        self.dashboard_error = None
        return {"url": url}

    def _forwarder_ended(self, task: asyncio.Task[None]) -> None:
        # A sink that stops (paused, or a bug) leaves its events in the outbox; the daemon
        # keeps storing. A bug is logged loudly and shown by status.
        if not task.cancelled() and task.exception() is not None:
            log.critical("%s task failed", task.get_name(), exc_info=task.exception())
            self.counters.forward_task_failures += 1

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        # Without its writer the daemon would accept events it can never commit: rather than
        # limp on, shut down cleanly (the buffer is spooled) and let the next hook restart it.
        if self._stop.is_set() or task.cancelled():
            return
        log.critical(
            "%s task ended unexpectedly; stopping", task.get_name(), exc_info=task.exception()
        )
        self.failed = True
        self._stop.set()

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting at once", signal.Signals(sig).name)
            os._exit(1)  # acknowledged events are committed; the rest are in hooks' spools
        log.info("received %s", signal.Signals(sig).name)
        self._stop.set()

    # -- frames ------------------------------------------------------------------------

    def handle_frame(self, data: bytes) -> bytes | asyncio.Future[bool]:
        """The reply to a complete frame, or a future that resolves when it is committed."""
        self.counters.received += 1
        try:
            record = self.parse(split_frame, data)
        except FrameError as exc:
            # BUSY for what is our fault or passing: the hook keeps the event in its spool.
            return b"%s %s\n" % (b"BUSY" if exc.retry else b"ERR", exc.reason.encode())
        try:
            return self.writer.submit(record)
        except BufferFull:
            return ACK_SPOOLED if self.spool_records([record]) else b"BUSY spool_failed\n"

    def parse(self, decode: Callable[[bytes], RawFrame], data: bytes) -> Record:
        """Decode (a frame or a spool record), validate and classify; a refusal is counted
        and raised as FrameError."""
        raw = None
        try:
            raw = decode(data)
            record = self.ingest.parse(raw)
            if record.row.client_ts != float(raw.client_ts):
                self.counters.clock_clamped += 1
            return record
        except FrameError as exc:
            self.reject(exc.reason)
            raise
        except Exception as exc:
            # A frame boundary: whatever a frame does to our code, it must not take the
            # daemon down or wedge the replay of the spool behind it.
            log.exception("could not process event %s", raw.event_id if raw else "(undecoded)")
            self.reject("internal_error")
            raise FrameError("internal_error", retry=True) from exc

    def reject(self, reason: str) -> None:
        self.counters.rejected[reason] += 1

    def spool_records(self, records: list[Record]) -> bool:
        """Put records in the spool for a later replay; False (and counted drops) if it fails."""
        try:
            spool.append(self.paths.spool_dir, [spool.line_of(r) for r in records])
        except OSError as exc:
            log.error("could not spool %d events: %s", len(records), exc)
            self.counters.dropped["spool_failed"] += len(records)
            return False
        self.counters.spooled += len(records)
        return True

    async def _keep(self, records: list[Record]) -> bool:
        """At shutdown, spool what could not be committed: the spool again for up to
        SPOOL_RETRY_S (a full disk may free up), then the private fallback folder; only then
        are they lost, counted in the log and in a note the next start's status shows."""
        lines = [spool.line_of(r) for r in records]
        deadline = time.monotonic() + SPOOL_RETRY_S
        while True:
            try:
                spool.append(self.paths.spool_dir, lines)
                self.counters.spooled += len(records)
                return True
            except OSError as exc:
                error = exc
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        fallback = self.paths.fallback_spool_dir
        log.error(
            "could not spool %d events (%s): keeping them in %s", len(records), error, fallback
        )
        try:
            ensure_private_dir(fallback)
            spool.append(fallback, lines)
        except (OSError, InsecurePathError) as exc:
            why = f"{len(records)} events lost at shutdown: spool: {error}; {fallback}: {exc}"
            log.critical("%s", why)
            self.counters.dropped["spool_failed"] += len(records)
            # Written over the blank the start reserved: a full disk has no block for a new
            # file, but can take bytes in one it already gave.
            note = f"{iso(time.time())} {why}".encode()[:LOST_NOTE_BYTES]
            with contextlib.suppress(OSError):
                fd = open_private(self.paths.lost_note, os.O_WRONLY)
                try:
                    os.write(fd, note.ljust(LOST_NOTE_BYTES))
                finally:
                    os.close(fd)
            return False
        self.counters.spooled += len(records)
        return True

    def _read_lost_note(self) -> None:
        """What the last shutdown could keep nowhere: logged, and shown by this run's status.
        The note is then blanked: LOST_NOTE_BYTES of spaces, reserved on disk for this run's
        shutdown to write over."""
        with contextlib.suppress(OSError):
            fd = open_private(self.paths.lost_note, os.O_RDONLY)
            with open(fd, "rb") as f:
                text = f.read(LOST_NOTE_BYTES).decode(errors="replace")
            self.lost_at_last_shutdown = text.strip() or None
        if self.lost_at_last_shutdown:
            log.error("the last shutdown lost events: %s", self.lost_at_last_shutdown)
        try:
            write_private(self.paths.lost_note, b" " * LOST_NOTE_BYTES)
        except OSError as exc:
            log.warning("could not reserve %s: %s", self.paths.lost_note, exc)

    def _collect_fallback(self) -> None:
        """Move what a shutdown or a hook kept in the fallback folder into the spool, to be
        replayed (at start, then each second); a folder another user could have made or
        reached is left alone. Why it cannot is logged once, not each second."""
        problem = collect_fallback(self.paths)
        if problem is not None and problem != self._fallback_problem:
            log.warning("%s", problem)
        self._fallback_problem = problem

    def status(self) -> dict[str, Any]:
        writer = self.writer
        return {
            "running": True,
            "pid": os.getpid(),
            "version": __version__,
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 3),
            "connections": len(self.intake.connections),
            "buffer": {"pending": writer.backlog, "capacity": writer.capacity},
            "store": {
                "healthy": writer.healthy,
                "last_error": writer.last_error,
                "quarantined": self.quarantined,
                "lost_at_last_shutdown": self.lost_at_last_shutdown,
            },
            "settings": {
                "tenant_id": self.settings.tenant_id,
                "user_id": self.settings.user_id,
                "paths": self.settings.privacy.paths,
                "snippet_policy": self.settings.capture.snippets,
            },
            "counters": self.counters.as_dict(),
            "transcripts": self._usage.status() if self._usage else {},
            "forwarding": self._forwarder.status() if self._forwarder else {},
            "dashboard": {
                "port": self._dashboard.port if self._dashboard else None,
                "error": self.dashboard_error,
            },
        }


def collect_fallback(paths: Paths) -> str | None:
    """Move the records that hooks or a shutdown kept in `paths.fallback_spool_dir` into the
    spool; why they cannot be, or None."""
    folder = paths.fallback_spool_dir
    if not os.path.lexists(folder):
        return None
    problem = dir_problem(folder)
    if problem is not None:
        return f"not collecting what waits in {folder}: {problem}"
    try:
        # A folder holding only what a killed hook left half-written has no backlog until
        # those files are taken.
        if not spool.has_backlog(folder) and not spool.adopt_stale_partials(folder):
            return None
        moved = spool.collect(folder, paths.spool_dir)
    except OSError as exc:  # the disk still full: they wait there for the next try
        return f"could not move the events kept in {folder}: {exc}"
    if moved:
        log.info("moved %d events kept in %s to the spool", moved, folder)
    return None


def _is_listening(path: os.PathLike[str]) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
    return True


def _raise_fd_limit() -> None:
    # One connection per event: a burst of hooks needs more descriptors than the usual 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + 256
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
