-- The schema of a new skilltrack database: what the migrations in migrations.py create, as
-- SQLite keeps it. Generated, not edited: after changing the migrations, regenerate it with
--     .venv/bin/python -P -m skilltrack.daemon.store.schema > daemon/store/schema.sql
-- (tests/test_schema.py fails while it differs from what a blank database gets).

CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL);

CREATE TABLE events (
    -- One row per hook event, as enrichment left it: the columns reports read, beside the
    -- payload as received (JSON text), so that fields Claude Code adds later are kept
    -- before anything reads them.
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,  -- the hook's UUID: a resent event is stored once
    hook_event TEXT NOT NULL,
    client_ts REAL NOT NULL,
    received_at REAL NOT NULL,
    session_id TEXT,
    prompt_id TEXT,
    tool_use_id TEXT,
    tool_name TEXT,
    artifact_type TEXT,  -- skill, agent, mcp, command, tool; NULL for session events
    artifact_name TEXT,
    plugin TEXT,
    mcp_server TEXT,
    agent_id TEXT,
    agent_type TEXT,  -- the subagent this event ran inside
    success INTEGER,
    duration_ms INTEGER,
    cwd TEXT,
    truncated INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    tenant_id TEXT,
    user_id TEXT,
    skill_id TEXT,  -- a skill is (name, source, location): see skills
    skill_version TEXT,  -- its SKILL.md's content hash
    duration_bucket INTEGER,  -- durations.bucket(duration_ms), for p50 and p95
    project TEXT  -- the cwd's last folder, what `report --project NAME` selects
, ended_by TEXT, call_ms INTEGER);

CREATE INDEX events_artifact ON events (artifact_type, artifact_name, client_ts);

CREATE INDEX events_session ON events (session_id, client_ts);

CREATE INDEX events_project ON events (project, client_ts);

CREATE INDEX events_time ON events (
    -- A report over a range reads the events of its partial first and last days by
    -- time; this index holds every column it reads of them, so that it never reads the
    -- table, whose rows carry ~2 KB of payload (half a day of a million events: ~28 ->
    -- ~14 ms). Prune, export and `events` read by time through it too.
    client_ts, artifact_type, artifact_name, duration_bucket, success, duration_ms,
    agent_type, skill_id, skill_version
);

CREATE TABLE artifact_summary (
    -- Lifetime totals per artifact: what `report` reads over all time. Ratings are
    -- averaged here by the triggers on ratings.
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
    ratings INTEGER NOT NULL DEFAULT 0,
    avg_rating_x100 INTEGER,
    PRIMARY KEY (artifact_type, artifact_name)
) WITHOUT ROWID;

CREATE TRIGGER events_count_use AFTER INSERT ON events
WHEN NEW.artifact_type IS NOT NULL
BEGIN
    -- Like every trigger on events, it runs only for a row really inserted: a resent
    -- event id inserts nothing, and so is counted once.
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
END;

CREATE TABLE artifact_durations (
    -- Lifetime histogram of durations per artifact (n timed uses in each bucket of
    -- durations.py): all-time p50 and p95 without reading the events.
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (artifact_type, artifact_name, bucket)
) WITHOUT ROWID;

CREATE TRIGGER events_count_duration AFTER INSERT ON events
WHEN NEW.artifact_type IS NOT NULL AND NEW.duration_bucket IS NOT NULL
BEGIN
    INSERT INTO artifact_durations VALUES (
        NEW.artifact_type, NEW.artifact_name, NEW.duration_bucket, 1
    )
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TABLE artifact_running (
    -- Running totals per artifact, one row for each UTC day (days since 1970) it was
    -- used: its totals through that day. A report over a range of whole days subtracts
    -- the row before the range from the last row in it: two rows an artifact, where
    -- daily rows per duration bucket were ~84k for 30 days of a million events.
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    day INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    total_duration_ms INTEGER NOT NULL,
    buckets TEXT NOT NULL,  -- timed uses by bucket number so far, a JSON array
    PRIMARY KEY (artifact_type, artifact_name, day)
) WITHOUT ROWID;

