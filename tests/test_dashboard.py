"""The local dashboard: served by the real daemon, read over real HTTP and in a real Chromium.

The data comes in through the real hook: two versions of a user skill (its SKILL.md edited
between uses), a failure, a built-in tool, an MCP tool, a subagent and what ran inside it, a
rating; and one installed skill never used.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from skilltrack.daemon.report import charts as report_charts
from skilltrack.daemon.report import page as dashboard_page
from tests.support.browser import chromium
from tests.support.cli import BIN
from tests.support.events import payload
from tests.support.home import ROOT, Home, isolated_home
from tests.support.stand_in_browser import seen_by_others
from tests.support.transcripts import SESSION, worked_example

ARTIFACTS = ROOT / "tests" / "artifacts"
SINCE = "2026-01-01"


@dataclass
class Served:
    home: Home
    url: str  # the page's, with the token
    fake_home: Path  # HOME of the daemon and of the commands
    elsewhere: Path  # a working directory with no project skills

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    @property
    def token(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[1]

    def report_cli(self, *args: str) -> dict[str, Any]:
        """`skilltrack report --json ARGS` as the user runs it, away from any project."""
        out = self.home.cli("skilltrack", "report", "--json", *args, cwd=self.elsewhere).stdout
        result: dict[str, Any] = json.loads(out)
        return result


def get(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET (errors included, not raised)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def use(home: Home, event: str = "PostToolUse", **fields: Any) -> None:
    result = home.hook(payload(event, **fields))
    assert (result.returncode, result.stdout) == (0, b""), result


def populate(home: Home, tmp_path: Path) -> Path:
    """A user with two skills installed (one never used) and a day of varied use; HOME for
    the daemon is the returned folder."""
    fake_home = tmp_path / "home"
    skills = fake_home / ".claude" / "skills"
    for name in ("deploy", "never-used"):
        (skills / name).mkdir(parents=True)
        (skills / name / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {name}\n---\n")
    home.env["HOME"] = str(fake_home)
    # Running before the first use: a use the hook spools is attributed to the skill's
    # version when it is replayed, which would blur the edit below.
    home.process("skilltrack-daemon", "start")
    deploy: dict[str, Any] = {"tool_name": "Skill", "tool_input": {"skill": "deploy"}}
    for _ in range(3):
        use(home, **deploy)
    use(home, "PostToolUseFailure", **deploy)
    # A new version of the skill: the next uses are attributed to it.
    (skills / "deploy" / "SKILL.md").write_text("---\nname: deploy\ndescription: v2\n---\nMore.\n")
    for _ in range(2):
        use(home, **deploy)
    use(home, "Stop")  # the turn's end: the skill's work has ended
    use(home)  # Bash
    use(home, "PostToolUseFailure")  # Bash, failed
    use(home, tool_name="mcp__github__create_issue", tool_input={"title": "<b>x</b>"})
    use(
        home,
        tool_name="Agent",
        tool_input={"description": "look", "prompt": "find it", "subagent_type": "Explore"},
    )
    use(home, tool_name="Read", tool_input={"file_path": "/tmp/x"}, agent_id="a1",
        agent_type="Explore")  # fmt: skip
    # A session with a transcript (priced, made today): its requests are read at the Stop.
    main, _ = worked_example(fake_home)
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:")
    main.path.write_text(
        main.path.read_text().replace("2026-12-07T10:00:", today)
        .replace("claude-opus-5-5", "claude-sonnet-4-5")
    )  # fmt: skip
    where = {"session_id": SESSION, "cwd": "/home/ann/src/shop", "transcript_path": str(main.path)}
    use(home, tool_name="Skill", tool_input={"skill": "alpha-skill"},
        tool_use_id="toolu_41885_0001", **where)  # fmt: skip
    use(home, "Stop", **where)
    home.wait_for(lambda: len(home.events()) == 14, what="14 events stored")
    home.cli("skilltrack", "rate", "deploy", "4", "--comment", "saves a lot", "--hours-saved", "2")
    home.wait_for(
        lambda: home.json("skilltrack", "report")["totals"]["requests"] == 7,
        what="the main thread's 7 requests read",
    )
    return fake_home


def any_port(home: Home) -> None:
    """A free port rather than the fixed default, which a test run beside ours (or a
    daemon of this machine's user) may hold."""
    home.paths.config.parent.mkdir(parents=True, exist_ok=True)
    home.paths.config.write_text("dashboard_port = 0\n")


def serve(home: Home, tmp_path: Path) -> Served:
    fake_home = populate(home, tmp_path)
    # `skilltrack dashboard` starts the daemon when none runs (the hooks started one: stop it).
    home.cli("skilltrack-daemon", "stop")
    any_port(home)
    out = home.process("skilltrack", "dashboard", "--no-open", "--json").stdout
    url = json.loads(out)["url"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return Served(home, url, fake_home, elsewhere)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The populated dashboard, made once for the tests that only read it."""
    with isolated_home() as home:
        yield serve(home, tmp_path_factory.mktemp("served"))


@pytest.fixture
def served_alone(home: Home, tmp_path: Path) -> Served:
    """The same, made for one test that adds to what is served."""
    return serve(home, tmp_path)


STAND_IN = ROOT / "tests" / "support" / "stand_in_browser.py"


@dataclass
class Opened:
    """`skilltrack dashboard` run with a stand-in browser: its own output, and the record
    each stand-in process wrote (by its name: `browser`, and `xdg-open` if it was used)."""

    result: subprocess.CompletedProcess[str]
    records: dict[str, dict[str, Any]]


def open_with_stand_in(served: Served, tmp_path: Path, route: str, *args: str) -> Opened:
    """The real command, as a process with a display, whose `webbrowser` finds only the
    stand-in: named by $BROWSER, or as `xdg-open` on PATH (which starts the browser)."""
    bin_dir, records = tmp_path / "bin", tmp_path / "records"
    for folder in (bin_dir, records):
        folder.mkdir(exist_ok=True)
    for name in ("browser", "xdg-open"):
        program = bin_dir / name
        program.write_text(f"#!{sys.executable} -I\n" + STAND_IN.read_text())
        program.chmod(0o755)
    env = {
        **served.home.env,
        "PATH": str(bin_dir),
        "DISPLAY": ":0",
        "STAND_IN_RECORDS": str(records),
        "STAND_IN_BROWSER": str(bin_dir / "browser"),
    }
    env.pop("BROWSER", None)
    if route == "BROWSER":
        env["BROWSER"] = str(bin_dir / "browser")  # `webbrowser` waits for it
    result = subprocess.run(
        [str(BIN / "skilltrack"), "dashboard", *args],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    if "--no-open" not in args:
        # Through xdg-open, `webbrowser` does not wait for the browser to finish.
        served.home.wait_for((records / "browser.json").exists, what="the stand-in's record")
    found = {path.stem: json.loads(path.read_text()) for path in records.glob("*.json")}
    return Opened(result, found)


@pytest.mark.parametrize("route", ["BROWSER", "xdg-open"])
def test_the_browser_is_given_a_private_page_that_leads_to_the_dashboard_not_the_token(
    served: Served, tmp_path: Path, route: str
) -> None:
    opened = open_with_stand_in(served, tmp_path, route)
    assert opened.result.stdout == served.url + "\n"  # the URL is printed for the user
    assert set(opened.records) == ({"browser"} if route == "BROWSER" else {"browser", "xdg-open"})

    # What another local user reads in /proc: of each process the command started, and of
    # the daemon that serves the page, neither arguments nor environment hold the token.
    seen = list(opened.records.values())
    seen.append({"name": "daemon", **seen_by_others(served.home.status()["pid"])})
    for process in seen:
        assert "error" not in process, process
        assert [a for a in process["cmdline"] if served.token in a] == [], process["name"]
        assert [e for e in process["environ"] if served.token in e] == [], process["name"]

    # What the browser was given: a page only this user can read.
    browser = opened.records["browser"]
    page = served.home.paths.run_dir / "dashboard.html"
    assert browser["cmdline"][-1] == page.as_uri()
    for path, mode in ((page, 0o600), (page.parent, 0o700)):
        st = path.lstat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (mode, os.getuid()), path

    # Followed as a browser would, it leads to the page, at the URL a bookmark keeps.
    assert browser["visited"] == [page.as_uri(), served.url]
    assert (browser["url"], browser["status"]) == (served.url, 200)
    assert "<title>skilltrack dashboard</title>" in browser["body"]
    assert get(browser["url"])[0] == 200  # reloaded


@pytest.mark.parametrize("as_json", [False, True])
def test_no_open_prints_the_url_and_starts_no_browser(
    served: Served, tmp_path: Path, as_json: bool
) -> None:
    args = ["--no-open", "--json"] if as_json else ["--no-open"]
    opened = open_with_stand_in(served, tmp_path, "BROWSER", *args)
    printed = json.dumps({"url": served.url}) if as_json else served.url
    assert opened.result.stdout == printed + "\n"
    assert opened.records == {}  # `webbrowser` waits for $BROWSER: none was started


def test_the_json_endpoint_is_what_report_json_prints(served: Served) -> None:
    for query, args in [
        ("", []),
        (f"?since={SINCE}", ["--since", SINCE]),
        (f"?since={SINCE}&type=skill&unused_days=5", ["--since", SINCE, "--type", "skill",
                                                       "--unused-days", "5"]),
        ("?project=proj&session=8350fdb2-23dd-490c-a332-ff6a54b6b4af",
         ["--project", "proj", "--session", "8350fdb2-23dd-490c-a332-ff6a54b6b4af"]),
    ]:  # fmt: skip
        status, headers, body = get(served.url + "api/report" + query)
        assert status == 200, body
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body) == served.report_cli(*args), query
    report = json.loads(get(served.url + "api/report")[2])
    uses = {(a["artifact_type"], a["artifact_name"]): a["uses"] for a in report["artifacts"]}
    assert uses == {("skill", "deploy"): 6, ("tool", "Bash"): 2, ("tool", "Read"): 1,
                    ("mcp", "mcp__github__create_issue"): 1, ("agent", "Explore"): 1,
                    ("skill", "alpha-skill"): 1}  # fmt: skip
    (deploy,) = report["versions"]
    assert [(v["uses"], v["failures"]) for v in deploy["versions"]] == [(2, 0), (4, 1)]
    assert [c["name"] for c in report["cleanup"]] == ["never-used"]


def test_a_project_given_as_an_absolute_path_under_home_matches_its_stored_form(
    served_alone: Served,
) -> None:
    served = served_alone
    project = served.fake_home / "work" / "app"
    use(served.home, cwd=str(project))  # stored as `~/work/app`
    served.home.wait_for(lambda: len(served.home.events()) == 15, what="15 events stored")
    status, _, body = get(served.url + "api/report?project=" + urllib.parse.quote(str(project)))
    assert status == 200, body
    report = json.loads(body)
    assert report["filters"]["project"] == "~/work/app"
    assert [(a["artifact_name"], a["uses"]) for a in report["artifacts"]] == [("Bash", 1)]
    assert report == served.report_cli("--project", str(project))


def test_the_page_shows_every_part_of_the_report(served: Served) -> None:
    status, headers, html = get(served.url + "?since=")  # all time
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    for chart in ("uses-per-day", "top-artifacts", "durations", "version-bar"):
        assert f'data-chart="{chart}"' in html, chart
    assert "Versions of deploy" in html
    assert "★ 4.0" in html  # the rating
    assert "never-used" in html  # the cleanup suggestion
    assert "Explore" in html
    assert "Read (1)" in html
    assert "<b>x</b>" not in html  # stored text is escaped (this one is in a payload only)
    # The default range is the last 30 days; the form keeps the token's path.
    assert '<option value="30d" selected>' in get(served.url)[2]
    assert '<form method="get" action="./">' in html


# What the browser drew: per day chart, the height of its tallest bar and of the plot (the
# gap between its gridlines at 0 and at the top); per version row, its failure rate and the
# number of red marks beside it.
DRAWN = """(() => {
    const out = {};
    for (const name of ['uses-per-day', 'cost-per-day']) {
        const svg = document.querySelector(`svg[data-chart="${name}"]`);
        const heights = [...svg.querySelectorAll('rect.bar')]
            .map(r => r.getBoundingClientRect().height);
        const ys = [...svg.querySelectorAll('line')].map(l => l.getBoundingClientRect().top);
        out[name] = {tallest: Math.max(...heights), plot: Math.max(...ys) - Math.min(...ys)};
    }
    out['version-rates'] = [...document.querySelectorAll('table[data-table=versions] tbody tr')]
        .map(tr => [tr.children[3].textContent.trim(),
                    tr.children[3].querySelectorAll('rect').length]);
    return out;
})()"""


@pytest.mark.parametrize(
    ("path", "headers", "status", "says"),
    [
        ("/", {}, 403, "lacks the dashboard's token"),
        ("/api/report", {}, 403, "lacks the dashboard's token"),
        ("/{wrong}/", {}, 403, "lacks the dashboard's token"),
        ("/{wrong}/api/report", {}, 403, "lacks the dashboard's token"),
        ("/{token}/", {"Host": "evil.example:{port}"}, 403, "wrong Host header"),
        ("/{token}/api/report", {"Host": "127.0.0.1.evil.example"}, 403, "wrong Host header"),
        ("/{token}/nothing", {}, 404, "Not Found"),
        ("/{token}/api/report?since=yesterday", {}, 400, "'yesterday' is not a time"),
        ("/{token}/api/report?since=99999999d", {}, 400, "'99999999d' is out of range"),
        ("/{token}/?since=99999999d", {}, 400, "'99999999d' is out of range"),
        ("/{token}/api/report?type=plugin", {}, 400, "type must be one of skill, agent"),
        ("/{token}/api/report?unused_days=0", {}, 400, "unused_days must be at least 1"),
        ("/{token}/api/report?unused_days=x", {}, 400, "invalid literal"),
        ("/{token}/api/report?since=7d&until=8d", {}, 400, "until must be after since"),
        ("/{token}/api/report?limit=3", {}, 400, "unknown parameter 'limit'"),
    ],
)
def test_requests_are_refused_without_the_token_or_with_a_bad_query(
    served: Served, path: str, headers: dict[str, str], status: int, says: str
) -> None:
    wrong = served.token[:-4] + ("aaaa" if not served.token.endswith("aaaa") else "bbbb")
    url = f"http://127.0.0.1:{served.port}" + path.format(token=served.token, wrong=wrong)
    got, response_headers, body = get(url, **{k: v.format(port=served.port) for k, v in
                                             headers.items()})  # fmt: skip
    assert (got, says in body) == (status, True), body
    assert served.token not in body
    assert response_headers["Cache-Control"] == "no-store"
    assert response_headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_only_get_is_answered_and_the_token_is_private(served: Served) -> None:
    request = urllib.request.Request(served.url + "api/report", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 405
    token_file = served.home.paths.data_dir / "dashboard.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().splitlines()[-1] == served.token
    assert served.token not in (served.home.dir / "daemon.log").read_text()  # no access log


def test_dashboard_true_serves_it_at_start_on_the_configured_port_with_the_same_token(
    home: Home,
) -> None:
    port = _free_port()
    home.paths.config.write_text(f"dashboard = true\ndashboard_port = {port}\n")
    daemon = home.start_daemon()
    assert home.status()["dashboard"] == {"port": port, "error": None}
    url = json.loads(home.cli("skilltrack", "dashboard", "--no-open", "--json").stdout)["url"]
    assert url.startswith(f"http://127.0.0.1:{port}/")
    assert get(url + "api/report")[0] == 200
    daemon.terminate()
    home.start_daemon()  # a bookmark keeps working across restarts
    assert json.loads(home.cli("skilltrack", "dashboard", "--no-open", "--json").stdout) == {
        "url": url
    }


def test_a_taken_port_is_reported_and_the_daemon_keeps_serving_hooks(home: Home) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home.paths.config.write_text(f"dashboard = true\ndashboard_port = {port}\n")
        home.start_daemon()
        use(home)
        home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
        error = home.status()["dashboard"]["error"]
        assert error.startswith(f"cannot serve the dashboard on 127.0.0.1:{port}: ")
        assert error.endswith(
            f"; set dashboard_port in {home.paths.config} to a free port "
            "(0: any free port, a new one at each start)"
        )
        result = home.cli("skilltrack", "dashboard", "--no-open", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"skilltrack: {error}"


def test_the_command_starts_the_daemon_and_prints_only_the_url(home: Home) -> None:
    any_port(home)
    result = home.process("skilltrack", "dashboard", "--no-open")
    assert result.stdout.startswith("http://127.0.0.1:")
    assert result.stdout.count("\n") == 1
    assert "skilltrack daemon started" in result.stderr
    status, _, html = get(result.stdout.strip())
    assert status == 200
    assert "nothing used" not in html
    assert "skills to review" in html


async def test_the_page_in_a_real_chromium(served: Served) -> None:
    origin = f"http://127.0.0.1:{served.port}/"
    async with chromium() as page:
        # The recorder sees a page's attempt to reach outside, so its silence below means
        # something: this page tries, and the DNS rules make the attempt fail harmlessly.
        await page.goto('data:text/html,<img src="http://outside.example/x.png">')
        assert "http://outside.example/x.png" in page.requests
        page.requests.clear()

        await page.goto(served.url + "?since=")
        title = await page.evaluate("document.title")
        charts = await page.evaluate(
            """Object.fromEntries([...document.querySelectorAll('svg[data-chart]')].map(svg =>
                [svg.dataset.chart, [...svg.querySelectorAll('rect.bar')]
                    .filter(r => r.getBoundingClientRect().width > 0 &&
                                 r.getBoundingClientRect().height > 0).length]))"""
        )
        text = await page.evaluate("document.body.innerText")
        drawn = await page.evaluate(DRAWN)
        await page.screenshot(ARTIFACTS / "dashboard.png")
        assert title == "skilltrack dashboard"
        # Drawn by the browser with real sizes: a bar per day used, per artifact, per timed
        # artifact, the version comparison's bars, and the tokens' charts.
        assert charts["uses-per-day"] >= 1
        assert charts["top-artifacts"] == 6
        assert charts["durations"] >= 3
        assert charts["version-bar"] >= 1
        assert charts["cost-per-day"] == 1  # one day of requests: today's
        assert charts["cost-per-artifact"] == 1  # alpha-skill owns 6 of the 7 requests
        assert charts["tokens-per-use"] == 1
        assert "deploy" in text
        assert "★ 4.0" in text
        assert "never-used" in text
        # The range has both ends, in UTC; each chart says what its colours and marks mean.
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        assert re.search(rf"Summary: all time to {today} \d\d:\d\d UTC", text), text[:300]
        for said in ("uses", "failed (the red part of a bar)", "p95: 95 % of uses took no longer",
                     "p50: the median use", "Last used (UTC)", "Cost per day (UTC"):  # fmt: skip
            assert said in text, said
        # The busiest day reaches the top of its chart; the costliest day too.
        for chart in ("uses-per-day", "cost-per-day"):
            assert drawn[chart]["tallest"] == pytest.approx(drawn[chart]["plot"], abs=1), chart
        # No red at a 0 % failure rate: deploy's new version failed never, its old one once.
        assert drawn["version-rates"] == [["0.0%", 0], ["25.0%", 1]]
        # The rating with its comment and hours saved; the cost and tokens per use.
        assert re.search(r"deploy\s+★ 4\s+2\s+saves a lot", text), text
        assert re.search(r"skill\s+alpha-skill\s+1\s.*\s[\d,]+\s+\$0\.\d\d", text), text
        assert all(url.startswith(origin) or url.startswith("data:") for url in page.requests), (
            page.requests
        )
        assert page.statuses[served.url + "?since="] == 200

        # The filter form, as a person uses it: only skills, and the token stays in the path.
        page.expect_load()
        await page.evaluate(
            "document.querySelector('select[name=type]').value = 'skill';"
            "document.querySelector('header form').submit()"
        )
        await page.wait_for_load()
        location = await page.evaluate("location.href")
        assert location.startswith(served.url)
        assert "type=skill" in location
        names = await page.evaluate(
            "[...document.querySelectorAll('table[data-table=artifacts] tbody tr td:first-child')]"
            ".map(td => td.textContent)"
        )
        assert names, "no artifacts shown for type=skill"
        assert set(names) == {"skill"}, names

        await page.goto(origin)  # no token
        assert page.statuses[origin] == 403
        assert "lacks the dashboard's token" in await page.evaluate("document.body.innerText")
        assert all(url.startswith(origin) or url.startswith("data:") for url in page.requests)


async def test_the_empty_page_in_a_real_chromium_says_how_to_start(
    home: Home, tmp_path: Path
) -> None:
    """Nothing recorded yet: the page says how to turn tracking on, check it, or try the
    demo; a range with nothing in it says so and links to all time instead."""
    home.env["HOME"] = str(tmp_path / "home")
    any_port(home)
    url = json.loads(home.process("skilltrack", "dashboard", "--no-open", "--json").stdout)["url"]
    async with chromium() as page:
        await page.goto(url)
        assert page.statuses[url] == 200
        text = await page.evaluate("document.body.innerText")
        await page.screenshot(ARTIFACTS / "dashboard-empty.png")
        assert "Nothing recorded yet" in text
        for command in ("skilltrack-install", "scripts/install", "skilltrack doctor",
                        "skilltrack demo"):  # fmt: skip
            assert command in text, command
        assert re.search(r"Summary: \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC", text), text[:300]
        assert await page.evaluate("document.querySelectorAll('svg[data-chart]').length") == 0
        assert "consider removing" not in text  # no skill installed: nothing to say

    # Something recorded, nothing in the range asked for.
    use(home)
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
    status, _, html = get(url + "?since=2020-01-01&until=2020-02-01")
    assert status == 200
    assert 'data-empty="range"' in html
    assert "Nothing recorded yet" not in html
    assert "Nothing was recorded 2020-01-01 00:00 to 2020-02-01 00:00 UTC" in html
    assert 'href="./?since=&amp;until=2020-02-01"' in html  # all time, the rest kept


async def test_a_real_chromium_given_the_private_page_lands_on_the_dashboard(
    served: Served, tmp_path: Path
) -> None:
    opened = await asyncio.to_thread(open_with_stand_in, served, tmp_path, "BROWSER")
    given = opened.records["browser"]["cmdline"][-1]
    assert given.startswith("file:///")
    async with chromium() as page:
        await page.goto(given)
        await page.wait_until(
            f"location.href === {json.dumps(served.url)} && document.readyState === 'complete'"
        )
        assert await page.evaluate("document.title") == "skilltrack dashboard"
        assert page.statuses[served.url] == 200
        assert await page.evaluate("document.querySelectorAll('svg[data-chart]').length") > 0


# Text meant to break out of an element, an attribute (either quote), the style sheet or a
# CDATA section; text that looks escaped already; Unicode (a right-to-left override among
# it); and a long name, which the charts clip.
HOSTILE = {
    "element": "<script>alert(1)</script>",
    "double-quoted-attribute": '"><img src=x onerror=alert(1)>',
    "single-quoted-attribute": "' onmouseover='alert(1)",
    "style-sheet": "</style><script>alert(1)</script>",
    "cdata": "]]><svg onload=alert(1)>",
    "escaped-already-unicode": "&lt;b&gt; &amp; ünïcödé ✓ 名前 \u202e <b>",
    "long": "x" * 300 + "<img src=x onerror=alert(1)>",
}
# Where the page writes each string of the report (the query and the time made, too), by
# the place names `_report_naming` gives them.
SHOWN_WHOLE = [
    "type", "name", "day1", "day2", "skill", "source", "location", "version1", "version2",
    "agent", "inside", "unused", "unused-source", "unused-location", "f-type", "f-project",
    "f-session", "q-project", "rskill", "user1", "user2", "comment1", "comment2",
]  # fmt: skip
# Times: their first 16 characters.
SHOWN_CUT = ["since", "until", "last", "vfirst", "ulast", "rated", "generated"]


TOKENS = {
    "input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000, "cost_usd": 0.25, "requests": 4, "unpriced_requests": 0,
}  # fmt: skip


def _report_naming(text: Callable[[str], str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A report as `build.build` makes it, and the query it was asked with, whose every
    string is `text(place)`."""
    report = {
        "filters": {"since": text("since"), "until": text("until"), "project": text("f-project"),
                    "session": text("f-session"), "type": text("f-type")},
        "artifacts": [{"artifact_type": text("type"), "artifact_name": text("name"),
                       "plugin": text("plugin"), "mcp_server": text("server"), "uses": 3,
                       "failures": 1, "failure_rate": 0.3333, "avg_duration_ms": 20.0,
                       "p50_duration_ms": 9.4, "p95_duration_ms": 40.0, "total_duration_ms": 60,
                       "first_used": text("first"), "last_used": text("last"), "ratings": 1,
                       "avg_rating": 4.0, **TOKENS}],
        "per_day": [{"day": text("day1"), "uses": 2, "failures": 1, "requests": 4,
                     "tokens": 4000, "cost_usd": 0.5},
                    {"day": text("day2"), "uses": 1, "failures": 0, "requests": 0, "tokens": 0,
                     "cost_usd": 0.0}],
        "versions": [{"skill_id": text("skill-id"), "name": text("skill"),
                      "source": text("source"), "location": text("location"),
                      "versions": [{"version": text(f"version{i}"), "first_used": text("vfirst"),
                                    "last_used": text("vlast"), "uses": i, "failures": i - 1,
                                    "failure_rate": (i - 1) / i, "avg_duration_ms": 9.0,
                                    "p50_duration_ms": 9.4, "p95_duration_ms": 9.4, **TOKENS}
                                   for i in (2, 1)]}],
        "subagents": [{"agent_type": text("agent"), "runs": 1, "failures": 0,
                       "p50_duration_ms": 9.4,
                       "uses_inside": [{"artifact_type": text("inside-type"),
                                        "artifact_name": text("inside"), "uses": 1,
                                        "failures": 0}]}],
        "cleanup": [{"name": text("unused"), "source": text("unused-source"),
                     "location": text("unused-location"), "last_used": text("ulast"),
                     "never_used": False}],
        "totals": TOKENS,
        "ratings": [{"skill": text("rskill"), "user_id": text(f"user{i}"), "rating": 4,
                     "comment": text(f"comment{i}"), "hours_saved": 1.5,
                     "rated_at": text("rated")} for i in (1, 2)],
    }  # fmt: skip
    query = {"since": text("q-since"), "type": text("q-type"), "project": text("q-project")}
    return report, query


class _Parsed(HTMLParser):
    """A page as a browser's parser sees it: its tags with their attributes' names, and
    every text and attribute value (character references decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.shape: list[tuple[str, str, tuple[str, ...]]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.shape.append(("start", tag, tuple(name for name, _ in attrs)))
        self.texts += [value for _, value in attrs if value is not None]

    def handle_endtag(self, tag: str) -> None:
        self.shape.append(("end", tag, ()))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_are_shown_as_text_wherever_the_page_shows_them(hostile: str) -> None:
    report, query = _report_naming(lambda place: f"{place}:{hostile}")
    html = dashboard_page.page(report, query, f"generated:{hostile}")
    plain_report, plain_query = _report_naming(lambda place: f"{place}:plain")
    plain = _Parsed(dashboard_page.page(plain_report, plain_query, "generated:plain"))
    parsed = _Parsed(html)
    # Not one element or attribute more than the same page made with harmless names.
    assert parsed.shape == plain.shape
    assert not {tag for _, tag, _ in parsed.shape} & {"script", "img", "iframe", "object"}
    assert not [a for _, _, attrs in parsed.shape for a in attrs if a.startswith("on")]
    assert hostile not in html  # nowhere as written: escaped wherever it is
    # ... and every place shows the name itself, so dropping the data cannot pass.
    shown = "\n".join(parsed.texts)
    missing = [place for place in SHOWN_WHOLE if f"{place}:{hostile}" not in shown]
    missing += [place for place in SHOWN_CUT if f"{place}:{hostile}"[:16] not in shown]
    assert not missing, missing
    assert f"since {query['since']}" in shown  # the range the URL asked for, kept selected
    assert "api/report?" + urllib.parse.urlencode(query) in shown  # the JSON link


# Every element and attribute the page has; html.parser gives names in lower case.
PAGE_TAGS = {
    "html", "head", "meta", "link", "title", "style", "body", "header", "h1", "form", "select",
    "option", "input", "button", "main", "section", "h2", "div", "b", "span", "p", "table",
    "thead", "tbody", "tr", "th", "td", "footer", "a", "code", "svg", "g", "rect", "line", "text",
    "ol", "li",
}  # fmt: skip
PAGE_ATTRIBUTES = {
    "lang", "charset", "name", "content", "rel", "href", "method", "action", "aria-label",
    "value", "selected", "placeholder", "size", "class", "data-chart", "data-table", "role",
    "viewbox", "width", "height", "style", "xmlns", "x", "y", "x1", "x2", "y1", "y2", "fill",
    "stroke", "text-anchor", "data-empty", "aria-hidden",
}  # fmt: skip


def test_hostile_names_recorded_by_the_hook_are_text_on_the_served_page(
    home: Home, tmp_path: Path
) -> None:
    skill, unused = '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"  # folders
    session, project = "<script>alert(1)</script>", "<svg onload=alert(1)>"
    agent, tool, mcp = "'><b>agent", "<script>tool</script>", "mcp__</style>__]]>"
    fake_home = tmp_path / "home"
    skills = fake_home / ".claude" / "skills"
    for name in (skill, unused):
        (skills / name).mkdir(parents=True)
        (skills / name / "SKILL.md").write_text("---\ndescription: x\n---\n")
    home.env["HOME"] = str(fake_home)
    home.process("skilltrack-daemon", "start")
    where = {"session_id": session, "cwd": f"/home/ann/{project}"}
    use(home, tool_name="Skill", tool_input={"skill": skill}, **where)
    (skills / skill / "SKILL.md").write_text("---\ndescription: y\n---\n")  # a new version
    use(home, tool_name="Skill", tool_input={"skill": skill}, **where)
    use(home, tool_name="Agent", tool_input={"subagent_type": agent}, **where)
    use(home, tool_name=tool, agent_id="a1", agent_type=agent, **where)
    use(home, tool_name=mcp, **where)
    use(home, "Stop", **where)
    home.wait_for(lambda: len(home.events()) == 6, what="6 events stored")
    comment = "<script>comment</script>"
    home.cli("skilltrack", "rate", skill, "4", "--comment", comment)
    home.cli("skilltrack-daemon", "stop")
    any_port(home)
    url = json.loads(home.process("skilltrack", "dashboard", "--no-open", "--json").stdout)["url"]

    everything = urllib.parse.urlencode({"since": "", "project": project, "session": session})
    for query in ("?since=", "?" + everything):
        status, _, html = get(url + query)
        assert status == 200, html
        parsed = _Parsed(html)
        assert {tag for _, tag, _ in parsed.shape} <= PAGE_TAGS, query
        assert {a for _, _, attrs in parsed.shape for a in attrs} <= PAGE_ATTRIBUTES, query
        for name in (skill, unused, session, project, agent, tool, mcp, comment):
            assert name not in html, (query, name)
        shown = "\n".join(parsed.texts)
        for name in (skill, f"~/.claude/skills/{skill}", unused, agent, tool, mcp):
            assert name in shown, (query, name)  # the artifacts, versions, subagents, cleanup
    assert f"project {project}, session {session}" in shown  # the filters
    assert comment in shown  # the rating's comment, as text


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (999, 1000)]
)
def test_chart_axes_end_on_a_round_number(value: int, top: int) -> None:
    assert report_charts._nice_max(value) == top


def test_the_busiest_day_reaches_the_top_and_no_failure_draws_no_red() -> None:
    days = [{"day": f"2026-12-0{i}", "uses": uses, "failures": failed}
            for i, (uses, failed) in enumerate([(3, 0), (7, 2), (0, 0)], 1)]  # fmt: skip
    chart = report_charts.day_chart(days, "uses", str, failed="failures")
    assert chart is not None
    plot = chart.gridlines[0].y - chart.gridlines[-1].y
    assert [round(b.height / plot, 3) for b in chart.bars] == [round(3 / 7, 3), 1.0, 0.0]
    assert [b.failed_height > 0 for b in chart.bars] == [False, True, False]
    assert chart.busiest is days[1]
    rows = report_charts.version_rows([{"uses": 4, "failure_rate": 0.0},
                                       {"uses": 2, "failure_rate": 0.5}])  # fmt: skip
    assert [r.failed_width for r in rows] == [0.0, 80.0]
    html = dashboard_page.page(
        {**_report_naming(lambda place: place)[0], "per_day": days}, {}, "2026-12-07T20:57"
    )
    failed = html.count('class="fail"')
    assert failed == 1 + 1  # the day with failures, and the one artifact that failed


def test_the_cleanup_note_says_whether_any_skill_is_installed_at_all() -> None:
    """The note used to say every installed skill was used recently with none installed."""
    report = {**_report_naming(lambda place: place)[0], "cleanup": []}
    none = dashboard_page.page({**report, "installed_skills": 0}, {}, "2026-12-07T20:57")
    assert "no installed skills were found" in none
    assert "used recently" not in none
    some = dashboard_page.page({**report, "installed_skills": 3}, {}, "2026-12-07T20:57")
    assert "all 3 installed skills were used recently" in some


def test_the_commands_do_not_import_the_templates(home: Home) -> None:
    """Jinja2 is the dashboard's alone: `report` and the other commands start without it."""
    for args in (["report", "--json"], ["events", "--json"], ["dashboard", "--help"]):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", str(BIN / "skilltrack"), *args],
            capture_output=True, text=True, check=True, env=home.env,
        )  # fmt: skip
        imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                    if line.startswith("import time:")}  # fmt: skip
        assert "skilltrack.cli.main" in imported  # what the command imported is seen
        assert not imported & {"jinja2", "markupsafe", "skilltrack.daemon.report.page"}, args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_token_file_is_not_world_readable_even_with_a_loose_umask(home: Home) -> None:
    old = os.umask(0)
    try:
        from skilltrack.daemon.report.dashboard import load_token

        home.paths.data_dir.mkdir(parents=True, exist_ok=True)
        token = load_token(home.paths)
    finally:
        os.umask(old)
    path = home.paths.data_dir / "dashboard.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token(home.paths) == token  # kept, not remade
    path.write_text("garbage\n")
    assert load_token(home.paths) != token  # a damaged file is replaced


