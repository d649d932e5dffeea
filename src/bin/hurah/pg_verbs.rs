//! `hurah failed|delayed|purge` on a PostgreSQL URL: the same selections (`--listener`, `--id`,
//! `--all`, `--older-than`), output columns and exit codes as on a directory, through
//! `hurah::pg::admin`.

use crate::cli::{self, CliError, IdFilter};
use crate::Selection;
use hurah::pg::admin::{self, PgSelection, PgTaskRow};
use hurah::Error;
use serde_json::json;

fn connect(dsn: &str) -> Result<hurah::pg::PgClient, CliError> {
    let mut c = hurah::pg::connect(dsn)?;
    hurah::pg::migrate(&mut c)?;
    Ok(c)
}

fn selection(sel: &Selection) -> PgSelection {
    let (seq, id) = match sel.id.as_deref().map(IdFilter::parse) {
        Some(IdFilter::Seq(n)) => (Some(n), None),
        Some(IdFilter::Dispatch(d)) => (None, Some(d)),
        None => (None, None),
    };
    PgSelection {
        listener: sel
            .listener
            .as_ref()
            .map(|l| (l.event_type.to_string(), l.handler.to_string())),
        seq,
        id,
        older_than: sel.older_than,
        seqs: None,
    }
}

fn label(r: &PgTaskRow) -> String {
    format!("{}:{}", r.event_type, r.handler_name)
}

fn path(r: &PgTaskRow) -> String {
    format!("{}#{}", label(r), r.sequence)
}

fn need_target(sel: &Selection, what: &str) -> Result<(), CliError> {
    if sel.id.is_none() && !sel.all {
        return Err(cli::usage(
            "--id",
            format!("{what} needs --id SEQ|ID or --all"),
        ));
    }
    Ok(())
}

fn not_found(sel: &Selection, kind: &str) -> CliError {
    CliError::Core(Error::NotFound {
        what: match &sel.id {
            Some(id) => format!("{kind} task {id}"),
            None => format!("{kind} task matching the selection"),
        },
    })
}

/// `hurah failed list|show|retry|delete` on a URL.
pub fn failed(dsn: &str, verb: &str, sel: &Selection) -> Result<(), CliError> {
    let mut c = connect(dsn)?;
    let s = selection(sel);
    match verb {
        "list" | "show" => {
            if verb == "show" {
                need_target(sel, "failed show")?;
            }
            let rows = admin::failed(&mut c, &s)?;
            if verb == "show" && rows.is_empty() {
                return Err(not_found(sel, "failed"));
            }
            let describe = |r: &PgTaskRow| {
                let e = r.error.clone().unwrap_or_default();
                json!({
                    "listener": label(r), "sequence": r.sequence, "id": r.id,
                    "attempts": e.get("attempts").cloned().unwrap_or(r.attempts.into()),
                    "failed_at": e.get("at"), "class": e.get("class"),
                    "reason": e.get("reason"), "path": path(r),
                })
            };
            if verb == "show" {
                if sel.json {
                    let v: Vec<_> = rows
                        .iter()
                        .map(|r| json!({"listener": label(r), "path": path(r), "task": r.task}))
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
                } else {
                    for r in &rows {
                        println!("# {} ({})", path(r), label(r));
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&r.task).expect("serializes")
                        );
                    }
                }
            } else if sel.json {
                let v: Vec<_> = rows.iter().map(describe).collect();
                println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
            } else {
                println!("LISTENER\tSEQ\tID\tATTEMPTS\tFAILED_AT\tREASON");
                for r in &rows {
                    let d = describe(r);
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        label(r),
                        r.sequence,
                        r.id,
                        d["attempts"],
                        d["failed_at"].as_str().unwrap_or("-"),
                        d["reason"]
                            .as_str()
                            .unwrap_or("")
                            .replace(['\n', '\t'], " ")
                    );
                }
            }
            Ok(())
        }
        _ => {
            need_target(sel, &format!("failed {verb}"))?;
            let n = if verb == "retry" {
                admin::retry_failed(&mut c, &s)?
            } else {
                admin::delete_failed(&mut c, &s)?
            };
            let past = if verb == "retry" {
                "retried"
            } else {
                "deleted"
            };
            if sel.json {
                println!("{}", json!({ past: n, "already_gone": 0, "errors": 0 }));
            } else {
                println!("{past} {n} task(s)");
            }
            if n == 0 {
                return Err(not_found(sel, "failed"));
            }
            Ok(())
        }
    }
}

/// `hurah delayed list|cancel` on a URL.
pub fn delayed(dsn: &str, verb: &str, sel: &Selection) -> Result<(), CliError> {
    let mut c = connect(dsn)?;
    let s = selection(sel);
    let now = hurah::clock::now_ms();
    if verb == "cancel" {
        need_target(sel, "delayed cancel")?;
        let n = admin::cancel_delayed(&mut c, &s)?;
        if sel.json {
            println!("{}", json!({ "cancelled": n, "too_late": 0 }));
        } else {
            println!("cancelled {n} task(s)");
        }
        if n == 0 {
            return Err(not_found(sel, "delayed"));
        }
        return Ok(());
    }
    let rows = admin::delayed(&mut c, &s)?;
    if sel.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({"listener": label(r), "sequence": r.sequence, "id": r.id,
                       "due_ms": r.due_ms, "due": cli::iso_ms(r.due_ms), "path": path(r)})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
    } else {
        println!("LISTENER\tSEQ\tID\tDUE\tIN");
        for r in &rows {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                label(r),
                r.sequence,
                r.id,
                cli::iso_ms(r.due_ms),
                cli::human_age(r.due_ms.saturating_sub(now))
            );
        }
    }
    Ok(())
}

/// `hurah purge --archive --older-than D` on a URL.
pub fn purge(dsn: &str, sel: PgSelection, dry_run: bool, as_json: bool) -> Result<(), CliError> {
    let mut c = connect(dsn)?;
    let (matched, kept) = admin::purge_archive(&mut c, &sel, dry_run)?;
    if as_json {
        println!(
            "{}",
            json!({ "dry_run": dry_run, "purged": matched, "kept": kept })
        );
    } else {
        let verb = if dry_run { "would purge" } else { "purged" };
        println!("{verb} {matched} archived task(s), kept {kept}");
    }
    Ok(())
}
