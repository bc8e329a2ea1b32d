"""The local dashboard: a read-only web page and its JSON, served by the daemon on 127.0.0.1.

Who may read it: whoever has the URL, which holds a per-user token (kept 0600 in the data
directory, so it survives restarts and a bookmark keeps working). Every request is checked:
- the path starts with the token (compared in constant time), else 403;
- the Host header names 127.0.0.1 or localhost at our port, else 403: a web page elsewhere
  that rebinds its DNS name to 127.0.0.1 would send its own host name;
- only GET (and HEAD).
Responses forbid loading anything (Content-Security-Policy `default-src 'none'`, inline
styles and `data:` images aside) and carry no Referer. The access log is off: it would write
the token into the daemon's log.

Imported only when the dashboard is served: aiohttp costs an idle daemon ~10 MiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from skilltrack.daemon.ingest.skill_folders import installed_skills
from skilltrack.daemon.report import build
from skilltrack.daemon.report import page as dashboard_page
from skilltrack.daemon.report.filters import ARTIFACT_TYPES, Filters
from skilltrack.format import iso
from skilltrack.paths import Paths, open_private

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
DEFAULT_RANGE = "30d"  # what the page shows without a `since`; the JSON defaults to all time

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DashboardError(Exception):
    """The dashboard cannot be served; the message says why in one line."""


class BadQuery(Exception):
    """A request's query parameter is not one the report takes (answered 400)."""


def token_path(paths: Paths) -> Path:
    return paths.data_dir / "dashboard.token"


# The first line of a token file made since `skilltrack dashboard` stopped giving the URL to
# the browser as an argument. A token without it was on command lines any user could read,
# and may still be on a running browser's: it is replaced, once.
_HEADER = "# skilltrack's dashboard token; never on a command line"


def load_token(paths: Paths) -> str:
    """The user's dashboard token, made (0600) on first use."""
    path = token_path(paths)
    with contextlib.suppress(FileNotFoundError):
        # Never through a link: a token someone else chose would open the page to them.
        with open(open_private(path, os.O_RDONLY), encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
        if len(lines) == 2 and lines[0] == _HEADER and _TOKEN.match(lines[1]):
            return lines[1]
        # Damaged, or from before: a new one (old URLs stop working, as they should).
        path.unlink()
    token = secrets.token_urlsafe(32)
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{_HEADER}\n{token}\n")
    return token


class Dashboard:
    """The dashboard's web server, started on demand and stopped with the daemon."""

    def __init__(self, paths: Paths, port: int = 0) -> None:
        self._paths = paths
        self._port = port
        self._token = load_token(paths)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "dashboard not started"
        return f"http://{HOST}:{self.port}/{self._token}/"

    async def start(self) -> str:
        """Serve (once); the page's URL, token included."""
        if self._runner is not None:
            return self.url
        app = web.Application(middlewares=[self._guard])
        app.router.add_get(f"/{self._token}/", self._page)
        app.router.add_get(f"/{self._token}/api/report", self._report_json)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise DashboardError(f"cannot serve the dashboard on {HOST}:{self._port}: "
                                 f"{exc.strerror or exc}") from None  # fmt: skip
        self._runner = runner
        self.port = _bound_port(runner)
        log.info("dashboard serving on http://%s:%d/ (`skilltrack dashboard` opens it)",
                 HOST, self.port)  # fmt: skip
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.host not in (f"{HOST}:{self.port}", f"localhost:{self.port}"):
            response: web.StreamResponse = _refusal(403, "wrong Host header")
        elif not hmac.compare_digest(_first_segment(request.path), self._token):
            response = _refusal(
                403, "this URL lacks the dashboard's token: run `skilltrack dashboard` for it"
            )
        else:
            try:
                response = await handler(request)
            except BadQuery as exc:
                response = _refusal(400, str(exc))
            except web.HTTPException as exc:  # the router's own: 404, 405
                response = _refusal(exc.status, exc.reason)
        response.headers.update(_HEADERS)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        query.setdefault("since", DEFAULT_RANGE)  # a first visit; `since=` is all time
        report = await self._report({k: v for k, v in query.items() if v})
        # An empty page says how to start only when nothing was ever recorded.
        recorded = bool(report["artifacts"]) or await build.recorded(
            self._paths.db, exists=self._paths.db.exists()
        )
        html = dashboard_page.page(report, query, iso(time.time()) or "", recorded=recorded)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def _report_json(self, request: web.Request) -> web.Response:
        report = await self._report({k: v for k, v in request.query.items() if v})
        # Compact: programs read it, and indenting takes json's pure-Python encoder.
        return web.Response(text=json.dumps(report), content_type="application/json")

    async def _report(self, query: dict[str, str]) -> dict[str, Any]:
        """The report `skilltrack report --json` prints for the same filters (query
        parameters named as its options: since, until, project, session, type,
        unused_days); a bad parameter is a 400 that names it."""
        known = {"since", "until", "project", "session", "type", "unused_days"}
        unknown = sorted(set(query) - known)
        if unknown:
            raise BadQuery(f"unknown parameter {unknown[0]!r}")
        try:
            since = build.when(query["since"]) if "since" in query else None
            until = build.when(query["until"]) if "until" in query else None
            unused_days = int(query.get("unused_days", "30"))
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        kind = query.get("type")
        if kind is not None and kind not in ARTIFACT_TYPES:
            raise BadQuery(f"type must be one of {', '.join(ARTIFACT_TYPES)}")
        if unused_days < 1:
            raise BadQuery("unused_days must be at least 1")
        if since is not None and until is not None and until <= since:
            raise BadQuery("until must be after since")
        project = query.get("project")
        if project is not None:  # a path as the report's option takes it (`$PWD`, `~/app`)
            project = build.project_filter(project)
        filters = Filters(since, until, project, query.get("session"), kind)
        # The daemon has no project of its own: the user's and plugins' skills only.
        installed = await asyncio.to_thread(installed_skills, Path.home(), None)
        return await build.build(
            self._paths.db,
            filters,
            exists=self._paths.db.exists(),
            installed=installed,
            unused_days=unused_days,
        )


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def _refusal(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=f"skilltrack dashboard: {reason}\n")


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise DashboardError("the dashboard's socket has no address")
