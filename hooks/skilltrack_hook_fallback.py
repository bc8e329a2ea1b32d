"""The hook's last resort: keep the event when the core cannot run it.

skilltrack_hook.py calls `keep()` when its Python is older than the core needs (3.8; the
plugin form runs whatever `python3` it finds, and that may be 3.6, 3.7 or even 2.7) or when
the core cannot be imported. Then, rather than drop the event silently:

- the event is appended to the spool as the core appends it (the same record, the same lock
  and the same check that the daemon's replay has not just taken the file away), so the
  daemon stores it at its next replay; as the core, only into a directory of this user's
  alone, else into the fallback folder, never through a link;
- a note, `hook-fallback` in the run directory (if that is the user's alone), says which
  Python ran and why, for `skilltrack doctor` to report;
- run by the plugin's launcher on the interpreter it had cached, it removes that file, so
  that the next run finds `python3` on PATH again (hooks/skilltrack_hook.sh);
- it exits 0 with nothing on stdout, as the core does;
- while tracking is paused (the core's marker), it keeps nothing at all.

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
    if paused(run_dir):
        return  # tracking is paused: nothing is kept, not even the note
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


def paused(run_dir):  # type: (str) -> bool
    """As the core's: the marker `paused` there, a regular file of this user's."""
    try:
        st = os.lstat(os.path.join(run_dir, "paused"))
    except OSError:
        return False
    return st.st_mode & 0o170000 == 0o100000 and st.st_uid == os.getuid()


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
    """Keep one record as the core's spool() does: in the spool if its directory is this
    user's alone, else in the fallback folder if that is, else nowhere."""
    b64 = binascii.b2a_base64(payload).rstrip(b"\n")
    record = header + b" " + b64 + b"\n"
    try:
        if private_dir(spool_dir):
            append(spool_dir, record)
            return
    except (IOError, OSError):
        pass
    fallback = fallback_spool_dir(spool_dir)
    if private_dir(fallback):
        append(fallback, record)


def fallback_spool_dir(spool_dir):  # type: (str) -> str
    """As the core's (and skilltrack.paths.Paths.fallback_spool_dir)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = os.path.normpath(runtime) if runtime.startswith("/") else "/dev/shm"
    tag = binascii.crc32(_encoded(spool_dir)) & 0xFFFFFFFF  # 2.7's is signed
    return os.path.join(base, "skilltrack-%d-%08x" % (os.getuid(), tag))


def _encoded(path):  # type: (str) -> bytes
    if sys.version_info[0] < 3:  # 2.7's str: bytes already
        return path
    fsencode = getattr(os, "fsencode", None)  # from 3.2 on
    if fsencode is not None:
        return fsencode(path)  # type: ignore[no-any-return]
    return path.encode(sys.getfilesystemencoding())


def private_dir(path):  # type: (str) -> bool
    """As the core's: made if missing; a directory of this user's that no one else may
    enter, under directories no one but this user or root may change."""
    parent = os.path.dirname(path)
    if not trusted(parent):
        return False
    _makedirs(path)
    st = os.lstat(path)
    return st.st_mode & 0o170077 == 0o040000 and st.st_uid == os.getuid() and trusted(parent)


def trusted(path, depth=0):  # type: (str, int) -> bool
    """As the core's: only this user or root can change `path` and what is above it."""
    uid = os.getuid()
    current = "/"
    for name in path.split("/"):
        if not name:
            continue
        current = os.path.join(current, name)
        try:
            st = os.lstat(current)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return True  # the rest is made by this user
            raise
        if st.st_uid != uid and st.st_uid != 0:
            return False
        if st.st_mode & 0o170000 == 0o120000:  # a link
            current = os.path.realpath(current)
            if depth >= 8 or not trusted(current, depth + 1):
                return False
        elif st.st_mode & 0o022 and not st.st_mode & 0o1000:  # writable by others, not sticky
            return False
    return True


def append(spool_dir, record):  # type: (str, bytes) -> None
    """Append one record under the spool's lock, as the core's append() does."""
    import fcntl

    path = os.path.join(spool_dir, "events.spool")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | os.O_NOFOLLOW
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
                cur = os.lstat(path)
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

    if not private_dir(run_dir):
        return  # not where another user could read it or plant a link
    note = {
        "time": time.time(),
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "executable": sys.executable,
        "problem": problem,
        "cwd": _cwd(),  # where Claude Code ran it: a project may pick its own python3
    }
    path = os.path.join(run_dir, NOTE)
    temporary = "%s.%d" % (path, os.getpid())
    try:
        os.unlink(temporary)  # left by a run killed halfway, whose pid this one has now
    except OSError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temporary, flags, 0o600)
    with os.fdopen(fd, "w") as f:
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
