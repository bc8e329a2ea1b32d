"""`skilltrack report` as a person runs it: from a project folder, with skills on disk."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from tests.support.artifacts import Layout
from tests.support.cli import Result
from tests.support.events import payload
from tests.support.home import DaemonProcess, Home


def test_cleanup_suggests_installed_skills_not_used_lately(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    tree = Layout(tmp_path)  # a plugin installed from a marketplace folder, as Claude Code does
    fake_home, project = tree.home, tree.project
    tree.plugin(tree.market / "toolbox", {"lint-fix": None, "old-fix": None})
    tree.marketplace(["toolbox"])
    tree.registry("directory marketplace")
    for base, names in (
        (fake_home / ".claude" / "skills", ["used", "stale", "never"]),
        (project / ".claude" / "skills", ["proj-never"]),
    ):
        for name in names:
            (base / name).mkdir(parents=True)
            (base / name / "SKILL.md").write_text(f"---\nname: {name}\n---\n")
    (fake_home / ".claude" / "skills" / "not-a-skill").mkdir()  # no SKILL.md
    now = time.time()
    for name in ("used", "stale", "toolbox:lint-fix"):
        home.hook(payload("PostToolUse", tool_name="Skill", tool_input={"skill": name}))
    home.hook(payload("Stop"))  # a skill's use is stored once its turn has ended
    home.wait_for(lambda: len(home.events()) == 4, what="3 skill uses stored")
    # Age the stale one's summary as if its last use was 45 days ago.
    with closing(sqlite3.connect(home.paths.db)) as conn:
        conn.execute(
            "UPDATE artifact_summary SET last_used = ? WHERE artifact_name = 'stale'",
            (now - 45 * 86400,),
        )
        conn.commit()
    result = _report(home, fake_home, project, "--json")
    cleanup = {c["name"]: c for c in json.loads(result.stdout)["cleanup"]}
    assert set(cleanup) == {"never", "proj-never", "stale", "toolbox:old-fix"}
    assert cleanup["toolbox:old-fix"]["location"] == f"{tree.market}/toolbox/skills/old-fix"
    assert cleanup["never"] == {"name": "never", "source": "user",
                                "location": "~/.claude/skills/never", "last_used": None,
                                "never_used": True}  # fmt: skip
    assert cleanup["proj-never"]["source"] == "project"
    assert not cleanup["stale"]["never_used"]
    recent = _report(home, fake_home, project, "--unused-days", "60").stdout
    assert "stale" not in recent.split("installed skills to consider removing:")[1]
    assert "never (user, ~/.claude/skills/never): never used" in recent


def _report(home: Home, fake_home: Path, cwd: Path, *args: str) -> Result:
    """`skilltrack report ARGS` run from `cwd` by a user whose home is `fake_home`."""
    return home.cli("skilltrack", "report", *args, cwd=cwd, extra_env={"HOME": str(fake_home)})


def test_a_project_given_as_an_absolute_path_under_home_matches_its_stored_form(
    home: Home, tmp_path: Path
) -> None:
    fake_home = tmp_path / "home"
    project = fake_home / "proj"
    project.mkdir(parents=True)
    home.env["HOME"] = str(fake_home)  # the daemon writes this home as `~`
    home.start_daemon()
    home.hook(payload("PostToolUse", cwd=str(project)))
    home.hook(payload("PostToolUse", cwd=str(fake_home / "other")))
    home.wait_for(lambda: len(home.events()) == 2, what="2 events stored")
    # As the shell hands them over: `--project ~/proj`, `--project "$PWD"` (with a slash too).
    for given in (str(project), str(project) + "/", "~/proj", "proj"):
        for since in ([], ["--since", "1d"]):
            args = ("--project", given, "--json", *since)
            report = json.loads(_report(home, fake_home, project, *args).stdout)
            found = [(a["artifact_name"], a["uses"]) for a in report["artifacts"]]
            assert found == [("Bash", 1)], args
    assert json.loads(_report(home, fake_home, project, "--project", str(project),
                              "--json").stdout)["filters"]["project"] == "~/proj"  # fmt: skip


def test_nothing_found_says_what_was_filtered_not_a_range_never_given(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")
    said = _report(home, fake_home, tmp_path, "--project", str(fake_home / "nowhere")).stdout
    assert said.strip() == "nothing used in project ~/nowhere"
    said = _report(home, fake_home, tmp_path, "--session", "s-1", "--type", "skill").stdout
    assert said.strip() == "nothing used of type skill in session s-1"
    said = _report(home, fake_home, tmp_path, "--until", "2020-01-01").stdout
    assert said.strip() == "nothing used before 2020-01-01T00:00:00.000+00:00"


def test_subagent_lines_say_run_for_one_and_runs_for_more(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    for agent in ("Explore", "Plan", "Plan"):
        home.hook(payload("PostToolUse", tool_name="Agent",
                          tool_input={"prompt": "p", "subagent_type": agent}))  # fmt: skip
    home.wait_for(lambda: len(home.events()) == 3, what="3 agent runs stored")
    lines = _report(home, tmp_path, tmp_path).stdout.split("subagents:")[1].splitlines()
    assert "  Explore: 1 run, 0 failed" in lines
    assert "  Plan: 2 runs, 0 failed" in lines


def test_the_busiest_day_is_drawn_full_height_and_any_use_above_none() -> None:
    from skilltrack.daemon.report.render import sparkline

    assert sparkline([1]) == "█"
    assert sparkline([0, 1, 3]) == "▁▃█"
    assert sparkline([0, 1, 100]) == "▁▁█"
    assert sparkline([16, 8, 2]) == "█▄▁"
    assert sparkline([0, 0]) == "▁▁"


def test_report_since_7d_spans_the_week_not_the_one_day_with_use(
    home: Home, daemon: DaemonProcess
) -> None:
    home.hook(payload("PostToolUse"))
    home.wait_for(lambda: len(home.events()) == 1, what="the event stored")

    days = home.json("skilltrack", "report", "--since", "7d")["per_day"]
    text = home.cli("skilltrack", "report", "--since", "7d").stdout

    assert len(days) == 8  # 7 days of 24 h back reach into an eighth day
    assert [d["uses"] for d in days][:7] == [0] * 7
    first, last = days[0]["day"][:10], days[-1]["day"][:10]
    assert f"uses per day, {first} to {last} (UTC): ▁▁▁▁▁▁▁█  total 1, busiest 1" in text
