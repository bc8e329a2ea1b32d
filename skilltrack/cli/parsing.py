"""What the three programs share on their command lines: the options' argument types, and the
one place where a command's outcome becomes its exit status.

Exit statuses: 0 success (`skilltrack-daemon status`: 3 when the daemon is not running, as an
init script's `status` says it); 1 a user error, said in one line on standard error as
`prog: why`; 2 a usage error (argparse's own, or a `UsageError` for options that parse but
do not go together). A reader that closes standard output early (`| head`) ends a command
quietly with 0.

Every command's start-up pays for what this module imports: a little of the standard library
and of skilltrack's core (the errors are defined apart from the modules that raise them for
that reason). The argument types are here, not in their commands' modules, because building
`skilltrack`'s tree needs them all and should import none of those modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from skilltrack.errors import ConfigError, ControlError
from skilltrack.format import reporting_to_stdout
from skilltrack.paths import Paths

TYPE_CHECKING = False  # as in skilltrack.format: typing is not imported for annotations
if TYPE_CHECKING:
    from typing import Any

DAEMON = "skilltrack-daemon"
MAX_COMMENT = 2000  # characters of a rating's comment
# What a command is: a function of its parsed arguments and the paths of the state it uses,
# returning its exit status (`set_defaults(handler=...)` registers it, or, in `skilltrack`'s
# tree, names it "module:function": see main.load).
Handler = Callable[[argparse.Namespace, Paths], int]


class UsageError(Exception):
    """Options that parse but make no sense together (or a value out of their range): the
    message says which, and the command exits 2 without doing anything."""


class CommandError(Exception):
    """A command cannot do what it was asked; the message says why in one line (exit 1)."""


class Parser(argparse.ArgumentParser):
    """The programs' parser: argparse's, with a help formatter that does not import shutil.
    argparse makes a formatter for every option it adds, and HelpFormatter asks shutil for
    the terminal's width; shutil (with bz2, lzma, fnmatch) is a good part of a command's
    start-up, for help text that is rarely printed. Sub-parsers are of the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _columns() - 2)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size finds it: $COLUMNS, else standard
    output's terminal, else 80."""
    try:
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


def add_json(parser: argparse.ArgumentParser, help: str = "print JSON for programs") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_version(parser: argparse.ArgumentParser) -> None:
    from skilltrack import __version__

    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="show the version"
    )


def positive(text: str) -> int:
    """A count of at least 1 (argparse's message names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text}")
    return value


def days(text: str) -> int:
    """A number of days (whether it is in range, the command says, naming its option)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of days, not {text!r}") from None


def time_option(text: str) -> float:
    """`--since`/`--until`: a time as `when` reads it, or a usage error that says why."""
    from skilltrack.daemon.report.build import when  # only when a time is given

    try:
        return when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def project_option(text: str) -> str:
    """`--project`: a folder name, or a path in the form the daemon stores paths in."""
    from skilltrack.daemon.report.build import project_filter

    return project_filter(text)


def rating(text: str) -> int:
    if text.strip() not in {"1", "2", "3", "4", "5"}:
        raise argparse.ArgumentTypeError(f"a rating is a whole number from 1 to 5, not {text!r}")
    return int(text)


def comment(text: str) -> str:
    if len(text) > MAX_COMMENT:
        raise argparse.ArgumentTypeError(f"at most {MAX_COMMENT} characters, got {len(text)}")
    return text


def hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"hours are a number, not {text!r}") from None
    if not 0 <= value <= 10_000:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"hours saved must be from 0 to 10000, got {text}")
    return value


def run(
    prog: str,
    command: Callable[[], int],
    failure: Callable[[Exception], str | None] = lambda exc: None,
) -> int:
    """`command`'s exit status, what went wrong said as one line: a UsageError exits 2; a
    CommandError, a ConfigError and whatever `failure` describes (the program's own errors)
    exit 1; a ControlError is the daemon's, so said in its name whichever program met it.
    Anything else is a bug, and its traceback shows."""

    def guarded() -> int:
        try:
            return command()
        except UsageError as exc:
            return _say(prog, str(exc), 2)
        except (CommandError, ConfigError) as exc:
            return _say(prog, str(exc), 1)
        except ControlError as exc:
            return _say(DAEMON, str(exc), 1)
        except BrokenPipeError:
            raise  # standard output's, whatever `failure` says of OSErrors: see reporting_to_stdout
        except Exception as exc:  # the command line's boundary: a known error becomes a line
            why = failure(exc)
            if why is None:
                raise
            return _say(prog, why, 1)

    return reporting_to_stdout(guarded)


def _say(prog: str, why: str, status: int) -> int:
    print(f"{prog}: {why}", file=sys.stderr)
    return status
