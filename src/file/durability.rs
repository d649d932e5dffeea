//! Durability policy and the atomic file-system steps every state change is made of:
//! write into `tmp/`, sync, publish with a rename that never replaces an existing file.

pub(crate) use crate::backend::FsyncPolicy;
use crate::error::{Error, IoContext, Result};
use crate::task::push_u64;
use std::ffi::{CStr, CString, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

impl FsyncPolicy {
    pub(crate) fn sync_file(self, f: &File, path: &Path) -> Result<()> {
        if self == FsyncPolicy::Always {
            f.sync_data().ctx("fdatasync", path)?;
        }
        Ok(())
    }

    pub(crate) fn sync_dir(self, dir: &Path) -> Result<()> {
        if self == FsyncPolicy::Always {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .ctx("fsync directory", dir)?;
        }
        Ok(())
    }
}

/// Creates `dir` and its parents with mode 0755 (umask applies). Existing is fine.
pub(crate) fn make_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::io("create directory", dir, e)),
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique file name for `tmp/` (pid, thread-safe counter and time, so two processes or threads
/// never collide; creation uses O_EXCL anyway).
pub(crate) fn unique_tmp_name(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 40);
    push_unique_tmp_name(&mut s, prefix, crate::clock::now_ms());
    s
}

/// `<dir>/tmp/<unique_tmp_name(prefix)>`, built with one allocation (the dispatcher's staging
/// path); `now_ms` is the time the caller already read for the name.
pub(crate) fn unique_tmp_path(dir: &Path, prefix: &str, now_ms: u64) -> PathBuf {
    let dir = dir.as_os_str();
    let Some(dir_str) = dir.to_str() else {
        let mut name = String::with_capacity(prefix.len() + 40);
        push_unique_tmp_name(&mut name, prefix, now_ms);
        return join_parts(Path::new(dir), &["tmp", &name]);
    };
    let mut s = String::with_capacity(dir_str.len() + prefix.len() + 48);
    s.push_str(dir_str);
    if !s.is_empty() && !s.ends_with('/') {
        s.push('/');
    }
    s.push_str("tmp/");
    push_unique_tmp_name(&mut s, prefix, now_ms);
    PathBuf::from(s)
}

fn push_unique_tmp_name(s: &mut String, prefix: &str, now_ms: u64) {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    s.push_str(prefix);
    push_u64(s, u64::from(*PID.get_or_init(std::process::id)));
    s.push('.');
    push_u64(s, now_ms % 1_000_000_000);
    s.push('.');
    push_u64(s, n);
    s.push_str(".tmp");
}

/// `dir` joined with each of `parts` (relative, one component each) exactly as repeated
/// [`Path::join`] builds it, with one allocation.
pub(crate) fn join_parts(dir: &Path, parts: &[&str]) -> PathBuf {
    let base = dir.as_os_str();
    let mut s =
        OsString::with_capacity(base.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    s.push(base);
    for p in parts {
        if s.as_bytes().last().is_some_and(|b| *b != b'/') {
            s.push("/");
        }
        s.push(p);
    }
    PathBuf::from(s)
}

/// Writes `data` to a fresh file `path` (O_EXCL, mode 0644) and syncs it per `policy`.
/// On failure the partial file is removed.
pub(crate) fn write_exclusive(path: &Path, data: &[u8], policy: FsyncPolicy) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .ctx("create", path)?;
    let res = f
        .write_all(data)
        .ctx("write", path)
        .and_then(|_| policy.sync_file(&f, path));
    if res.is_err() {
        let _ = fs::remove_file(path);
    }
    res
}

/// Outcome of [`rename_noreplace`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Renamed {
    /// The file now lives at the destination.
    Done,
    /// The destination name is taken; nothing moved.
    Exists,
    /// The source is gone (another worker claimed it first).
    SourceGone,
}

/// Paths shorter than this are made NUL-terminated on the stack (no allocation), as std does.
const STACK_PATH: usize = 384;

