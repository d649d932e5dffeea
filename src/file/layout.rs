//! The only place that builds paths. A queue root holds the event tree; each
//! `<segments>/<name>_listener/` directory holds one listener's queue, one sub-directory per
//! task state, so `ls` shows the queue:
//!
//! ```text
//! <root>/product/stored/image_scaler_listener/
//!   tracking.json              sequence counter (same format as hurah/events)
//!   inbox/<seq>.json           due, unclaimed
//!   claimed/<worker>/<seq>.json in flight (the worker holds a flock on <worker>/)
//!   delayed/<due-ms>-<seq>.json not yet due
//!   archive/<seq>.json         SUCCESS
//!   error/<seq>.json           INVALID, FAILURE, exception, retries exhausted (reason inside)
//!   tmp/                       staging for atomic writes
//! ```

use crate::error::{IoContext, Result};
use crate::event_type::EventType;
use crate::file::durability::{join_parts, make_dir};
use crate::handler_name::HandlerName;
use crate::task::push_u64;
use std::fs;
use std::path::{Path, PathBuf};

pub use crate::handler_name::LISTENER_SUFFIX;

/// A queue root directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

/// The states a task file can be in; each is a directory of the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// `inbox/`: due, waiting for a worker.
    Inbox,
    /// `claimed/<worker>/`: a worker is running it.
    Claimed,
    /// `delayed/`: waiting for its due time.
    Delayed,
    /// `archive/`: handled successfully.
    Archive,
    /// `error/`: failed for good; the reason is inside the file.
    Error,
}

impl State {
    /// All states, in the order a task usually passes through them.
    pub const ALL: [State; 5] = [
        State::Delayed,
        State::Inbox,
        State::Claimed,
        State::Archive,
        State::Error,
    ];

    /// The directory name of the state.
    pub fn dir_name(self) -> &'static str {
        match self {
            State::Inbox => "inbox",
            State::Claimed => "claimed",
            State::Delayed => "delayed",
            State::Archive => "archive",
            State::Error => "error",
        }
    }
}

impl Layout {
    /// A layout rooted at `root` (nothing is touched on disk).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the root (and parents) if missing, as the original did.
    pub fn ensure_root(&self) -> Result<()> {
        make_dir(&self.root)
    }

    /// The directory of one level of the event tree.
    pub fn level_dir(&self, level: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(level);
        p
    }

    /// The listener of handler `name` on `event_type`.
    pub fn listener(&self, event_type: &EventType, name: &HandlerName) -> Listener {
        let mut dir = self.level_dir(event_type.segments());
        dir.push(format!("{name}{LISTENER_SUFFIX}"));
        Listener {
            dir,
            event_type: event_type.clone(),
            name: name.clone(),
        }
    }

