//! `hurah status`: one row per listener, counted from the directories (`ls` is the truth).

use crate::cli::{self, CliError};
use clap::Args;
use hurah::{
    parse_delayed_file_name, parse_final_file_name, parse_task_file_name, Listener, State, TaskDoc,
};
use serde_json::json;
use std::fs;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

#[derive(Args, Debug)]
#[command(
    after_help = "CLAIMED counts tasks in flight and the workers holding them; a claim \
directory whose lock can be taken belongs to a dead worker (its tasks go back to inbox/ at the \
next recovery of any worker). OLDEST is how long the head of the inbox has been due."
)]
pub struct StatusArgs {
    /// Queue root directory, or a postgresql:// URL (PostgreSQL backend)
    root: PathBuf,
    /// Machine-readable output (a JSON array, one object per listener)
    #[arg(long)]
    json: bool,
    /// Refresh every SECS seconds (default 2) until interrupted
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2",
          value_parser = cli::parse_duration)]
    watch: Option<std::time::Duration>,
}

/// Counts of one listener.
#[derive(Debug, Default)]
struct Row {
    event_type: String,
    handler: String,
    inbox: u64,
    delayed: u64,
    claimed: u64,
    live_workers: u64,
    dead_workers: u64,
    error: u64,
    archive: u64,
    oldest_due_ms: Option<u64>,
}

fn count(dir: &Path, parse: fn(&str) -> Option<u64>) -> u64 {
    fs::read_dir(dir).map_or(0, |es| {
        es.flatten()
            .filter(|e| e.file_name().to_str().and_then(parse).is_some())
            .count() as u64
    })
}

/// True if nobody holds the claim directory's lock (its worker is dead). Takes the lock for an
/// instant only.
fn is_dead(dir: &Path) -> bool {
    let Ok(f) = fs::File::open(dir) else {
        return false;
    };
    // SAFETY: f's fd is valid for the call; the lock is released when f is closed.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// How long the lowest-sequence inbox task (the next a worker takes) has been due.
fn oldest_due(l: &Listener, now: u64) -> Option<u64> {
    let dir = l.state_dir(State::Inbox);
    let head = fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(parse_task_file_name))
        .min()?;
    let path = l.inbox_file(head);
    let mtime = fs::metadata(&path)
        .ok()?
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let not_before = fs::read(&path)
        .ok()
        .and_then(|b| TaskDoc::parse(&b, &path).ok())
        .and_then(|d| d.not_before())
        .unwrap_or(0);
    Some(now.saturating_sub(mtime.max(not_before)))
}

fn row(l: &Listener, now: u64) -> Row {
    let mut r = Row {
        event_type: l.event_type().to_string(),
        handler: l.name().to_string(),
        inbox: count(&l.state_dir(State::Inbox), parse_task_file_name),
        delayed: count(&l.state_dir(State::Delayed), |n| {
            parse_delayed_file_name(n).map(|(_, s)| s)
        }),
        error: count(&l.state_dir(State::Error), parse_final_file_name),
        archive: count(&l.state_dir(State::Archive), parse_final_file_name),
        oldest_due_ms: oldest_due(l, now),
        ..Row::default()
    };
    if let Ok(workers) = fs::read_dir(l.state_dir(State::Claimed)) {
        for w in workers.flatten() {
            if !w.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            r.claimed += count(&w.path(), parse_task_file_name);
            if is_dead(&w.path()) {
                r.dead_workers += 1;
            } else {
                r.live_workers += 1;
            }
        }
    }
    r
}

fn render(rows: &[Row], as_json: bool) -> String {
    if as_json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "event_type": r.event_type,
                    "handler": r.handler,
                    "inbox": r.inbox,
                    "delayed": r.delayed,
                    "claimed": r.claimed,
                    "live_workers": r.live_workers,
                    "dead_workers": r.dead_workers,
                    "error": r.error,
                    "archive": r.archive,
                    "oldest_due_ms": r.oldest_due_ms,
                })
            })
            .collect();
        return serde_json::to_string_pretty(&v).expect("JSON values always serialize") + "\n";
    }
    let mut out = String::new();
    let header = [
        "EVENT_TYPE",
        "HANDLER",
        "INBOX",
        "DELAYED",
        "CLAIMED(live/dead)",
        "ERROR",
        "ARCHIVE",
        "OLDEST",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                if r.event_type.is_empty() {
                    "(root)".to_string()
                } else {
                    r.event_type.clone()
                },
                r.handler.clone(),
                r.inbox.to_string(),
                r.delayed.to_string(),
                format!("{} ({}/{})", r.claimed, r.live_workers, r.dead_workers),
                r.error.to_string(),
                r.archive.to_string(),
                r.oldest_due_ms
                    .map(cli::human_age)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut line = |cols: Vec<&str>| {
        let parts: Vec<String> = cols
            .iter()
            .zip(&width)
            .enumerate()
            .map(|(i, (s, w))| {
                if i < 2 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for c in &cells {
        line(c.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        out.push_str("(no listeners)\n");
    }
    out
}

/// The rows of a PostgreSQL queue (`hurah status postgresql://...`).
fn pg_rows(client: &mut hurah::pg::PgClient) -> Result<Vec<Row>, CliError> {
    Ok(hurah::pg::PgQueue::status(client)?
        .into_iter()
        .map(|r| Row {
            event_type: r.event_type,
            handler: r.handler_name,
            inbox: r.inbox,
            delayed: r.delayed,
            claimed: r.claimed,
            live_workers: r.live_workers,
            dead_workers: r.dead_workers,
            error: r.error,
            archive: r.archive,
            oldest_due_ms: r.oldest_due_ms,
        })
        .collect())
}

pub fn run(a: StatusArgs) -> Result<(), CliError> {
    let mut pg = match hurah::pg::dsn_of(&a.root) {
        Some(dsn) => {
            let mut c = hurah::pg::connect(dsn)?;
            hurah::pg::migrate(&mut c)?;
            Some(c)
        }
        None => None,
    };
    loop {
        let now = hurah::clock::now_ms();
        let rows: Vec<Row> = match pg.as_mut() {
            Some(c) => pg_rows(c)?,
            None => cli::select_listeners(&a.root, None)?
                .iter()
                .map(|l| row(l, now))
                .collect(),
        };
        let text = render(&rows, a.json);
        match a.watch {
            None => {
                print!("{text}");
                return Ok(());
            }
            Some(every) => {
                print!(
                    "\x1b[H\x1b[2J{}  {}\n\n{text}",
                    hurah::pg::redact(&a.root.display().to_string()),
                    cli::iso_ms(now)
                );
                use std::io::Write;
                let _ = std::io::stdout().flush();
                std::thread::sleep(every.max(std::time::Duration::from_millis(100)));
            }
        }
    }
}
