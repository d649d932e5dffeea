//! What the verbs share: the error-to-exit-code mapping, argument parsers (durations, sizes,
//! listeners), opening the root's backend, listener and task selection, progress output.

use crate::Selection;
use hurah::backend::{self, Backend, TaskEntry, TaskState};
use hurah::{Error, ErrorKind, EventType, FsyncPolicy, HandlerName};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

/// A line on stderr in one write(2), so lines of processes sharing a stderr never interleave
/// mid-line (`eprintln!` writes a formatted line piece by piece).
pub fn say(line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    let _ = std::io::stderr().write_all(buf.as_bytes());
}

/// Usage error or invalid argument (sysexits EX_USAGE).
pub const EX_USAGE: u8 = 64;
/// Invalid input data, corrupt task file (EX_DATAERR).
pub const EX_DATAERR: u8 = 65;
/// No such task or listener (EX_NOINPUT: the input named does not exist).
pub const EX_NOINPUT: u8 = 66;
/// A program the verb needs cannot run (EX_UNAVAILABLE): `hurah work --exec` whose command
/// the shell cannot find or execute.
pub const EX_UNAVAILABLE: u8 = 69;
/// I/O error (EX_IOERR).
pub const EX_IOERR: u8 = 74;
/// Database error, PostgreSQL root: cannot connect, connection lost, statement failed
/// (sysexits' EX_PROTOCOL slot, "remote error").
pub const EX_DATABASE: u8 = 76;
/// Any other failure.
pub const EX_OTHER: u8 = 1;

/// The exit codes, for `hurah --help` (the README's table says the same).
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 ok, 64 usage or invalid argument, 65 invalid \
data or corrupt task, 66 no such task or listener, 69 (work) the --exec command cannot run, 74 \
I/O error, 76 database error (PostgreSQL: cannot connect, connection lost, statement failed), 1 \
other (e.g. a path that would leave the queue root).";

/// Why a verb failed.
#[derive(Debug)]
pub enum CliError {
    /// A core error: printed on stderr, mapped by [`exit_code`].
    Core(Error),
    /// The verb already reported its problems; exit with this code.
    Exit(u8),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Core(e)
    }
}

/// The one mapping from core errors to exit codes, by kind.
pub fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::InvalidArgument => EX_USAGE,
        ErrorKind::InvalidPayload | ErrorKind::Corrupt => EX_DATAERR,
        ErrorKind::NotFound => EX_NOINPUT,
        ErrorKind::Io => EX_IOERR,
        ErrorKind::Database => EX_DATABASE,
        ErrorKind::UnsafePath => EX_OTHER,
        // The core's kinds may grow; anything new is "other" until it is named here.
        _ => EX_OTHER,
    }
}

/// A usage error naming the option.
pub fn usage(name: &str, reason: impl Into<String>) -> CliError {
    CliError::Core(Error::InvalidOption {
        name: name.into(),
        reason: reason.into(),
    })
}

/// `30s`, `5m`, `2h`, `7d`, `250ms`, or a plain (fractional) number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (use e.g. 30s, 5m, 2h, 7d)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use ms, s, m, h or d)"
            ))
        }
    };
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Bytes, or with a K/M/G suffix (powers of 1024), as PHP's `memory_limit`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or e.g. 128M, 1G)"))
}

/// `--listener EVENT_TYPE:HANDLER`.
#[derive(Clone, Debug)]
pub struct ListenerArg {
    /// The event type.
    pub event_type: EventType,
    /// The handler name.
    pub handler: HandlerName,
}

/// Parses `EVENT_TYPE:HANDLER` (`:HANDLER` for the root).
pub fn parse_listener(s: &str) -> Result<ListenerArg, String> {
    let (t, h) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} is not EVENT_TYPE:HANDLER"))?;
    Ok(ListenerArg {
        event_type: EventType::parse(t).map_err(|e| e.to_string())?,
        handler: HandlerName::new(h).map_err(|e| e.to_string())?,
    })
}

