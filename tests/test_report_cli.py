"""`skilltrack report` as a person runs it: from a project folder, with skills on disk."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from tests.conftest import BIN, DaemonProcess, Home, payload


def test_cleanup_suggests_installed_skills_not_used_lately(
    home: Home, daemon: DaemonProcess, tmp_path: Path
) -> None:
    fake_home, project = tmp_path / "home", tmp_path / "proj"
    for base, names in (
        (fake_home / ".claude" / "skills", ["used", "stale", "never"]),
        (project / ".claude" / "skills", ["proj-never"]),
        (fake_home / ".claude" / "plugins" / "cache" / "mkt" / "tools" / "1.2.0" / "skills",
         ["lint"]),
    ):  # fmt: skip
        for name in names:
            (base / name).mkdir(parents=True)
            (base / name / "SKILL.md").write_text(f"---\nname: {name}\n---\n")
    (fake_home / ".claude" / "skills" / "not-a-skill").mkdir()  # no SKILL.md
    now = time.time()
    for name in ("used", "stale", "tools:lint"):
        home.hook(payload("PostToolUse", tool_name="Skill", tool_input={"skill": name}))
    home.wait_for(lambda: len(home.events()) == 3, what="3 skill uses stored")
    # Age the stale one's summary as if its last use was 45 days ago.
    with closing(sqlite3.connect(home.paths.db)) as conn:
        conn.execute(
            "UPDATE artifact_summary SET last_used = ? WHERE artifact_name = 'stale'",
            (now - 45 * 86400,),
        )
        conn.commit()
    result = subprocess.run(
        [str(BIN / "skilltrack"), "report", "--json"],
        capture_output=True, text=True, check=True, cwd=project,
        env={**home.env, "HOME": str(fake_home)},
    )  # fmt: skip
    cleanup = {c["name"]: c for c in json.loads(result.stdout)["cleanup"]}
    assert set(cleanup) == {"never", "proj-never", "stale"}
    assert cleanup["never"] == {"name": "never", "source": "user",
                                "location": "~/.claude/skills/never", "last_used": None,
                                "never_used": True}  # fmt: skip
    assert cleanup["proj-never"]["source"] == "project"
    assert not cleanup["stale"]["never_used"]
    recent = subprocess.run(
        [str(BIN / "skilltrack"), "report", "--unused-days", "60"],
        capture_output=True, text=True, check=True, cwd=project,
        env={**home.env, "HOME": str(fake_home)},
    ).stdout  # fmt: skip
    assert "stale" not in recent.split("installed skills to consider removing:")[1]
    assert "never (user, ~/.claude/skills/never): never used" in recent
