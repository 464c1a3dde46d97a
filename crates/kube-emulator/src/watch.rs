//! Watch streams: newline-delimited JSON `{"type": ..., "object": ...}` events over a chunked
//! response. Each stream is fed by a task reading the store's broadcast channel; a lagging
//! watcher, a timeout, [`Faults::drop_watches`](crate::Faults::drop_watches) or a client
//! disconnect ends the stream cleanly, after which kube's watcher re-watches from its last
//! resourceVersion.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, header};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::http::render;
use crate::selectors::Filter;
use crate::status::ApiError;
use crate::store::{Change, EventType, ResourceType};

/// Interval between `allowWatchBookmarks` bookmarks.
pub(crate) const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

/// Everything a watch stream needs, gathered under the store lock.
pub(crate) struct WatchStream {
    pub rt: ResourceType,
    pub version: String,
    pub namespace: Option<String>,
    pub filter: Filter,
    pub meta_only: bool,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    /// Objects to send as synthetic ADDED events first.
    pub initial: Vec<Arc<Value>>,
    /// Send a `k8s.io/initial-events-end` bookmark after `initial` (sendInitialEvents=true).
    pub initial_end: bool,
    /// History to replay after `initial`.
    pub replay: Vec<Arc<Change>>,
    /// The resourceVersion the stream starts at (for bookmarks).
    pub start_rv: u64,
    /// `None` if the requested resourceVersion is too old: send one 410 ERROR event and close.
    pub live: Option<broadcast::Receiver<Arc<Change>>>,
    pub drops: watch::Receiver<u64>,
}

impl WatchStream {
    fn visible(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| crate::store::meta_str(obj, "namespace") == ns)
            && self.filter.matches(obj)
    }

    /// What (if anything) this watcher sees of a change, with selector transitions applied.
    fn translate<'a>(&self, change: &'a Change) -> Option<(&'static str, Cow<'a, Value>)> {
        if change.key != self.rt.key() {
            return None;
        }
        let now = self.visible(&change.object);
        let current = Cow::Borrowed(&*change.object);
        match (change.kind, change.prev.as_deref().map(|p| self.visible(p))) {
            (EventType::Added, _) | (EventType::Modified, Some(false)) if now => Some(("ADDED", current)),
            (EventType::Modified, Some(true)) if now => Some(("MODIFIED", current)),
            (EventType::Deleted, _) if now => Some(("DELETED", current)),
            (EventType::Modified, Some(true)) => {
                // Stopped matching: the watcher sees the old state deleted at this resourceVersion.
                let mut old = change.prev.as_deref().cloned().unwrap_or_default();
                old["metadata"]["resourceVersion"] = json!(change.rv.to_string());
                Some(("DELETED", Cow::Owned(old)))
            }
            _ => None,
        }
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let event = json!({ "type": kind, "object": render(obj, &self.rt, &self.version, self.meta_only) });
        let mut bytes = serde_json::to_vec(&event).unwrap_or_default();
        bytes.push(b'\n');
        Bytes::from(bytes)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let (api_version, kind) = if self.meta_only {
            ("meta.k8s.io/v1".to_string(), "PartialObjectMetadata".to_string())
        } else {
            (self.rt.api_version(&self.version), self.rt.kind.clone())
        };
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata });
        let mut bytes = serde_json::to_vec(&json!({ "type": "BOOKMARK", "object": object })).unwrap_or_default();
        bytes.push(b'\n');
        Bytes::from(bytes)
    }

    /// Start the feeding task and return the streaming response.
    pub fn respond(self) -> Response {
        let (tx, rx) = mpsc::channel::<Bytes>(256);
        tokio::spawn(self.run(tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|bytes| (Ok::<_, Infallible>(bytes), rx))
        });
        let mut resp = Response::new(Body::from_stream(stream));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    }

    async fn run(mut self, tx: mpsc::Sender<Bytes>) {
        let mut drops = self.drops.clone();
        let Some(mut live) = self.live.take() else {
            let status = ApiError::expired("too old resource version").to_json();
            let mut line = serde_json::to_vec(&json!({ "type": "ERROR", "object": status })).unwrap_or_default();
            line.push(b'\n');
            send(&tx, &mut drops, Bytes::from(line)).await;
            return;
        };
        for obj in std::mem::take(&mut self.initial) {
            if !send(&tx, &mut drops, self.line("ADDED", &obj)).await {
                return;
            }
        }
        if self.initial_end && !send(&tx, &mut drops, self.bookmark(self.start_rv, true)).await {
            return;
        }
        for change in std::mem::take(&mut self.replay) {
            if let Some((kind, obj)) = self.translate(&change)
                && !send(&tx, &mut drops, self.line(kind, &obj)).await
            {
                return;
            }
        }
        let mut last_rv = self.start_rv;
        let timeout = tokio::time::sleep(self.timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600)));
        tokio::pin!(timeout);
        let start = tokio::time::Instant::now() + BOOKMARK_INTERVAL;
        let mut ticker = tokio::time::interval_at(start, BOOKMARK_INTERVAL);
        loop {
            let line = tokio::select! {
                biased;
                _ = drops.changed() => return,
                _ = &mut timeout => return,
                _ = tx.closed() => return,
                msg = live.recv() => match msg {
                    Ok(change) => {
                        last_rv = change.rv;
                        match self.translate(&change) {
                            Some((kind, obj)) => self.line(kind, &obj),
                            None => continue,
                        }
                    }
                    // Lagged (the real server also closes slow watchers) or the store is gone.
                    Err(_) => return,
                },
                _ = ticker.tick(), if self.bookmarks => self.bookmark(last_rv, false),
            };
            if !send(&tx, &mut drops, line).await {
                return;
            }
        }
    }
}

/// Send one line unless the client went away or watches are being dropped.
async fn send(tx: &mpsc::Sender<Bytes>, drops: &mut watch::Receiver<u64>, line: Bytes) -> bool {
    tokio::select! {
        sent = tx.send(line) => sent.is_ok(),
        _ = drops.changed() => false,
    }
}
