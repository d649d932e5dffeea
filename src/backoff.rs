//! Retry backoff: how long a task waits after its n-th RETRY (Laravel/Symfony-style delay,
//! multiplier, maximum and jitter).

use crate::error::{Error, Result};
use std::time::Duration;

/// A retry backoff policy: `delay × multiplier^(attempt-1)`, capped at `max_delay`, then spread
/// by ± `jitter` (a fraction, 0.0–1.0) so retries of many tasks do not arrive together.
///
/// ```
/// use hurah::Backoff;
/// use std::time::Duration;
/// let b = Backoff::new(Duration::from_secs(1), 2.0, Some(Duration::from_secs(10)), 0.0).unwrap();
/// assert_eq!(b.delay_for(1), Duration::from_secs(1));
/// assert_eq!(b.delay_for(3), Duration::from_secs(4));
/// assert_eq!(b.delay_for(9), Duration::from_secs(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    delay: Duration,
    multiplier: f64,
    max_delay: Option<Duration>,
    jitter: f64,
}

impl Backoff {
    /// Validates and builds a policy. `multiplier` ≥ 1, `jitter` in 0.0..=1.0, all finite.
    pub fn new(
        delay: Duration,
        multiplier: f64,
        max_delay: Option<Duration>,
        jitter: f64,
    ) -> Result<Self> {
        let bad = |name: &str, reason: String| Error::InvalidOption {
            name: name.into(),
            reason,
        };
        if !multiplier.is_finite() || multiplier < 1.0 {
            return Err(bad(
                "multiplier",
                format!("{multiplier} must be a finite number >= 1"),
            ));
        }
        if !jitter.is_finite() || !(0.0..=1.0).contains(&jitter) {
            return Err(bad("jitter", format!("{jitter} must be between 0 and 1")));
        }
        Ok(Backoff {
            delay,
            multiplier,
            max_delay,
            jitter,
        })
    }

    /// A fixed delay.
    pub fn fixed(delay: Duration) -> Self {
        Backoff {
            delay,
            multiplier: 1.0,
            max_delay: None,
            jitter: 0.0,
        }
    }

    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay_for(&self, attempt: u64) -> Duration {
        let exp = attempt.saturating_sub(1).min(1000) as i32;
        let mut secs = self.delay.as_secs_f64() * self.multiplier.powi(exp);
        if let Some(max) = self.max_delay {
            secs = secs.min(max.as_secs_f64());
        }
        if self.jitter > 0.0 {
            secs *= 1.0 + self.jitter * (2.0 * random_unit() - 1.0);
        }
        // Caps: a year is plenty and keeps Duration arithmetic safe.
        Duration::from_secs_f64(secs.clamp(0.0, 31_536_000.0))
    }
}

/// A pseudo-random number in [0, 1) (jitter only; not for anything secret).
fn random_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = crate::clock::now_ms() ^ ((std::process::id() as u64) << 32) | 1;
    }
    // xorshift64*
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    STATE.store(x, Ordering::Relaxed);
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_is_capped() {
        let b = Backoff::new(
            Duration::from_millis(100),
            3.0,
            Some(Duration::from_secs(1)),
            0.0,
        )
        .unwrap();
        assert_eq!(b.delay_for(1), Duration::from_millis(100));
        assert_eq!(b.delay_for(2), Duration::from_millis(300));
        assert_eq!(b.delay_for(4), Duration::from_secs(1));
        assert_eq!(b.delay_for(u64::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let b = Backoff::new(Duration::from_secs(10), 1.0, None, 0.5).unwrap();
        for _ in 0..1000 {
            let d = b.delay_for(1).as_secs_f64();
            assert!((5.0..=15.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn nonsense_options_are_rejected() {
        assert!(Backoff::new(Duration::ZERO, 0.5, None, 0.0).is_err());
        assert!(Backoff::new(Duration::ZERO, f64::NAN, None, 0.0).is_err());
        assert!(Backoff::new(Duration::ZERO, 1.0, None, 2.0).is_err());
    }

    #[test]
    fn unbounded_growth_saturates() {
        let b = Backoff::new(Duration::from_secs(1), 10.0, None, 0.0).unwrap();
        assert_eq!(b.delay_for(500), Duration::from_secs(31_536_000));
    }
}
