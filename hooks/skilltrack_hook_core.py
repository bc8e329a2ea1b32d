"""skilltrack's Claude Code hook: hand one hook event to the daemon, or spool it.

Claude Code runs `skilltrack_hook.py` (which calls `run()` here) for every registered hook
event, as `python3 -I -S skilltrack_hook.py`,
with the event's JSON on stdin, and waits for it: its run time is the user's cost. So it
imports only what the standard library has built in (`_socket`, not `socket`, which alone costs
several milliseconds), parses nothing on the fast path, and:

- reads stdin with a bound (an oversized event is cut down to a marked, still-valid event);
- keeps nothing while tracking is paused (a marker file in the run directory: paused());
- stamps an event id and the client time, and sends the frame (see skilltrack/wire.py) to the
  daemon's Unix socket, waiting for the acknowledgement within a short deadline;
- sends nothing to a socket served by another user (peer credentials): an impostor in a state
  directory another user controls would get every raw event;
- if the daemon is unreachable, silent or an impostor, appends the event to the spool file
  (0600, one line per event, never through a link) for the daemon to replay, and when no
  daemon is listening starts one, detached, under a lock that lets exactly one of many
  simultaneous hooks do it; it never waits for it. Only into directories of this user's
  alone (private_dir): when the spool's is not, the event goes to the fallback folder,
  memory-backed and private, which the daemon collects; the daemon is not started there;
- always exits 0 and never writes to stdout, whatever happens (Claude Code reports any other
  exit as a hook error and may show stdout to the model).

Paths must match skilltrack/paths.py (tests/test_paths.py proves they agree).

It runs under any Python from 3.8 on (the plugin form runs whatever `python3` it finds):
the standard library of 3.8, its syntax, and a def's annotations in quotes: they are evaluated
when the def runs, and 3.8 fails on `tuple[...]` and `X | None` (`from __future__ import
annotations` would cost an import on every call). tests/test_hook_compat.py checks all three
and runs this under the oldest interpreter it finds.
"""

import os
import sys
import time

TYPE_CHECKING = False  # typing would cost every run its import; mypy reads the block
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_PAYLOAD = 1024 * 1024  # = skilltrack.wire.MAX_PAYLOAD
HEAD_KEEP = 256 * 1024  # of an oversized payload, what is searched for the event's fields
TAIL_KEEP = 64 * 1024


DEFAULT_DEADLINE_MS = 60.0
ID_TIME_LIMIT_S = (1 << 48) / 1000  # what an event id's 48 bits of milliseconds can hold


# How long to wait for the daemon's acknowledgement, and whether that was set in the
# environment (a valid value: a bad one falls back to the default). With ~15-25 ms of
# interpreter start before it and a few ms of spooling after, a wedged daemon costs a tool
# call under 100 ms; MAX_AGE_S keeps it so when the start itself was slow.
def _deadline() -> "tuple[float, bool]":
    try:
        ms = float(os.environ["SKILLTRACK_HOOK_TIMEOUT_MS"])
    except (KeyError, ValueError):
        ms = float("nan")
    if ms != ms:  # unset, not a number, or nan
        return DEFAULT_DEADLINE_MS / 1000.0, False
    return min(max(ms, 1.0), 1000.0) / 1000.0, True


DEADLINE_S, DEADLINE_SET = _deadline()
# With the default deadline, a hook also stops waiting once its process is MAX_AGE_S old,
# start-up included, though never before MIN_WAIT_S after sending (a slow start is when the
# daemon is slowest to answer too): the rest of the 100 ms a wedged daemon may cost is for
# spooling and exiting. The age is read only when the daemon has not answered within
# QUICK_REPLY_S (it answers in a few ms), so that the usual path reads nothing more. A
# deadline set in the environment is waited out whole.
MAX_AGE_S = 0.080
MIN_WAIT_S = 0.030
QUICK_REPLY_S = 0.020
STDIN_DEADLINE_S = 3.0  # well inside the 5 s timeout settings.template.json gives the hook


class _Deadline(Exception):
    pass


def _on_alarm(signum: int, frame: object) -> None:
    raise _Deadline