    /// The listeners directly at one level, sorted by name. A missing level has none.
    /// Every directory whose name ends in `_listener` is one, as with hurah/events, also when its
    /// name is one hurah would not create (`_x`, `a b`, `Ünï`: see [`HandlerName::existing`]).
    /// Symlinked listener directories are ignored (no path may leave the root). A level directory or a
    /// listener's state directory that is a symbolic link is refused ([`crate::Error::Unsafe`]).
    pub fn listeners_at(&self, level: &[String]) -> Result<Vec<Listener>> {
        let dir = self.level_dir(level);
        if !level.is_empty() {
            refuse_symlink(&dir)?;
        }
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(crate::Error::io("read directory", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.ctx("read directory", &dir)?;
            let file_name = entry.file_name();
            // As hurah/events: every directory whose name ends in `_listener` (a name that is not
            // UTF-8 is shown lossily; the directory itself is used as found).
            let file_name = file_name.to_string_lossy();
            let Some(name) = file_name.strip_suffix(LISTENER_SUFFIX) else {
                continue;
            };
            if !entry.file_type().ctx("stat", &entry.path())?.is_dir() {
                continue;
            }
            let name = HandlerName::existing(name)?;
            let event_type = EventType::from_segments(level)?;
            let listener = Listener {
                dir: entry.path(),
                event_type,
                name,
            };
            listener.refuse_symlinks()?;
            out.push(listener);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every listener under the root (walks the whole tree; for status and tools, not dispatch).
    pub fn all_listeners(&self) -> Result<Vec<Listener>> {
        let mut out = Vec::new();
        let mut stack: Vec<Vec<String>> = vec![Vec::new()];
        while let Some(level) = stack.pop() {
            out.extend(self.listeners_at(&level)?);
            let dir = self.level_dir(&level);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir && !name.ends_with(LISTENER_SUFFIX) {
                    let mut next = level.clone();
                    next.push(name);
                    if EventType::from_segments(&next).is_ok() {
                        stack.push(next);
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            (a.event_type.to_string(), a.name.as_str())
                .cmp(&(b.event_type.to_string(), b.name.as_str()))
        });
        Ok(out)
    }
}

/// One listener directory: where one handler's tasks for one event type live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    dir: PathBuf,
    event_type: EventType,
    name: HandlerName,
}

impl Listener {
    /// The `<name>_listener` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The event type it listens to (it also gets every more specific type).
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The handler name.
    pub fn name(&self) -> &HandlerName {
        &self.name
    }

    /// The listener as the seam names it: event type and handler name.
    pub fn id(&self) -> crate::backend::ListenerId {
        crate::backend::ListenerId::new(self.event_type.clone(), self.name.clone())
    }

    /// `tracking.json`.
    pub fn tracking_file(&self) -> PathBuf {
        join_parts(&self.dir, &["tracking.json"])
    }

    /// The directory of a state (for `Claimed`, the parent of all workers' claim dirs).
    pub fn state_dir(&self, state: State) -> PathBuf {
        join_parts(&self.dir, &[state.dir_name()])
    }

    /// `tmp/`, the staging directory.
    pub fn tmp_dir(&self) -> PathBuf {
        join_parts(&self.dir, &["tmp"])
    }

    /// `claimed/<worker>/`.
    pub fn claim_dir(&self, worker: &str) -> PathBuf {
        self.state_dir(State::Claimed).join(worker)
    }

    /// The path of task `seq` in `inbox/`.
    pub fn inbox_file(&self, seq: u64) -> PathBuf {
        let mut name = String::with_capacity(26);
        push_u64(&mut name, seq);
        name.push_str(".json");
        join_parts(&self.dir, &[State::Inbox.dir_name(), &name])
    }

    /// The path of task `seq`, due at `due_ms`, in `delayed/`.
    pub fn delayed_file(&self, due_ms: u64, seq: u64) -> PathBuf {
        join_parts(
            &self.dir,
            &[State::Delayed.dir_name(), &delayed_file_name(due_ms, seq)],
        )
    }

    /// Fails with [`crate::Error::Unsafe`] if the listener directory or one of its state
    /// directories (or `tmp/`) is a symbolic link: it could lead outside the queue root.
    pub fn refuse_symlinks(&self) -> Result<()> {
        refuse_symlink(&self.dir)?;
        for state in State::ALL {
            refuse_symlink(&self.state_dir(state))?;
        }
        refuse_symlink(&self.tmp_dir())
    }

    /// Creates the listener directory and all its state directories (registration). Refuses
    /// symbolic links among them (see [`Listener::refuse_symlinks`]).
    ///
    /// A name only hurah/events accepted ([`HandlerName::is_strict`] false) is served only if
    /// its directory exists; hurah never creates one ([`crate::Error::InvalidHandlerName`]).
    pub fn ensure(&self) -> Result<()> {
        if !self.name.is_strict() && !self.dir.is_dir() {
            return Err(crate::Error::InvalidHandlerName {
                value: self.name.to_string(),
                reason: format!(
                    "is only accepted for a listener directory that already exists ({} does not); new handler names must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                    self.dir.display()
                ),
            });
        }
        self.refuse_symlinks()?;
        for state in State::ALL {
            make_dir(&self.state_dir(state))?;
        }
        make_dir(&self.tmp_dir())
    }
}

fn refuse_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(crate::Error::Unsafe {
            path: path.to_path_buf(),
            reason: "it is a symbolic link, which could lead outside the queue root; \
                     replace it with a directory"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// `<seq>.json`.
pub fn task_file_name(seq: u64) -> String {
    format!("{seq}.json")
}

/// The sequence of an `inbox/` file name: exactly `^[0-9]+\.json$` (the original's filter was
/// unanchored and matched `abc1.json`).
pub fn parse_task_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    // u64::MAX has 20 digits; parse() rejects larger values.
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The sequence in an `archive/` or `error/` name: `<seq>.json` or `<seq>.<n>.json` (the name
/// used when `<seq>.json` was already taken).
pub fn parse_final_file_name(name: &str) -> Option<u64> {
    if let Some(seq) = parse_task_file_name(name) {
        return Some(seq);
    }
    let stem = name.strip_suffix(".json")?;
    let (seq, n) = stem.split_once('.')?;
    parse_task_file_name(&format!("{n}.json"))?;
    parse_task_file_name(&format!("{seq}.json"))
}

/// Suffix of a claimed task whose handler has been entered: `claimed/<worker>/<seq>.running.json`.
pub const RUNNING_SUFFIX: &str = ".running.json";

/// `<seq>.running.json`: the name a claimed task gets right before its handler is entered.
pub fn running_file_name(seq: u64) -> String {
    format!("{seq}{RUNNING_SUFFIX}")
}

/// The sequence of a file in a claim directory and whether its run had started:
/// `<seq>.json` (claimed, handler not entered yet) or `<seq>.running.json` (entered).
pub fn parse_claimed_file_name(name: &str) -> Option<(u64, bool)> {
    if let Some(seq) = parse_task_file_name(name) {
        return Some((seq, false));
    }
    let stem = name.strip_suffix(RUNNING_SUFFIX)?;
    let seq = parse_task_file_name(&format!("{stem}.json"))?;
    Some((seq, true))
}

/// What a directory entry is, in words, for messages about entries that are not regular files.
pub fn describe_file_type(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "of an unknown type"
    }
}

/// One word for the kind of a non-regular entry, used in the name it is kept under in
/// `error/`: `<seq>.<kind>.rejected`.
pub fn file_type_word(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else {
        "other"
    }
}

/// `<due-ms>-<seq>.json`, zero-padded so names sort by due time.
pub fn delayed_file_name(due_ms: u64, seq: u64) -> String {
    format!("{due_ms:016}-{seq}.json")
}

/// `(due_ms, seq)` from a `delayed/` file name.
pub fn parse_delayed_file_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".json")?;
    let (due, seq) = stem.split_once('-')?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !ok(due) || !ok(seq) {
        return None;
    }
    Some((due.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_file_names_are_anchored() {
        assert_eq!(parse_task_file_name("17.json"), Some(17));
        for bad in [
            "abc1.json",
            "1xjson",
            "1.json.tmp",
            ".json",
            "notnum.json",
            "-1.json",
        ] {
            assert_eq!(parse_task_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_sequence_name_parses_back() {
        // Regression (found by fuzzing): sequences of 20 digits (>= 10^19) were ignored, so a
        // task published under such a number was never seen by a worker.
        for seq in [
            0,
            1,
            9_999_999_999_999_999_999,
            10_000_000_000_000_000_000,
            u64::MAX,
        ] {
            assert_eq!(parse_task_file_name(&task_file_name(seq)), Some(seq));
            assert_eq!(parse_final_file_name(&task_file_name(seq)), Some(seq));
        }
        assert_eq!(parse_task_file_name("18446744073709551616.json"), None);
        assert_eq!(parse_task_file_name("000000000000000000001.json"), None);
    }

    #[test]
    fn claimed_names_say_whether_the_run_started() {
        assert_eq!(parse_claimed_file_name("5.json"), Some((5, false)));
        assert_eq!(
            parse_claimed_file_name(&running_file_name(5)),
            Some((5, true))
        );
        assert_eq!(
            parse_claimed_file_name(&running_file_name(u64::MAX)),
            Some((u64::MAX, true))
        );
        for bad in [
            "5.1.json",
            "x.running.json",
            ".running.json",
            "5.running",
            "5.json.tmp",
        ] {
            assert_eq!(parse_claimed_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn final_names_accept_collision_suffix() {
        assert_eq!(parse_final_file_name("5.json"), Some(5));
        assert_eq!(parse_final_file_name("5.2.json"), Some(5));
        assert_eq!(parse_final_file_name("5.x.json"), None);
    }

    #[test]
    fn delayed_names_sort_by_due_time() {
        let a = delayed_file_name(999, 7);
        let b = delayed_file_name(1000, 3);
        assert!(a < b);
        assert_eq!(parse_delayed_file_name(&b), Some((1000, 3)));
        assert_eq!(parse_delayed_file_name("x-1.json"), None);
    }

    #[test]
    fn listener_paths_follow_the_event_tree() {
        let l = Layout::new("/r").listener(
            &EventType::parse("product/stored").unwrap(),
            &HandlerName::new("scaler").unwrap(),
        );
        assert_eq!(l.dir(), Path::new("/r/product/stored/scaler_listener"));
        assert_eq!(
            l.inbox_file(3),
            Path::new("/r/product/stored/scaler_listener/inbox/3.json")
        );
    }

    #[test]
    fn listener_paths_are_what_join_builds() {
        for root in ["/r", "/r/", "r", "/"] {
            for ty in ["", "a", "a/b"] {
                let l = Layout::new(root).listener(
                    &EventType::parse(ty).unwrap(),
                    &HandlerName::new("h").unwrap(),
                );
                let dir = l.dir().to_path_buf();
                assert_eq!(l.tracking_file(), dir.join("tracking.json"));
                assert_eq!(l.tmp_dir(), dir.join("tmp"));
                for st in State::ALL {
                    assert_eq!(l.state_dir(st), dir.join(st.dir_name()));
                }
                for seq in [0, 42, u64::MAX] {
                    assert_eq!(
                        l.inbox_file(seq),
                        dir.join("inbox").join(task_file_name(seq))
                    );
                    assert_eq!(
                        l.delayed_file(1_700_000_000_000, seq),
                        dir.join("delayed")
                            .join(delayed_file_name(1_700_000_000_000, seq))
                    );
                }
                let tmp = crate::file::durability::unique_tmp_path(&dir, "d", 1);
                assert_eq!(tmp.parent().unwrap(), dir.join("tmp"));
            }
        }
    }

    #[test]
    fn symlinked_state_or_level_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let lay = Layout::new(d.path().join("q"));
        let l = lay.listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        l.ensure().unwrap();
        fs::create_dir_all(d.path().join("outside")).unwrap();
        fs::remove_dir(l.state_dir(State::Archive)).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), l.state_dir(State::Archive)).unwrap();
        for e in [
            l.ensure().unwrap_err(),
            lay.listeners_at(&["a".into()]).unwrap_err(),
        ] {
            assert!(matches!(e, crate::Error::Unsafe { .. }), "{e}");
            assert!(e.to_string().contains("archive"), "{e}");
        }
        std::os::unix::fs::symlink(d.path().join("outside"), d.path().join("q/b")).unwrap();
        let e = lay.listeners_at(&["b".into()]).unwrap_err();
        assert!(matches!(e, crate::Error::Unsafe { .. }), "{e}");
    }

    #[test]
    fn listeners_at_finds_every_listener_dir_the_original_delivers_to_but_no_symlink() {
        // hurah/events delivers to every directory whose name ends in _listener.
        let d = tempfile::tempdir().unwrap();
        let lay = Layout::new(d.path());
        for dir in [
            "a/b_listener",
            "a/x y_listener",
            "a/_x_listener",
            "a/Ünï_listener",
        ] {
            fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        fs::create_dir_all(d.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), d.path().join("a/evil_listener"))
            .unwrap();
        let found = lay.listeners_at(&["a".to_string()]).unwrap();
        let names: Vec<&str> = found.iter().map(|l| l.name().as_str()).collect();
        assert_eq!(names, ["_x", "b", "x y", "Ünï"]);
        assert_eq!(found[2].dir(), d.path().join("a/x y_listener"));
    }

    #[test]
    fn names_only_the_original_accepts_are_for_existing_listener_dirs() {
        let d = tempfile::tempdir().unwrap();
        let lay = Layout::new(d.path());
        let ty = EventType::parse("a").unwrap();
        let name = HandlerName::existing("_x").unwrap();
        let l = lay.listener(&ty, &name);
        match l.ensure() {
            Err(crate::Error::InvalidHandlerName { value, .. }) => assert_eq!(value, "_x"),
            other => panic!("{other:?}"),
        }
        assert!(!d.path().join("a/_x_listener").exists());
        fs::create_dir_all(d.path().join("a/_x_listener")).unwrap();
        l.ensure().unwrap();
        assert!(d.path().join("a/_x_listener/inbox").is_dir());
    }
}
