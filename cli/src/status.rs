//! `hurah status`: one row per listener (`Backend::status`: counted from the directories, where
//! `ls` is the truth, or from the tables).

use crate::cli::{self, CliError};
use clap::Args;
use hurah::backend::ListenerStatus;
use hurah::FsyncPolicy;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "CLAIMED counts tasks in flight and the workers holding them; a claim \
directory whose lock can be taken belongs to a dead worker (its tasks go back to inbox/ at the \
next recovery of any worker). OLDEST is how long the longest-waiting due task of the inbox has \
been due (JSON: oldest_due_age_ms, an age in ms). --watch clears the screen only on a terminal."
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

fn render(rows: &[ListenerStatus], as_json: bool) -> String {
    if as_json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "event_type": r.event_type.to_string(),
                    "handler": r.name.to_string(),
                    "inbox": r.inbox,
                    "delayed": r.delayed,
                    "claimed": r.claimed,
                    "live_workers": r.live_workers,
                    "dead_workers": r.dead_workers,
                    "error": r.error,
                    "archive": r.archive,
                    // An age (how long the longest-waiting due task has waited), not a
                    // timestamp. `oldest_due_ms` is its name of 0.1, kept for one release.
                    "oldest_due_age_ms": r.oldest_due_ms,
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
                if r.event_type.is_root() {
                    "(root)".to_string()
                } else {
                    r.event_type.to_string()
                },
                r.name.to_string(),
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

pub fn run(a: StatusArgs) -> Result<(), CliError> {
    let b = cli::open_existing(&a.root, FsyncPolicy::Never)?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        let now = hurah::clock::now_ms();
        let text = render(&b.status()?, a.json);
        match a.watch {
            None => {
                print!("{text}");
                return Ok(());
            }
            Some(every) => {
                // Clear the screen on a terminal only; into a pipe or file, each refresh
                // follows the last under a header line.
                let clear = if tty { "\x1b[H\x1b[2J" } else { "" };
                print!("{clear}{}  {}\n\n{text}", b.describe(), cli::iso_ms(now));
                if !tty {
                    println!();
                }
                use std::io::Write;
                let _ = std::io::stdout().flush();
                std::thread::sleep(every.max(std::time::Duration::from_millis(100)));
            }
        }
    }
}