CREATE TABLE daily_uses (
    -- Uses per UTC day and kind of artifact: the uses-per-day line.
    day INTEGER NOT NULL,
    artifact_type TEXT NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (day, artifact_type)
) WITHOUT ROWID;

CREATE TRIGGER events_count_daily AFTER INSERT ON events
WHEN NEW.artifact_type IS NOT NULL
BEGIN
    -- The day's row, if it is new, starts from the totals of the artifact's day before.
    INSERT INTO artifact_running
    SELECT NEW.artifact_type, NEW.artifact_name, CAST(NEW.client_ts / 86400 AS INTEGER),
           coalesce(p.uses, 0), coalesce(p.failures, 0), coalesce(p.total_duration_ms, 0),
           coalesce(p.buckets, '[]')
    FROM (SELECT 1) LEFT JOIN artifact_running p
        ON p.artifact_type = NEW.artifact_type AND p.artifact_name = NEW.artifact_name
        AND p.day = (
            SELECT max(day) FROM artifact_running
            WHERE artifact_type = NEW.artifact_type
            AND artifact_name = NEW.artifact_name
            AND day < CAST(NEW.client_ts / 86400 AS INTEGER)
        )
    WHERE true  -- (SQLite's rule: an upsert's SELECT needs a WHERE)
    ON CONFLICT DO NOTHING;
    -- The event counts in its day's row and every later one: for an event of an earlier
    -- day than the artifact's latest (a replay, a clock put back), one row per later day
    -- the artifact was used (90 days late on a million events: ~4x another event).
    -- A bucket past the end of the list lengthens it with zeros ("0," n times).
    UPDATE artifact_running SET
        uses = uses + 1,
        failures = failures + (NEW.success IS 0),
        total_duration_ms = total_duration_ms + coalesce(NEW.duration_ms, 0),
        buckets = CASE
            WHEN NEW.duration_bucket IS NULL THEN buckets
            WHEN NEW.duration_bucket < json_array_length(buckets) THEN json_replace(
                buckets, '$[' || NEW.duration_bucket || ']',
                json_extract(buckets, '$[' || NEW.duration_bucket || ']') + 1
            )
            ELSE rtrim(buckets, ']') || iif(buckets = '[]', '', ',')
                 || replace(
                     hex(zeroblob(NEW.duration_bucket - json_array_length(buckets))),
                     '00', '0,'
                 ) || '1]'
        END
    WHERE artifact_type = NEW.artifact_type AND artifact_name = NEW.artifact_name
    AND day >= CAST(NEW.client_ts / 86400 AS INTEGER);
    INSERT INTO daily_uses VALUES (
        CAST(NEW.client_ts / 86400 AS INTEGER), NEW.artifact_type, 1, NEW.success IS 0
    )
    ON CONFLICT DO UPDATE SET
        uses = uses + 1, failures = failures + excluded.failures;
END;

CREATE TABLE skills (
    -- A skill is (name, source, location): a project skill and a user skill of the same
    -- name are two skills. Store.insert registers a skill and its version before the
    -- first event that uses it; the events' trigger keeps first and last seen exact.
    skill_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    description TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);

CREATE TABLE skill_versions (
    -- A version is the SKILL.md's content hash; its lifetime totals.
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
) WITHOUT ROWID;

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
END;

CREATE TABLE version_stats (
    -- Skill versions side by side, per duration bucket and UTC day: a report over a
    -- range sums these few rows rather than read every use of the skill. First and last
    -- use give a version's span in the range without a seek per version.
    skill_id TEXT NOT NULL,
    skill_version TEXT NOT NULL,
    bucket INTEGER NOT NULL,  -- -1: no duration
    day INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    total_duration_ms INTEGER NOT NULL,
    first_used REAL NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (skill_id, skill_version, bucket, day)
) WITHOUT ROWID;

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
END;

