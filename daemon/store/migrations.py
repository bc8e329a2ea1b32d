"""The schema, as an ordered list of small named steps.

Each step runs once, in its own transaction with the row that records it in `migrations`.
A shipped step is never edited: change the schema by appending a new one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from itertools import groupby
from typing import Any

import aiosqlite

from skilltrack.daemon.ingest.projects import project_of
from skilltrack.daemon.store import durations

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


@migration
async def m001_events(db: aiosqlite.Connection) -> None:
    # Normalized columns for the reports beside the payload as received (JSON text), so that
    # fields Claude Code adds later are kept even before anything reads them.
    await db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            hook_event TEXT NOT NULL,
            client_ts REAL NOT NULL,
            received_at REAL NOT NULL,
            session_id TEXT,
            prompt_id TEXT,
            tool_use_id TEXT,
            tool_name TEXT,
            artifact_type TEXT,
            artifact_name TEXT,
            plugin TEXT,
            mcp_server TEXT,
            agent_id TEXT,
            agent_type TEXT,
            success INTEGER,
            duration_ms INTEGER,
            cwd TEXT,
            truncated INTEGER NOT NULL DEFAULT 0,
            payload TEXT NOT NULL
        )
        """
    )
    await db.execute(
        "CREATE INDEX events_artifact ON events (artifact_type, artifact_name, client_ts)"
    )
    await db.execute("CREATE INDEX events_session ON events (session_id, client_ts)")
    await db.execute("CREATE INDEX events_client_ts ON events (client_ts)")


@migration
async def m002_artifact_summary(db: aiosqlite.Connection) -> None:
    # One row per artifact, kept by a trigger so it changes in the same transaction as the
    # insert, and only for rows really inserted (a duplicate event id inserts nothing).
    await db.execute(
        """
        CREATE TABLE artifact_summary (
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            plugin TEXT,
            mcp_server TEXT,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            timed_uses INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            first_used REAL NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (artifact_type, artifact_name)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_use AFTER INSERT ON events
        WHEN NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO artifact_summary (
                artifact_type, artifact_name, plugin, mcp_server, uses, failures,
                timed_uses, total_duration_ms, first_used, last_used
            ) VALUES (
                NEW.artifact_type, NEW.artifact_name, NEW.plugin, NEW.mcp_server, 1,
                NEW.success IS 0, NEW.duration_ms IS NOT NULL, coalesce(NEW.duration_ms, 0),
                NEW.client_ts, NEW.client_ts
            )
            ON CONFLICT (artifact_type, artifact_name) DO UPDATE SET
                plugin = coalesce(excluded.plugin, plugin),
                mcp_server = coalesce(excluded.mcp_server, mcp_server),
                uses = uses + 1,
                failures = failures + excluded.failures,
                timed_uses = timed_uses + excluded.timed_uses,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms,
                first_used = min(first_used, excluded.first_used),
                last_used = max(last_used, excluded.last_used);
        END
        """
    )


@migration
async def m003_identity_and_skill_versions(db: aiosqlite.Connection) -> None:
    # Who and which version: the tenant and user from the config, and the skill version
    # (SKILL.md content hash) an event used. A skill is (name, source, location): a project
    # skill and a user skill of the same name are two skills.
    for column in ("tenant_id", "user_id", "skill_id", "skill_version"):
        await db.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
    await db.execute(
        "CREATE INDEX events_skill_version ON events (skill_id, skill_version, client_ts) "
        "WHERE skill_id IS NOT NULL"
    )
    await db.execute(
        """
        CREATE TABLE skills (
            skill_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            location TEXT NOT NULL,
            description TEXT,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        )
        """
    )
    await db.execute(
        """
        CREATE TABLE skill_versions (
            skill_id TEXT NOT NULL REFERENCES skills (skill_id),
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            description TEXT,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            timed_uses INTEGER NOT NULL DEFAULT 0,
            total_duration_ms INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (skill_id, version)
        ) WITHOUT ROWID
        """
    )
    # The store registers a version (and its skill) before the first event that uses it;
    # uses and first/last seen are then counted here, for really inserted rows only.
    await db.execute(
        """
        CREATE TRIGGER events_count_skill_version AFTER INSERT ON events
        WHEN NEW.skill_id IS NOT NULL
        BEGIN
            UPDATE skill_versions SET
                uses = uses + 1,
                failures = failures + (NEW.success IS 0),
                timed_uses = timed_uses + (NEW.duration_ms IS NOT NULL),
                total_duration_ms = total_duration_ms + coalesce(NEW.duration_ms, 0),
                first_seen = min(first_seen, NEW.client_ts),
                last_seen = max(last_seen, NEW.client_ts)
            WHERE skill_id = NEW.skill_id AND version = NEW.skill_version;
            UPDATE skills SET
                first_seen = min(first_seen, NEW.client_ts),
                last_seen = max(last_seen, NEW.client_ts)
            WHERE skill_id = NEW.skill_id;
        END
        """
    )


