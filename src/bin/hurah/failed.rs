//! `hurah failed list|show|retry|delete`: the tasks in `error/`, with their stored reason.

use crate::cli::{self, CliError, IdFilter, Progress};
use crate::Selection;
use clap::{Args, Subcommand};
use hurah::failed::{self, FailedTask};
use hurah::{Error, FsyncPolicy, Listener};
use serde_json::json;
use std::path::PathBuf;

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

/// Calls `f` on each failed task the selection matches, one at a time (bulk operations stream:
/// only names are listed up front). `f` gets the item number and the total of candidates.
fn for_each(
    sel: &Selection,
    mut f: impl FnMut(&Listener, FailedTask, u64, u64) -> Result<(), CliError>,
) -> Result<u64, CliError> {
    let listeners = cli::select_listeners(&sel.root, sel.listener.as_ref())?;
    let id = sel.id.as_deref().map(IdFilter::parse);
    let cutoff = sel
        .older_than
        .map(|d| hurah::clock::now_ms().saturating_sub(d.as_millis() as u64));
    let mut names: Vec<(Listener, u64, PathBuf)> = Vec::new();
    for l in &listeners {
        for (seq, path) in failed::entries(l)? {
            if matches!(id, Some(IdFilter::Seq(n)) if n != seq) {
                continue;
            }
            names.push((l.clone(), seq, path));
        }
    }
    let total = names.len() as u64;
    let mut matched = 0;
    for (i, (l, _, path)) in names.into_iter().enumerate() {
        let task = match FailedTask::load(&l, &path) {
            Ok(t) => t,
            Err(Error::NotFound { .. }) => continue, // retried or deleted meanwhile
            Err(e) => return Err(e.into()),
        };
        if let Some(IdFilter::Dispatch(want)) = &id {
            if task.id() != Some(want.as_str()) {
                continue;
            }
        }
        if cutoff.is_some_and(|c| task.changed_ms() > c) {
            continue;
        }
        matched += 1;
        f(&l, task, i as u64 + 1, total)?;
    }
    Ok(matched)
}

fn require_target(sel: &Selection, verb: &str) -> Result<(), CliError> {
    if sel.id.is_none() && !sel.all {
        return Err(cli::usage(
            "--id",
            format!("failed {verb} needs --id SEQ|ID or --all"),
        ));
    }
    Ok(())
}

fn no_match(sel: &Selection) -> CliError {
    CliError::Core(Error::NotFound {
        what: match &sel.id {
            Some(id) => format!("failed task {id}"),
            None => "failed task matching the selection".into(),
        },
    })
}

fn describe(l: &Listener, t: &FailedTask) -> serde_json::Value {
    json!({
        "listener": cli::listener_label(l),
        "sequence": t.sequence(),
        "id": t.id(),
        "attempts": t.attempts(),
        "failed_at": t.failed_at(),
        "class": t.class(),
        "reason": t.reason(),
        "path": t.path(),
    })
}

fn list(sel: &Selection) -> Result<(), CliError> {
    let mut first = true;
    if sel.json {
        print!("[");
    } else {
        println!("LISTENER\tSEQ\tID\tATTEMPTS\tFAILED_AT\tREASON");
    }
    for_each(sel, |l, t, _, _| {
        if sel.json {
            print!("{}\n  {}", if first { "" } else { "," }, describe(l, &t));
        } else {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                cli::listener_label(l),
                t.sequence(),
                t.id().unwrap_or("-"),
                t.attempts(),
                t.failed_at().unwrap_or("-"),
                t.reason().replace(['\n', '\t'], " ")
            );
        }
        first = false;
        Ok(())
    })?;
    if sel.json {
        println!("{}]", if first { "" } else { "\n" });
    }
    Ok(())
}

fn show(sel: &Selection) -> Result<(), CliError> {
    require_target(sel, "show")?;
    let mut docs = Vec::new();
    let n = for_each(sel, |l, t, _, _| {
        let content = std::fs::read(t.path()).unwrap_or_default();
        let value = serde_json::from_slice::<serde_json::Value>(&content)
            .unwrap_or_else(|_| String::from_utf8_lossy(&content).into_owned().into());
        if sel.json {
            docs.push(
                json!({ "listener": cli::listener_label(l), "path": t.path(), "task": value }),
            );
        } else {
            println!("# {} ({})", t.path().display(), cli::listener_label(l));
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values always serialize")
            );
        }
        Ok(())
    })?;
    if n == 0 {
        return Err(no_match(sel));
    }
    if sel.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&docs).expect("JSON values always serialize")
        );
    }
    Ok(())
}

/// Retry or delete, streaming, with a progress count on a terminal. Items that fail are reported
/// and skipped; the exit status is that of the first failure.
fn bulk(sel: &Selection, verb: &'static str, fsync: FsyncPolicy) -> Result<(), CliError> {
    require_target(sel, verb)?;
    let past = if verb == "retry" {
        "retried"
    } else {
        "deleted"
    };
    let mut progress = Progress::new(past);
    let (mut done, mut gone) = (0u64, 0u64);
    let mut first_error: Option<Error> = None;
    let matched = for_each(sel, |l, t, i, total| {
        let r = if verb == "retry" {
            failed::retry(l, t.path(), fsync).map(Some)
        } else {
            failed::delete(l, t.path()).map(|()| None)
        };
        match r {
            Ok(to) => {
                done += 1;
                if !sel.json && !progress_on() {
                    match to {
                        Some(to) => println!("{past} {} -> {}", t.path().display(), to.display()),
                        None => println!("{past} {}", t.path().display()),
                    }
                }
            }
            Err(Error::NotFound { .. }) => gone += 1,
            Err(e) => {
                progress.finish();
                eprintln!("hurah: {verb} {}: {e}", t.path().display());
                first_error.get_or_insert(e);
            }
        }
        progress.tick(i, Some(total));
        Ok(())
    })?;
    progress.finish();
    let failed_n = matched - done - gone;
    if sel.json {
        println!(
            "{}",
            json!({ past: done, "already_gone": gone, "errors": failed_n })
        );
    } else {
        println!("{past} {done} task(s){}", {
            let mut s = String::new();
            if gone > 0 {
                s.push_str(&format!(", {gone} already gone"));
            }
            if failed_n > 0 {
                s.push_str(&format!(", {failed_n} error(s)"));
            }
            s
        });
    }
    match first_error {
        Some(e) => Err(CliError::Exit(cli::exit_code(&e))),
        None if matched == 0 => Err(no_match(sel)),
        None => Ok(()),
    }
}

fn progress_on() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

pub fn run(c: FailedCommand) -> Result<(), CliError> {
    let (verb, sel) = match &c {
        FailedCommand::List(s) => ("list", s),
        FailedCommand::Show(s) => ("show", s),
        FailedCommand::Retry(a) => ("retry", &a.sel),
        FailedCommand::Delete(s) => ("delete", s),
    };
    if let Some(dsn) = hurah::pg::dsn_of(&sel.root) {
        return crate::pg_verbs::failed(dsn, verb, sel);
    }
    match c {
        FailedCommand::List(sel) => list(&sel),
        FailedCommand::Show(sel) => show(&sel),
        FailedCommand::Retry(a) => {
            let fsync = match a.fsync {
                Some(f) => f,
                None => FsyncPolicy::from_env()?,
            };
            bulk(&a.sel, "retry", fsync)
        }
        FailedCommand::Delete(sel) => bulk(&sel, "delete", FsyncPolicy::Never),
    }
}