CREATE TABLE version_totals (
    -- The same without the day: skill versions over all time.
    skill_id TEXT NOT NULL,
    skill_version TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    total_duration_ms INTEGER NOT NULL,
    first_used REAL NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (skill_id, skill_version, bucket)
) WITHOUT ROWID;

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
END;

CREATE TABLE agent_stats (
    -- What ran inside each subagent type, per UTC day.
    agent_type TEXT NOT NULL,
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    day INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (agent_type, artifact_type, artifact_name, day)
) WITHOUT ROWID;

CREATE TRIGGER events_count_agent_daily AFTER INSERT ON events
WHEN NEW.agent_type IS NOT NULL AND NEW.artifact_type IS NOT NULL
BEGIN
    INSERT INTO agent_stats VALUES (
        NEW.agent_type, NEW.artifact_type, NEW.artifact_name,
        CAST(NEW.client_ts / 86400 AS INTEGER), 1, NEW.success IS 0
    )
    ON CONFLICT DO UPDATE SET
        uses = uses + 1, failures = failures + excluded.failures;
END;

CREATE TABLE agent_uses (
    -- The same without the day: over all time.
    agent_type TEXT NOT NULL,
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (agent_type, artifact_type, artifact_name)
) WITHOUT ROWID;

CREATE TRIGGER events_count_agent_use AFTER INSERT ON events
WHEN NEW.agent_type IS NOT NULL AND NEW.artifact_type IS NOT NULL
BEGIN
    INSERT INTO agent_uses VALUES (
        NEW.agent_type, NEW.artifact_type, NEW.artifact_name, 1, NEW.success IS 0
    )
    ON CONFLICT DO UPDATE SET
        uses = uses + 1, failures = failures + excluded.failures;
END;

CREATE TABLE project_artifacts (
    -- Lifetime totals per project (the cwd's last folder): `report --project NAME` over
    -- all time reads a few thousand of these rows instead of every event of the project
    -- (~195,000 and ~2.3 s for the busiest project of a million events). A range, a
    -- path or a session still reads the events.
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
) WITHOUT ROWID;

CREATE TABLE project_days (
    project TEXT NOT NULL,
    day INTEGER NOT NULL,
    artifact_type TEXT NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (project, day, artifact_type)
) WITHOUT ROWID;

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
END;

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
) WITHOUT ROWID;

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
END;

CREATE TABLE project_agents (
    project TEXT NOT NULL,
    agent_type TEXT NOT NULL,
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    uses INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (project, agent_type, artifact_type, artifact_name)
) WITHOUT ROWID;

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
END;

CREATE TABLE ratings (
    -- One current rating per user and skill; only a skill that has been used (has a
    -- summary row) can be rated.
    user_id TEXT NOT NULL,
    skill TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    hours_saved REAL CHECK (hours_saved >= 0),
    rated_at REAL NOT NULL,
    PRIMARY KEY (skill, user_id)
) WITHOUT ROWID;

CREATE TRIGGER ratings_insert AFTER INSERT ON ratings
BEGIN
    -- The skill's count and average (times 100, an integer) on its summary row.
    UPDATE artifact_summary SET
        ratings = (SELECT count(*) FROM ratings WHERE skill = NEW.skill),
        avg_rating_x100 = (
            SELECT CAST(round(avg(rating) * 100) AS INTEGER)
            FROM ratings WHERE skill = NEW.skill
        )
    WHERE artifact_type = 'skill' AND artifact_name = NEW.skill;
END;

CREATE TRIGGER ratings_update AFTER UPDATE ON ratings
BEGIN
    -- The skill's count and average (times 100, an integer) on its summary row.
    UPDATE artifact_summary SET
        ratings = (SELECT count(*) FROM ratings WHERE skill = NEW.skill),
        avg_rating_x100 = (
            SELECT CAST(round(avg(rating) * 100) AS INTEGER)
            FROM ratings WHERE skill = NEW.skill
        )
    WHERE artifact_type = 'skill' AND artifact_name = NEW.skill;
