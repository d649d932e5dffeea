//! `hurah dispatch`: dispatch one event from a script (`Backend::dispatch`, either backend).

use crate::cli::{self, CliError};
use clap::Args;
use hurah::{DispatchOptions, Error, EventType, FsyncPolicy};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DispatchArgs {
    /// Queue root directory (created if missing), or a postgresql:// URL (PostgreSQL backend)
    root: PathBuf,
    /// Event type, e.g. product/created ("" for root listeners only)
    event_type: String,
    /// The payload as JSON; "-" reads it from stdin; default {}
    #[arg(value_name = "JSON|-")]
    payload: Option<String>,
    /// Due in this many seconds (fractions allowed), or a duration (30s, 5m)
    #[arg(long, value_name = "SECS", value_parser = cli::parse_duration, conflicts_with = "at")]
    delay: Option<std::time::Duration>,
    /// Due at this time, in ms since the Unix epoch (a time in the past: due at once)
    #[arg(long, value_name = "UNIX_MS")]
    at: Option<u64>,
    /// always (default, or $HURAH_FSYNC): synced before this returns; never: for tmpfs
    #[arg(long, value_name = "always|never", value_parser = crate::work::parse_fsync)]
    fsync: Option<FsyncPolicy>,
    /// Machine-readable output
    #[arg(long)]
    json: bool,
}

pub fn run(a: DispatchArgs) -> Result<(), CliError> {
    let event_type = EventType::parse(&a.event_type)?;
    let payload = match a.payload.as_deref() {
        None => "{}".to_string(),
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("read", "<stdin>", e))?;
            s
        }
        Some(p) => p.to_string(),
    };
    let fsync = match a.fsync {
        Some(f) => f,
        None => FsyncPolicy::from_env()?,
    };
    let not_before_ms = match (a.delay, a.at) {
        (Some(d), _) => Some(hurah::clock::now_ms() + d.as_millis() as u64),
        (None, at) => at,
    };
    let receipt = cli::open(&a.root, fsync)?.dispatch(
        &event_type,
        &payload,
        DispatchOptions { not_before_ms },
    )?;
    if a.json {
        let deliveries: Vec<_> = receipt
            .deliveries
            .iter()
            .map(|d| {
                json!({
                    "listener": cli::label(d.listener.event_type(), d.listener.name()),
                    "sequence": d.sequence,
                    "path": d.location,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "id": receipt.id, "not_before": not_before_ms, "deliveries": deliveries })
        );
    } else {
        println!("{}", receipt.id);
        for d in &receipt.deliveries {
            println!(
                "{}\t{}\t{}",
                cli::label(d.listener.event_type(), d.listener.name()),
                d.sequence,
                d.location
            );
        }
        if receipt.deliveries.is_empty() {
            cli::say(&format!(
                "hurah: no listener for {:?}: nothing delivered",
                a.event_type
            ));
        }
    }
    Ok(())
}
