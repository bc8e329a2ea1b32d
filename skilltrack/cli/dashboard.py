"""`skilltrack dashboard`: have the daemon serve the local dashboard, print its URL, open it.

The URL holds the user's token, and a browser's command line (with xdg-open's, and that of
anything between) is there for every local user to read in /proc. So the browser is never
given the URL: it is given a page in the run directory (0600, in a directory of ours that is
0700) that sends it on to the URL. Its path is no secret; its contents only this user can
read. The browser's history and bookmarks keep the URL itself, in the user's own profile,
and it keeps working: the token stays the same across restarts.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import sys
from pathlib import Path

from skilltrack.cli import daemon as daemon_cli
from skilltrack.cli.parsing import CommandError
from skilltrack.paths import InsecurePathError, Paths, ensure_private_dir

# Sent on at once by a zero-second refresh, or by the link where refreshing is turned off.
# No script, and a policy that lets it load nothing.
_REDIRECT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0; url={url}">
<title>skilltrack dashboard</title>
</head>
<body><p><a href="{url}">Open the skilltrack dashboard</a></p></body>
</html>
"""


def redirect_path(paths: Paths) -> Path:
    return paths.run_dir / "dashboard.html"


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
        page = write_redirect(paths, url)
        import webbrowser  # here: ~20 ms of every command's start-up otherwise

        webbrowser.open(page.as_uri())
    return 0


def write_redirect(paths: Paths, url: str) -> Path:
    """The page that sends a browser on to `url`, written (0600) where only we can read it:
    replaced whole, so a browser never reads half of it, and never through a link planted
    in its place."""
    try:
        ensure_private_dir(paths.run_dir)
    except InsecurePathError as exc:
        raise CommandError(f"not opening a browser: {exc}") from None
    path = redirect_path(paths)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)  # one left by a process that had our pid and died
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(_REDIRECT.format(url=html.escape(url)))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def _has_display() -> bool:
    """Whether a graphical browser can open: without one, `webbrowser` would start a text
    browser in this very terminal."""
    if sys.platform == "darwin" or sys.platform == "win32":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