/// `product/created:mailer` (`:mailer` at the root).
pub fn label(event_type: &EventType, name: &HandlerName) -> String {
    format!("{event_type}:{name}")
}

fn root_str(root: &Path) -> Result<&str, CliError> {
    root.to_str()
        .ok_or_else(|| usage("root", format!("{root:?} is not valid UTF-8")))
}

/// The backend of `root` (a directory, created if missing, or a `postgresql://` URL): for the
/// verbs that write (`dispatch`, `work`).
pub fn open(root: &Path, fsync: FsyncPolicy) -> Result<Box<dyn Backend>, CliError> {
    Ok(backend::open(root_str(root)?, fsync)?)
}

/// The backend of `root`, which must exist: for the verbs that look first (`status`,
/// `failed`, `delayed`, `purge`). A directory is not created, nor required to be writable.
pub fn open_existing(root: &Path, fsync: FsyncPolicy) -> Result<Box<dyn Backend>, CliError> {
    Ok(backend::open_existing(root_str(root)?, fsync)?)
}

/// The listeners a selection covers: the one named by `--listener` (which must exist), or all.
pub fn select_listeners(
    b: &dyn Backend,
    only: Option<&ListenerArg>,
) -> Result<Vec<(EventType, HandlerName)>, CliError> {
    let all = b.listeners()?;
    match only {
        Some(a) => {
            if !all
                .iter()
                .any(|(t, n)| *t == a.event_type && *n == a.handler)
            {
                return Err(CliError::Core(Error::NotFound {
                    what: format!(
                        "listener {} in {}",
                        label(&a.event_type, &a.handler),
                        b.describe()
                    ),
                }));
            }
            Ok(vec![(a.event_type.clone(), a.handler.clone())])
        }
        None => Ok(all),
    }
}

/// One task a selection picked.
pub struct Picked {
    /// Its listener's event type.
    pub event_type: EventType,
    /// Its listener's handler name.
    pub name: HandlerName,
    /// The task.
    pub task: TaskEntry,
}

impl Picked {
    /// `EVENT_TYPE:HANDLER`.
    pub fn label(&self) -> String {
        label(&self.event_type, &self.name)
    }
}

/// The tasks in `state` that `sel` picks (`--listener`, `--id SEQ|ID`, `--older-than`), listener
/// by listener in the backend's order.
pub fn select_tasks(
    b: &dyn Backend,
    sel: &Selection,
    state: TaskState,
) -> Result<Vec<Picked>, CliError> {
    let id = sel.id.as_deref().map(IdFilter::parse);
    let cutoff = sel
        .older_than
        .map(|d| hurah::clock::now_ms().saturating_sub(d.as_millis() as u64));
    let mut out = Vec::new();
    // Listeners holding the sequence `--id` names: a sequence names a task only within one.
    let mut holders: Vec<String> = Vec::new();
    for (t, n) in select_listeners(b, sel.listener.as_ref())? {
        for e in b.tasks(&t, &n, state)? {
            let wanted = match &id {
                Some(IdFilter::Seq(s)) => e.sequence == *s,
                Some(IdFilter::Dispatch(d)) => e.id.as_deref() == Some(d.as_str()),
                None => true,
            };
            if !wanted {
                continue;
            }
            if matches!(id, Some(IdFilter::Seq(_))) {
                let l = label(&t, &n);
                if !holders.contains(&l) {
                    holders.push(l);
                }
            }
            if cutoff.is_some_and(|c| e.changed_ms > c) {
                continue;
            }
            out.push(Picked {
                event_type: t.clone(),
                name: n.clone(),
                task: e,
            });
        }
    }
    if holders.len() > 1 {
        return Err(usage(
            "--id",
            format!(
                "sequence {} names a task in each of {} listeners ({}); add --listener \
                 EVENT_TYPE:HANDLER to say which",
                sel.id.as_deref().unwrap_or_default(),
                holders.len(),
                holders.join(", ")
            ),
        ));
    }
    Ok(out)
}

