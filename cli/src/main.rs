//! `hurah`: the command-line face of the hurah queue. Run tasks with a shell command
//! (`hurah work`), look at queues (`status`), handle failed and delayed tasks, dispatch from
//! scripts, purge the archive. Every verb has `--help`.
//!
//! Exit codes (`cli::exit_code`, one per error kind): 0 success, 64 usage or invalid argument,
//! 65 invalid data (bad JSON, corrupt task), 66 no such task or listener, 69 the `work --exec`
//! command cannot run, 74 I/O error, 76 database error, 1 anything else. The message goes to
//! stderr.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;
mod delayed;
mod dispatch;
mod failed;
mod migrate;
mod purge;
mod status;
mod work;

use cli::{CliError, ListenerArg};

/// Crash-safe task queue (hurah/events compatible): on a directory, or on PostgreSQL.
#[derive(Parser, Debug)]
#[command(name = "hurah", version = hurah::VERSION, propagate_version = true)]
#[command(after_help = cli::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a shell command for each task of one listener (the shell runner)
    Work(work::WorkArgs),
    /// One row per listener: inbox, delayed, claimed, error, archive, oldest due task
    Status(status::StatusArgs),
    /// List, show, retry or delete failed tasks (error/)
    #[command(subcommand)]
    Failed(failed::FailedCommand),
    /// Dispatch an event: one task per listener of the type, its ancestors and the root
    Dispatch(dispatch::DispatchArgs),
    /// List or cancel delayed tasks (delayed/)
    #[command(subcommand)]
    Delayed(delayed::DelayedCommand),
    /// Delete old archived tasks
    Purge(purge::PurgeArgs),
    /// Create or upgrade the PostgreSQL schema (hurah migrate postgresql://...)
    Migrate(migrate::MigrateArgs),
}

/// Selects tasks: shared by `failed` and `delayed`.
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// Queue root directory, or a postgresql:// URL (PostgreSQL backend)
    pub root: PathBuf,
    /// Only this listener, as EVENT_TYPE:HANDLER (":HANDLER" for a root listener)
    #[arg(long, value_name = "EVENT_TYPE:HANDLER", value_parser = cli::parse_listener)]
    pub listener: Option<ListenerArg>,
    /// Only the task with this sequence number (a sequence names a task within one listener:
    /// refused when several listeners have it, unless --listener says which), or the copies of
    /// this dispatch id
    #[arg(long, value_name = "SEQ|ID")]
    pub id: Option<String>,
    /// Every matching task (required by bulk operations without --id)
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Only tasks that entered their state longer ago than this (30s, 5m, 2h, 7d)
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => cli::EX_USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Work(a) => work::run(a),
        Command::Status(a) => status::run(a),
        Command::Failed(c) => failed::run(c),
        Command::Dispatch(a) => dispatch::run(a),
        Command::Delayed(c) => delayed::run(c),
        Command::Purge(a) => purge::run(a),
        Command::Migrate(a) => migrate::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Exit(code)) => ExitCode::from(code),
        Err(CliError::Core(e)) => {
            cli::say(&format!("hurah: {e}"));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