/// Calls `f` with the concatenation of `parts` as a NUL-terminated path, built on the stack when
/// it is short (as std does for its own calls).
pub(crate) fn with_cpath<T>(
    parts: &[&[u8]],
    f: impl FnOnce(&CStr) -> io::Result<T>,
) -> io::Result<T> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let nul = || io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL");
    if len < STACK_PATH {
        let mut buf = [0u8; STACK_PATH];
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        let c = CStr::from_bytes_with_nul(&buf[..=len]).map_err(|_| nul())?;
        f(c)
    } else {
        let c = CString::new(parts.concat()).map_err(|_| nul())?;
        f(&c)
    }
}

/// Renames `from` to `to` without ever replacing an existing `to` (`renameat2(RENAME_NOREPLACE)`,
/// or `link`+`unlink` on file systems without it).
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> Result<Renamed> {
    let rc = with_cpath(&[from.as_os_str().as_bytes()], |cf| {
        Ok(with_cpath(&[to.as_os_str().as_bytes()], |ct| {
            // SAFETY: both are valid NUL-terminated paths; AT_FDCWD makes them relative to the
            // cwd.
            Ok(unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    cf.as_ptr(),
                    libc::AT_FDCWD,
                    ct.as_ptr(),
                    libc::RENAME_NOREPLACE,
                )
            })
        }))
    })
    .ctx("rename", from)?
    .ctx("rename", to)?;
    if rc == 0 {
        return Ok(Renamed::Done);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EEXIST) => Ok(Renamed::Exists),
        // ENOENT is about the source unless the destination's directory is missing. Do not
        // judge by whether the source exists *now*: another worker may have claimed it and put
        // it back under the same name (RETRY, recovery) since the rename failed.
        Some(libc::ENOENT) if !from.exists() || parent_is_dir(to) => Ok(Renamed::SourceGone),
        Some(libc::EINVAL) | Some(libc::ENOSYS) => link_unlink(from, to),
        _ => Err(Error::io("rename", from, err)).map_err(|e| annotate_dest(e, to)),
    }
}

fn parent_is_dir(p: &Path) -> bool {
    p.parent().is_some_and(|d| d.is_dir())
}

fn annotate_dest(e: Error, to: &Path) -> Error {
    match e {
        Error::Io { op, path, source } => Error::Io {
            op,
            path: format!("{} -> {}", path.display(), to.display()).into(),
            source,
        },
        other => other,
    }
}

fn link_unlink(from: &Path, to: &Path) -> Result<Renamed> {
    match fs::hard_link(from, to) {
        Ok(()) => {
            fs::remove_file(from).ctx("unlink", from)?;
            Ok(Renamed::Done)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Renamed::Exists),
        Err(e) if e.kind() == io::ErrorKind::NotFound && (!from.exists() || parent_is_dir(to)) => {
            Ok(Renamed::SourceGone)
        }
        Err(e) => Err(annotate_dest(Error::io("link", from, e), to)),
    }
}

/// A directory entry opened by [`open_regular`].
#[derive(Debug)]
pub(crate) enum Entry {
    /// A regular file, open for reading, with its metadata (from the descriptor).
    File(File, fs::Metadata),
    /// Something else (symbolic link, directory, FIFO, socket, device): not opened, or
    /// opened without blocking and closed again. Its type, as `lstat` saw it.
    NotRegular(fs::FileType),
    /// Gone.
    Gone,
}

/// Opens an entry of a queue directory only if it is a regular file: `lstat` first (a device
/// is never opened), then `open(O_NOFOLLOW | O_NONBLOCK)` (a link swapped in meanwhile is not
/// followed, a FIFO does not block) and `fstat` on the descriptor (what is read is what was
/// checked).
pub(crate) fn open_regular(path: &Path) -> Result<Entry> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Entry::Gone),
        Err(e) => return Err(Error::io("stat", path, e)),
    };
    if !meta.file_type().is_file() {
        return Ok(Entry::NotRegular(meta.file_type()));
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Entry::Gone),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENXIO)) => {
            // Replaced by a link (or a socket) since the lstat.
            return match fs::symlink_metadata(path) {
                Ok(m) => Ok(Entry::NotRegular(m.file_type())),
                Err(_) => Ok(Entry::Gone),
            };
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let meta = file.metadata().ctx("stat", path)?;
    if !meta.file_type().is_file() {
        return Ok(Entry::NotRegular(meta.file_type()));
    }
    Ok(Entry::File(file, meta))
}

