"""What a report covers: the kinds of artifact, and the filters that narrow a report to a range
of time, a project, a session or one kind, with the conditions that select their events.

Apart from the queries (and the store beneath them) so that a command can name a report's
filters without loading the database's libraries.
"""

from __future__ import annotations

from skilltrack.daemon.ingest.projects import project_of

# typing.TYPE_CHECKING without importing typing (~3 ms of `skilltrack report`'s start-up, for
# names only annotations use): mypy honours the name wherever it is defined (see PEP 781).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ARTIFACT_TYPES = ("skill", "agent", "mcp", "command", "tool")
BY = ("session", "project")  # what `report --by` lists beside the artifacts


class Filters:
    """A report's filters. A plain class, not a dataclass: `dataclasses` (with inspect, ast,
    dis, tokenize) would cost `skilltrack report` ~9 ms of start-up."""

    __slots__ = ("artifact_type", "project", "session", "since", "until")

    def __init__(
        self,
        since: float | None = None,
        until: float | None = None,  # exclusive
        project: str | None = None,  # a stored cwd (`~/work/app`), or a folder name (`app`)
        session: str | None = None,
        artifact_type: str | None = None,
    ) -> None:
        self.since = since
        self.until = until
        self.project = project
        self.session = session
        self.artifact_type = artifact_type

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Filters({fields})"

    @property
    def by_events(self) -> bool:
        """Whether the summaries cannot answer: a project or session filter."""
        return self.project is not None or self.session is not None

    @property
    def project_totals(self) -> bool:
        """Whether the per-project lifetime totals answer: a project named by its folder, over
        all time, no session."""
        return (
            self.project is not None and "/" not in self.project and self.session is None
            and self.since is None and self.until is None
        )  # fmt: skip

    def project_totals_where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (and its values) over the per-project totals for these filters."""
        where, values = ["project = ?"], [project_of(self.project)]
        if self.artifact_type is not None:
            where.append("artifact_type = ?")
            values.append(self.artifact_type)
        return " AND ".join(where), values

    @property
    def lifetime(self) -> bool:
        """Whether the lifetime totals answer: no time range, project or session."""
        return self.since is None and self.until is None and not self.by_events

    def event_conditions(self) -> tuple[str, list[Any]]:
        """The WHERE clause (and its values) selecting the events these filters keep."""
        where: list[str] = ["artifact_type IS NOT NULL"]
        values: list[Any] = []
        if self.artifact_type is not None:
            where.append("artifact_type = ?")
            values.append(self.artifact_type)
        if self.since is not None:
            where.append("client_ts >= ?")
            values.append(self.since)
        if self.until is not None:
            where.append("client_ts < ?")
            values.append(self.until)
        if self.session is not None:
            where.append("session_id = ?")
            values.append(self.session)
        if self.project is not None:
            # By the indexed project (the cwd's last folder); a path also matches the cwd.
            where.append("project = ?")
            values.append(project_of(self.project))
            if "/" in self.project:
                where.append("cwd = ?")
                values.append(self.project.rstrip("/"))
        return " AND ".join(where), values

    def events_index(self) -> str:
        """`INDEXED BY` the index that selects these filters' events with the fewest reads,
        or "" for SQLite to choose. Named, not left to the planner: without statistics it
        takes `artifact_type = ?` (a fifth of the table) over a session's or a day's rows."""
        if self.session is not None:
            return "INDEXED BY events_session"
        if self.project is not None:
            return "INDEXED BY events_project"
        if self.since is not None or self.until is not None:
            return "INDEXED BY events_time"
        return ""
