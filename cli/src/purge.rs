//! `hurah purge --archive --older-than D`: delete old archived (successful) tasks, on either
//! backend (`Backend::purge_archive`, one listener at a time).

use crate::cli::{self, CliError, ListenerArg, Progress};
use clap::Args;
use hurah::FsyncPolicy;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Age is measured from when the task was archived (the file's ctime, or the row's \
updated_at on PostgreSQL)."
)]
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
    let b = cli::open_existing(&a.root, FsyncPolicy::Never)?;
    let listeners = cli::select_listeners(&*b, a.listener.as_ref())?;
    let mut progress = Progress::new("checked");
    let (mut purged, mut kept) = (0u64, 0u64);
    for (t, n) in &listeners {
        let p = b.purge_archive(t, n, a.older_than, a.dry_run)?;
        purged += p.purged;
        kept += p.kept;
        progress.show(purged + kept, None);
    }
    progress.finish();
    let verb = if a.dry_run { "would purge" } else { "purged" };
    if a.json {
        println!(
            "{}",
            json!({ "dry_run": a.dry_run, "purged": purged, "kept": kept })
        );
    } else {
        println!("{verb} {purged} archived task(s), kept {kept}");
    }
    Ok(())
}
