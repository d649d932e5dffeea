//! Wall-clock helpers: milliseconds since the epoch and the ISO-8601 form PHP's `date('c')` prints.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

thread_local! {
    /// How far this thread's clock runs ahead of the system clock (see [`advance_thread_clock`]).
    static AHEAD_US: Cell<u64> = const { Cell::new(0) };
    /// The UTC offset, in seconds east, [`iso8601`] writes this thread's times in.
    static OFFSET_SECS: Cell<i32> = const { Cell::new(0) };
}

/// Sets the UTC offset (seconds east of UTC, within ±24 h) in which [`iso8601`] writes this
/// thread's times. The PHP extension sets it to PHP's time zone before it dispatches, so
/// `delivery` is what hurah/events wrote (`DateTime::format('c')` in PHP's default time zone).
/// Default 0 (UTC).
pub fn set_local_offset(secs: i32) {
    OFFSET_SECS.with(|o| o.set(secs.clamp(-86_399, 86_399)));
}

/// This thread's offset (see [`set_local_offset`]).
pub fn local_offset() -> i32 {
    OFFSET_SECS.with(Cell::get)
}

/// Microseconds since the Unix epoch, now (plus this thread's [`advance_thread_clock`] offset).
pub fn now_us() -> u64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as u64;
    real + AHEAD_US.with(Cell::get)
}

/// Milliseconds since the Unix epoch, now (plus this thread's [`advance_thread_clock`] offset).
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Moves this thread's clock forward by `by`: a controllable clock for tests of delays, due
/// order and retry backoff. Everything the core schedules on (dispatch due times, the worker's
/// promotion of delayed tasks, retry due times) reads the clock through [`now_ms`]/[`now_us`],
/// so a worker run on the same thread sees the advanced time. Other threads are unaffected.
pub fn advance_thread_clock(by: Duration) {
    AHEAD_US.with(|a| a.set(a.get() + by.as_micros() as u64));
}

/// `2023-10-02T13:18:35+00:00` for a time in ms since the epoch, as PHP's `c` format, in this
/// thread's offset ([`set_local_offset`]; UTC unless set).
pub fn iso8601(ms: u64) -> String {
    iso8601_at(ms, local_offset())
}

/// [`iso8601`] in the UTC offset `offset` (seconds east): `2023-10-02T15:18:35+02:00`.
pub fn iso8601_at(ms: u64, offset: i32) -> String {
    let secs = (ms / 1000) as i64 + i64::from(offset);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        off / 3600,
        (off % 3600) / 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_php_date_c() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_696_252_715_000), "2023-10-02T13:18:35+00:00");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00+00:00");
    }

    #[test]
    fn formats_in_the_threads_offset_like_php_date_c() {
        assert_eq!(
            iso8601_at(1_696_252_715_000, 7200),
            "2023-10-02T15:18:35+02:00"
        );
        assert_eq!(
            iso8601_at(1_696_252_715_000, -5 * 3600),
            "2023-10-02T08:18:35-05:00"
        );
        assert_eq!(
            iso8601_at(1_696_252_715_000, 19_800),
            "2023-10-02T18:48:35+05:30"
        );
        assert_eq!(iso8601_at(0, -3600), "1969-12-31T23:00:00-01:00");
        std::thread::spawn(|| {
            set_local_offset(3600);
            assert_eq!(iso8601(0), "1970-01-01T01:00:00+01:00");
        })
        .join()
        .unwrap();
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00"); // other threads unaffected
    }
}
