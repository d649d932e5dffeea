//! `hurah migrate <dsn>`: create or upgrade the PostgreSQL schema `hurah` (versioned,
//! idempotent; safe to run from several hosts at once).

use crate::cli::{usage, CliError};
use clap::Args;

#[derive(Args, Debug)]
#[command(
    after_help = "Installs the tables and the SQL function hurah.dispatch(event_type, payload json \
[, delay interval]) that applications call inside their own transaction (outbox)."
)]
pub struct MigrateArgs {
    /// PostgreSQL connection URL (postgresql://user@host:5432/db?sslmode=prefer)
    dsn: String,
    /// Machine-readable output
    #[arg(long)]
    json: bool,
}

pub fn run(a: MigrateArgs) -> Result<(), CliError> {
    if !hurah::pg::is_dsn(&a.dsn) {
        return Err(usage(
            "dsn",
            format!("{:?} is not a postgresql:// or postgres:// URL", a.dsn),
        ));
    }
    let mut client = hurah::pg::connect(&a.dsn)?;
    let before = hurah::pg::schema_version(&mut client)?;
    let applied = hurah::pg::migrate(&mut client)?;
    let after = hurah::pg::schema_version(&mut client)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"from": before, "to": after, "applied": applied})
        );
    } else if applied.is_empty() {
        println!("schema hurah is up to date (version {after})");
    } else {
        println!("schema hurah migrated from version {before} to {after}");
    }
    Ok(())
}
