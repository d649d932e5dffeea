//! Unique ids for dispatches and workers: time-ordered, random per process, counter per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

fn process_random() -> u64 {
    static R: OnceLock<u64> = OnceLock::new();
    *R.get_or_init(|| {
        let mut buf = [0u8; 8];
        // SAFETY: buf is valid for 8 bytes of writes.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
        let mut r = u64::from_ne_bytes(buf);
        if n != 8 {
            // No entropy source: pid and time still make collisions very unlikely.
            r = (std::process::id() as u64) << 32 ^ crate::clock::now_ms();
        }
        r
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new dispatch id: 30 hex digits, sortable by creation time (ms), unique across processes.
pub fn new_task_id() -> String {
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:012x}{:012x}{:06x}",
        crate::clock::now_ms() & 0xffff_ffff_ffff,
        process_random() & 0xffff_ffff_ffff,
        c & 0xff_ffff
    )
}

/// A new worker id, `w<pid>-<random>`, used as the name of its `claimed/` directory.
pub fn new_worker_id() -> String {
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "w{}-{:08x}",
        std::process::id(),
        (process_random() >> 16 ^ c.wrapping_mul(0x9e37_79b9)) & 0xffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_fixed_width() {
        let a = new_task_id();
        let b = new_task_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 30);
        assert_ne!(new_worker_id(), new_worker_id());
    }
}
