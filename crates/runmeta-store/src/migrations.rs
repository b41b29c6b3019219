//! The schema's migrations, as SQL: entry `i` takes the database from version `i` to
//! `i + 1` (applied by `schema::migrate`, one transaction each; the tables are described in
//! the `schema` module).

/// Migrations: entry `i` takes the database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE runs (
    id                  INTEGER PRIMARY KEY,
    run_id              BLOB    NOT NULL UNIQUE,
    parent_run_id       BLOB,
    session_id          TEXT,
    agent               TEXT    NOT NULL,
    team                TEXT,
    release             TEXT,
    model               TEXT,
    request_model       TEXT,
    started_at          INTEGER NOT NULL,
    duration_ns         INTEGER NOT NULL,
    model_time_ns       INTEGER NOT NULL,
    ttft_ns             INTEGER,
    status              TEXT    NOT NULL,
    stop_reason         TEXT    NOT NULL,
    error_class         TEXT,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_tokens        INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    audio_input_tokens  INTEGER NOT NULL,
    audio_output_tokens INTEGER NOT NULL,
    audio_total_tokens  INTEGER NOT NULL,
    cost_nanos          INTEGER,
    children_tokens     INTEGER NOT NULL,
    children_cost_nanos INTEGER NOT NULL,
    child_runs          INTEGER NOT NULL,
    unpriced_messages   INTEGER NOT NULL,
    message_count       INTEGER NOT NULL,
    tool_call_count     INTEGER NOT NULL,
    tool_error_count    INTEGER NOT NULL,
    sla_breached        INTEGER,
    sla_at_risk         INTEGER NOT NULL,
    label_set           INTEGER REFERENCES label_sets(id),
    meta_schema         TEXT,
    meta_version        INTEGER,
    meta_valid          INTEGER,
    metadata            TEXT,
    extra               TEXT
);
CREATE INDEX runs_started ON runs(started_at);
CREATE INDEX runs_session ON runs(session_id, started_at) WHERE session_id IS NOT NULL;
CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE TABLE messages (
    run                 INTEGER NOT NULL REFERENCES runs(id),
    seq                 INTEGER NOT NULL,
    role                TEXT,
    provider            TEXT,
    model               TEXT,
    started_at          INTEGER,
    duration_ns         INTEGER,
    ttft_ns             INTEGER,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_tokens        INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    audio_input_tokens  INTEGER NOT NULL,
    audio_output_tokens INTEGER NOT NULL,
    audio_total_tokens  INTEGER NOT NULL,
    cost_nanos          INTEGER,
    extra               TEXT,
    PRIMARY KEY (run, seq)
) WITHOUT ROWID;

CREATE TABLE tool_calls (
    run                 INTEGER NOT NULL REFERENCES runs(id),
    seq                 INTEGER NOT NULL,
    name                TEXT    NOT NULL,
    started_at          INTEGER NOT NULL,
    duration_ns         INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    error_class         TEXT,
    PRIMARY KEY (run, seq)
) WITHOUT ROWID;

CREATE TABLE label_sets (
    id                  INTEGER PRIMARY KEY,
    canonical           TEXT    NOT NULL UNIQUE
);

CREATE TABLE label_values (
    set_id              INTEGER NOT NULL REFERENCES label_sets(id),
    pos                 INTEGER NOT NULL,
    key                 TEXT    NOT NULL,
    value               TEXT    NOT NULL,
    PRIMARY KEY (set_id, pos)
) WITHOUT ROWID;
CREATE INDEX label_values_kv ON label_values(key, value, set_id);

CREATE VIEW run_labels(run_id, key, value) AS
    SELECT r.run_id, l.key, l.value
    FROM runs r JOIN label_values l ON l.set_id = r.label_set;
",
    r"
ALTER TABLE runs ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET flags =
      (CASE status WHEN 'success' THEN 0 WHEN 'error' THEN 1 WHEN 'panicked' THEN 2 ELSE 3 END)
    | (CASE WHEN unpriced_messages > 0
              OR (cost_nanos IS NULL AND (input_tokens + output_tokens + total_tokens
                  + reasoning_tokens + cache_read_tokens + cache_write_tokens
                  + audio_input_tokens + audio_output_tokens + audio_total_tokens) > 0)
            THEN 4 ELSE 0 END)
    | (CASE WHEN sla_breached IS NULL THEN 0 ELSE 8 END)
    | (CASE WHEN sla_breached THEN 16 ELSE 0 END)
    | (CASE WHEN sla_at_risk THEN 32 ELSE 0 END);
",
    // Version 3: children as rowid tables keyed by (run << 20) | seq. The rows are copied in
    // key order (the old primary key's), so the new trees are built by appending.
    r"
CREATE TABLE messages_v3 (
    id                  INTEGER PRIMARY KEY,
    run                 INTEGER NOT NULL GENERATED ALWAYS AS (id >> 20) VIRTUAL,
    seq                 INTEGER NOT NULL GENERATED ALWAYS AS (id & 1048575) VIRTUAL,
    role                TEXT,
    provider            TEXT,
    model               TEXT,
    started_at          INTEGER,
    duration_ns         INTEGER,
    ttft_ns             INTEGER,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_tokens        INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    audio_input_tokens  INTEGER NOT NULL,
    audio_output_tokens INTEGER NOT NULL,
    audio_total_tokens  INTEGER NOT NULL,
    cost_nanos          INTEGER,
    extra               TEXT
);
INSERT INTO messages_v3 (id, role, provider, model, started_at, duration_ns, ttft_ns,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, extra)
SELECT (run << 20) | seq, role, provider, model, started_at, duration_ns, ttft_ns,
    input_tokens, output_tokens, total_tokens, reasoning_tokens, cache_read_tokens,
    cache_write_tokens, audio_input_tokens, audio_output_tokens, audio_total_tokens,
    cost_nanos, extra
FROM messages ORDER BY run, seq;
DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;

CREATE TABLE tool_calls_v3 (
    id                  INTEGER PRIMARY KEY,
    run                 INTEGER NOT NULL GENERATED ALWAYS AS (id >> 20) VIRTUAL,
    seq                 INTEGER NOT NULL GENERATED ALWAYS AS (id & 1048575) VIRTUAL,
    name                TEXT    NOT NULL,
    started_at          INTEGER NOT NULL,
    duration_ns         INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    error_class         TEXT
);
INSERT INTO tool_calls_v3 (id, name, started_at, duration_ns, status, error_class)
SELECT (run << 20) | seq, name, started_at, duration_ns, status, error_class
FROM tool_calls ORDER BY run, seq;
DROP TABLE tool_calls;
ALTER TABLE tool_calls_v3 RENAME TO tool_calls;
",
    // Version 4: session ids interned in `sessions`, numbered in the order of their first
    // run; `runs.session` replaces `runs.session_id` (the index follows: integer keys that
    // grow with new sessions, so new runs append near its end).
    r"
CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY,
    session_id          TEXT    NOT NULL UNIQUE
);
INSERT INTO sessions (session_id)
SELECT session_id FROM runs WHERE session_id IS NOT NULL
GROUP BY session_id ORDER BY min(id);
ALTER TABLE runs ADD COLUMN session INTEGER REFERENCES sessions(id);
UPDATE runs SET session = (SELECT s.id FROM sessions s WHERE s.session_id = runs.session_id)
WHERE session_id IS NOT NULL;
DROP INDEX runs_session;
ALTER TABLE runs DROP COLUMN session_id;
CREATE INDEX runs_session ON runs(session, started_at) WHERE session IS NOT NULL;
",
];
