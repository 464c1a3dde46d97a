//! The `Synced` condition. Pure.
//!
//! Bitnami's shape — one condition, type `Synced`, first in the list, which the
//! printer columns and Argo CD's built-in `bitnami.com/SealedSecret` health check
//! read (`True` → Healthy, `False` → Degraded with the message, absent →
//! Progressing) — plus a `reason`, which upstream never set. The status is
//! written only when the condition's status, reason or message change, or
//! `observedGeneration` lags, so a steady state costs no writes.

use gitseal_api::{SealedSecret, SealedSecretCondition, SealedSecretStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The outcome to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub synced: bool,
    pub reason: String,
    pub message: String,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome {
            synced: true,
            reason: "Unsealed".into(),
            message: String::new(),
        }
    }
}

/// The status to write, or `None` if the current one already says this.
pub fn next_status(ss: &SealedSecret, outcome: &Outcome, now: Time) -> Option<SealedSecretStatus> {
    let generation = ss.metadata.generation;
    let current = ss.status.as_ref();
    let synced = current.and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced"));
    let status_str = if outcome.synced { "True" } else { "False" };
    let same = synced.is_some_and(|c| {
        c.status == status_str
            && c.reason.as_deref().unwrap_or("") == outcome.reason
            && c.message.as_deref().unwrap_or("") == outcome.message
    }) && current.and_then(|s| s.observed_generation) == generation;
    if same {
        return None;
    }
    let transition = match synced {
        Some(c) if c.status == status_str => c.last_transition_time.clone(),
        _ => Some(now.clone()),
    };
    let condition = SealedSecretCondition {
        type_: "Synced".into(),
        status: status_str.into(),
        last_update_time: Some(now),
        last_transition_time: transition,
        reason: Some(outcome.reason.clone()),
        message: Some(outcome.message.clone()),
    };
    // Synced first; keep any other conditions someone else added.
    let mut conditions = vec![condition];
    conditions.extend(
        current
            .map(|s| {
                s.conditions
                    .iter()
                    .filter(|c| c.type_ != "Synced")
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    Some(SealedSecretStatus {
        observed_generation: generation,
        conditions,
    })
}

/// `condition_info` gauge value: 1 true, -1 false, 0 unknown.
pub fn condition_value(ss: &SealedSecret) -> i64 {
    match ss
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced"))
        .map(|c| c.status.as_str())
    {
        Some("True") => 1,
        Some("False") => -1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitseal_api::SealedSecretSpec;

    fn now(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn ss(generation: i64, status: Option<SealedSecretStatus>) -> SealedSecret {
        let mut ss = SealedSecret::new("a", SealedSecretSpec::default());
        ss.metadata.generation = Some(generation);
        ss.status = status;
        ss
    }

    #[test]
    fn written_once_then_only_on_change() {
        let first = next_status(&ss(1, None), &Outcome::ok(), now(10)).expect("no status yet");
        assert_eq!(first.observed_generation, Some(1));
        let c = &first.conditions[0];
        assert_eq!((c.type_.as_str(), c.status.as_str()), ("Synced", "True"));
        assert_eq!(c.reason.as_deref(), Some("Unsealed"));
        assert_eq!(next_status(&ss(1, Some(first.clone())), &Outcome::ok(), now(20)), None);
        // A new generation is acknowledged, keeping the transition time.
        let bumped = next_status(&ss(2, Some(first.clone())), &Outcome::ok(), now(30)).unwrap();
        assert_eq!(bumped.conditions[0].last_transition_time, Some(now(10)));
        assert_eq!(bumped.conditions[0].last_update_time, Some(now(30)));
    }

    #[test]
    fn failure_then_recovery_clears_the_stale_message() {
        let failed = Outcome {
            synced: false,
            reason: "ErrUnsealFailed".into(),
            message: "Failed to unseal: no key could decrypt secret (a)".into(),
        };
        let s1 = next_status(&ss(1, None), &failed, now(1)).unwrap();
        assert_eq!(s1.conditions[0].status, "False");
        assert_eq!(condition_value(&ss(1, Some(s1.clone()))), -1);
        let s2 = next_status(&ss(1, Some(s1)), &Outcome::ok(), now(2)).unwrap();
        assert_eq!(s2.conditions[0].status, "True");
        assert_eq!(s2.conditions[0].message.as_deref(), Some(""));
        assert_eq!(s2.conditions[0].last_transition_time, Some(now(2)));
        assert_eq!(condition_value(&ss(1, Some(s2))), 1);
        assert_eq!(condition_value(&ss(1, None)), 0);
    }
}