def test_a_token_made_before_the_browser_got_a_private_page_is_replaced_once(
    home: Home,
) -> None:
    """Such a token was on the browser's command line, where any user could read it."""
    from skilltrack.daemon.report.dashboard import load_token

    home.paths.data_dir.mkdir(parents=True, exist_ok=True)
    old = "k5Jd0Rw8mX2vQ7nLp4sT9yBcE1fGhA3uZ6iOjK0lMnP"  # as earlier versions wrote it
    (home.paths.data_dir / "dashboard.token").write_text(old + "\n")
    token = load_token(home.paths)
    assert token != old
    assert load_token(home.paths) == token  # once: the new one is kept


def test_the_default_port_is_fixed_and_when_taken_the_error_names_the_option(home: Home) -> None:
    from skilltrack.config import DASHBOARD_PORT

    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", DASHBOARD_PORT))
        except OSError:
            pytest.skip(f"port {DASHBOARD_PORT} is held by something else on this machine")
        taken.listen()
        home.paths.config.write_text("dashboard = true\n")  # the default port
        home.start_daemon()
        home.wait_for(lambda: home.status()["dashboard"]["error"], what="the dashboard refused")
        error = home.status()["dashboard"]["error"]
    assert error.startswith(f"cannot serve the dashboard on 127.0.0.1:{DASHBOARD_PORT}: ")
    assert "; set dashboard_port in " in error
