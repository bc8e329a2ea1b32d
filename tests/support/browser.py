"""A real headless Chromium driven over the DevTools protocol, for the dashboard's test.

Debian's `chromium` is started with its own throw-away profile, DNS answering nothing (so a
page that tried to reach the internet could not, and the attempt is still recorded), and a
DevTools port it picks itself. `Page` talks to one tab over a WebSocket (aiohttp's client):
navigate and wait for the load, evaluate JavaScript, take a screenshot, and record the URL of
every request the page made.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

START_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 30.0


def chromium_or_skip() -> str:
    """The chromium binary; CI must have it (`scripts/test` installs it), a developer's
    machine may lack it, and then the test says so in pytest's summary."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: scripts/test installs Debian's `chromium`")
    pytest.skip("chromium is not installed (scripts/test installs it where it can: root + apt)")


class Page:
    """One browser tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._loaded = asyncio.Event()
        self.requests: list[str] = []  # every URL the page asked for, in order
        self.statuses: dict[str, int] = {}  # URL -> HTTP status of its response
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._replies.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            elif method == "Network.responseReceived":
                response = params["response"]
                self.statuses[response["url"]] = response["status"]
            elif method == "Page.loadEventFired":
                self._loaded.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ident] = future
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, LOAD_TIMEOUT_S)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._loaded.wait(), LOAD_TIMEOUT_S)

    async def wait_for_load(self) -> None:
        """Wait for a load started by the page itself (a form submitted)."""
        await asyncio.wait_for(self._loaded.wait(), LOAD_TIMEOUT_S)

    def expect_load(self) -> None:
        self._loaded.clear()

    async def wait_until(self, expression: str) -> None:
        """Wait until `expression` is true in the page: for navigations the page makes on its
        own (a refresh). While the page changes, an evaluation may fail: it is tried again."""
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while True:
            with contextlib.suppress(AssertionError):  # the old page's context went away
                if await self.evaluate(expression):
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{expression!r} not true in {LOAD_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.05)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> None:
        """The whole page, not just the window, as a PNG."""
        height = await self.evaluate("document.documentElement.scrollHeight")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280, height=int(height), deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    """A headless Chromium with one tab, its Network and Page events on."""
    binary = chromium_or_skip()
    # Chromium's helpers (zygote, renderer, crash handler) may still write into the profile
    # for a moment after they are killed: its removal must not fail the test.
    with tempfile.TemporaryDirectory(prefix="st-chromium-", ignore_cleanup_errors=True) as profile:
        proc = await asyncio.create_subprocess_exec(
            *[
                binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-port=0", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1280,900", "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: its helpers go with it
        )  # fmt: skip
        try:
            port = await _devtools_port(Path(profile), proc)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets = await answer.json()
                (tab,) = [t for t in targets if t["type"] == "page"]
                async with http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    page = Page(ws)
                    try:
                        await page.send("Network.enable")
                        await page.send("Page.enable")
                        yield page
                    finally:
                        await page.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # any helper that outlived the browser


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process) -> int:
    """The port chromium chose, from the file it writes into its profile once listening."""
    deadline = time.monotonic() + START_TIMEOUT_S
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"chromium exited at start with {proc.returncode}")
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int((await asyncio.to_thread(marker.read_text)).splitlines()[0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"chromium did not open its DevTools port in {START_TIMEOUT_S:.0f}s")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
