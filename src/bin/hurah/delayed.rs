//! `hurah delayed list|cancel`: tasks waiting in `delayed/` for their due time.

use crate::cli::{self, CliError, IdFilter};
use crate::Selection;
use clap::Subcommand;
use hurah::{Error, Listener};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DelayedCommand {
    /// List delayed tasks, earliest due first
    List(Selection),
    /// Cancel delayed tasks before they run (needs --id SEQ|ID, or --all)
    Cancel(Selection),
}

struct Delayed {
    listener: Listener,
    due_ms: u64,
    seq: u64,
    path: PathBuf,
    id: Option<String>,
}

/// The delayed tasks the selection matches, earliest first.
fn select(sel: &Selection) -> Result<Vec<Delayed>, CliError> {
    let listeners = cli::select_listeners(&sel.root, sel.listener.as_ref())?;
    let id = sel.id.as_deref().map(IdFilter::parse);
    let mut out = Vec::new();
    for l in listeners {
        for e in hurah::delayed::entries(&l)? {
            if matches!(id, Some(IdFilter::Seq(n)) if n != e.seq) {
                continue;
            }
            let task_id = e.id();
            if let Some(IdFilter::Dispatch(want)) = &id {
                if task_id.as_deref() != Some(want.as_str()) {
                    continue;
                }
            }
            out.push(Delayed {
                listener: l.clone(),
                due_ms: e.due_ms,
                seq: e.seq,
                path: e.path,
                id: task_id,
            });
        }
    }
    out.sort_by_key(|d| (d.due_ms, d.seq));
    Ok(out)
}

pub fn run(c: DelayedCommand) -> Result<(), CliError> {
    let (verb, sel) = match &c {
        DelayedCommand::List(s) => ("list", s),
        DelayedCommand::Cancel(s) => ("cancel", s),
    };
    if let Some(dsn) = hurah::pg::dsn_of(&sel.root) {
        return crate::pg_verbs::delayed(dsn, verb, sel);
    }
    let now = hurah::clock::now_ms();
    match c {
        DelayedCommand::List(sel) => {
            let tasks = select(&sel)?;
            if sel.json {
                let v: Vec<_> = tasks
                    .iter()
                    .map(|d| {
                        json!({
                            "listener": cli::listener_label(&d.listener),
                            "sequence": d.seq,
                            "id": d.id,
                            "due_ms": d.due_ms,
                            "due": cli::iso_ms(d.due_ms),
                            "path": d.path,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).expect("JSON values always serialize")
                );
            } else {
                println!("LISTENER\tSEQ\tID\tDUE\tIN");
                for d in &tasks {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        cli::listener_label(&d.listener),
                        d.seq,
                        d.id.as_deref().unwrap_or("-"),
                        cli::iso_ms(d.due_ms),
                        if d.due_ms > now {
                            cli::human_age(d.due_ms - now)
                        } else {
                            "due".into()
                        }
                    );
                }
            }
            Ok(())
        }
        DelayedCommand::Cancel(sel) => {
            if sel.id.is_none() && !sel.all {
                return Err(cli::usage(
                    "--id",
                    "delayed cancel needs --id SEQ|ID or --all",
                ));
            }
            let tasks = select(&sel)?;
            let (mut cancelled, mut too_late) = (0u64, 0u64);
            for d in &tasks {
                // Ok(false): promoted to inbox/ by a worker meanwhile (or cancelled by someone
                // else).
                if hurah::delayed::cancel(&d.path)? {
                    cancelled += 1;
                    if !sel.json {
                        println!("cancelled {}", d.path.display());
                    }
                } else {
                    too_late += 1;
                }
            }
            if sel.json {
                println!(
                    "{}",
                    json!({ "cancelled": cancelled, "too_late": too_late })
                );
            } else if too_late > 0 {
                eprintln!("hurah: {too_late} task(s) were already due and left delayed/ first");
            }
            if cancelled == 0 {
                return Err(CliError::Core(Error::NotFound {
                    what: match &sel.id {
                        Some(id) => format!("delayed task {id}"),
                        None => "delayed task matching the selection".into(),
                    },
                }));
            }
            Ok(())
        }
    }
}
