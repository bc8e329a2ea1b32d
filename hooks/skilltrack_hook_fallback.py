"""The hook's last resort: keep the event when the core cannot run it.

skilltrack_hook.py calls `keep()` when its Python is older than the core needs (3.8; the
plugin form runs whatever `python3` it finds, and that may be 3.6, 3.7 or even 2.7) or when
the core cannot be imported. Then, rather than drop the event silently:

- the event is appended to the spool as the core appends it (the same record, the same lock
  and the same check that the daemon's replay has not just taken the file away), so the
  daemon stores it at its next replay;
- a note, `hook-fallback` in the run directory, says which Python ran and why, for
  `skilltrack doctor` to report;
- run by the plugin's launcher on the interpreter it had cached, it removes that file, so
  that the next run finds `python3` on PATH again (hooks/skilltrack_hook.sh);
- it exits 0 with nothing on stdout, as the core does.

It neither talks to the daemon nor starts one: a daemon started otherwise (`skilltrack-daemon
start`, a hook under a good Python) replays what waits. An event over the size bound is cut
to its first MAX_PAYLOAD bytes and marked truncated; the daemon refuses such a record, and
counts it (`invalid_json`).

This runs under Python 2.7 and every Python 3, so it shares no code with the core, which
needs 3.8: paths and records are computed again here, and tests/test_paths.py and
tests/test_hook_fallback.py prove they match. Annotations are type comments.
"""

import binascii
import errno
import os
import sys
import time

MAX_PAYLOAD = 1024 * 1024  # = skilltrack.wire.MAX_PAYLOAD
ID_TIME_LIMIT_S = (1 << 48) / 1000.0
STDIN_DEADLINE_S = 3  # as the core's: well inside the 5 s Claude Code gives the hook
NOTE = "hook-fallback"  # = skilltrack.paths.Paths.hook_fallback_note's name


class _Deadline(Exception):
    pass


def keep(problem):  # type: (str) -> None
    """Spool this process's event and leave the note; `problem` says why the core did not
    run."""
    os.umask(0o077)  # what the hook creates (state dirs, spool, note) is for this user alone
    payload, truncated = read_stdin()
    run_dir, spool_dir = state_dirs()
    try:
        now = time.time()
        header = "ST1 %s %.6f %s" % (new_event_id(now), now, "t" if truncated else "-")
        spool(spool_dir, header.encode("ascii"), payload)
    finally:
        try:
            leave_note(run_dir, problem)
        finally:
            forget_interpreter(sys.argv[1:])


def read_stdin():  # type: () -> tuple[bytes, bool]
    """(the first MAX_PAYLOAD bytes of stdin, whether there was more)."""
    import signal

    def on_alarm(signum, frame):  # type: (int, object) -> None
        raise _Deadline()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(STDIN_DEADLINE_S)
    chunks = []
    size = 0
    try:
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size <= MAX_PAYLOAD:
                chunks.append(chunk)
    except (_Deadline, OSError):  # stdin never closed, or none at all: keep what came
        pass
    signal.alarm(0)
    return b"".join(chunks), size > MAX_PAYLOAD


def state_dirs():  # type: () -> tuple[str, str]
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


def _home():  # type: () -> str
    home = os.environ.get("HOME")
    if home is not None and home.startswith("/"):
        return home.rstrip("/") or "/"
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir.rstrip("/") or "/"


def new_event_id(now):  # type: (float) -> str
    """A UUID version 7, as the core makes it: `now` in Unix milliseconds, 74 random bits."""
    ms = int(now * 1000) if 0 <= now < ID_TIME_LIMIT_S else 0
    h = "%012x" % ms + binascii.hexlify(os.urandom(10)).decode("ascii")
    variant = "%x" % (0x8 | (int(h[16], 16) & 0x3))  # RFC 9562
    h = h[:12] + "7" + h[13:16] + variant + h[17:]
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def spool(spool_dir, header, payload):  # type: (str, bytes, bytes) -> None
    """Append one record under the spool's lock, as the core's spool() does."""
    import fcntl

    _makedirs(spool_dir)
    path = os.path.join(spool_dir, "events.spool")
    b64 = binascii.b2a_base64(payload).rstrip(b"\n")
    record = header + b" " + b64 + b"\n"
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    for _ in range(10):
        fd = os.open(path, flags, 0o600)
        try:
            for _ in range(40):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except (IOError, OSError) as exc:  # 2.7 raises IOError
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    time.sleep(0.0005)
            # Without the lock after ~20 ms, append anyway: a lost event is worse.
            st = os.fstat(fd)
            try:
                cur = os.stat(path)
            except OSError:
                continue  # the replay took the file away: open the new one
            if (cur.st_ino, cur.st_dev) != (st.st_ino, st.st_dev):
                continue
            # A record cut short (disk full, a killed writer) must not swallow this one.
            if st.st_size:
                os.lseek(fd, -1, os.SEEK_END)
                if os.read(fd, 1) != b"\n":
                    record = b"\n" + record
            while record:
                record = record[os.write(fd, record) :]
            return
        finally:
            os.close(fd)


def leave_note(run_dir, problem):  # type: (str, str) -> None
    """Replace the note with this run's: when, which Python, why, and where."""
    import json

    _makedirs(run_dir)
    note = {
        "time": time.time(),
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "executable": sys.executable,
        "problem": problem,
        "cwd": _cwd(),  # where Claude Code ran it: a project may pick its own python3
    }
    path = os.path.join(run_dir, NOTE)
    temporary = "%s.%d" % (path, os.getpid())
    with open(temporary, "w") as f:
        f.write(json.dumps(note) + "\n")
    os.rename(temporary, path)


def forget_interpreter(args):  # type: (list[str]) -> None
    """Run by the plugin's launcher on the interpreter it had cached (`--cached FILE`), which
    is too old now: remove the file, so that its next run looks on PATH again."""
    if len(args) == 2 and args[0] == "--cached":
        try:
            os.unlink(args[1])
        except OSError:
            pass


def _cwd():  # type: () -> str | None
    try:
        return os.getcwd()
    except OSError:  # deleted since
        return None


def _makedirs(path):  # type: (str) -> None
    try:
        os.makedirs(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
