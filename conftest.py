"""Loaded before the tests' own conftest: `python -m pytest` tests the installed skilltrack,
as the `pytest` script does.

`python -m` puts the working directory first on sys.path. From the checkout that makes the
source folder `skilltrack/` the package, and it lacks the `daemon` and `installer`
sub-packages, which the install maps in from `daemon/` and `installer/`. So that entry is
taken off here; without an installed skilltrack the run stops with a line saying what to do.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent

sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != ROOT]
try:
    installed = importlib.util.find_spec("skilltrack.daemon") is not None
except ModuleNotFoundError:  # no skilltrack at all
    installed = False
if not installed:
    # Not pytest.exit(): raised while pytest imports a conftest, it is shown as a failed
    # import, traceback and all. Nothing of pytest's is set up yet to be undone.
    print("skilltrack is not installed for this Python: run scripts/test", file=sys.stderr)
    raise SystemExit(4)  # pytest's status for a usage error