END;

CREATE TRIGGER ratings_delete AFTER DELETE ON ratings
BEGIN
    -- The skill's count and average (times 100, an integer) on its summary row.
    UPDATE artifact_summary SET
        ratings = (SELECT count(*) FROM ratings WHERE skill = OLD.skill),
        avg_rating_x100 = (
            SELECT CAST(round(avg(rating) * 100) AS INTEGER)
            FROM ratings WHERE skill = OLD.skill
        )
    WHERE artifact_type = 'skill' AND artifact_name = OLD.skill;
END;

CREATE TABLE training_examples (
    -- Input and output snippets, captured only with both the team's policy and the
    -- user's consent, waiting for review.
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
);

CREATE TABLE sinks (
    -- The configured sinks (the daemon writes them at start), each with its lifetime
    -- counters by outcome, so that `status` tells the same story after a restart.
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
);

CREATE TABLE outbox (
    -- One row per event a sink has still to accept (outbox.py takes them out).
    sink TEXT NOT NULL,
    event INTEGER NOT NULL,  -- events.id
    queued_at REAL NOT NULL,
    PRIMARY KEY (sink, event)
) WITHOUT ROWID;

CREATE TRIGGER events_to_outbox AFTER INSERT ON events
BEGIN
    -- Queued in the statement that stores the event, for every enabled sink that takes
    -- its type; never twice, since a resent event id inserts nothing.
    INSERT INTO outbox (sink, event, queued_at)
    SELECT name, NEW.id, NEW.received_at FROM sinks
    WHERE enabled AND (types IS NULL OR instr(types, ',' || NEW.artifact_type || ',') > 0);
END;

CREATE TABLE dead_letters (
    -- What a receiver refused for good: set aside with its answer, re-sendable by
    -- command.
    sink TEXT NOT NULL,
    event INTEGER NOT NULL,
    status INTEGER,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL,
    PRIMARY KEY (sink, event)
) WITHOUT ROWID;

CREATE TRIGGER events_leave_outbox AFTER DELETE ON events
BEGIN
    -- An event deleted (retention) before its sinks took it is counted, not left
    -- dangling. (`sink IN sinks`: both keys start with the sink, so each lookup is a
    -- seek, not a scan.)
    UPDATE sinks SET removed = removed + 1
    WHERE EXISTS (SELECT 1 FROM outbox WHERE sink = sinks.name AND event = OLD.id);
    DELETE FROM outbox WHERE sink IN (SELECT name FROM sinks) AND event = OLD.id;
    DELETE FROM dead_letters
    WHERE sink IN (SELECT name FROM sinks) AND event = OLD.id;
END;

CREATE TABLE prune_horizon (
    -- The time before which retention may have deleted events (Store.prune raises it):
    -- a report reads a day from the summaries less its events outside the range only
    -- where those events are all still stored.
    id INTEGER PRIMARY KEY CHECK (id = 1),
    before REAL NOT NULL
);

CREATE TABLE spans (
    -- Uses held open: a background subagent's run, the work a skill or command drives.
    -- When its end is seen (Store.insert, or the sweep after SPAN_TIMEOUT_S) the use is
    -- stored in events, its duration the whole span, and its row here goes.
    event_id TEXT PRIMARY KEY,  -- the event of the use: its id in events, once ended
    kind TEXT NOT NULL,  -- agent or work
    session_id TEXT,
    thread TEXT NOT NULL,  -- '' the main thread, else the agent_id of its subagent
    prompt_id TEXT,
    agent_id TEXT,  -- an agent run: the subagent its call launched
    tool_use_id TEXT,
    started_at REAL NOT NULL,  -- the event's time less the call's own duration
    received_at REAL NOT NULL,
    row TEXT NOT NULL  -- the use's events row, as a JSON array in EventRow's order
);