def state_dirs() -> "tuple[str, str]":
    """(run dir, spool dir), exactly as skilltrack.paths.resolve() computes them."""
    env = os.environ
    home = env.get("SKILLTRACK_HOME")
    if home:
        base = os.path.abspath(home)
    else:
        xdg = env.get("XDG_STATE_HOME", "")
        if xdg.startswith("/"):
            root = xdg
        elif sys.platform == "darwin":
            root = os.path.join(_home(), "Library", "Application Support")
        else:
            root = os.path.join(_home(), ".local", "state")
        base = os.path.join(root, "skilltrack")
    return os.path.join(base, "run"), os.path.join(base, "spool")


def _home() -> str:
    home = os.environ.get("HOME")
    if home is not None and home.startswith("/"):
        return home.rstrip("/") or "/"
    import pwd  # platformdirs treats a relative or missing HOME this way

    return pwd.getpwuid(os.getuid()).pw_dir.rstrip("/") or "/"


def paused(run_dir: str) -> bool:
    """Whether tracking is paused (`skilltrack pause`, or `enabled = false` in the config):
    the marker `paused` in the run directory, a regular file of this user's (as
    skilltrack/pause.py reads it). One lstat; a marker another user planted, or a link, is
    not ours and counts for nothing."""
    try:
        st = os.lstat(os.path.join(run_dir, "paused"))
    except OSError:
        return False
    return st.st_mode & 0o170000 == 0o100000 and st.st_uid == os.getuid()


def read_stdin() -> "tuple[bytes, bytes, int]":
    """(the first MAX_PAYLOAD bytes, the last bytes read past them, the total size)."""
    chunks = []
    size = 0
    tail = b""
    try:
        while chunk := os.read(0, 1 << 16):
            size += len(chunk)
            if size <= MAX_PAYLOAD:
                chunks.append(chunk)
            else:
                tail = (tail + chunk)[-TAIL_KEEP:]
    except _Deadline:  # stdin never closed: go on with what came
        pass
    except OSError:  # no stdin at all: send what we have, the daemon judges it
        pass
    return b"".join(chunks), tail, size


def cut_down(data: bytes, tail: bytes, size: int) -> "tuple[bytes, bool]":
    """The event to send, and whether it had to be cut down to a marked, valid event."""
    if size <= MAX_PAYLOAD:
        return data, False
    return salvage(data[:HEAD_KEEP], (data + tail)[-TAIL_KEEP:], size), True


# Top-level fields worth keeping from an oversized event; the big ones (tool_input,
# tool_response) are what made it oversized.
_FIELDS = (
    "session_id", "transcript_path", "cwd", "prompt_id", "permission_mode", "hook_event_name",
    "tool_name", "agent_id", "agent_type", "command_name", "command_source", "expansion_type",
    "source", "reason", "tool_use_id", "duration_ms", "error", "is_interrupt",
)  # fmt: skip
_INPUT_FIELDS = ("skill", "subagent_type")


def salvage(head: bytes, tail: bytes, size: int) -> bytes:
    """A small valid event built from the fields found in an oversized one's head and tail."""
    import json
    import re

    value = rb'"(%s)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)'
    event: dict[str, object] = {}
    tool_input: dict[str, object] = {}
    for names, into in ((_FIELDS, event), (_INPUT_FIELDS, tool_input)):
        pattern = re.compile(value % "|".join(names).encode())
        # The head's first match is the top-level one for fields that precede the large
        # values; the tail's last match for those that follow them (tool_use_id, duration_ms).
        for found in [*pattern.finditer(head), *reversed([*pattern.finditer(tail)])]:
            key = found.group(1).decode()
            if key not in into:
                try:
                    into[key] = json.loads(found.group(2))
                except ValueError:
                    pass
    if tool_input:
        event["tool_input"] = tool_input
    event["skilltrack_truncated"] = {"original_bytes": size, "limit": MAX_PAYLOAD}
    return json.dumps(event).encode()


