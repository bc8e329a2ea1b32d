"""Skills and commands resolved as Claude Code 2.1.328 resolves them, on its real payloads.

Each test lays out real files in a temporary home and project (and plugins as `claude plugin
install` records them, from the registry files it wrote) and feeds the daemon's enrichment the
payloads the real client sent in that situation (tests/support/artifacts.py). What the client
did in each case (which file it loaded) is in docs/skills-and-commands.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from skilltrack import config
from skilltrack.daemon.ingest.pipeline import Ingest
from skilltrack.daemon.ingest.skills import SkillLocator
from skilltrack.daemon.store.records import Record
from skilltrack.wire import RawFrame
from tests.support.artifacts import Layout

_ids = itertools.count(1)


@pytest.fixture
def tree(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


class Daemon:
    """The daemon's enrichment stage for a user whose home is the layout's."""

    def __init__(self, tree: Layout) -> None:
        self.tree = tree
        self.ingest = Ingest(
            config.Settings(tenant_id="acme", user_id="ann"),
            SkillLocator(home=tree.home),
            lambda: False,
            home=str(tree.home),
        )

    def parse(self, title: str, **changes: Any) -> Record:
        event = self.tree.payload(title, **changes)
        n = next(_ids)
        raw = RawFrame(
            f"00000000-0000-4000-8000-{n:012d}", f"{time.time():.6f}", "-",
            json.dumps(event).encode(),
        )  # fmt: skip
        return self.ingest.parse(raw)


def use(record: Record) -> tuple[str | None, str | None, str | None]:
    """(artifact type, name, plugin) a record counts a use of."""
    row = record.row
    return row.artifact_type, row.artifact_name, row.plugin


def where(record: Record) -> tuple[str, str]:
    """(source, location) of the version a record was attributed to."""
    assert record.skill is not None, record.row
    return record.skill.source, record.skill.location


def version_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# -- Commands -------------------------------------------------------------------------------


def test_a_command_called_by_the_model_is_the_command_typed_with_its_version(
    tree: Layout,
) -> None:
    md = tree.command(tree.home, "deploy-notes", "BODY user command deploy-notes")
    daemon = Daemon(tree)
    called = daemon.parse("Skill deploy-notes: a user command")
    typed = daemon.parse("/deploy-notes typed: a user command")
    for record in (called, typed):
        assert use(record) == ("command", "deploy-notes", None)
        assert where(record) == ("user", "~/.claude/commands/deploy-notes.md")
        assert record.skill is not None
        assert record.skill.version == version_of(md)
        assert record.row.skill_id == called.row.skill_id
    assert called.skill is not None
    assert called.skill.description == "deploy-notes"


def test_project_and_nested_commands_are_commands_of_no_plugin(tree: Layout) -> None:
    tree.command(tree.project, "proj-cmd", "BODY project command proj-cmd")
    tree.command(tree.home, "frontend/build", "BODY nested user command frontend/build")
    daemon = Daemon(tree)
    for title in ("Skill proj-cmd: a project command", "/proj-cmd typed: a project command"):
        record = daemon.parse(title)
        assert use(record) == ("command", "proj-cmd", None)
        assert where(record) == ("project", f"{tree.project}/.claude/commands/proj-cmd.md")
    for title in ("Skill frontend:build: a nested user command", "/frontend:build typed"):
        record = daemon.parse(title)
        assert use(record) == ("command", "frontend:build", None)  # `frontend` is no plugin
        assert where(record) == ("user", "~/.claude/commands/frontend/build.md")


def test_editing_a_command_makes_a_new_version_of_the_same_command(tree: Layout) -> None:
    md = tree.command(tree.home, "deploy-notes", "BODY user command deploy-notes")
    daemon = Daemon(tree)
    before = daemon.parse("Skill deploy-notes: a user command").skill
    md.write_text(md.read_text() + "\nAlso list the migrations.\n")
    after = daemon.parse("/deploy-notes typed: a user command").skill
    assert before is not None
    assert after is not None
    assert before.skill_id == after.skill_id
    assert before.version != after.version == version_of(md)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # A user skill and a user command named dup1: the skill runs.
        ("Skill dup1: a user skill and a user command", ("skill", "user", "~/.claude/skills/dup1")),
        # A project skill and a user command named dup4: the project skill runs, both ways.
        ("Skill dup4: a project skill and a user command", ("skill", "project", "dup4")),
        ("/dup4 typed: a project skill and a user command", ("skill", "project", "dup4")),
    ],
)
def test_a_skill_wins_over_a_command_of_the_same_name_whatever_their_scopes(
    tree: Layout, title: str, expected: tuple[str, str, str]
) -> None:
    tree.skill(tree.home, "dup1", "BODY user skill dup1")
    tree.command(tree.home, "dup1", "BODY user command dup1")
    tree.skill(tree.project, "dup4", "BODY project skill dup4")
    tree.command(tree.home, "dup4", "BODY user command dup4")
    record = Daemon(tree).parse(title)
    kind, source, location = expected
    assert record.row.artifact_type == kind
    assert record.skill is not None
    assert record.skill.source == source
    assert record.skill.location.endswith(location)


# -- Front-matter names ---------------------------------------------------------------------


def test_a_front_matter_name_is_the_skill_of_its_folder(tree: Layout) -> None:
    skill_md = tree.skill(
        tree.home, "fmt-check", "BODY user skill folder fmt-check", name="format-checker"
    )
    daemon = Daemon(tree)
    records = [
        daemon.parse("Skill format-checker: front-matter name of fmt-check"),
        daemon.parse("Skill fmt-check: folder name"),
        daemon.parse("/format-checker typed: reported as fmt-check"),
    ]
    for record in records:
        assert use(record) == ("skill", "fmt-check", None)
        assert where(record) == ("user", "~/.claude/skills/fmt-check")
        assert record.skill is not None
        assert record.skill.version == version_of(skill_md)
    assert len({r.row.skill_id for r in records}) == 1


def test_an_exact_name_wins_over_another_skills_front_matter_name(tree: Layout) -> None:
    tree.skill(tree.home, "alpha", "BODY user skill folder alpha", name="beta")
    tree.skill(tree.home, "beta", "BODY user skill folder beta", name="beta-real")
    record = Daemon(tree).parse("Skill beta: folder beta, and alpha's front-matter name")
    assert use(record) == ("skill", "beta", None)
    assert where(record) == ("user", "~/.claude/skills/beta")


def test_a_front_matter_name_found_nowhere_is_counted_without_a_version(tree: Layout) -> None:
    record = Daemon(tree).parse("Skill format-checker: front-matter name of fmt-check")
    assert use(record) == ("skill", "format-checker", None)
    assert (record.skill, record.row.skill_version) == (None, None)


# -- Plugins --------------------------------------------------------------------------------


def toolbox(tree: Layout, recorded: str = "directory marketplace") -> Path:
    """The recordings' toolbox plugin in the developer's marketplace folder, installed the
    way `recorded` says; and, as the client leaves it, a copy in the cache whose files say
    they are the copy."""
    root = tree.market / "toolbox"
    tree.plugin(root, {"lint-fix": "lint-fix", "pfolder": "pnamed"}, ["notes"])
    tree.marketplace(["toolbox"])
    cache = tree.home / ".claude" / "plugins" / "cache" / "devmarket" / "toolbox" / "1.0.0"
    tree.plugin(cache, {"lint-fix": "lint-fix", "pfolder": "pnamed"}, ["notes"])
    tree.registry(recorded)
    return root


def test_a_plugin_from_a_local_folder_is_read_from_that_folder_by_every_name(
    tree: Layout,
) -> None:
    root = toolbox(tree)
    skill_md = root / "skills" / "lint-fix" / "SKILL.md"
    daemon = Daemon(tree)
    records = [
        daemon.parse("Skill toolbox:lint-fix"),
        daemon.parse("Skill lint-fix: bare plugin skill name"),
        daemon.parse("/lint-fix typed: reported as toolbox:lint-fix"),
    ]
    for record in records:
        assert use(record) == ("skill", "toolbox:lint-fix", "toolbox")
        assert where(record) == ("plugin", str(root / "skills" / "lint-fix"))
        assert record.skill is not None
        assert record.skill.version == version_of(skill_md)
    assert len({r.row.skill_id for r in records}) == 1


def test_an_edit_in_the_plugins_folder_is_a_new_version_of_the_same_skill(
    tree: Layout,
) -> None:
    root = toolbox(tree)
    skill_md = root / "skills" / "lint-fix" / "SKILL.md"
    daemon = Daemon(tree)
    before = daemon.parse("Skill toolbox:lint-fix").skill
    skill_md.write_text(skill_md.read_text() + "\nv2: also fix imports.\n")
    after = daemon.parse("Skill lint-fix: bare plugin skill name").skill
    assert before is not None
    assert after is not None
    assert before.skill_id == after.skill_id
    assert before.version != after.version == version_of(skill_md)


def test_a_plugin_command_has_its_plugin_and_version_both_ways(tree: Layout) -> None:
    root = toolbox(tree)
    daemon = Daemon(tree)
    for title in (
        "Skill toolbox:notes: a plugin command",
        "/toolbox:notes typed: a plugin command",
    ):
        record = daemon.parse(title)
        assert use(record) == ("command", "toolbox:notes", "toolbox")
        assert where(record) == ("plugin", str(root / "commands" / "notes.md"))


def test_a_plugin_skills_bare_front_matter_name_is_that_skill(tree: Layout) -> None:
    root = toolbox(tree)
    daemon = Daemon(tree)
    for title in (
        "Skill pnamed: bare front-matter name of toolbox:pfolder",
        "/pnamed typed: reported as toolbox:pfolder",
    ):
        record = daemon.parse(title)
        assert use(record) == ("skill", "toolbox:pfolder", "toolbox")
        assert where(record) == ("plugin", str(root / "skills" / "pfolder"))


def test_a_plugin_from_a_git_marketplace_is_read_from_its_install_and_keeps_its_history(
    tree: Layout,
) -> None:
    toolbox(tree, "git marketplace")
    releases = tree.home / ".claude" / "plugins" / "cache" / "devmarket" / "toolbox"
    daemon = Daemon(tree)
    first = daemon.parse("Skill toolbox:lint-fix")
    cached = "~/.claude/plugins/cache/devmarket/toolbox"
    assert where(first) == ("plugin", f"{cached}/1.0.0/skills/lint-fix")
    # `claude plugin update` after a version bump: a new cache folder, installPath moved.
    tree.plugin(releases / "1.1.0", {"lint-fix": "lint-fix"})
    tree.registry("git marketplace after a version bump")
    second = daemon.parse("Skill lint-fix: bare plugin skill name")
    assert where(second) == ("plugin", f"{cached}/1.1.0/skills/lint-fix")
    assert first.skill is not None
    assert second.skill is not None
    assert first.skill.skill_id == second.skill.skill_id  # one skill, two versions
    assert first.skill.version != second.skill.version


def test_a_project_install_from_a_marketplace_file_counts_only_in_that_project(
    tree: Layout,
) -> None:
    tree.market = tree.root / "dev" / "fmarket"  # where the recording's marketplace was
    root = toolbox(tree, "file marketplace, project scope")
    tree.enable({"toolbox@devmarket": True}, tree.project / ".claude" / "settings.json")
    settings = json.loads((tree.home / ".claude" / "settings.json").read_text())
    del settings["enabledPlugins"]  # a project install enables it in the project alone
    tree.write(tree.home / ".claude" / "settings.json", json.dumps(settings))
    daemon = Daemon(tree)
    inside = daemon.parse("Skill toolbox:lint-fix")
    assert where(inside) == ("plugin", str(root / "skills" / "lint-fix"))
    elsewhere = tree.root / "other"
    elsewhere.mkdir()
    outside = daemon.parse("Skill toolbox:lint-fix", cwd=str(elsewhere))
    assert use(outside) == ("skill", "toolbox:lint-fix", "toolbox")
    assert outside.skill is None


@pytest.mark.parametrize("enabled", [False, None], ids=["disabled", "not-in-enabledPlugins"])
def test_a_plugin_the_client_does_not_load_gives_no_version(
    tree: Layout, enabled: bool | None
) -> None:
    toolbox(tree)
    tree.registry("directory marketplace", enabled=enabled)
    settings = tree.home / ".claude" / "settings.json"
    if enabled is None:
        settings.unlink()
    record = Daemon(tree).parse("Skill toolbox:lint-fix")
    assert use(record) == ("skill", "toolbox:lint-fix", "toolbox")
    assert record.skill is None


def test_a_plugin_skill_without_a_front_matter_name_has_no_bare_name(tree: Layout) -> None:
    tree.plugin(tree.market / "toolbox", {"lint-fix": None})
    tree.marketplace(["toolbox"])
    tree.registry("directory marketplace")
    daemon = Daemon(tree)
    bare = daemon.parse("Skill lint-fix: bare plugin skill name")
    assert (use(bare), bare.skill) == (("skill", "lint-fix", None), None)
    assert where(daemon.parse("Skill toolbox:lint-fix"))[0] == "plugin"


def test_a_bare_name_two_plugins_share_is_no_ones(tree: Layout) -> None:
    for name in ("toolbox", "otherbox"):
        tree.plugin(tree.market / name, {"lint-fix": "lint-fix"})
    tree.marketplace(["toolbox", "otherbox"])
    tree.registry("directory marketplace", plugins=["toolbox", "otherbox"])
    daemon = Daemon(tree)
    bare = daemon.parse("Skill lint-fix: bare plugin skill name")
    assert use(bare) == ("skill", "lint-fix", None)
    assert bare.skill is None
    full = daemon.parse("Skill toolbox:lint-fix")
    assert where(full) == ("plugin", str(tree.market / "toolbox" / "skills" / "lint-fix"))


def test_a_user_skill_wins_over_a_plugin_skills_bare_name(tree: Layout) -> None:
    toolbox(tree)
    tree.skill(tree.home, "lint-fix", "BODY user skill lint-fix")
    record = Daemon(tree).parse("Skill lint-fix: bare plugin skill name")
    assert use(record) == ("skill", "lint-fix", None)
    assert where(record) == ("user", "~/.claude/skills/lint-fix")


def test_a_user_command_named_like_a_plugin_skill_hides_it_unless_typed_from_the_plugin(
    tree: Layout,
) -> None:
    root = toolbox(tree)
    tree.command(tree.home, "toolbox/lint-fix", "BODY user command toolbox/lint-fix")
    daemon = Daemon(tree)
    called = daemon.parse("Skill toolbox:lint-fix")
    assert use(called) == ("command", "toolbox:lint-fix", None)
    assert where(called) == ("user", "~/.claude/commands/toolbox/lint-fix.md")
    hidden = daemon.parse("Skill lint-fix: bare plugin skill name")  # the client refuses it
    assert (use(hidden), hidden.skill) == (("skill", "lint-fix", None), None)
    typed = daemon.parse("/toolbox:lint-fix typed: a user command toolbox/lint-fix.md")
    assert where(typed) == ("user", "~/.claude/commands/toolbox/lint-fix.md")
    from_plugin = daemon.parse("/lint-fix typed: the plugin skill hidden by that user command")
    assert use(from_plugin) == ("skill", "toolbox:lint-fix", "toolbox")
    assert where(from_plugin) == ("plugin", str(root / "skills" / "lint-fix"))


def test_a_plugin_installed_while_the_daemon_runs_is_found_at_its_first_use(
    tree: Layout,
) -> None:
    daemon = Daemon(tree)
    assert daemon.parse("Skill toolbox:notes: a plugin command").skill is None  # none yet
    toolbox(tree)
    assert where(daemon.parse("Skill toolbox:lint-fix"))[0] == "plugin"


def test_skills_named_in_plugin_json_are_the_plugins_too(tree: Layout) -> None:
    root = tree.market / "toolbox"
    manifest = {"name": "toolbox", "skills": "./extra-skills", "commands": ["./more-commands"]}
    tree.plugin(root, {}, manifest=manifest)
    tree.write(root / "extra-skills" / "lint-fix" / "SKILL.md", "---\nname: lint-fix\n---\n")
    tree.marketplace(["toolbox"])
    tree.registry("directory marketplace")
    record = Daemon(tree).parse("Skill lint-fix: bare plugin skill name")
    assert use(record) == ("skill", "toolbox:lint-fix", "toolbox")
    assert where(record) == ("plugin", str(root / "extra-skills" / "lint-fix"))


# -- Project folders ------------------------------------------------------------------------


def test_project_skills_are_found_up_to_the_git_root_nearest_first(tree: Layout) -> None:
    (tree.project / ".git").mkdir()
    tree.skill(tree.project, "fmt-check", "BODY repo root skill")
    nested = tree.skill(tree.project / "a", "fmt-check", "BODY nested skill")
    tree.skill(tree.root, "deploy-notes", "BODY a skill above the git root")
    inner = tree.project / "a" / "b"
    inner.mkdir(parents=True)
    daemon = Daemon(tree)
    record = daemon.parse("Skill fmt-check: folder name", cwd=str(inner))
    assert where(record) == ("project", str(nested.parent))
    above = daemon.parse("Skill deploy-notes: a user command", cwd=str(inner))
    assert above.skill is None
    (tree.project / ".git").rmdir()  # not a repository: the search goes on up
    other = tree.root / "elsewhere"
    other.mkdir()
    found = daemon.parse("Skill deploy-notes: a user command", cwd=str(other))
    assert (use(found), where(found)[0]) == (("skill", "deploy-notes", None), "project")
