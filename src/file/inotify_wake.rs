//! The default wake source on Linux: inotify (through the `inotify` crate, which `notify` is
//! built on) subscribed to exactly the events a worker needs — a file renamed in
//! (`IN_MOVED_TO`), closed after writing by a legacy in-place writer (`IN_CLOSE_WRITE`),
//! created (`IN_CREATE`) — plus the kernel's queue overflow, which becomes a full rescan.
//!
//! `notify` subscribes to every event kind, so each claim (a rename *out* of `inbox/`) and each
//! directory scan woke its thread for nothing: measured at about 10 % of a busy worker's time.
//! [`crate::NotifyWake`] remains available (`HURAH_WAKE=notify`).

use crate::error::{Error, Result};
use crate::file::watch::{Wake, WakeSource, Waker};
use ::inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use std::collections::HashMap;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Dirs = Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>;

/// inotify with a minimal event mask, read by a background thread that forwards [`Wake`]s.
pub struct InotifyWake {
    watches: ::inotify::Watches,
    dirs: Dirs,
    stop_w: libc::c_int,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for InotifyWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InotifyWake")
    }
}

fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::io(op, path, e)
}

impl InotifyWake {
    /// Starts the reader thread; events go to `waker`.
    pub fn new(waker: Waker) -> Result<Self> {
        let here = Path::new("<inotify>");
        let mut inotify = Inotify::init().map_err(|e| io_err("inotify_init", here, e))?;
        let watches = inotify.watches();
        let mut p = [0 as libc::c_int; 2];
        // SAFETY: p is a valid array of two ints.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io_err("pipe", here, std::io::Error::last_os_error()));
        }
        let (stop_r, stop_w) = (p[0], p[1]);
        let dirs: Dirs = Arc::default();
        let d2 = Arc::clone(&dirs);
        let thread = std::thread::Builder::new()
            .name("hurah-inotify".into())
            .spawn(move || {
                let fd = inotify.as_raw_fd();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let mut fds = [
                        libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        },
                        libc::pollfd {
                            fd: stop_r,
                            events: libc::POLLIN,
                            revents: 0,
                        },
                    ];
                    // SAFETY: fds is a valid array of two pollfd for the call's duration.
                    let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
                    if r < 0 {
                        if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                            continue;
                        }
                        waker.wake(Wake::Rescan);
                        break;
                    }
                    if fds[1].revents != 0 {
                        break;
                    }
                    // Drain everything queued (the fd is non-blocking).
                    loop {
                        let events = match inotify.read_events(&mut buf) {
                            Ok(ev) => ev,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(_) => {
                                waker.wake(Wake::Rescan);
                                break;
                            }
                        };
                        let mut paths = Vec::new();
                        let mut rescan = false;
                        {
                            let dirs = d2.lock().unwrap_or_else(|p| p.into_inner());
                            for ev in events {
                                if ev.mask.contains(EventMask::Q_OVERFLOW) {
                                    rescan = true;
                                }
                                if let (Some(name), Some(dir)) = (ev.name, dirs.get(&ev.wd)) {
                                    paths.push(dir.join(name));
                                }
                            }
                        }
                        if rescan {
                            waker.wake(Wake::Rescan);
                        }
                        if !paths.is_empty() {
                            waker.wake(Wake::Paths(paths));
                        }
                    }
                }
                // SAFETY: we own stop_r; the Inotify (and its fd) is dropped with this closure.
                unsafe { libc::close(stop_r) };
            })
            .map_err(|e| io_err("spawn", here, e))?;
        Ok(InotifyWake {
            watches,
            dirs,
            stop_w,
            thread: Some(thread),
        })
    }
}

impl Drop for InotifyWake {
    fn drop(&mut self) {
        // SAFETY: stop_w is our pipe's write end; one byte wakes the reader's poll.
        unsafe { libc::write(self.stop_w, b"x".as_ptr().cast(), 1) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: the reader is gone; we own stop_w.
        unsafe { libc::close(self.stop_w) };
    }
}

impl WakeSource for InotifyWake {
    fn watch(&mut self, dir: &Path) -> Result<()> {
        let wd = self
            .watches
            .add(
                dir,
                WatchMask::MOVED_TO | WatchMask::CLOSE_WRITE | WatchMask::CREATE,
            )
            .map_err(|e| io_err("watch", dir, e))?;
        self.dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(wd, dir.to_path_buf());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reports_renames_in_and_close_write_but_not_renames_out() {
        let d = tempfile::tempdir().unwrap();
        let (inbox, other) = (d.path().join("inbox"), d.path().join("other"));
        std::fs::create_dir(&inbox).unwrap();
        std::fs::create_dir(&other).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut w = InotifyWake::new(Waker(tx)).unwrap();
        w.watch(&inbox).unwrap();
        std::fs::write(other.join("1.json"), "x").unwrap();
        std::fs::rename(other.join("1.json"), inbox.join("1.json")).unwrap(); // in
        std::fs::rename(inbox.join("1.json"), other.join("1.json")).unwrap(); // out: silent
        std::fs::write(inbox.join("2.json"), "y").unwrap(); // create + close_write
        let mut seen = Vec::new();
        while let Ok(Wake::Paths(p)) = rx.recv_timeout(Duration::from_millis(500)) {
            seen.extend(p);
        }
        seen.dedup();
        assert_eq!(seen, [inbox.join("1.json"), inbox.join("2.json")]);
        drop(w); // the reader thread stops
    }
}
