"""`skilltrack dashboard`: have the daemon serve the local dashboard, print its URL, open it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from skilltrack.cli import daemon as daemon_cli
from skilltrack.cli.parsing import CommandError
from skilltrack.paths import Paths


def dashboard_command(args: argparse.Namespace, paths: Paths) -> int:
    # The daemon imports aiohttp and friends: only this command pays for it.
    from skilltrack.daemon.server import control

    if control.query_status(paths) is None:
        # Its "started" lines are for people: keep stdout for the URL (or the JSON). Should
        # it not start, parsing.run says why in the daemon's name.
        with contextlib.redirect_stdout(sys.stderr):
            daemon_cli.start(paths)
    answer = control.control(paths, "dashboard", timeout=10.0)
    if answer is None:
        raise CommandError("the daemon did not answer; see `skilltrack-daemon status`")
    if "url" not in answer:
        raise CommandError(str(answer.get("error", "the daemon cannot serve it")))
    url = str(answer["url"])
    if args.json:
        print(json.dumps({"url": url}))
    else:
        print(url)
        print("(the URL holds your private token: do not share it)", file=sys.stderr)
    if not args.no_open and _has_display():
        import webbrowser  # here: ~20 ms of every command's start-up otherwise

        webbrowser.open(url)
    return 0


def _has_display() -> bool:
    """Whether a graphical browser can open: without one, `webbrowser` would start a text
    browser in this very terminal."""
    if sys.platform == "darwin" or sys.platform == "win32":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
