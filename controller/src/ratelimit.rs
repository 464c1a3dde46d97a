//! Per-client GCRA rate limiting for the decrypting endpoints. Pure over the
//! time you pass in.
//!
//! Upstream limits `/v1/verify` per path and `X-Forwarded-For` (2 rps, burst 2)
//! and left `/v1/rotate` unlimited (GHSA-jpp5-6cf2-prqh); here both are limited.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tracked clients before idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    /// Time between requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run (the burst).
    tolerance: Duration,
    tat: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// `per_second` sustained, `burst` at once. A rate of 0 or less disables limiting.
    pub fn new(per_second: f64, burst: u32) -> Option<Self> {
        if per_second <= 0.0 || !per_second.is_finite() {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Some(RateLimiter {
            interval,
            tolerance: interval * burst.max(1).saturating_sub(1),
            tat: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a request from `client` at `now`, or says how long to wait.
    pub fn check(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        if tat.len() >= MAX_TRACKED && !tat.contains_key(client) {
            tat.retain(|_, t| *t > now);
            if tat.len() >= MAX_TRACKED {
                // Too many distinct live clients: share one bucket rather than grow.
                return self.admit(&mut tat, "*overflow*", now);
            }
        }
        self.admit(&mut tat, client, now)
    }

    /// Client-side pacing (the kube client's QPS/burst): reserves the next slot
    /// for `key` and returns how long to wait before using it.
    pub fn reserve(&self, key: &str, now: Instant) -> Duration {
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let current = tat.get(key).copied().unwrap_or(now).max(now);
        let allow_at = current.checked_sub(self.tolerance).unwrap_or(now);
        tat.insert(key.to_string(), current + self.interval);
        allow_at.saturating_duration_since(now)
    }

    fn admit(&self, tat: &mut HashMap<String, Instant>, client: &str, now: Instant) -> Result<(), Duration> {
        let current = tat.get(client).copied().unwrap_or(now).max(now);
        let allow_at = current.checked_sub(self.tolerance).unwrap_or(now);
        if now < allow_at {
            return Err(allow_at - now);
        }
        tat.insert(client.to_string(), current + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate_per_client() {
        let rl = RateLimiter::new(2.0, 2).unwrap();
        let t0 = Instant::now();
        assert!(rl.check("a", t0).is_ok());
        assert!(rl.check("a", t0).is_ok());
        let wait = rl.check("a", t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(rl.check("b", t0).is_ok(), "clients are limited separately");
        assert!(rl.check("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(rl.check("a", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn reserve_paces_after_the_burst() {
        let rl = RateLimiter::new(10.0, 3).unwrap();
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..5).map(|_| rl.reserve("client", t0)).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(100));
        assert_eq!(waits[4], Duration::from_millis(200));
    }

    #[test]
    fn zero_rate_disables() {
        assert!(RateLimiter::new(0.0, 5).is_none());
    }
}
