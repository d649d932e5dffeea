//! `hurah delayed list|cancel`: tasks waiting for their due time, on either backend (through
//! `hurah::backend::Backend`).

use crate::cli::{self, CliError, IdFilter};
use crate::Selection;
use clap::Subcommand;
use hurah::backend::{Backend, TaskState};
use hurah::Cancelled;
use hurah::FsyncPolicy;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum DelayedCommand {
    /// List delayed tasks, earliest due first
    List(Selection),
    /// Cancel delayed tasks before they run (needs --id SEQ|ID, or --all)
    Cancel(Selection),
}

fn list(b: &dyn Backend, sel: &Selection) -> Result<(), CliError> {
    let mut tasks = cli::select_tasks(b, sel, TaskState::Delayed)?;
    let due = |p: &cli::Picked| p.task.due_ms.unwrap_or(0);
    tasks.sort_by_key(|p| (due(p), p.task.sequence));
    if sel.json {
        let v: Vec<_> = tasks
            .iter()
            .map(|p| {
                json!({
                    "listener": p.label(),
                    "sequence": p.task.sequence,
                    "id": p.task.id,
                    // When it comes due: a timestamp (ms since the epoch) and its ISO-8601
                    // form. `due_ms`/`due` are the names of 0.1, kept for one release.
                    "due_at_ms": due(p),
                    "due_at": cli::iso_ms(due(p)),
                    "due_ms": due(p),
                    "due": cli::iso_ms(due(p)),
                    "path": p.task.location,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("JSON values always serialize")
        );
        return Ok(());
    }
    let now = hurah::clock::now_ms();
    println!("LISTENER\tSEQ\tID\tDUE\tIN");
    for p in &tasks {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            p.label(),
            p.task.sequence,
            p.task.id.as_deref().unwrap_or("-"),
            cli::iso_ms(due(p)),
            if due(p) > now {
                cli::human_age(due(p) - now)
            } else {
                "due".into()
            }
        );
    }
    Ok(())
}

fn cancel(b: &dyn Backend, sel: &Selection) -> Result<(), CliError> {
    cli::require_target(sel, "delayed cancel")?;
    let c = match sel.id.as_deref().map(IdFilter::parse) {
        // Every not-yet-due copy of one dispatch: the backend's own cancel.
        Some(IdFilter::Dispatch(id)) if sel.listener.is_none() && sel.older_than.is_none() => {
            b.cancel(&id)?
        }
        _ => {
            let picked = cli::select_tasks(b, sel, TaskState::Delayed)?;
            let mut c = Cancelled::default();
            for (t, n, seqs) in cli::by_listener(&picked) {
                let one = b.cancel_delayed(t, n, &seqs)?;
                c.cancelled += one.cancelled;
                c.too_late += one.too_late;
            }
            c
        }
    };
    if sel.json {
        println!(
            "{}",
            json!({ "cancelled": c.cancelled, "too_late": c.too_late })
        );
    } else {
        println!("cancelled {} task(s)", c.cancelled);
        if c.too_late > 0 {
            cli::say(&format!(
                "hurah: {} task(s) came due (or were cancelled elsewhere) before they could be \
                 cancelled",
                c.too_late
            ));
        }
    }
    if c.cancelled == 0 && !sel.all {
        return Err(cli::no_match(sel, "delayed"));
    }
    Ok(())
}

pub fn run(c: DelayedCommand) -> Result<(), CliError> {
    // Nothing to sync: a cancel undone by a crash leaves a task that runs, as if it came due
    // before the cancel (the same as before the backend seam).
    match c {
        DelayedCommand::List(sel) => {
            list(&*cli::open_existing(&sel.root, FsyncPolicy::Never)?, &sel)
        }
        DelayedCommand::Cancel(sel) => {
            cancel(&*cli::open_existing(&sel.root, FsyncPolicy::Never)?, &sel)
        }
    }
}
