//! Fault injection: random and targeted error responses, added latency, dropped watch streams
//! and history compaction (to provoke `410 Expired`).

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};

use crate::Shared;
use crate::status::ApiError;

#[derive(Debug)]
pub(crate) struct FaultState {
    rng: u64,
    error_rate: f64,
    statuses: Vec<u16>,
    delay: Duration,
    targeted: Vec<Targeted>,
    injected: u64,
}

#[derive(Debug)]
struct Targeted {
    method: String,
    path_contains: String,
    status: u16,
    remaining: u32,
}

const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

impl Default for FaultState {
    fn default() -> Self {
        FaultState {
            rng: DEFAULT_SEED,
            error_rate: 0.0,
            statuses: vec![500],
            delay: Duration::ZERO,
            targeted: Vec::new(),
            injected: 0,
        }
    }
}

impl FaultState {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Decide whether this request fails, and with which status.
    fn decide(&mut self, method: &str, path_and_query: &str) -> Option<u16> {
        let hit = self.targeted.iter_mut().position(|t| {
            (t.method == "*" || t.method.eq_ignore_ascii_case(method)) && path_and_query.contains(&t.path_contains)
        });
        let status = if let Some(i) = hit {
            let t = &mut self.targeted[i];
            t.remaining -= 1;
            let status = t.status;
            if t.remaining == 0 {
                self.targeted.remove(i);
            }
            Some(status)
        } else if self.error_rate > 0.0 && !self.statuses.is_empty() {
            let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
            let pick = self.next() as usize % self.statuses.len();
            (roll < self.error_rate).then(|| self.statuses[pick])
        } else {
            None
        };
        self.injected += u64::from(status.is_some());
        status
    }
}

/// Applies the configured delay, then returns an injected error response if this request should fail.
pub(crate) async fn intercept(shared: &Shared, method: &str, path_and_query: &str) -> Option<Response> {
    let delay = shared.lock().faults.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = shared.lock().faults.decide(method, path_and_query)?;
    let message = format!("injected fault: {status} for {method} {path_and_query}");
    Some(ApiError::new(status, message).into_response())
}

/// Handle for injecting faults into an [`Emulator`](crate::Emulator). Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) shared: Arc<Shared>,
}

impl Faults {
    /// Seed the PRNG that decides which requests fail under [`Faults::set_error_rate`].
    pub fn set_seed(&self, seed: u64) {
        self.shared.lock().faults.rng = seed.max(1);
    }

    /// Every API request (including the initial connect of a watch, excluding the service proxy)
    /// fails with probability `p`, with a status picked uniformly from `statuses`. Note that kube's
    /// default client transparently retries 429, 503 and 504.
    pub fn set_error_rate(&self, p: f64, statuses: &[u16]) {
        let mut st = self.shared.lock();
        st.faults.error_rate = p.clamp(0.0, 1.0);
        st.faults.statuses = statuses.to_vec();
    }

    /// Added latency before every API request is handled.
    pub fn set_delay(&self, d: Duration) {
        self.shared.lock().faults.delay = d;
    }

    /// Fail the next `count` requests whose method matches (case-insensitive, `*` for any) and whose
    /// path-and-query contains `path_contains`, with `status`. Targeted faults are checked before
    /// the random error rate.
    pub fn fail_next(&self, method: &str, path_contains: &str, status: u16, count: u32) {
        if count == 0 {
            return;
        }
        self.shared.lock().faults.targeted.push(Targeted {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            status,
            remaining: count,
        });
    }

    /// Close every open watch stream now (cleanly, as when the API server's watch times out).
    pub fn drop_watches(&self) {
        self.shared.drops.send_modify(|epoch| *epoch += 1);
    }

    /// Close every open watch stream periodically (`None` stops).
    pub fn set_watch_drop_interval(&self, every: Option<Duration>) {
        self.shared.drop_interval.send_replace(every.filter(|d| !d.is_zero()));
    }

    /// Forget the retained watch history, as an etcd compaction does: a watch resuming from any
    /// resourceVersion older than the current one receives an ERROR event with `410 Expired`.
    /// (Extension to the original brief, needed to exercise watcher relists.)
    pub fn compact_history(&self) {
        self.shared.lock().store.compact();
    }

    /// Remove all faults: error rate 0, no delay, no targeted faults, no periodic watch drops.
    pub fn clear(&self) {
        {
            let mut st = self.shared.lock();
            st.faults.error_rate = 0.0;
            st.faults.delay = Duration::ZERO;
            st.faults.targeted.clear();
        }
        self.set_watch_drop_interval(None);
    }

    /// How many requests have failed because of injected faults so far.
    pub fn injected(&self) -> u64 {
        self.shared.lock().faults.injected
    }
}

/// Background task behind [`Faults::set_watch_drop_interval`].
pub(crate) fn spawn_dropper(shared: Arc<Shared>) {
    let mut interval = shared.drop_interval.subscribe();
    tokio::spawn(async move {
        loop {
            let every = *interval.borrow_and_update();
            match every {
                None => {
                    if interval.changed().await.is_err() {
                        return;
                    }
                }
                Some(d) => tokio::select! {
                    _ = tokio::time::sleep(d) => shared.drops.send_modify(|epoch| *epoch += 1),
                    changed = interval.changed() => if changed.is_err() { return },
                },
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targeted_then_random() {
        let mut f = FaultState::default();
        f.targeted.push(Targeted {
            method: "get".into(),
            path_contains: "/secrets".into(),
            status: 409,
            remaining: 2,
        });
        assert_eq!(f.decide("POST", "/api/v1/namespaces/default/secrets"), None);
        assert_eq!(f.decide("GET", "/api/v1/namespaces/default/secrets?limit=1"), Some(409));
        assert_eq!(f.decide("GET", "/api/v1/namespaces/default/secrets"), Some(409));
        assert_eq!(f.decide("GET", "/api/v1/namespaces/default/secrets"), None);
        f.error_rate = 0.5;
        f.statuses = vec![500, 429];
        let failures = (0..1000).filter(|_| f.decide("GET", "/x").is_some()).count();
        assert!((400..600).contains(&failures), "{failures}");
        assert_eq!(f.injected, 2 + failures as u64);
    }
}
