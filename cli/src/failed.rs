//! `hurah failed list|show|retry|delete`: the tasks that failed for good, with their stored
//! reason, on either backend (through `hurah::backend::Backend`).

use crate::cli::{self, CliError, Picked, Progress};
use crate::Selection;
use clap::{Args, Subcommand};
use hurah::backend::{Backend, FailedAction, Pick, TaskState};
use hurah::{Error, ErrorKind, FsyncPolicy};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum FailedCommand {
    /// List failed tasks with their stored reason
    List(Selection),
    /// Print failed task files (needs --id, or --all)
    Show(Selection),
    /// Move failed tasks back to inbox/, resetting retry_count and attempts (needs --id or --all)
    Retry(RetryArgs),
    /// Delete failed tasks (needs --id or --all)
    Delete(Selection),
}

#[derive(Args, Debug)]
pub struct RetryArgs {
    #[command(flatten)]
    sel: Selection,
    /// always: fsync before each move returns; never: for tmpfs and throughput
    #[arg(long, value_name = "always|never", value_parser = crate::work::parse_fsync)]
    fsync: Option<FsyncPolicy>,
}

fn describe(p: &Picked) -> Value {
    let e = p.task.error.as_ref();
    json!({
        "listener": p.label(),
        "sequence": p.task.sequence,
        "id": p.task.id,
        "attempts": p.task.attempts,
        "failed_at": e.and_then(|e| e.at.as_deref()),
        "class": e.and_then(|e| e.class.as_deref()),
        "reason": e.map(|e| e.reason.as_str()),
        "path": p.task.location,
    })
}

fn list(b: &dyn Backend, sel: &Selection) -> Result<(), CliError> {
    let failed = cli::select_tasks(b, sel, TaskState::Failed)?;
    if sel.json {
        // One object per line, as the listing goes.
        print!("[");
        for (i, p) in failed.iter().enumerate() {
            print!("{}\n  {}", if i == 0 { "" } else { "," }, describe(p));
        }
        println!("{}]", if failed.is_empty() { "" } else { "\n" });
        return Ok(());
    }
    println!("LISTENER\tSEQ\tID\tATTEMPTS\tFAILED_AT\tREASON");
    for p in &failed {
        let e = p.task.error.as_ref();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            p.label(),
            p.task.sequence,
            p.task.id.as_deref().unwrap_or("-"),
            p.task.attempts,
            e.and_then(|e| e.at.as_deref()).unwrap_or("-"),
            e.map_or(String::new(), |e| e.reason.replace(['\n', '\t'], " "))
        );
    }
    Ok(())
}

/// The stored task, error included.
fn document(p: &Picked) -> Value {
    match &p.task.doc {
        // Read as deep as the worker reads (a payload may nest 512 levels).
        Some(doc) => {
            let text = doc.to_json();
            hurah::json::from_str(&text, hurah::json::MAX_TASK_DEPTH).unwrap_or(Value::String(text))
        }
        // A file in error/ that does not parse (damaged, or left so by the original library):
        // its bytes as they are, as text (never read through a link or from a FIFO).
        None => hurah::failed::read_raw(std::path::Path::new(&p.task.location))
            .map(|b| Value::from(String::from_utf8_lossy(&b).into_owned()))
            .unwrap_or(Value::Null),
    }
}

fn show(b: &dyn Backend, sel: &Selection) -> Result<(), CliError> {
    cli::require_target(sel, "failed show")?;
    let failed = cli::select_tasks(b, sel, TaskState::Failed)?;
    if failed.is_empty() {
        return Err(cli::no_match(sel, "failed"));
    }
    if sel.json {
        let docs: Vec<_> = failed
            .iter()
            .map(|p| json!({ "listener": p.label(), "path": p.task.location, "task": document(p) }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&docs).expect("JSON values always serialize")
        );
    } else {
        for p in &failed {
            println!("# {} ({})", p.task.location, p.label());
            println!(
                "{}",
                serde_json::to_string_pretty(&document(p)).expect("JSON values always serialize")
            );
        }
    }
    Ok(())
}

/// Retry or delete the selected tasks, one backend call per listener, with a progress count on
/// a terminal. Tasks that fail are reported and skipped; the exit status is that of the first
/// failure.
fn bulk(b: &dyn Backend, sel: &Selection, retry: bool) -> Result<(), CliError> {
    let verb = if retry { "retry" } else { "delete" };
    cli::require_target(sel, &format!("failed {verb}"))?;
    let past = if retry { "retried" } else { "deleted" };
    let failed = cli::select_tasks(b, sel, TaskState::Failed)?;
    let total = failed.len() as u64;
    let mut progress = Progress::new(past);
    let (mut done, mut gone, mut errors, mut seen) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error: Option<Error> = None;
    for (t, n, seqs) in cli::by_listener(&failed) {
        let mut each = |seq: u64, r: hurah::Result<()>| {
            match r {
                Ok(()) => done += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => gone += 1,
                Err(e) => {
                    progress.finish();
                    cli::say(&format!("hurah: {verb} {}#{seq}: {e}", cli::label(t, n)));
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            seen += 1;
            progress.tick(seen, Some(total));
            Ok(())
        };
        let action = if retry {
            FailedAction::Retry
        } else {
            FailedAction::Delete
        };
        b.failed(t, n, Pick::Sequences(&seqs), action, &mut each)?;
    }
    progress.finish();
    if sel.json {
        println!(
            "{}",
            json!({ past: done, "already_gone": gone, "errors": errors })
        );
    } else {
        let mut extra = String::new();
        if gone > 0 {
            extra.push_str(&format!(", {gone} already gone"));
        }
        if errors > 0 {
            extra.push_str(&format!(", {errors} error(s)"));
        }
        println!("{past} {done} task(s){extra}");
    }
    match first_error {
        Some(e) => Err(CliError::Exit(cli::exit_code(&e))),
        // `--id` named a task that is not there; `--all` with nothing to do did its job.
        None if total == 0 && !sel.all => Err(cli::no_match(sel, "failed")),
        None => Ok(()),
    }
}

pub fn run(c: FailedCommand) -> Result<(), CliError> {
    match c {
        FailedCommand::List(sel) => {
            list(&*cli::open_existing(&sel.root, FsyncPolicy::Never)?, &sel)
        }
        FailedCommand::Show(sel) => {
            show(&*cli::open_existing(&sel.root, FsyncPolicy::Never)?, &sel)
        }
        FailedCommand::Retry(a) => {
            let fsync = match a.fsync {
                Some(f) => f,
                None => FsyncPolicy::from_env()?,
            };
            bulk(&*cli::open_existing(&a.sel.root, fsync)?, &a.sel, true)
        }
        // As before the backend seam: a deletion is not synced (nothing is lost if it is
        // undone by a crash).
        FailedCommand::Delete(sel) => bulk(
            &*cli::open_existing(&sel.root, FsyncPolicy::Never)?,
            &sel,
            false,
        ),
    }
}