CREATE INDEX spans_session ON spans (session_id, started_at);

CREATE TABLE requests (
    -- One API request: ids, model, usage; never any text of the transcript.
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,  -- the API's request-id header, as the transcript has it
    thread TEXT NOT NULL,  -- '' the main thread, else the agent_id of its subagent
    prompt_id TEXT,
    at REAL NOT NULL,  -- its transcript line's time (the client's)
    day INTEGER NOT NULL,  -- at's UTC day (days since 1970), for the daily totals
    project TEXT,  -- as events.project, for report --project
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER NOT NULL,  -- cache writes kept 5 minutes
    cache_1h_tokens INTEGER NOT NULL,  -- cache writes kept 1 hour
    cache_read_tokens INTEGER NOT NULL,
    cost_usd REAL,  -- NULL: no price known for its model
    use_event TEXT,  -- the skill or command use that owns it (its event_id)
    use_type TEXT,  -- skill or command
    use_name TEXT,
    run_event TEXT,  -- the subagent run that owns it (its event_id)
    run_name TEXT,  -- the run's subagent type
    UNIQUE (session_id, request_id)  -- read twice, stored once
);

CREATE INDEX requests_time ON requests (at);

CREATE INDEX requests_use ON requests (use_event) WHERE use_event IS NOT NULL;

CREATE INDEX requests_run ON requests (run_event) WHERE run_event IS NOT NULL;

CREATE TABLE token_days (
    -- Tokens and cost per UTC day: per artifact (a request counts for its skill or
    -- command and for its subagent run), and ('', '') for every request once.
    day INTEGER NOT NULL,
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER NOT NULL,  -- cache writes kept 5 minutes
    cache_1h_tokens INTEGER NOT NULL,  -- cache writes kept 1 hour
    cache_read_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,  -- over the requests with a price
    unpriced INTEGER NOT NULL,  -- requests whose model has no price
    PRIMARY KEY (day, artifact_type, artifact_name)
) WITHOUT ROWID;

