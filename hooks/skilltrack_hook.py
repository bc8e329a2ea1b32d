"""skilltrack's Claude Code hook (run as `python3 -I -S skilltrack_hook.py`).

The work is in skilltrack_hook_core.py beside this file: Python compiles a script on every
run but caches an imported module's bytecode, which saves ~2 ms per tool call.

The core needs Python 3.8. This file parses and runs under any Python, 2.7 included (the
plugin form runs whatever `python3` it finds), so that under an older one, or when the core
cannot be imported, skilltrack_hook_fallback.py still keeps the event and says why.
"""

import os
import sys

MIN_PYTHON = (3, 8)  # = the core's; tests/test_hook_compat.py checks it with vermin


def _min_python():  # type: () -> tuple[int, ...]
    # Set by the tests alone, to run the fallback under an interpreter that is not too old.
    forced = os.environ.get("SKILLTRACK_HOOK_MIN_PYTHON")
    if forced:
        try:
            return tuple(int(part) for part in forced.split("."))
        except ValueError:
            pass
    return MIN_PYTHON


def main():  # type: () -> None
    sys.path.insert(0, os.path.dirname(__file__))
    minimum = _min_python()
    if sys.version_info >= minimum:
        try:
            from skilltrack_hook_core import run
        except BaseException as exc:  # a broken install: the fallback keeps the event
            problem = "the hook's core could not be imported (%s: %s)" % (type(exc).__name__, exc)
        else:
            run()  # exits 0, always
    else:
        problem = "Python %s is too old for the hook, which needs %s or newer" % (
            ".".join(str(v) for v in sys.version_info[:3]),
            ".".join(str(v) for v in minimum),
        )
    from skilltrack_hook_fallback import keep

    keep(problem)


if __name__ == "__main__":  # run by Claude Code; a tool that imports the package must not
    try:
        main()
    except BaseException:  # never fail a tool call
        pass
    os._exit(0)
