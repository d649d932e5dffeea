//! Versioned, idempotent migrations of the `hurah` schema. [`migrate`] applies the missing
//! ones under a transaction-level advisory lock, so concurrent callers (several workers
//! starting at once) are safe; it is what `hurah migrate <dsn>` runs, and what the PostgreSQL
//! dispatcher and queue run on first use.

use super::{db, LOCK_CLASS};
use crate::error::Result;
use postgres::Client;

/// The migrations, in order: `(version, name, SQL)`. Never edit a published one; append.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "listeners, tasks, dispatch()", V1),
    (2, "queue-table storage: fillfactor, eager autovacuum", V2),
];

/// A queue table churns: every task enters the claim index and leaves it. Vacuum it early so
/// claims do not walk dead index entries, and leave room on pages for HOT updates (the
/// `started` mark touches no indexed column).
const V2: &str = r#"
ALTER TABLE hurah.tasks SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);
"#;

const V1: &str = r#"
CREATE TABLE hurah.listeners (
    id           bigserial PRIMARY KEY,
    event_type   text NOT NULL,           -- '' for a root listener
    handler_name text NOT NULL,
    seq_name     regclass,                -- this listener's own sequence (task numbers)
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_type, handler_name)
);

-- One row per task copy (one per listener reached by a dispatch).
-- payload is json, not jsonb: the text is kept as dispatched (key order, duplicates), like
-- the file backend's task files.
CREATE TABLE hurah.tasks (
    listener_id bigint NOT NULL REFERENCES hurah.listeners (id) ON DELETE CASCADE,
    seq         bigint NOT NULL,
    id          text NOT NULL,            -- dispatch id, shared by the copies of one dispatch
    event       text NOT NULL,
    payload     json NOT NULL,
    state       text NOT NULL DEFAULT 'inbox'
                CHECK (state IN ('inbox', 'claimed', 'archive', 'error')),
    due         timestamptz NOT NULL,     -- claimable from then on; claims go by (due, seq)
    delayed     boolean NOT NULL DEFAULT false, -- due was set by a delay or a retry backoff
    attempts    integer NOT NULL DEFAULT 0,
    retry_count integer NOT NULL DEFAULT 0,
    error       jsonb,                    -- {"reason","class","at","attempts"} in state error
    claimed_by  integer,                  -- worker key (advisory lock) while claimed
    started     boolean NOT NULL DEFAULT false, -- the claiming worker began running it
    delivery    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (listener_id, seq)
);
CREATE INDEX tasks_claim ON hurah.tasks (listener_id, due, seq) WHERE state = 'inbox';
CREATE INDEX tasks_claimed ON hurah.tasks (listener_id, claimed_by) WHERE state = 'claimed';
CREATE INDEX tasks_id ON hurah.tasks (id);

-- Event types as the core validates them: '/'-separated segments of [A-Za-z0-9_.-]+, at most
-- 200 bytes, not '.' or '..', not ending in '_listener'; '' is the root.
CREATE FUNCTION hurah.check_event_type(p text) RETURNS void LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF p IS NULL THEN
        RAISE EXCEPTION 'invalid event type: NULL' USING ERRCODE = '22023';
    END IF;
    IF p <> '' AND (p !~ '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$'
                    OR p ~ '(^|/)\.\.?(/|$)'
                    OR p ~ '_listener(/|$)'
                    OR EXISTS (SELECT 1 FROM unnest(string_to_array(p, '/')) s
                               WHERE octet_length(s) > 200)) THEN
        RAISE EXCEPTION 'invalid event type %', quote_literal(p) USING ERRCODE = '22023',
            HINT = 'segments of [A-Za-z0-9_.-]+ separated by /, not . or .., not ending in _listener';
    END IF;
END $f$;

-- Registers a listener (idempotent); returns its id.
CREATE FUNCTION hurah.register(p_event_type text, p_handler_name text) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE v_id bigint;
BEGIN
    PERFORM hurah.check_event_type(p_event_type);
    IF p_handler_name IS NULL OR p_handler_name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'
       OR octet_length(p_handler_name) > 200 THEN
        RAISE EXCEPTION 'invalid handler name %', quote_literal(p_handler_name)
            USING ERRCODE = '22023';
    END IF;
    SELECT id INTO v_id FROM hurah.listeners
     WHERE event_type = p_event_type AND handler_name = p_handler_name;
    IF FOUND THEN RETURN v_id; END IF;
    PERFORM pg_advisory_xact_lock(1752527457, 2);
    SELECT id INTO v_id FROM hurah.listeners
     WHERE event_type = p_event_type AND handler_name = p_handler_name;
    IF FOUND THEN RETURN v_id; END IF;
    INSERT INTO hurah.listeners (event_type, handler_name) VALUES (p_event_type, p_handler_name)
        RETURNING id INTO v_id;
    EXECUTE format('CREATE SEQUENCE hurah.%I', 'listener_seq_' || v_id);
    UPDATE hurah.listeners SET seq_name = format('hurah.%I', 'listener_seq_' || v_id)::regclass
     WHERE id = v_id;
    RETURN v_id;