/// The picked tasks grouped by listener (runs of the same listener, as [`select_tasks`] gives
/// them), with their sequences.
pub fn by_listener(picked: &[Picked]) -> Vec<(&EventType, &HandlerName, Vec<u64>)> {
    let mut out: Vec<(&EventType, &HandlerName, Vec<u64>)> = Vec::new();
    for p in picked {
        match out.last_mut() {
            Some((t, n, seqs)) if *t == &p.event_type && *n == &p.name => {
                seqs.push(p.task.sequence)
            }
            _ => out.push((&p.event_type, &p.name, vec![p.task.sequence])),
        }
    }
    out
}

/// Bulk verbs act on `--id SEQ|ID` or `--all`, never on everything by default.
pub fn require_target(sel: &Selection, what: &str) -> Result<(), CliError> {
    if sel.id.is_none() && !sel.all {
        return Err(usage("--id", format!("{what} needs --id SEQ|ID or --all")));
    }
    Ok(())
}

/// Nothing matched: `kind` task `<id>`, or matching the selection.
pub fn no_match(sel: &Selection, kind: &str) -> CliError {
    CliError::Core(Error::NotFound {
        what: match &sel.id {
            Some(id) => format!("{kind} task {id}"),
            None => format!("{kind} task matching the selection"),
        },
    })
}

/// `--id`: a sequence number or a dispatch id.
#[derive(Clone, Debug)]
pub enum IdFilter {
    /// Digits: a per-listener sequence (ambiguous without `--listener` when several listeners
    /// have a task with it: refused).
    Seq(u64),
    /// Anything else: the dispatch id shared by a dispatch's copies.
    Dispatch(String),
}

impl IdFilter {
    /// From the `--id` value.
    pub fn parse(s: &str) -> IdFilter {
        match s.parse::<u64>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => IdFilter::Seq(n),
            _ => IdFilter::Dispatch(s.to_string()),
        }
    }
}

/// A `\r`-updated counter on stderr, shown only when stderr is a terminal.
pub struct Progress {
    on: bool,
    verb: &'static str,
    shown: bool,
}

impl Progress {
    /// A progress line for `verb` ("retried", "deleted", ...).
    pub fn new(verb: &'static str) -> Self {
        Progress {
            on: std::io::stderr().is_terminal(),
            verb,
            shown: false,
        }
    }

    /// Shows `done` (of `total`, if known), every 64 items to stay cheap.
    pub fn tick(&mut self, done: u64, total: Option<u64>) {
        if done % 64 == 0 || Some(done) == total {
            self.show(done, total);
        }
    }

    /// Shows `done` (of `total`, if known) now: for coarse steps.
    pub fn show(&mut self, done: u64, total: Option<u64>) {
        if self.on {
            match total {
                Some(t) => eprint!("\r{} {done}/{t}", self.verb),
                None => eprint!("\r{} {done}", self.verb),
            }
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    /// Ends the line if anything was shown.
    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

/// ms since the epoch as ISO-8601 with milliseconds (UTC).
pub fn iso_ms(ms: u64) -> String {
    let s = hurah::clock::iso8601(ms);
    // "YYYY-MM-DDTHH:MM:SS+00:00" -> insert ".mmm" before the offset.
    format!("{}.{:03}{}", &s[..19], ms % 1000, &s[19..])
}

/// `3s`, `5m12s`, `2h03m`, `4d02h`.
pub fn human_age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{}s", s, (ms % 1000) / 100),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_plain_seconds() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn sizes_accept_php_suffixes() {
        assert_eq!(parse_size("128M").unwrap(), 128 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn listener_argument_names_event_type_and_handler() {
        let l = parse_listener("product/created:mailer").unwrap();
        assert_eq!(l.event_type.to_string(), "product/created");
        assert_eq!(l.handler.as_str(), "mailer");
        assert!(parse_listener(":mailer").unwrap().event_type.is_root());
        assert!(parse_listener("product").is_err());
        assert!(parse_listener("a//b:h").unwrap_err().contains("a//b"));
    }

    #[test]
    fn iso_ms_keeps_milliseconds() {
        assert_eq!(iso_ms(1_500), "1970-01-01T00:00:01.500+00:00");
    }
}