/// What [`read_regular`] found.
#[derive(Debug)]
pub(crate) enum Read {
    /// The content of a regular file.
    Bytes(Vec<u8>),
    /// Not a regular file; not read.
    NotRegular(fs::FileType),
    /// Gone.
    Gone,
}

/// Reads an entry of a queue directory if it is a regular file (see [`open_regular`]).
pub(crate) fn read_regular(path: &Path) -> Result<Read> {
    use std::io::Read as _;
    match open_regular(path)? {
        Entry::File(mut f, meta) => {
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            match f.read_to_end(&mut bytes) {
                Ok(_) => Ok(Read::Bytes(bytes)),
                Err(e) => Err(Error::io("read", path, e)),
            }
        }
        Entry::NotRegular(t) => Ok(Read::NotRegular(t)),
        Entry::Gone => Ok(Read::Gone),
    }
}

/// Atomically replaces `to` with `from` (plain rename); used only for a worker's own claimed file.
pub(crate) fn rename_replace(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to)
        .ctx("rename", from)
        .map_err(|e| annotate_dest(e, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_noreplace_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        fs::write(&a, "new").unwrap();
        fs::write(&b, "old").unwrap();
        assert_eq!(rename_noreplace(&a, &b).unwrap(), Renamed::Exists);
        assert_eq!(fs::read_to_string(&b).unwrap(), "old");
        fs::remove_file(&b).unwrap();
        assert_eq!(rename_noreplace(&a, &b).unwrap(), Renamed::Done);
        assert_eq!(rename_noreplace(&a, &b).unwrap(), Renamed::SourceGone);
    }

    #[test]
    fn rename_noreplace_source_that_vanishes_and_reappears_is_source_gone() {
        // Another worker claims inbox/N.json, gets RETRY and puts it back under the same name
        // between our failed rename and our look at the source: that is still "someone else
        // got it", never an error (it made workers exit with ENOENT under the kill campaign).
        let d = tempfile::tempdir().unwrap();
        let (src, other, dest_dir) = (d.path().join("s"), d.path().join("o"), d.path().join("d"));
        fs::create_dir(&dest_dir).unwrap();
        fs::write(&src, "x").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, o2, st2) = (src.clone(), other.clone(), stop.clone());
        let flipper = std::thread::spawn(move || {
            while !st2.load(Ordering::Relaxed) {
                if fs::rename(&s2, &o2).is_ok() {
                    let _ = fs::rename(&o2, &s2);
                }
            }
        });
        let dest = dest_dir.join("n");
        let t = std::time::Instant::now();
        let mut gone = 0;
        while t.elapsed() < std::time::Duration::from_secs(2) && gone < 20_000 {
            match rename_noreplace(&src, &dest) {
                Ok(Renamed::Done) => fs::rename(&dest, &src).unwrap(),
                Ok(Renamed::SourceGone) => gone += 1,
                other => {
                    stop.store(true, Ordering::Relaxed);
                    panic!("{other:?}");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        flipper.join().unwrap();
        // A destination directory that does not exist is still an error.
        let missing = d.path().join("nope/n");
        let live = if src.exists() { &src } else { &other };
        assert!(rename_noreplace(live, &missing).is_err());
    }

    #[test]
    fn fsync_policy_parses_and_rejects() {
        assert_eq!(FsyncPolicy::parse("NEVER").unwrap(), FsyncPolicy::Never);
        assert!(matches!(
            FsyncPolicy::parse("sometimes"),
            Err(Error::InvalidOption { .. })
        ));
    }

    #[test]
    fn write_exclusive_refuses_existing_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x");
        write_exclusive(&p, b"1", FsyncPolicy::Always).unwrap();
        assert!(write_exclusive(&p, b"2", FsyncPolicy::Never).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"1");
    }
}
