"""From frame bytes to a record for the store: sanitize, validate, classify, enrich.

The order matters: secrets and home paths leave the JSON text before anything reads it, so no
field, cap or snippet derived from it can hold them; classification and skill attribution
come before the caps, so counts never depend on them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from skilltrack.config import Settings
from skilltrack.daemon.ingest import enrich, spans
from skilltrack.daemon.ingest.classify import classify, named_artifact
from skilltrack.daemon.ingest.models import Frame, parse_frame
from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.ingest.sanitize import sanitizer
from skilltrack.daemon.ingest.skills import SkillFile, SkillLocator
from skilltrack.daemon.ingest.transcripts import READ_AT
from skilltrack.daemon.store.durations import bucket
from skilltrack.daemon.store.records import EventRow, Record, SkillVersion, TrainingExample
from skilltrack.wire import FrameError, RawFrame

VERSION_CACHE_MAX = 1024
# How much older than its SKILL.md a use may be and still be counted for the file's version:
# mtime granularity, and the moments between the hook's clock reading and the tool's end.
EDIT_SLACK_S = 2.0
# The working directory as Claude Code sent it: skills are looked up relative to it, so it is
# read before sanitizing shortens it. Claude Code puts `cwd` before the tool's input, so the
# first match is the event's own.
_CWD = re.compile(r'"cwd"\s*:\s*"((?:[^"\\]|\\.)*)"')


def raw_cwd(text: str) -> str | None:
    match = _CWD.search(text)
    if match is None:
        return None
    value = match.group(1)
    if "\\" not in value:
        return value
    try:
        decoded = json.loads(f'"{value}"')
    except ValueError:
        return None
    return decoded if isinstance(decoded, str) else None


class Ingest:
    """The daemon's enrichment stage, configured once from the settings."""

    def __init__(
        self,
        settings: Settings,
        skills: SkillLocator,
        consented: Callable[[], bool],
        home: str,
    ) -> None:
        self.settings = settings
        self._skills = skills
        self._consented = consented
        self._sanitize = sanitizer(home, settings.privacy.paths)
        capture = settings.capture
        self._versions: dict[tuple[SkillFile, str | None], SkillVersion] = {}
        self._capture_types = frozenset(capture.artifact_types if capture.snippets else ())

    def parse(self, raw: RawFrame) -> Record:
        """Sanitize, validate, classify and enrich; raises FrameError with the counted reason."""
        try:
            text = raw.payload.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("invalid_utf8") from None
        cwd = raw_cwd(text)
        frame = parse_frame(raw, self._sanitize(text, cwd))
        return self.enrich(frame, cwd, raw)

    def enrich(self, frame: Frame, cwd: str | None, raw: RawFrame) -> Record:
        """The record of a validated frame; `cwd` is the unsanitized working directory and
        `raw` the frame as received (kept to spool it again if need be)."""
        p = frame.payload
        named = named_artifact(p)
        found = None if named is None else self._skills.resolve(named[0], cwd, named[1])
        usage = classify(p, found)
        skill: SkillVersion | None = None
        # A use from before the file's last edit (replayed from the spool, say) ran a version
        # that is gone: its version is unknown rather than the new one's.
        if found is not None and frame.client_ts + EDIT_SLACK_S >= found.modified:
            skill = self._version_of(found, cwd, frame.client_ts)
        text, tool_use_id, success = frame.raw, p.tool_use_id, usage.success
        if p.hook_event_name in enrich.CONVERSATION_FIELDS:
            # A task notification stays as what it says of its Agent call, the prompt goes.
            told = spans.task_notification(p.prompt)
            added = None
            if told is not None:
                tool_use_id, success = told.tool_use_id, told.success
                added = {
                    "task_notification": {"tool_use_id": told.tool_use_id, "status": told.status}
                }
            text = enrich.without_conversation(text, p.hook_event_name, added)
        privacy = self.settings.privacy
        payload, capped = enrich.cap_payload(
            text, privacy.max_input_chars, privacy.max_output_chars
        )
        row = EventRow(
            event_id=frame.event_id,
            hook_event=p.hook_event_name,
            client_ts=frame.client_ts,
            received_at=time.time(),
            session_id=p.session_id,
            prompt_id=p.prompt_id,
            tool_use_id=tool_use_id,
            tool_name=p.tool_name,
            artifact_type=usage.artifact_type,
            artifact_name=usage.artifact_name,
            plugin=usage.plugin,
            mcp_server=usage.mcp_server,
            agent_id=p.agent_id,
            agent_type=p.agent_type,
            success=success,
            duration_ms=usage.duration_ms,
            cwd=p.cwd,
            truncated=frame.truncated or capped,
            payload=payload,
            tenant_id=self.settings.tenant_id,
            user_id=self.settings.user_id,
            skill_id=skill.skill_id if skill else None,
            skill_version=skill.version if skill else None,
            duration_bucket=None if usage.duration_ms is None else bucket(usage.duration_ms),
            project=project_of(p.cwd),
        )
        example = None
        kind, name = usage.artifact_type, usage.artifact_name
        # The team's policy first (no I/O), then the user's consent (a stat).
        if kind and name and kind in self._capture_types and self._consented():
            example = self._example(frame, row, kind, name)
        transcript = p.transcript_path if p.hook_event_name in READ_AT else None
        return Record(
            row, skill, example, raw, spans.opening(p, usage, frame.client_ts), transcript
        )

    def _version_of(self, found: SkillFile, cwd: str | None, seen_at: float) -> SkillVersion:
        """The version record of `found`, made once per file content and working directory.

        (Its `seen_at`, used only when the version is first registered, is the first use's
        time; the store's trigger keeps first/last seen exact.)
        """
        key = (found, cwd)
        version = self._versions.get(key)
        if version is None:
            if len(self._versions) >= VERSION_CACHE_MAX:
                self._versions.clear()
            version = enrich.skill_version(found, lambda text: self._sanitize(text, cwd), seen_at)
            self._versions[key] = version
        return version

    def _example(self, frame: Frame, row: EventRow, kind: str, name: str) -> TrainingExample:
        p, limit = frame.payload, self.settings.capture.snippet_chars
        given = p.command_args if p.hook_event_name == "UserPromptExpansion" else p.tool_input
        result = p.error if p.tool_response is None else p.tool_response
        return TrainingExample(
            event_id=row.event_id,
            created_at=row.received_at,
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            artifact_type=kind,
            artifact_name=name,
            skill_id=row.skill_id,
            skill_version=row.skill_version,
            input_snippet=enrich.snippet(given, limit),
            output_snippet=enrich.snippet(result, limit),
        )