@migration
async def m004_training_examples(db: aiosqlite.Connection) -> None:
    # Snippets captured with both the team's policy and the user's consent, waiting for review.
    await db.execute(
        """
        CREATE TABLE training_examples (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            tenant_id TEXT,
            user_id TEXT,
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            skill_id TEXT,
            skill_version TEXT,
            input_snippet TEXT,
            output_snippet TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
            source TEXT NOT NULL DEFAULT 'usage_capture'
        )
        """
    )


@migration
async def m005_forwarding(db: aiosqlite.Connection) -> None:
    # The configured sinks (the daemon writes them at start), each with its lifetime counters
    # by outcome, so that `status` tells the same story after a restart.
    await db.execute(
        """
        CREATE TABLE sinks (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            types TEXT,  -- NULL: every event; else the artifact types, as ',skill,agent,'
            enabled INTEGER NOT NULL DEFAULT 1,
            delivered INTEGER NOT NULL DEFAULT 0,
            retried INTEGER NOT NULL DEFAULT 0,
            dead INTEGER NOT NULL DEFAULT 0,
            expired INTEGER NOT NULL DEFAULT 0,
            overflow INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0,
            last_success REAL,
            last_error TEXT,
            last_error_at REAL
        )
        """
    )
    # The outbox: one row per event a sink has still to accept. Queued by a trigger, so in the
    # transaction that stores the event, and only for an event really inserted (a resent id
    # inserts nothing, so it is never queued twice).
    await db.execute(
        """
        CREATE TABLE outbox (
            sink TEXT NOT NULL,
            event INTEGER NOT NULL,
            queued_at REAL NOT NULL,
            PRIMARY KEY (sink, event)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_to_outbox AFTER INSERT ON events
        BEGIN
            INSERT INTO outbox (sink, event, queued_at)
            SELECT name, NEW.id, NEW.received_at FROM sinks
            WHERE enabled AND (types IS NULL OR instr(types, ',' || NEW.artifact_type || ',') > 0);
        END
        """
    )
    # What a receiver refused for good: set aside with its answer, re-sendable by command.
    await db.execute(
        """
        CREATE TABLE dead_letters (
            sink TEXT NOT NULL,
            event INTEGER NOT NULL,
            status INTEGER,
            reason TEXT NOT NULL,
            failed_at REAL NOT NULL,
            PRIMARY KEY (sink, event)
        ) WITHOUT ROWID
        """
    )
    # An event deleted (retention) before its sinks took it is counted, not left dangling.
    # (`sink IN sinks`: both keys start with the sink, so each lookup is a seek, not a scan.)
    await db.execute(
        """
        CREATE TRIGGER events_leave_outbox AFTER DELETE ON events
        BEGIN
            UPDATE sinks SET removed = removed + 1
            WHERE EXISTS (SELECT 1 FROM outbox WHERE sink = sinks.name AND event = OLD.id);
            DELETE FROM outbox WHERE sink IN (SELECT name FROM sinks) AND event = OLD.id;
            DELETE FROM dead_letters
            WHERE sink IN (SELECT name FROM sinks) AND event = OLD.id;
        END
        """
    )