def new_event_id(now: float) -> str:
    """A UUID version 7 (RFC 9562): `now` in Unix milliseconds, then 74 random bits.

    Time-ordered, so that the store's unique index on event ids grows at its end. Random
    (version 4) ids dirtied another page of it for each event; in the benchmark, SQLite's CPU
    per ingested event went from 0.101 to 0.057 ms with this (two runs an hour apart).
    """
    # A clock 48 bits of milliseconds cannot hold (before 1970, after 10889, not a number)
    # gives 0 here, so that its event is still sent and the daemon judges its time, rather
    # than lost to an OverflowError.
    ms = int(now * 1000) if 0 <= now < ID_TIME_LIMIT_S else 0
    b = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    b[6] = (b[6] & 0x0F) | 0x70  # version 7
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 9562 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def process_age_s() -> "float | None":
    """Seconds since this process started, interpreter start-up included (overstated by up
    to a clock tick, 10 ms: rounding toward an earlier give-up), or None where /proc cannot
    say."""
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            stat = os.read(fd, 4096)
        finally:
            os.close(fd)
        # Field 22, starttime, in clock ticks since boot; counted after field 2, the command
        # name, which is in parentheses and may hold spaces.
        ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def send(sock_path: str, frame: bytes) -> "tuple[bool, bool]":
    """(acknowledged, nobody listening) after trying to hand `frame` to the daemon."""
    import _socket

    started = time.monotonic()
    deadline = started + DEADLINE_S
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(DEADLINE_S)
        try:
            s.connect(sock_path)
        except (FileNotFoundError, ConnectionRefusedError):
            return False, True
        if server_uid(s.getsockopt, sock_path) != os.getuid():
            return False, False  # not our daemon: it hears nothing, and none is started
        s.settimeout(max(deadline - time.monotonic(), 0.001))
        s.sendall(frame)
        s.shutdown(_socket.SHUT_WR)
        reply = b""
        aged = DEADLINE_SET  # True once MAX_AGE_S is applied, or if it does not apply
        while not reply.endswith(b"\n"):
            wait = deadline - time.monotonic()
            s.settimeout(max(wait if aged else min(wait, QUICK_REPLY_S), 0.001))
            try:
                chunk = s.recv(256)
            except _socket.timeout:  # = TimeoutError from 3.10 on; an OSError before
                if aged or time.monotonic() >= deadline:
                    return False, False
                aged = True
                age = process_age_s()
                if age is not None:
                    by_age = max(time.monotonic() + MAX_AGE_S - age, started + MIN_WAIT_S)
                    deadline = min(deadline, by_age)
                continue
            if not chunk:
                break
            reply += chunk
        # ERR: the daemon read the frame and refused it for good; spooling it would only
        # have it refused again at replay.
        return reply in (b"OK\n", b"SPOOLED\n") or reply.startswith(b"ERR "), False
    except OSError:
        return False, False
    finally:
        s.close()


def server_uid(getsockopt: "Callable[[int, int, int], bytes]", sock_path: str) -> int:
    """The uid the process serving the socket runs as, from its peer credentials: Linux's
    SO_PEERCRED (struct ucred: pid, uid, gid), LOCAL_PEERCRED on macOS and FreeBSD (struct
    xucred: version 0, uid, ...); elsewhere, or if that fails, the socket file's owner."""
    import _socket

    platform: str = sys.platform  # a str, not narrowed: mypy checks this on Linux alone
    try:
        if platform == "linux":
            creds = getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
            return int.from_bytes(creds[4:8], sys.byteorder)
        if platform == "darwin" or platform.startswith("freebsd"):
            creds = getsockopt(0, 1, 76)  # SOL_LOCAL, LOCAL_PEERCRED
            if creds[:4] == b"\0\0\0\0":
                return int.from_bytes(creds[4:8], sys.byteorder)
    except OSError:
        pass
    return os.stat(sock_path).st_uid


def spool(spool_dir: str, header: bytes, payload: bytes) -> None:
    """Keep one record where the daemon replays it: in the spool, if its directory is this
    user's alone; else (or if it cannot be written: a link in the file's place, a full disk)
    in the fallback folder, if that is. If neither is, the event is dropped rather than
    written where another user could read or change it."""
    import binascii

    record = header + b" " + binascii.b2a_base64(payload, newline=False) + b"\n"
    try:
        if private_dir(spool_dir):
            append(spool_dir, record)
            return
    except OSError:
        pass
    fallback = fallback_spool_dir(spool_dir)
    if private_dir(fallback):
        append(fallback, record)


def fallback_spool_dir(spool_dir: str) -> str:
    """The fallback folder, as skilltrack.paths.Paths.fallback_spool_dir computes it
    (tests/test_paths.py proves it): memory-backed, the user's own, one per state directory."""
    import binascii

    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = os.path.normpath(runtime) if runtime.startswith("/") else "/dev/shm"
    tag = binascii.crc32(os.fsencode(spool_dir))
    return os.path.join(base, f"skilltrack-{os.getuid()}-{tag:08x}")