CREATE TRIGGER requests_count_all AFTER INSERT ON requests
BEGIN
    INSERT INTO token_days VALUES (
        NEW.day, '', '', 1, NEW.input_tokens, NEW.output_tokens, NEW.cache_5m_tokens,
        NEW.cache_1h_tokens, NEW.cache_read_tokens, coalesce(NEW.cost_usd, 0),
        NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + 1,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TRIGGER requests_count_use AFTER INSERT ON requests WHEN NEW.use_event IS NOT NULL
BEGIN
    INSERT INTO token_days VALUES (
        NEW.day, NEW.use_type, NEW.use_name, 1, NEW.input_tokens, NEW.output_tokens, NEW.cache_5m_tokens,
        NEW.cache_1h_tokens, NEW.cache_read_tokens, coalesce(NEW.cost_usd, 0),
        NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + 1,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TRIGGER requests_count_run AFTER INSERT ON requests WHEN NEW.run_event IS NOT NULL
BEGIN
    INSERT INTO token_days VALUES (
        NEW.day, 'agent', NEW.run_name, 1, NEW.input_tokens, NEW.output_tokens, NEW.cache_5m_tokens,
        NEW.cache_1h_tokens, NEW.cache_read_tokens, coalesce(NEW.cost_usd, 0),
        NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + 1,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TABLE transcripts (
    -- How far the usage task has read each thread's transcript (no path is kept: it is
    -- found again from the events), and where its attribution stands.
    session_id TEXT NOT NULL,
    thread TEXT NOT NULL,
    offset INTEGER NOT NULL,  -- bytes read: the next pass starts here
    line_prompt TEXT,  -- the prompt of the last user line read
    prompt_id TEXT,  -- the prompt of the last request attributed
    owner_event TEXT,  -- the use owning the thread's requests now
    owner_type TEXT,
    owner_name TEXT,
    PRIMARY KEY (session_id, thread)
) WITHOUT ROWID;

CREATE TABLE token_versions (
    -- Tokens and cost per UTC day and skill version, of the requests its uses own.
    day INTEGER NOT NULL,
    skill_id TEXT NOT NULL,
    skill_version TEXT NOT NULL,
    project TEXT NOT NULL,  -- as requests.project, '' for none: for report --project
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER NOT NULL,  -- cache writes kept 5 minutes
    cache_1h_tokens INTEGER NOT NULL,  -- cache writes kept 1 hour
    cache_read_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,  -- over the requests with a price
    unpriced INTEGER NOT NULL,  -- requests whose model has no price
    PRIMARY KEY (skill_id, skill_version, day, project)
) WITHOUT ROWID;

CREATE TRIGGER requests_count_version AFTER INSERT ON requests
WHEN NEW.use_event IS NOT NULL
BEGIN
    INSERT INTO token_versions
    SELECT NEW.day, e.skill_id, e.skill_version, coalesce(NEW.project, ''), 1,
           NEW.input_tokens, NEW.output_tokens,
           NEW.cache_5m_tokens, NEW.cache_1h_tokens, NEW.cache_read_tokens,
           coalesce(NEW.cost_usd, 0), NEW.cost_usd IS NULL
    FROM events e
    WHERE e.event_id = NEW.use_event AND e.skill_id IS NOT NULL
          AND e.skill_version IS NOT NULL
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TRIGGER events_count_version_tokens AFTER INSERT ON events
WHEN NEW.skill_id IS NOT NULL AND NEW.skill_version IS NOT NULL
BEGIN
    INSERT INTO token_versions
    SELECT day, NEW.skill_id, NEW.skill_version, coalesce(project, ''), count(*),
           sum(input_tokens), sum(output_tokens), sum(cache_5m_tokens),
           sum(cache_1h_tokens), sum(cache_read_tokens), sum(coalesce(cost_usd, 0)),
           sum(cost_usd IS NULL)
    FROM requests WHERE use_event = NEW.event_id
    GROUP BY day, coalesce(project, '')
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TABLE token_sessions (
    -- Tokens and cost per session, UTC day and project: `report --by session|project`.
    session_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    project TEXT NOT NULL,  -- as requests.project, '' for none
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER NOT NULL,  -- cache writes kept 5 minutes
    cache_1h_tokens INTEGER NOT NULL,  -- cache writes kept 1 hour
    cache_read_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,  -- over the requests with a price
    unpriced INTEGER NOT NULL,  -- requests whose model has no price
    first_at REAL NOT NULL,  -- the first and last request's time that day
    last_at REAL NOT NULL,
    PRIMARY KEY (session_id, day, project)
) WITHOUT ROWID;

CREATE INDEX token_sessions_day ON token_sessions (day);

CREATE TRIGGER requests_count_session AFTER INSERT ON requests
BEGIN
    INSERT INTO token_sessions VALUES (
        NEW.session_id, NEW.day, coalesce(NEW.project, ''), 1, NEW.input_tokens,
        NEW.output_tokens, NEW.cache_5m_tokens, NEW.cache_1h_tokens, NEW.cache_read_tokens,
        coalesce(NEW.cost_usd, 0), NEW.cost_usd IS NULL, NEW.at, NEW.at
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced,
        first_at = min(first_at, excluded.first_at),
        last_at = max(last_at, excluded.last_at);
END;

CREATE TABLE token_projects (
    -- Tokens and cost per project and UTC day: per artifact as in token_days, and
    -- ('', '') for every request of the project once.
    project TEXT NOT NULL,  -- as requests.project
    day INTEGER NOT NULL,
    artifact_type TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    requests INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_5m_tokens INTEGER NOT NULL,  -- cache writes kept 5 minutes
    cache_1h_tokens INTEGER NOT NULL,  -- cache writes kept 1 hour
    cache_read_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,  -- over the requests with a price
    unpriced INTEGER NOT NULL,  -- requests whose model has no price
    PRIMARY KEY (project, day, artifact_type, artifact_name)
) WITHOUT ROWID;

CREATE TRIGGER requests_count_project_all AFTER INSERT ON requests
WHEN NEW.project IS NOT NULL
BEGIN
    INSERT INTO token_projects VALUES (
        NEW.project, NEW.day, '', '', 1, NEW.input_tokens, NEW.output_tokens,
        NEW.cache_5m_tokens, NEW.cache_1h_tokens, NEW.cache_read_tokens,
        coalesce(NEW.cost_usd, 0), NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TRIGGER requests_count_project_use AFTER INSERT ON requests
WHEN NEW.project IS NOT NULL AND NEW.use_event IS NOT NULL
BEGIN
    INSERT INTO token_projects VALUES (
        NEW.project, NEW.day, NEW.use_type, NEW.use_name, 1, NEW.input_tokens, NEW.output_tokens,
        NEW.cache_5m_tokens, NEW.cache_1h_tokens, NEW.cache_read_tokens,
        coalesce(NEW.cost_usd, 0), NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TRIGGER requests_count_project_run AFTER INSERT ON requests
WHEN NEW.project IS NOT NULL AND NEW.run_event IS NOT NULL
BEGIN
    INSERT INTO token_projects VALUES (
        NEW.project, NEW.day, 'agent', NEW.run_name, 1, NEW.input_tokens, NEW.output_tokens,
        NEW.cache_5m_tokens, NEW.cache_1h_tokens, NEW.cache_read_tokens,
        coalesce(NEW.cost_usd, 0), NEW.cost_usd IS NULL
    )
    ON CONFLICT DO UPDATE SET
        requests = requests + excluded.requests,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_5m_tokens = cache_5m_tokens + excluded.cache_5m_tokens,
        cache_1h_tokens = cache_1h_tokens + excluded.cache_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd,
        unpriced = unpriced + excluded.unpriced;
END;

CREATE TABLE request_outbox (
    -- One row per API request a sink has still to accept, as a usage record.
    sink TEXT NOT NULL,
    request INTEGER NOT NULL,  -- requests.id
    queued_at REAL NOT NULL,
    PRIMARY KEY (sink, request)
) WITHOUT ROWID;

CREATE TRIGGER requests_to_outbox AFTER INSERT ON requests
BEGIN
    -- For every enabled sink that merges records (not everyskill) and takes what owns
    -- the request: a skill or command use, a subagent run, or (every type) anything.
    INSERT INTO request_outbox (sink, request, queued_at)
    SELECT name, NEW.id, (julianday('now') - 2440587.5) * 86400.0 FROM sinks
    WHERE enabled AND kind != 'everyskill' AND (
        types IS NULL
        OR instr(types, ',' || NEW.use_type || ',') > 0
        OR (NEW.run_event IS NOT NULL AND instr(types, ',agent,') > 0)
    );
END;

CREATE TRIGGER requests_leave_outbox AFTER DELETE ON requests
BEGIN
    -- A request deleted (retention) before its sinks took it is counted, as an event is.
    UPDATE sinks SET removed = removed + 1
    WHERE EXISTS (SELECT 1 FROM request_outbox WHERE sink = sinks.name AND request = OLD.id);
    DELETE FROM request_outbox WHERE sink IN (SELECT name FROM sinks) AND request = OLD.id;
END;

CREATE TABLE usage_known (
    -- Per session, the client's time up to which every use's requests are stored: the
    -- latest turn end (Stop, StopFailure, SessionEnd) after which the usage task read the
    -- session's transcripts. An everyskill sink sends a skill use once this passes it.
    session_id TEXT PRIMARY KEY,
    through REAL NOT NULL
) WITHOUT ROWID;