@migration
async def m006_daily_stats_and_ratings(db: aiosqlite.Connection) -> None:
    # Per artifact, day (UTC, days since 1970) and duration bucket: what reports over a time
    # range, uses per day and p50/p95 read instead of scanning events. One upsert per event,
    # by trigger, only for rows really inserted. Lifetime totals stay in artifact_summary.
    # The bucket is computed by the daemon (skilltrack.daemon.store.durations) and stored on the
    # event: -1 for an event without a duration.
    await db.execute("ALTER TABLE events ADD COLUMN duration_bucket INTEGER")
    # The project: the last folder of the (sanitized) cwd, what `report --project` selects on.
    await db.execute("ALTER TABLE events ADD COLUMN project TEXT")
    await db.execute("CREATE INDEX events_project ON events (project, client_ts)")
    await db.execute(
        """
        CREATE TABLE artifact_stats (
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            day INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            PRIMARY KEY (artifact_type, artifact_name, day, bucket)
        ) WITHOUT ROWID
        """
    )
    await db.execute("CREATE INDEX artifact_stats_day ON artifact_stats (day)")
    cursor = await db.execute(
        "SELECT id, duration_ms, cwd FROM events WHERE duration_ms IS NOT NULL OR cwd IS NOT NULL"
    )
    while rows := await cursor.fetchmany(10_000):
        await db.executemany(
            "UPDATE events SET duration_bucket = ?, project = ? WHERE id = ?",
            [
                (None if ms is None else durations.bucket(ms), project_of(cwd), event)
                for event, ms, cwd in rows
            ],
        )
    await db.execute(
        """
        INSERT INTO artifact_stats
        SELECT artifact_type, artifact_name, CAST(client_ts / 86400 AS INTEGER),
               coalesce(duration_bucket, -1), count(*), sum(success IS 0),
               coalesce(sum(duration_ms), 0)
        FROM events WHERE artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    # And the lifetime histogram, for all-time p50/p95 without summing every day's.
    await db.execute(
        """
        CREATE TABLE artifact_durations (
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (artifact_type, artifact_name, bucket)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO artifact_durations
        SELECT artifact_type, artifact_name, duration_bucket, count(*)
        FROM events WHERE artifact_type IS NOT NULL AND duration_bucket IS NOT NULL
        GROUP BY 1, 2, 3
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_duration AFTER INSERT ON events
        WHEN NEW.artifact_type IS NOT NULL AND NEW.duration_bucket IS NOT NULL
        BEGIN
            INSERT INTO artifact_durations VALUES (
                NEW.artifact_type, NEW.artifact_name, NEW.duration_bucket, 1
            )
            ON CONFLICT DO UPDATE SET n = n + 1;
        END
        """
    )
    # Uses per day and kind of artifact: what the uses-per-day line reads (a few rows a day).
    await db.execute(
        """
        CREATE TABLE daily_uses (
            day INTEGER NOT NULL,
            artifact_type TEXT NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            PRIMARY KEY (day, artifact_type)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO daily_uses
        SELECT day, artifact_type, sum(uses), sum(failures) FROM artifact_stats GROUP BY 1, 2
        """
    )
    # Subagents: which agent types used what, read from a covering index.
    await db.execute(
        "CREATE INDEX events_agent ON events "
        "(agent_type, artifact_type, artifact_name, success, client_ts) "
        "WHERE agent_type IS NOT NULL"
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_daily AFTER INSERT ON events
        WHEN NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO artifact_stats VALUES (
                NEW.artifact_type, NEW.artifact_name, CAST(NEW.client_ts / 86400 AS INTEGER),
                coalesce(NEW.duration_bucket, -1), 1, NEW.success IS 0,
                coalesce(NEW.duration_ms, 0)
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1,
                failures = failures + excluded.failures,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms;
            INSERT INTO daily_uses VALUES (
                CAST(NEW.client_ts / 86400 AS INTEGER), NEW.artifact_type, 1, NEW.success IS 0
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )
    # Ratings: one current rating per user and skill; the average (times 100, an integer) and the
    # count are kept on the skill's summary row by trigger. Only a skill that has been used
    # (has a summary row) can be rated.
    await db.execute(
        """
        CREATE TABLE ratings (
            user_id TEXT NOT NULL,
            skill TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
            comment TEXT,
            hours_saved REAL CHECK (hours_saved >= 0),
            rated_at REAL NOT NULL,
            PRIMARY KEY (skill, user_id)
        ) WITHOUT ROWID
        """
    )
    await db.execute("ALTER TABLE artifact_summary ADD COLUMN ratings INTEGER NOT NULL DEFAULT 0")
    await db.execute("ALTER TABLE artifact_summary ADD COLUMN avg_rating_x100 INTEGER")
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        await db.execute(
            f"""
            CREATE TRIGGER ratings_{event.lower()} AFTER {event} ON ratings
            BEGIN
                UPDATE artifact_summary SET
                    ratings = (SELECT count(*) FROM ratings WHERE skill = {row}.skill),
                    avg_rating_x100 = (
                        SELECT CAST(round(avg(rating) * 100) AS INTEGER)
                        FROM ratings WHERE skill = {row}.skill
                    )
                WHERE artifact_type = 'skill' AND artifact_name = {row}.skill;
            END
            """
        )


@migration
async def m007_artifact_stats_by_bucket_then_day(db: aiosqlite.Connection) -> None:
    # A report over a range sums each artifact's duration buckets over the range's days. With
    # the day last in the key that sum reads the table in key order, without sorting: on a
    # million events, a 30-day report's read falls from ~185 to ~75 ms. The index on the day
    # alone was read by no query and cost every insert.
    # The trigger that fills the table names it: dropped first and made again as it was, as
    # SQLite's procedure for changing a table's key requires.
    rows = await db.execute_fetchall(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_count_daily'"
    )
    (trigger,) = [row[0] for row in rows]
    await db.execute("DROP TRIGGER events_count_daily")
    await db.execute(
        """
        CREATE TABLE artifact_stats_by_bucket (
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            day INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            PRIMARY KEY (artifact_type, artifact_name, bucket, day)
        ) WITHOUT ROWID
        """
    )
    await db.execute("INSERT INTO artifact_stats_by_bucket SELECT * FROM artifact_stats")
    await db.execute("DROP TABLE artifact_stats")  # and its index on the day
    await db.execute("ALTER TABLE artifact_stats_by_bucket RENAME TO artifact_stats")
    await db.execute(trigger)


@migration
async def m008_version_and_subagent_stats(db: aiosqlite.Connection) -> None:
    # Skill versions side by side and what ran inside subagents, per UTC day, kept by trigger
    # as artifact_stats is: a report over all time or a range of days sums these few rows
    # instead of reading every skill use and every subagent event (on a million events, some
    # 600 ms of the all-time report). first/last use per row give a version's span in the
    # range without a seek per version.
    await db.execute(
        """
        CREATE TABLE version_stats (
            skill_id TEXT NOT NULL,
            skill_version TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            day INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            first_used REAL NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (skill_id, skill_version, bucket, day)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO version_stats
        SELECT skill_id, skill_version, coalesce(duration_bucket, -1),
               CAST(client_ts / 86400 AS INTEGER), count(*), sum(success IS 0),
               coalesce(sum(duration_ms), 0), min(client_ts), max(client_ts)
        FROM events
        WHERE skill_id IS NOT NULL AND skill_version IS NOT NULL AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_version_daily AFTER INSERT ON events
        WHEN NEW.skill_id IS NOT NULL AND NEW.skill_version IS NOT NULL
             AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO version_stats VALUES (
                NEW.skill_id, NEW.skill_version, coalesce(NEW.duration_bucket, -1),
                CAST(NEW.client_ts / 86400 AS INTEGER), 1, NEW.success IS 0,
                coalesce(NEW.duration_ms, 0), NEW.client_ts, NEW.client_ts
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1,
                failures = failures + excluded.failures,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms,
                first_used = min(first_used, excluded.first_used),
                last_used = max(last_used, excluded.last_used);
        END
        """
    )
    await db.execute(
        """
        CREATE TABLE agent_stats (
            agent_type TEXT NOT NULL,
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            day INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            PRIMARY KEY (agent_type, artifact_type, artifact_name, day)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO agent_stats
        SELECT agent_type, artifact_type, artifact_name, CAST(client_ts / 86400 AS INTEGER),
               count(*), sum(success IS 0)
        FROM events WHERE agent_type IS NOT NULL AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_agent_daily AFTER INSERT ON events
        WHEN NEW.agent_type IS NOT NULL AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO agent_stats VALUES (
                NEW.agent_type, NEW.artifact_type, NEW.artifact_name,
                CAST(NEW.client_ts / 86400 AS INTEGER), 1, NEW.success IS 0
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )
    # And their lifetime totals, for all-time reports: the same rows without the day.
    await db.execute(
        """
        CREATE TABLE version_totals (
            skill_id TEXT NOT NULL,
            skill_version TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            first_used REAL NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (skill_id, skill_version, bucket)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO version_totals
        SELECT skill_id, skill_version, bucket, sum(uses), sum(failures),
               sum(total_duration_ms), min(first_used), max(last_used)
        FROM version_stats GROUP BY 1, 2, 3
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_version_total AFTER INSERT ON events
        WHEN NEW.skill_id IS NOT NULL AND NEW.skill_version IS NOT NULL
             AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO version_totals VALUES (
                NEW.skill_id, NEW.skill_version, coalesce(NEW.duration_bucket, -1), 1,
                NEW.success IS 0, coalesce(NEW.duration_ms, 0), NEW.client_ts, NEW.client_ts
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1,
                failures = failures + excluded.failures,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms,
                first_used = min(first_used, excluded.first_used),
                last_used = max(last_used, excluded.last_used);
        END
        """
    )
    await db.execute(
        """
        CREATE TABLE agent_uses (
            agent_type TEXT NOT NULL,
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            PRIMARY KEY (agent_type, artifact_type, artifact_name)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO agent_uses
        SELECT agent_type, artifact_type, artifact_name, sum(uses), sum(failures)
        FROM agent_stats GROUP BY 1, 2, 3
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_agent_use AFTER INSERT ON events
        WHEN NEW.agent_type IS NOT NULL AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO agent_uses VALUES (
                NEW.agent_type, NEW.artifact_type, NEW.artifact_name, 1, NEW.success IS 0
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )
    # What read the events by skill version or by subagent now reads these tables (or, for a
    # session or project, that filter's own index): the two indexes cost every insert for
    # nothing.
    await db.execute("DROP INDEX events_skill_version")
    await db.execute("DROP INDEX events_agent")


@migration
async def m009_project_totals(db: aiosqlite.Connection) -> None:
    # Lifetime totals per project (the cwd's last folder), kept by trigger as the global ones
    # are: `report --project NAME` over all time reads a few thousand of these rows instead
    # of every event of the project (on a million events, ~195,000 for the busiest project
    # and ~2.3 s). A range, a path or a session still reads the events.
    await db.execute(
        """
        CREATE TABLE project_artifacts (
            project TEXT NOT NULL,
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            first_used REAL NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (project, artifact_type, artifact_name, bucket)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO project_artifacts
        SELECT project, artifact_type, artifact_name, coalesce(duration_bucket, -1), count(*),
               sum(success IS 0), coalesce(sum(duration_ms), 0), min(client_ts),
               max(client_ts)
        FROM events WHERE project IS NOT NULL AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    await db.execute(
        """
        CREATE TABLE project_days (
            project TEXT NOT NULL,
            day INTEGER NOT NULL,
            artifact_type TEXT NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            PRIMARY KEY (project, day, artifact_type)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO project_days
        SELECT project, CAST(client_ts / 86400 AS INTEGER), artifact_type, count(*),
               sum(success IS 0)
        FROM events WHERE project IS NOT NULL AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_project AFTER INSERT ON events
        WHEN NEW.project IS NOT NULL AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO project_artifacts VALUES (
                NEW.project, NEW.artifact_type, NEW.artifact_name,
                coalesce(NEW.duration_bucket, -1), 1, NEW.success IS 0,
                coalesce(NEW.duration_ms, 0), NEW.client_ts, NEW.client_ts
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1,
                failures = failures + excluded.failures,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms,
                first_used = min(first_used, excluded.first_used),
                last_used = max(last_used, excluded.last_used);
            INSERT INTO project_days VALUES (
                NEW.project, CAST(NEW.client_ts / 86400 AS INTEGER), NEW.artifact_type, 1,
                NEW.success IS 0
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )
    await db.execute(
        """
        CREATE TABLE project_versions (
            project TEXT NOT NULL,
            skill_id TEXT NOT NULL,
            skill_version TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            first_used REAL NOT NULL,
            last_used REAL NOT NULL,
            PRIMARY KEY (project, skill_id, skill_version, bucket)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO project_versions
        SELECT project, skill_id, skill_version, coalesce(duration_bucket, -1), count(*),
               sum(success IS 0), coalesce(sum(duration_ms), 0), min(client_ts),
               max(client_ts)
        FROM events
        WHERE project IS NOT NULL AND skill_id IS NOT NULL AND skill_version IS NOT NULL
              AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_project_version AFTER INSERT ON events
        WHEN NEW.project IS NOT NULL AND NEW.skill_id IS NOT NULL
             AND NEW.skill_version IS NOT NULL AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO project_versions VALUES (
                NEW.project, NEW.skill_id, NEW.skill_version, coalesce(NEW.duration_bucket, -1),
                1, NEW.success IS 0, coalesce(NEW.duration_ms, 0), NEW.client_ts, NEW.client_ts
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1,
                failures = failures + excluded.failures,
                total_duration_ms = total_duration_ms + excluded.total_duration_ms,
                first_used = min(first_used, excluded.first_used),
                last_used = max(last_used, excluded.last_used);
        END
        """
    )
    await db.execute(
        """
        CREATE TABLE project_agents (
            project TEXT NOT NULL,
            agent_type TEXT NOT NULL,
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            PRIMARY KEY (project, agent_type, artifact_type, artifact_name)
        ) WITHOUT ROWID
        """
    )
    await db.execute(
        """
        INSERT INTO project_agents
        SELECT project, agent_type, artifact_type, artifact_name, count(*), sum(success IS 0)
        FROM events
        WHERE project IS NOT NULL AND agent_type IS NOT NULL AND artifact_type IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    await db.execute(
        """
        CREATE TRIGGER events_count_project_agent AFTER INSERT ON events
        WHEN NEW.project IS NOT NULL AND NEW.agent_type IS NOT NULL
             AND NEW.artifact_type IS NOT NULL
        BEGIN
            INSERT INTO project_agents VALUES (
                NEW.project, NEW.agent_type, NEW.artifact_type, NEW.artifact_name, 1,
                NEW.success IS 0
            )
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )


@migration
async def m010_prune_horizon(db: aiosqlite.Connection) -> None:
    # The time before which events may have been deleted by retention: a report that reads a
    # day from the daily tables less its events outside the range (reports._split) may do so
    # only where those events are all still stored. `prune` raises it; a database pruned
    # before this step gets its oldest event's time, the most that is known.
    await db.execute(
        """
        CREATE TABLE prune_horizon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            before REAL NOT NULL
        )
        """
    )
    await db.execute(
        "INSERT INTO prune_horizon SELECT 1, min(client_ts) FROM events HAVING count(*) > 0"
    )


@migration
async def m011_events_by_time_covering(db: aiosqlite.Connection) -> None:
    # A report over a range reads the events of its partial first and last days by time. With
    # the index on the time alone each of those events was a lookup into the table, whose rows
    # carry ~2 KB of payload and whose columns after it (bucket, skill version) are often on
    # overflow pages: ~2 µs an event here. This index holds every column those reads use, so
    # they never touch the table (half a day of the benchmark's million events: ~28 → ~14 ms
    # per query). It serves what the old one did (prune, export and `events` by time; their
    # ties on the time are sorted by id apart, a few rows at a time) and replaces it.
    await db.execute(
        "CREATE INDEX events_time ON events (client_ts, artifact_type, artifact_name, "
        "duration_bucket, success, duration_ms, agent_type, skill_id, skill_version)"
    )
    await db.execute("DROP INDEX events_client_ts")


@migration
async def m012_artifact_running_totals(db: aiosqlite.Connection) -> None:
    # A report over a range of whole days summed each artifact's rows of artifact_stats (one
    # per duration bucket and day) over the range: on a million events, 30 days are ~84k of
    # its ~226k rows, and reading them was the longest part of the report (~55 ms). Running
    # totals answer the same with two rows per artifact: its totals through the range's last
    # day less those through the day before its first. A row is kept for each day the
    # artifact was used; `buckets` is its duration histogram so far, a JSON array of timed
    # uses by bucket number (a report subtracts two of them in C loops). An event of an
    # earlier day than the artifact's latest row (a replay, a clock put back) adds itself to
    # every row from its day on: one per later day the artifact was used (a replay of days-old
    # events, a few; an event 90 days late on the benchmark's database cost ~4x another).
    await db.execute(
        """
        CREATE TABLE artifact_running (
            artifact_type TEXT NOT NULL,
            artifact_name TEXT NOT NULL,
            day INTEGER NOT NULL,
            uses INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            total_duration_ms INTEGER NOT NULL,
            buckets TEXT NOT NULL,
            PRIMARY KEY (artifact_type, artifact_name, day)
        ) WITHOUT ROWID
        """
    )
    await db.executemany(
        "INSERT INTO artifact_running VALUES (?, ?, ?, ?, ?, ?, ?)",
        _running_totals(
            await db.execute_fetchall(
                "SELECT artifact_type, artifact_name, day, bucket, uses, failures, "
                "total_duration_ms FROM artifact_stats ORDER BY 1, 2, 3"
            )
        ),
    )
    await db.execute("DROP TRIGGER events_count_daily")
    await db.execute("DROP TABLE artifact_stats")
    day = "CAST(NEW.client_ts / 86400 AS INTEGER)"
    bucket = "NEW.duration_bucket"
    length = "json_array_length(buckets)"
    await db.execute(
        f"""
        CREATE TRIGGER events_count_daily AFTER INSERT ON events
        WHEN NEW.artifact_type IS NOT NULL
        BEGIN
            -- The day's row, if it is new, starts from the totals of the artifact's day before.
            INSERT INTO artifact_running
            SELECT NEW.artifact_type, NEW.artifact_name, {day}, coalesce(p.uses, 0),
                   coalesce(p.failures, 0), coalesce(p.total_duration_ms, 0),
                   coalesce(p.buckets, '[]')
            FROM (SELECT 1) LEFT JOIN artifact_running p
                ON p.artifact_type = NEW.artifact_type AND p.artifact_name = NEW.artifact_name
                AND p.day = (
                    SELECT max(day) FROM artifact_running
                    WHERE artifact_type = NEW.artifact_type
                    AND artifact_name = NEW.artifact_name AND day < {day}
                )
            WHERE true  -- (SQLite's rule: an upsert's SELECT needs a WHERE)
            ON CONFLICT DO NOTHING;
            -- A bucket past the end of the list lengthens it with zeros ("0," n times).
            UPDATE artifact_running SET
                uses = uses + 1,
                failures = failures + (NEW.success IS 0),
                total_duration_ms = total_duration_ms + coalesce(NEW.duration_ms, 0),
                buckets = CASE
                    WHEN {bucket} IS NULL THEN buckets
                    WHEN {bucket} < {length} THEN json_replace(
                        buckets, '$[' || {bucket} || ']',
                        json_extract(buckets, '$[' || {bucket} || ']') + 1
                    )
                    ELSE rtrim(buckets, ']') || iif(buckets = '[]', '', ',')
                         || replace(hex(zeroblob({bucket} - {length})), '00', '0,') || '1]'
                END
            WHERE artifact_type = NEW.artifact_type AND artifact_name = NEW.artifact_name
            AND day >= {day};
            INSERT INTO daily_uses VALUES ({day}, NEW.artifact_type, 1, NEW.success IS 0)
            ON CONFLICT DO UPDATE SET
                uses = uses + 1, failures = failures + excluded.failures;
        END
        """
    )


def _running_totals(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """artifact_running's rows from artifact_stats' (type, name, day, bucket, uses, failures,
    total_ms), ordered by type, name and day: one per artifact and day, its totals so far."""
    for _, of_artifact in groupby(rows, key=lambda r: (r[0], r[1])):
        uses = failures = total_ms = 0
        timed: list[int] = []
        for (kind, name, day), of_day in groupby(of_artifact, key=lambda r: (r[0], r[1], r[2])):
            for *_, bucket, n, failed, ms in of_day:
                uses, failures, total_ms = uses + n, failures + failed, total_ms + ms
                if bucket >= 0:
                    timed.extend([0] * (bucket + 1 - len(timed)))
                    timed[bucket] += n
            histogram = json.dumps(timed, separators=(",", ":"))
            yield kind, name, day, uses, failures, total_ms, histogram