def private_dir(path: str) -> bool:
    """Make `path` (0700, with what is missing above it) and say whether it is a directory of
    this user's that no one else may enter, under directories no one but this user or root
    may change (the same rules as skilltrack.paths.dir_problem, but for the state
    directory's own mode, which only the daemon checks)."""
    parent = os.path.dirname(path)
    if not trusted(parent):  # make nothing where another user could reach it
        return False
    os.makedirs(path, 0o700, exist_ok=True)
    st = os.lstat(path)
    return (
        st.st_mode & 0o170077 == 0o040000  # a directory, not a link; nothing for the others
        and st.st_uid == os.getuid()
        and trusted(parent)  # again: it may have been made meanwhile, in a sticky /tmp
    )


def trusted(path: str, depth: int = 0) -> bool:
    """Whether only this user or root can change `path` and the directories above it: each
    is theirs and writable by no one else, unless sticky (/tmp). A link is followed, and the
    path it leads to checked in turn. What does not exist yet is no concern."""
    uid = os.getuid()
    current = "/"
    for name in path.split("/"):
        if not name:
            continue
        current = os.path.join(current, name)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return True  # the rest is made by this user
        if st.st_uid != uid and st.st_uid != 0:
            return False
        if st.st_mode & 0o170000 == 0o120000:  # a link
            current = os.path.realpath(current)
            if depth >= 8 or not trusted(current, depth + 1):
                return False
        elif st.st_mode & 0o022 and not st.st_mode & 0o1000:  # writable by others, not sticky
            return False
    return True


def append(spool_dir: str, record: bytes) -> None:
    """Append one record to the spool in `spool_dir`, under the spool's lock; or, if a peer
    holds the lock for long, put it in a file of its own for the replay to collect.

    The daemon replays the spool by renaming it under the same lock; a writer that opened the
    old file just before finds its inode gone from the path after locking and opens anew.
    """
    import fcntl

    path = os.path.join(spool_dir, "events.spool")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    for _ in range(10):
        fd = os.open(path, flags, 0o600)
        try:
            for _ in range(40):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.0005)
            else:
                # Not within ~20 ms. Appending without the lock could land in a file the
                # replay has just read: this record goes in a file of its own instead.
                spool_alone(spool_dir, record)
                return
            st = os.fstat(fd)
            try:
                cur = os.lstat(path)
            except FileNotFoundError:
                continue
            if (cur.st_ino, cur.st_dev) != (st.st_ino, st.st_dev):
                continue
            # A record cut short (disk full, a killed writer) must not swallow this one.
            if st.st_size and os.pread(fd, 1, st.st_size - 1) != b"\n":
                record = b"\n" + record
            view = memoryview(record)
            while view:
                view = view[os.write(fd, view) :]
            return
        finally:
            os.close(fd)


