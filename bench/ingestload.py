"""Daemon ingest, one connection per event, end to end into SQLite; and spool replay.

The load generator runs in the benchmark process, a plain epoll loop (no hook processes): each
event is a fresh Unix-socket connection carrying one frame (`skilltrack.wire.encode_frame`),
half-closed, and answered with one line once the daemon has committed the event. A new
connection starts as soon as one is answered, so that a fixed number are in flight. The
latency of an event is connect → reply, what a hook waits for. After the main load, a shorter
sweep over other concurrencies shows whether the rate is bound by CPU or by latency.
Afterwards the database is opened read-only and its events counted.

The replay measurement writes N spool records (`encode_spool_record`) into a fresh home's
spool before the daemon starts, starts it, and polls the database until all N are stored.
"""

from __future__ import annotations

import collections
import select
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench import machine
from bench.daemonproc import (
    BenchError,
    Daemon,
    Home,
    count_events,
    machine_cpu_seconds,
    running_daemon,
)
from bench.machine import Speed
from bench.payloads import post_tool_use, post_tool_use_parts
from bench.stats import Summary
from skilltrack.hook.skilltrack_hook_core import new_event_id
from skilltrack.wire import ACK_OK, RawFrame, encode_frame, encode_spool_record

REPLY_TIMEOUT_S = 30.0
OK = ACK_OK.decode().strip()


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far, by whom (or a difference of two such readings)."""

    loop: float  # the daemon's event-loop thread
    sqlite: float  # the daemon's other threads (aiosqlite's SQLite thread)
    loadgen: float  # this process
    machine: float  # every process on the machine, all cores
    stolen: float  # by the hypervisor, for other guests

    @classmethod
    def now(cls, daemon: Daemon) -> Cpu:
        loop, sqlite = daemon.cpu_seconds()
        machine, stolen = machine_cpu_seconds()
        return cls(loop, sqlite, time.process_time(), machine, stolen)

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.loop - other.loop,
            self.sqlite - other.sqlite,
            self.loadgen - other.loadgen,
            self.machine - other.machine,
            self.stolen - other.stolen,
        )

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.loop + other.loop,
            self.sqlite + other.sqlite,
            self.loadgen + other.loadgen,
            self.machine + other.machine,
            self.stolen + other.stolen,
        )

    @property
    def rest(self) -> float:
        """CPU that neither the daemon nor the load generator used (other processes)."""
        return max(0.0, self.machine - self.loop - self.sqlite - self.loadgen)


@dataclass(frozen=True)
class Load:
    """One run of the load generator."""

    events: int
    concurrency: int
    wall_s: float
    latency_ms: list[float]
    replies: collections.Counter[str]
    errors: collections.Counter[str]

    @property
    def rate(self) -> float:
        return self.events / self.wall_s

    def latency(self) -> Summary:
        return Summary.of(self.latency_ms)


@dataclass
class IngestResult:
    main: Load
    cpu: Cpu  # during the main load
    warmup: Load
    sweep: list[Load]
    db_events: int
    rss_idle_kib: int
    rss_after_kib: int
    hwm_after_kib: int
    # The machine's speed just before the daemon started and just after it stopped: the
    # rate moves with it (by 1.5 times within an hour here), and the run's own references
    # are taken minutes away, before the first part and after the last.
    speed_before: Speed
    speed_after: Speed
    counters: dict[str, object] = field(default_factory=dict)

    @property
    def loads(self) -> list[Load]:
        return [self.warmup, self.main, *self.sweep]

    @property
    def sent(self) -> int:
        return sum(load.events for load in self.loads)

    @property
    def acked_ok(self) -> int:
        return sum(load.replies[OK] for load in self.loads)

    @property
    def errors(self) -> collections.Counter[str]:
        total: collections.Counter[str] = collections.Counter()
        for load in self.loads:
            total.update(load.errors)
        return total

    def per_event_ms(self, cpu_s: float) -> float:
        return cpu_s * 1000 / self.main.events

    def cores(self, cpu_s: float) -> float:
        return cpu_s / self.main.wall_s


@dataclass
class ReplayResult:
    records: int
    db_events: int
    spool_left: int
    start_to_socket_s: float
    start_to_all_stored_s: float
    replayed_counter: int

    @property
    def replay_s(self) -> float:
        # The daemon starts replaying as it starts serving: with a small spool, the replay
        # can finish about when the socket first answers.
        return max(self.start_to_all_stored_s - self.start_to_socket_s, 0.001)

    @property
    def rate(self) -> float:
        return self.records / self.replay_s


_HEAD, _TAIL = post_tool_use_parts()


def _frame() -> bytes:
    """A fresh event: an event id as the hook makes it, a new tool_use_id, the client time now."""
    now = time.time()
    payload = b"%stoolu_%s%s" % (_HEAD, uuid.uuid4().hex[:24].encode(), _TAIL)
    return encode_frame(event_id=new_event_id(now), client_ts=now, payload=payload)


def run_load(socket_path: str, events: int, concurrency: int) -> Load:
    """`events` events, `concurrency` in flight: each a fresh connection carrying one frame,
    half-closed, its reply read until the daemon closes.

    A plain epoll loop over blocking connects rather than an event loop library: the load
    generator shares the two cores with the daemon, and this costs it ~65 µs of CPU per event
    here where uvloop's protocols, transports and futures cost ~125, so more of the machine
    is left to what is measured. (An AF_UNIX connect completes at once, or waits for room in
    the daemon's backlog, which is the daemon's pace too; the replies that arrive meanwhile
    wait, and their latency counts the wait, as a hook's would under such a load.)
    """
    poller = select.epoll()
    in_flight: dict[int, _InFlight] = {}
    latencies: list[float] = []
    replies: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    started = 0

    def send_one() -> None:
        frame = _frame()
        t0 = time.perf_counter()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(REPLY_TIMEOUT_S)
            sock.connect(socket_path)
            sock.sendall(frame)
            sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            sock.close()
            errors[type(exc).__name__] += 1
            return
        sock.setblocking(False)
        in_flight[sock.fileno()] = _InFlight(sock, t0, [])
        poller.register(sock.fileno(), select.EPOLLIN)

    def done(fd: int, error: str | None) -> None:
        conn = in_flight.pop(fd)
        poller.unregister(fd)
        conn.sock.close()
        if error is not None:
            errors[error] += 1
            return
        latencies.append((time.perf_counter() - conn.t0) * 1000.0)
        replies[b"".join(conn.reply).decode(errors="replace").strip() or "(no reply)"] += 1

    start = checked = time.perf_counter()
    try:
        while started < events or in_flight:
            while started < events and len(in_flight) < concurrency:
                started += 1
                send_one()
            ready = poller.poll(1.0)
            for fd, _ in ready:
                try:
                    data = in_flight[fd].sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError as exc:  # a reply cut short is still the reply it was
                    done(fd, None if in_flight[fd].reply else type(exc).__name__)
                    continue
                if data:
                    in_flight[fd].reply.append(data)
                else:
                    done(fd, None)
            now = time.perf_counter()
            if now - checked >= 1.0:  # once a second, whatever else is answered
                checked = now
                for fd in [fd for fd, c in in_flight.items() if now - c.t0 > REPLY_TIMEOUT_S]:
                    done(fd, "TimeoutError")
    finally:
        for conn in in_flight.values():
            conn.sock.close()
        poller.close()
    return Load(events, concurrency, time.perf_counter() - start, latencies, replies, errors)


@dataclass
class _InFlight:
    sock: socket.socket
    t0: float
    reply: list[bytes]


def measure_ingest(
    h: Home,
    events: int,
    concurrency: int,
    warmup: int,
    sweep: Sequence[tuple[int, int]],
    idle_s: float,
    log: Callable[[str], None],
) -> IngestResult:
    """The main load (after a warm-up), then the sweep's (concurrency, events) loads."""
    speed_before = machine.speed()
    with running_daemon(h) as daemon:
        time.sleep(idle_s)
        rss_idle, _ = daemon.rss_kib()
        sock = str(h.paths.socket)
        log(f"ingest: {warmup} warm-up events, then {events} at concurrency {concurrency}")
        warm = run_load(sock, warmup, concurrency)
        before = Cpu.now(daemon)
        main = run_load(sock, events, concurrency)
        cpu = Cpu.now(daemon) - before
        rss_after, hwm_after = daemon.rss_kib()
        log(f"ingest: {main.rate:,.0f} events/s")
        swept = []
        for c, n in sweep:
            swept.append(run_load(sock, n, c))
            log(f"ingest sweep: concurrency {c}: {swept[-1].rate:,.0f} events/s")
        db_events = count_events(h.paths.db)
        counters = daemon.status().get("counters", {})
        _stop(daemon)
    speed_after = machine.speed()
    return IngestResult(
        main=main,
        cpu=cpu,
        warmup=warm,
        sweep=swept,
        db_events=db_events,
        rss_idle_kib=rss_idle,
        rss_after_kib=rss_after,
        hwm_after_kib=hwm_after,
        speed_before=speed_before,
        speed_after=speed_after,
        counters=counters if isinstance(counters, dict) else {},
    )


def write_spool(
    h: Home,
    records: int,
    payload: Callable[[], bytes] = post_tool_use,
    then: tuple[bytes, ...] = (),
) -> None:
    """`records` spool records, each a fresh event id and `payload()`, then one of each of
    `then`, for the next start."""
    h.paths.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with h.paths.spool.open("wb") as f:
        h.paths.spool.chmod(0o600)
        for body in [*(payload() for _ in range(records)), *then]:
            now = time.time()
            frame = RawFrame(new_event_id(now), f"{now:.6f}", "-", body)
            f.write(encode_spool_record(frame))


def measure_replay(h: Home, records: int, log: Callable[[str], None]) -> ReplayResult:
    write_spool(h, records)
    log(f"replay: {records} spooled events, starting the daemon")
    daemon = Daemon(h)
    try:
        socket_at = daemon.wait_socket() - daemon.started
        deadline = time.monotonic() + 300
        stored = 0
        while stored < records:
            if time.monotonic() > deadline:
                raise BenchError(f"replay: only {stored} of {records} stored after 300 s")
            try:
                stored = count_events(h.paths.db)
            except sqlite3.OperationalError:  # the daemon is still creating the database
                stored = 0
            if stored < records:
                time.sleep(0.01)
        all_stored = time.perf_counter() - daemon.started
        log(f"replay: {records / (all_stored - socket_at):,.0f} events/s")
        # The replay file is deleted once its last chunk is committed: give it a moment.
        for _ in range(100):
            if h.spooled_records() == 0:
                break
            time.sleep(0.05)
        daemon.wait_ready()
        status = daemon.status()
        counters = status.get("counters", {})
        replayed = int(counters.get("replayed", -1)) if isinstance(counters, dict) else -1
        result = ReplayResult(
            records=records,
            db_events=count_events(h.paths.db),
            spool_left=h.spooled_records(),
            start_to_socket_s=socket_at,
            start_to_all_stored_s=all_stored,
            replayed_counter=replayed,
        )
        _stop(daemon)
    finally:
        daemon.kill()
    return result


def _stop(daemon: Daemon) -> None:
    if daemon.stop() != 0:
        raise BenchError("the daemon did not exit 0 on SIGTERM")