END $f$;

-- Delivers one event to every listener at its level, each ancestor level and the root, in one
-- statement: one task row per listener, NOTIFY on each listener's channel (sent at commit).
-- p_not_before in the future makes the tasks delayed; p_id NULL generates a dispatch id.
CREATE FUNCTION hurah.dispatch_at(p_event_type text, p_payload json, p_not_before timestamptz,
                                  p_id text)
RETURNS TABLE (listener_id bigint, event_type text, handler_name text, sequence bigint, id text)
LANGUAGE plpgsql AS $f$
#variable_conflict use_column
DECLARE
    v_levels text[] := ARRAY[''];
    v_parts  text[];
    v_now    timestamptz := clock_timestamp();
    v_due    timestamptz := v_now;
    v_delay  boolean := false;
    v_id     text := coalesce(p_id, md5(random()::text || clock_timestamp()::text || pg_backend_pid()::text));
    r        record;
    v_seq    bigint;
BEGIN
    PERFORM hurah.check_event_type(p_event_type);
    IF p_not_before IS NOT NULL AND p_not_before > v_now THEN
        v_due := p_not_before;
        v_delay := true;
    END IF;
    IF p_event_type <> '' THEN
        v_parts := string_to_array(p_event_type, '/');
        FOR i IN 1 .. array_length(v_parts, 1) LOOP
            v_levels := v_levels || array_to_string(v_parts[1:i], '/');
        END LOOP;
    END IF;
    FOR r IN SELECT l.id, l.event_type, l.handler_name, l.seq_name FROM hurah.listeners l
              WHERE l.event_type = ANY (v_levels) ORDER BY l.id LOOP
        v_seq := nextval(r.seq_name);
        INSERT INTO hurah.tasks (listener_id, seq, id, event, payload, due, delayed, delivery)
        VALUES (r.id, v_seq, v_id, p_event_type, coalesce(p_payload, 'null'::json), v_due,
                v_delay, v_now);
        PERFORM pg_notify('hurah_' || r.id, '');
        listener_id := r.id;
        event_type := r.event_type;
        handler_name := r.handler_name;
        sequence := v_seq;
        id := v_id;
        RETURN NEXT;
    END LOOP;
END $f$;

-- The application-facing form (outbox pattern): call it inside your own transaction, e.g.
--   SELECT * FROM hurah.dispatch('product/created', '{"product_id":1}');
--   SELECT * FROM hurah.dispatch('mail/send', '{"to":"a@b"}', interval '10 minutes');
-- The tasks exist if and only if the transaction commits.
CREATE FUNCTION hurah.dispatch(event_type text, payload json, delay interval DEFAULT NULL)
RETURNS TABLE (listener_id bigint, event_type text, handler_name text, sequence bigint, id text)
LANGUAGE sql AS $f$
    SELECT * FROM hurah.dispatch_at($1, $2, clock_timestamp() + $3, NULL)
$f$;
"#;

/// The schema version installed (0 when there is no `hurah` schema yet).
pub fn schema_version(client: &mut Client) -> Result<i32> {
    let row = client
        .query_one("SELECT to_regclass('hurah.migrations') IS NOT NULL", &[])
        .map_err(db("read schema version"))?;
    if !row.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM hurah.migrations",
            &[],
        )
        .map_err(db("read schema version"))?;
    Ok(row.get(0))
}

/// Creates or upgrades the `hurah` schema to the latest version. Returns the versions applied
/// now (empty when it was up to date). Idempotent and safe to run concurrently.
pub fn migrate(client: &mut Client) -> Result<Vec<i32>> {
    migrate_to(client, MIGRATIONS.last().map(|m| m.0).unwrap_or(0))
}

/// Applies the migrations up to and including `target` (for upgrade tests and staged
/// roll-outs). Returns the versions applied now.
pub fn migrate_to(client: &mut Client, target: i32) -> Result<Vec<i32>> {
    if schema_version(client)? >= target {
        return Ok(Vec::new());
    }
    let mut tx = client.transaction().map_err(db("migrate"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1, 1)", &[&LOCK_CLASS])
        .map_err(db("migrate: lock"))?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS hurah;
         CREATE TABLE IF NOT EXISTS hurah.migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now());",
    )
    .map_err(db("migrate: create schema"))?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM hurah.migrations",
            &[],
        )
        .map_err(db("migrate"))?
        .get(0);
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if *version <= current || *version > target {
            continue;
        }
        tx.batch_execute(sql)
            .map_err(|e| super::db_error(format!("migrate: version {version} ({name})"), e))?;
        tx.execute(
            "INSERT INTO hurah.migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .map_err(db("migrate"))?;
        applied.push(*version);
    }
    tx.commit().map_err(db("migrate: commit"))?;
    Ok(applied)
}