def spool_alone(spool_dir: str, records: bytes) -> None:
    """Put `records` in a spool file of their own, named as one the daemon has moved aside
    for replay; made under another name and renamed, so that it is read only whole."""
    name = f"events.spool.replay-{time.time_ns()}-{os.getpid()}"
    partial = os.path.join(spool_dir, ".partial-" + name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(partial, flags, 0o600)
    try:
        view = memoryview(records)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.rename(partial, os.path.join(spool_dir, name))


def autostart(run_dir: str) -> None:
    """Start the daemon, detached, unless one is running or being started.

    The daemon's instance lock doubles as the starter's guard: the hook that wins the lock
    hands its descriptor to the daemon it spawns, so the lock is never free between the spawn
    and the daemon taking over, and the other hooks of a burst see it held and leave it be.
    """
    import fcntl

    exe = _daemon_executable()
    # Not where another user could read or change the state: the daemon would refuse to start
    # there anyway (skilltrack-daemon status says why).
    if exe is None or _failed_lately(run_dir) or not private_dir(run_dir):
        return
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(os.path.join(run_dir, "daemon.lock"), flags, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        os.set_inheritable(fd, True)
        null = os.open(os.devnull, os.O_RDWR)
        # The daemon outlives this session: it gets what locates its state, not the
        # session's API keys and tokens.
        env = {
            k: v for k, v in os.environ.items() if k in _KEEP_ENV or k.startswith(_KEEP_PREFIXES)
        }
        env["SKILLTRACK_LOCK_FD"] = str(fd)
        actions = [(os.POSIX_SPAWN_DUP2, null, n) for n in (0, 1, 2)]
        os.posix_spawn(exe, [exe, "run"], env, file_actions=actions, setsid=True)
    finally:
        os.close(fd)


def _failed_lately(run_dir: str) -> bool:
    # A daemon that cannot start (a bad config, a refused directory) leaves this behind; don't
    # pay for spawning it again on every tool call. `skilltrack-daemon status` shows why.
    try:
        return time.time() - os.stat(os.path.join(run_dir, "start-failed")).st_mtime < 60
    except OSError:
        return False


_KEEP_ENV = frozenset({"HOME", "PATH", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR"})
_KEEP_PREFIXES = ("SKILLTRACK_", "XDG_", "LC_")


def _daemon_executable() -> "str | None":
    import stat

    beside = os.path.join(os.path.dirname(sys.executable), "skilltrack-daemon")
    # Absolute PATH entries only: a relative one resolves in the session's project, which
    # could ship a "skilltrack-daemon" of its own.
    candidates = [beside] + [
        os.path.join(d, "skilltrack-daemon")
        for d in os.environ.get("PATH", "").split(":")
        if d.startswith("/")
    ]
    for path in candidates:
        try:
            if stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK):
                return path
        except OSError:
            continue
    return None


def main() -> None:
    # The C module: `signal` would pull in enum, several milliseconds of start-up.
    import _signal  # type: ignore[import-not-found]

    _signal.signal(_signal.SIGALRM, _on_alarm)
    _signal.setitimer(_signal.ITIMER_REAL, STDIN_DEADLINE_S)  # for reading stdin only
    try:
        raw = read_stdin()
        _signal.setitimer(_signal.ITIMER_REAL, 0)
    except _Deadline:  # fired between the read loop and disarming: go on without the event
        return
    run_dir, spool_dir = state_dirs()
    # After reading stdin, so that Claude Code never writes into a pipe already closed.
    if paused(run_dir):
        return
    payload, truncated = cut_down(*raw)
    now = time.time()
    # Flags: `t` if cut down, `-` if not, then `n` and the payload's length, which lets the
    # daemon tell a frame cut short by a slow send from a bad one.
    flags = b"%sn%d" % (b"t" if truncated else b"-", len(payload))
    header = b"ST1 %s %.6f %s" % (new_event_id(now).encode(), now, flags)
    acked, nobody = send(os.path.join(run_dir, "daemon.sock"), header + b"\n" + payload)
    if not acked:
        os.umask(0o077)  # what the hook creates (state dirs, spool) is for this user alone
        try:
            spool(spool_dir, header, payload)
        finally:  # even when the spool cannot be written, a daemon may still take later events
            if nobody and os.environ.get("SKILLTRACK_NO_AUTOSTART") != "1":
                autostart(run_dir)


def remember_interpreter(cache: str) -> None:
    """Write this interpreter's path to `cache` (atomically), for the plugin's launcher
    (hooks/skilltrack_hook.sh) to run it directly rather than through `python3` on PATH,
    which may be a version manager's slow shim."""
    exe = sys.executable
    if not exe.startswith("/") or not os.access(exe, os.X_OK):
        return  # an embedded or unknown interpreter: keep going through PATH
    os.umask(0o077)
    # The launcher runs what this file names: only in a directory no one else can write to.
    if not private_dir(os.path.dirname(cache)):
        return
    temporary = f"{cache}.{os.getpid()}"
    try:
        os.unlink(temporary)  # left by a run killed halfway, whose pid this one has now
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(temporary, flags, 0o600)
    try:
        os.write(fd, os.fsencode(exe) + b"\n")
    finally:
        os.close(fd)
    os.replace(temporary, cache)


def run() -> None:
    """Handle this process's event and exit 0, whatever happens."""
    try:
        main()
    except BaseException:  # never fail a tool call, never print: the event is best-effort here
        pass
    # The plugin's launcher found no interpreter it could run directly: remember this one,
    # once the event is handled.
    if len(sys.argv) == 3 and sys.argv[1] == "--resolve":
        try:
            remember_interpreter(sys.argv[2])
        except BaseException:  # it asks again next time
            pass
    os._exit(0)
