//! Kubernetes Events (`events.k8s.io/v1`) with series deduplication, in
//! constant memory per recent event.
//!
//! kube-runtime's `Recorder` keeps every event it published in the last six
//! minutes as a whole `Event` object and scans that cache on each publish: with
//! 10,000 SealedSecrets unsealed at start-up that is about 35 MiB and quadratic
//! work. This publisher behaves the same on the wire (a repeat of the same
//! reason for the same object within six minutes patches the first event's
//! `series`) but remembers only the event's name, its count and when it was
//! last seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

/// How long a repeat joins the earlier event's series, as client-go and kube-runtime do.
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// What makes two events "the same" for a series: the object (by uid, so a
/// recreated object starts afresh), the type and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SeriesKey {
    uid: Box<str>,
    type_: EventType,
    reason: Box<str>,
}

#[derive(Debug)]
struct Seen {
    name: Box<str>,
    count: i32,
    last: Instant,
}

pub struct Publisher {
    client: kube::Client,
    controller: String,
    instance: String,
    action: String,
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    seen: HashMap<SeriesKey, Seen>,
    /// Size after the last sweep; the next sweep waits until the map doubles,
    /// so sweeping costs O(1) amortised per event.
    swept_at: usize,
}

impl Recent {
    fn sweep(&mut self, now: Instant) {
        if self.seen.len() < (2 * self.swept_at).max(64) {
            return;
        }
        self.seen.retain(|_, s| now.duration_since(s.last) < SERIES_WINDOW);
        self.seen.shrink_to_fit();
        self.swept_at = self.seen.len();
    }
}

/// What to do for one publish: create a new event, or bump an existing series.
#[derive(Debug, PartialEq)]
enum Step {
    Create { name: String },
    Bump { name: String, count: i32 },
}

impl Publisher {
    /// `controller` and `instance` fill `reportingController` and
    /// `reportingInstance`; `action` is the event's action.
    pub fn new(client: kube::Client, controller: &str, instance: Option<&str>, action: &str) -> Self {
        Publisher {
            client,
            controller: controller.into(),
            instance: instance.unwrap_or(controller).into(),
            action: action.into(),
            recent: Mutex::default(),
        }
    }

    fn step(&self, regarding: &ObjectReference, type_: EventType, reason: &str, now: Instant, ts: Timestamp) -> Step {
        // The uid; an object without one (never from the API server) by namespace/name.
        let uid = match regarding.uid.as_deref() {
            Some(uid) if !uid.is_empty() => uid.into(),
            _ => format!(
                "{}/{}",
                regarding.namespace.as_deref().unwrap_or_default(),
                regarding.name.as_deref().unwrap_or_default()
            )
            .into(),
        };
        let key = SeriesKey {
            uid,
            type_,
            reason: reason.into(),
        };
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.sweep(now);
        if let Some(seen) = recent.seen.get_mut(&key)
            && now.duration_since(seen.last) < SERIES_WINDOW
        {
            seen.count = seen.count.saturating_add(1);
            seen.last = now;
            return Step::Bump {
                name: seen.name.to_string(),
                count: seen.count,
            };
        }
        // Named as kube-runtime and client-go do: object name and a unique suffix.
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            ts.as_nanosecond()
        );
        recent.seen.insert(
            key,
            Seen {
                name: name.as_str().into(),
                count: 1,
                last: now,
            },
        );
        Step::Create { name }
    }

    /// Publishes an event about `regarding`.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let ts = Timestamp::now();
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        match self.step(regarding, type_, reason, Instant::now(), ts) {
            Step::Create { name } => {
                let event = K8sEvent {
                    metadata: ObjectMeta {
                        name: Some(name),
                        namespace: Some(namespace.into()),
                        ..Default::default()
                    },
                    action: Some(self.action.clone()),
                    reason: Some(reason.into()),
                    note: Some(note.into()),
                    event_time: Some(MicroTime(ts)),
                    regarding: Some(regarding.clone()),
                    reporting_controller: Some(self.controller.clone()),
                    reporting_instance: Some(self.instance.clone()),
                    type_: Some(type_.as_str().into()),
                    ..Default::default()
                };
                api.create(&PostParams::default(), &event).await.map(drop)
            }
            // Same uid, same object: the event is in its namespace.
            Step::Bump { name, count } => {
                let patch = serde_json::json!({
                    "note": note,
                    "series": EventSeries { count, last_observed_time: MicroTime(ts) },
                });
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(drop)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher() -> Publisher {
        let (service, _handle) =
            tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
        let client = kube::Client::new(service, "default");
        Publisher::new(client, "sealed-secrets", Some("pod-1"), "Unseal")
    }

    fn object(uid: &str) -> ObjectReference {
        ObjectReference {
            namespace: Some("app".into()),
            name: Some("db".into()),
            uid: Some(uid.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_repeat_within_the_window_bumps_the_series_and_later_starts_a_new_event() {
        let p = publisher();
        let t0 = Instant::now();
        let ts = Timestamp::now();
        let Step::Create { name } = p.step(&object("u1"), EventType::Warning, "ErrUnsealFailed", t0, ts) else {
            panic!("the first event must be created")
        };
        assert!(name.starts_with("db."));
        assert_eq!(
            p.step(
                &object("u1"),
                EventType::Warning,
                "ErrUnsealFailed",
                t0 + Duration::from_secs(60),
                ts
            ),
            Step::Bump {
                name: name.clone(),
                count: 2
            }
        );
        // Another reason, type or object is another event.
        assert!(matches!(
            p.step(&object("u1"), EventType::Normal, "Unsealed", t0, ts),
            Step::Create { .. }
        ));
        assert!(matches!(
            p.step(&object("u2"), EventType::Warning, "ErrUnsealFailed", t0, ts),
            Step::Create { .. }
        ));
        // Six minutes after the last repeat, the series is over.
        let later = t0 + Duration::from_secs(60) + SERIES_WINDOW;
        assert!(matches!(
            p.step(&object("u1"), EventType::Warning, "ErrUnsealFailed", later, ts),
            Step::Create { .. }
        ));
    }

    #[tokio::test]
    async fn memory_for_old_events_is_reclaimed() {
        let p = publisher();
        let t0 = Instant::now();
        let ts = Timestamp::now();
        for i in 0..1000 {
            p.step(&object(&format!("u{i}")), EventType::Normal, "Unsealed", t0, ts);
        }
        let later = t0 + SERIES_WINDOW + Duration::from_secs(1);
        for i in 0..2000 {
            p.step(&object(&format!("v{i}")), EventType::Normal, "Unsealed", later, ts);
        }
        let recent = p.recent.lock().unwrap();
        assert!(
            recent.seen.len() <= 2000,
            "expired entries must be swept, {} remain",
            recent.seen.len()
        );
        assert!(!recent.seen.keys().any(|k| k.uid.starts_with('u')));
    }
}
