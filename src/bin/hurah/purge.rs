//! `hurah purge --archive --older-than D`: delete old archived (successful) tasks.

use crate::cli::{self, CliError, ListenerArg, Progress};
use clap::Args;
use hurah::{parse_final_file_name, Error, State};
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Age is measured from when the file entered archive/ (its ctime).")]
pub struct PurgeArgs {
    /// Queue root directory, or a postgresql:// URL (PostgreSQL backend)
    root: PathBuf,
    /// Purge archive/ (the only state purge touches; required so intent is explicit)
    #[arg(long, required = true)]
    archive: bool,
    /// Only tasks archived longer ago than this (30s, 5m, 2h, 7d)
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, required = true)]
    older_than: std::time::Duration,
    /// Only this listener, as EVENT_TYPE:HANDLER
    #[arg(long, value_name = "EVENT_TYPE:HANDLER", value_parser = cli::parse_listener)]
    listener: Option<ListenerArg>,
    /// Count what would be deleted, delete nothing
    #[arg(long)]
    dry_run: bool,
    /// Machine-readable output
    #[arg(long)]
    json: bool,
}

pub fn run(a: PurgeArgs) -> Result<(), CliError> {
    debug_assert!(a.archive);
    if let Some(dsn) = hurah::pg::dsn_of(&a.root) {
        let sel = hurah::pg::admin::PgSelection {
            listener: a
                .listener
                .as_ref()
                .map(|l| (l.event_type.to_string(), l.handler.to_string())),
            older_than: Some(a.older_than),
            ..Default::default()
        };
        return crate::pg_verbs::purge(dsn, sel, a.dry_run, a.json);
    }
    let listeners = cli::select_listeners(&a.root, a.listener.as_ref())?;
    let cutoff_ms = hurah::clock::now_ms().saturating_sub(a.older_than.as_millis() as u64);
    let mut progress = Progress::new("checked");
    let (mut matched, mut kept, mut seen) = (0u64, 0u64, 0u64);
    for l in &listeners {
        let dir = l.state_dir(State::Archive);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read directory", &dir, e).into()),
        };
        for e in entries.flatten() {
            if e.file_name()
                .to_str()
                .and_then(parse_final_file_name)
                .is_none()
            {
                continue;
            }
            seen += 1;
            progress.tick(seen, None);
            let path = e.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let changed_ms =
                (meta.ctime().max(0) as u64) * 1000 + meta.ctime_nsec() as u64 / 1_000_000;
            if changed_ms > cutoff_ms {
                kept += 1;
                continue;
            }
            if !a.dry_run {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("remove", &path, e).into()),
                }
            }
            matched += 1;
        }
    }
    progress.finish();
    let verb = if a.dry_run { "would purge" } else { "purged" };
    if a.json {
        println!(
            "{}",
            json!({ "dry_run": a.dry_run, "purged": matched, "kept": kept })
        );
    } else {
        println!("{verb} {matched} archived task(s), kept {kept}");
    }
    Ok(())
}
