"""A stand-in for a web browser, and for the xdg-open that starts one, as real processes.

For `skilltrack dashboard`'s test: the command starts it through Python's `webbrowser`, as
it would start a real browser (named by $BROWSER, or found as `xdg-open` on PATH). Each
process writes what every local user could read of it — its command line and environment,
from /proc as `ps` reads them — to `<its name>.json` in $STAND_IN_RECORDS. Then:
- as `xdg-open`: it starts the browser named by $STAND_IN_BROWSER with its own arguments,
  as xdg-open hands a URL on;
- as a browser: it follows its last argument as a browser would (a file:// page is read and
  its refresh, else its first link, followed; http:// is fetched, redirects included) and
  adds to its record each URL it visited and the final URL, status and body.
It always exits 0: `webbrowser` would otherwise try the next browser it knows.

Standard library only; run with `python -I`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

MAX_HOPS = 5


def main() -> None:
    name = Path(sys.argv[0]).name
    record: dict[str, Any] = {"name": name, "pid": os.getpid(), **seen_by_others(os.getpid())}
    where = Path(os.environ["STAND_IN_RECORDS"]) / f"{name}.json"
    if name == "xdg-open":
        _write(where, record)  # first: once the browser's record exists, so does this one
        subprocess.run([os.environ["STAND_IN_BROWSER"], *sys.argv[1:]], check=False)
        return
    try:
        record.update(follow(sys.argv[-1]))
    except Exception as exc:  # the record says what failed; the test reads it
        record["error"] = f"{type(exc).__name__}: {exc}"
    _write(where, record)


def seen_by_others(pid: int) -> dict[str, Any]:
    """A process's arguments and environment, as /proc gives them."""
    proc = Path("/proc") / str(pid)
    cmdline = proc.joinpath("cmdline").read_bytes().split(b"\0")[:-1]
    environ = proc.joinpath("environ").read_bytes().split(b"\0")[:-1]
    return {
        "cmdline": [arg.decode(errors="replace") for arg in cmdline],
        "environ": [entry.decode(errors="replace") for entry in environ],
    }


def follow(url: str) -> dict[str, Any]:
    visited: list[str] = []
    for _ in range(MAX_HOPS):
        visited.append(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file":
            page = Path(urllib.request.url2pathname(parts.path)).read_text(encoding="utf-8")
            target = _Onward(page).target
            if target is None:
                return {"visited": visited, "error": f"{url} leads nowhere"}
            url = urllib.parse.urljoin(url, target)
            continue
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                status, final, body = answer.status, answer.url, answer.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, final, body = exc.code, exc.url, exc.read()
        if final != url:
            visited.append(final)  # an HTTP redirect, followed by urllib
        return {"visited": visited, "url": final, "status": status, "body": body.decode()}
    return {"visited": visited, "error": f"more than {MAX_HOPS} pages"}


class _Onward(HTMLParser):
    """Where a page sends a browser: its `<meta http-equiv="refresh">`, else its first link."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.refresh: str | None = None
        self.link: str | None = None
        self.feed(page)
        self.close()

    @property
    def target(self) -> str | None:
        return self.refresh if self.refresh is not None else self.link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            # "0; url=…": the delay, then the URL, perhaps quoted.
            _, _, rest = values.get("content", "").partition(";")
            key, _, value = rest.strip().partition("=")
            if key.strip().lower() == "url" and self.refresh is None:
                self.refresh = value.strip().strip("'\"")
        elif tag == "a" and "href" in values and self.link is None:
            self.link = values["href"]


def _write(path: Path, record: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.replace(path)  # whole or absent, for a test that waits for it


if __name__ == "__main__":
    main()
