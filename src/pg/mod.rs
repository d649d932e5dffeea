//! The PostgreSQL backend: the same dispatch, claim, outcome and recovery semantics as the file
//! backend, for several machines sharing one queue (docs/ARCHITECTURE.md, "PostgreSQL").
//!
//! * Schema `hurah` (see [`migrate`]): a listener registry with one sequence per listener, and
//!   one `hurah.tasks` row per task copy, indexed for claims by `(listener, due, seq)`.
//! * Dispatch ([`PgDispatcher`], or the SQL function `hurah.dispatch(type, payload[, delay])`
//!   inside an application's own transaction: the outbox pattern) inserts one row per listener
//!   at the event's level, each ancestor level and the root, and `NOTIFY`s each listener's
//!   channel (delivered at commit, coalesced per transaction).
//! * Claims ([`Queue::claim`]) take a batch with `FOR UPDATE SKIP LOCKED` in one short
//!   statement. Each queue holds a session-level advisory lock on its own worker key for its
//!   connection's life: the twin of the file backend's kernel-released `flock`. Any worker
//!   returns the claims of a worker whose lock is free ([`Queue::recover_dead_workers`]),
//!   counting the attempt for the one task that had started. At-least-once, as the file
//!   backend.
//! * Outcomes ([`Queue::settle`]) follow `Queue::settle` exactly: SUCCESS → archive (or
//!   deleted), FAILURE/INVALID → error with `{"reason","class","at","attempts"}`, RETRY →
//!   `retry_count+1`, past max attempts → error `Hit retry limit which is set to: M.`.
//! * Wake-ups ([`Worker`]): `LISTEN` on the listeners' channels, a precise timer for the next
//!   delayed task, a slow safety poll.
//!
//! The client is the synchronous `postgres` crate: PHP has no async runtime and runs one
//! request or one worker loop at a time, so blocking calls fit like the file backend's syscalls.
//! TLS follows the DSN's `sslmode` and `sslrootcert` with libpq's meaning (rustls with ring, no
//! OpenSSL): `disable`; `prefer` (default) and `require` encrypt without verifying the
//! certificate; `verify-ca` checks its chain against `sslrootcert` (a PEM file; default
//! `~/.postgresql/root.crt`; `system` for the system's CA bundle), `verify-full` also the host
//! name. As in libpq, `prefer`/`require` with an explicit `sslrootcert` verify the chain.

pub mod admin;
mod backend;
mod connect;
mod dispatcher;
mod dsn;
mod queue;
mod schema;
mod tls;
mod worker;

pub use crate::url::{is_dsn, redact};
pub use backend::PgBackend;
pub use connect::connect;
pub use dispatcher::{cancel_id, PgDispatcher};
pub use dsn::parse_dsn;
/// The client type of [`connect`] (re-exported so callers need not depend on `postgres`).
pub use postgres::Client as PgClient;
pub use queue::{PgStatusRow, Queue, Settled};
pub use schema::{migrate, migrate_to, schema_version, MIGRATIONS};
pub use worker::{handle_once, Worker};

use crate::error::Error;
use postgres::Config;
use std::time::Duration;

/// Connect timeout used when the DSN names none (`connect_timeout=`), so a dead host never hangs.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory-lock class of hurah's session locks (`pg_advisory_lock(CLASS, key)`): "hura".
pub(crate) const LOCK_CLASS: i32 = 0x6875_7261;

/// `host:port` of the first host of a config (for messages).
fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("{host}:{port}/{db}")
}

/// Maps a client error onto [`Error::Database`], with the whole cause chain.
pub(crate) fn db_error(what: impl Into<String>, e: postgres::Error) -> Error {
    let reason = match e.as_db_error() {
        Some(d) => format!(
            "{}: {} (SQLSTATE {})",
            d.severity(),
            d.message(),
            d.code().code()
        ),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                let t = c.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                src = c.source();
            }
            s
        }
    };
    Error::Database {
        what: what.into(),
        reason,
    }
}

/// Shorthand: `.map_err(db("claim"))`.
pub(crate) fn db(what: &'static str) -> impl Fn(postgres::Error) -> Error {
    move |e| db_error(what, e)
}
