"""The console scripts called in-process: `main(argv)` under a given environment and working
directory, standard output and error captured, the exit status returned.

A subprocess costs ~0.3 s of interpreter and import start-up per command (more on a loaded
machine) and tells nothing more, except where a real process is the point: the installed
entry points themselves, a closed pipe, the daemon's own process. Those tests run the
programs in `BIN` as subprocesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from skilltrack.cli import daemon as daemon_cli
from skilltrack.cli import install as install_cli
from skilltrack.cli import main as main_cli

BIN = Path(sys.executable).parent  # where the installed console scripts are

PROGRAMS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "skilltrack": main_cli.main,
    "skilltrack-daemon": daemon_cli.main,
    "skilltrack-install": install_cli.main,
}


@dataclass(frozen=True)
class Result:
    """What a command did, named as subprocess.CompletedProcess names it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandFailed(AssertionError):
    pass


def run(
    program: str,
    *args: str,
    env: Mapping[str, str],
    cwd: Path | str | None = None,
    check: bool = True,
) -> Result:
    """`program ARGS` as if run with exactly `env` as its environment, from `cwd`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result = _run(program, args, env, cwd)
    else:
        # The commands call asyncio.run(), which refuses to run inside a running loop: an
        # async test gets them from a thread of their own (and waits, as for a process).
        with ThreadPoolExecutor(1) as thread:
            result = thread.submit(_run, program, args, env, cwd).result()
    if check and result.returncode != 0:
        raise CommandFailed(
            f"`{program} {' '.join(args)}` exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def _run(
    program: str, args: tuple[str, ...], env: Mapping[str, str], cwd: Path | str | None
) -> Result:
    main = PROGRAMS[program]
    out, err = _capture(), _capture()
    with _environment(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors, --help
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            code = 1 if isinstance(exc.code, str) else (exc.code or 0)
    return Result((program, *args), code, _text(out), _text(err))


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path | str | None) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in [*os.environ]:
            if name not in env:
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        if cwd is not None:
            patch.chdir(cwd)
        yield


def _capture() -> io.TextIOWrapper:
    # A text stream with a binary buffer beneath, as a real stdout has.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")
