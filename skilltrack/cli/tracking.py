"""`skilltrack pause` and `skilltrack resume`: stop and restart keeping events.

The state is the marker of skilltrack/pause.py, which the hook looks for; the config file's
`enabled = false` pauses too, and `resume` refuses while it says so.
"""

from __future__ import annotations

import argparse
import json
import sys

from skilltrack import pause as pause_mod
from skilltrack.cli.parsing import CommandError
from skilltrack.errors import ConfigError
from skilltrack.format import iso
from skilltrack.paths import Paths


def config_enabled(paths: Paths) -> bool | None:
    """The config file's `enabled`, or None if the file cannot be used (ConfigError)."""
    from skilltrack import config  # pydantic: only when asked

    try:
        return config.load(paths.config).enabled
    except ConfigError:
        return None


def pause_command(args: argparse.Namespace, paths: Paths) -> int:
    from skilltrack.daemon.server.spool import backlog

    enabled = config_enabled(paths)
    by = pause_mod.BY_CONFIG if enabled is False else pause_mod.BY_COMMAND
    found = pause_mod.pause(paths, by)
    waiting = backlog(paths.spool_dir)[0]
    if args.json:
        print(json.dumps({**pause_mod.describe(found), "spooled": waiting}))
        return 0
    print(f"tracking paused (since {iso(found.since)}): hooks keep nothing until skilltrack resume")
    if waiting:
        print(f"  {waiting} events already in the spool are still stored once the daemon runs")
    return 0


def resume_command(args: argparse.Namespace, paths: Paths) -> int:
    enabled = config_enabled(paths)
    if enabled is False:
        pause_mod.sync(paths, enabled)  # the hooks stay paused, as the file says
        raise CommandError(
            f"tracking is turned off in {paths.config} (enabled = false): set it to true "
            "there, then run skilltrack resume"
        )
    lifted = pause_mod.resume(paths)
    if args.json:
        print(json.dumps({"paused": False, "was_paused": lifted is not None}))
        return 0
    if lifted is None:
        print("tracking was not paused")
    else:
        print("tracking resumed: the next hook event is kept (and starts the daemon if needed)")
    if enabled is None:
        print(
            f"skilltrack: note: {paths.config} cannot be used; `skilltrack config` says why",
            file=sys.stderr,
        )
    return 0
