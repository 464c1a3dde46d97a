//! Watches through kube's `watcher`, `metadata_watcher` and raw `Api::watch`.

use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Resource, ResourceExt};
use kube_emulator::Emulator;
use serde_json::json;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

fn secret(name: &str, app: &str) -> Secret {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}}})).unwrap()
}

/// Drive a stream in the background, forwarding items.
fn spawn_stream<T: Send + 'static>(stream: impl Stream<Item = T> + Send + 'static) -> mpsc::UnboundedReceiver<T> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receive until `pick` returns Some, failing after [`WAIT`].
async fn wait_for<T, R>(rx: &mut mpsc::UnboundedReceiver<T>, mut pick: impl FnMut(T) -> Option<R>) -> R {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(r) = pick(rx.recv().await.expect("stream ended")) {
                return r;
            }
        }
    })
    .await
    .expect("timed out waiting for event")
}

/// The next item, failing after [`WAIT`].
async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> Option<T> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for event")
}

/// A compact description of watcher events: "init", "initapply:name", "initdone", "apply:name", "delete:name", "error".
fn describe<K: Resource>(ev: Result<Event<K>, watcher::Error>) -> String {
    match ev {
        Ok(Event::Init) => "init".into(),
        Ok(Event::InitApply(o)) => format!("initapply:{}", o.meta().name.clone().unwrap_or_default()),
        Ok(Event::InitDone) => "initdone".into(),
        Ok(Event::Apply(o)) => format!("apply:{}", o.meta().name.clone().unwrap_or_default()),
        Ok(Event::Delete(o)) => format!("delete:{}", o.meta().name.clone().unwrap_or_default()),
        Err(e) => format!("error:{e}"),
    }
}

#[tokio::test]
async fn watcher_sees_changes_and_survives_drops() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    secrets
        .create(&PostParams::default(), &secret("before", "a"))
        .await
        .unwrap();
    let mut rx = spawn_stream(watcher(secrets.clone(), watcher::Config::default()).map(describe));
    // `Api<PartialObjectMeta<K>>` makes kube send metadata-only (`as=PartialObjectMetadata`) requests.
    let metas: Api<PartialObjectMeta<Secret>> = Api::default_namespaced(emu.client());
    let mut meta_rx = spawn_stream(watcher(metas, watcher::Config::default()).map(describe));
    for rx in [&mut rx, &mut meta_rx] {
        assert_eq!(
            wait_for(rx, |e| e.starts_with("initapply").then_some(e)).await,
            "initapply:before"
        );
        wait_for(rx, |e| (e == "initdone").then_some(())).await;
    }

    secrets
        .create(&PostParams::default(), &secret("s1", "a"))
        .await
        .unwrap();
    let relabel = Patch::Merge(json!({"metadata": {"labels": {"app": "b"}}}));
    secrets.patch("s1", &PatchParams::default(), &relabel).await.unwrap();
    secrets.delete("s1", &DeleteParams::default()).await.unwrap();
    for rx in [&mut rx, &mut meta_rx] {
        for want in ["apply:s1", "apply:s1", "delete:s1"] {
            assert_eq!(next(rx).await.unwrap(), want);
        }
    }

    // After the streams are dropped the watchers resume from their resourceVersion (no relist).
    emu.faults().drop_watches();
    tokio::time::sleep(Duration::from_millis(100)).await;
    emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "after-drop"}}))
        .unwrap();
    for rx in [&mut rx, &mut meta_rx] {
        assert_eq!(next(rx).await.unwrap(), "apply:after-drop");
    }

    // Periodic drops keep delivering changes too.
    emu.faults().set_watch_drop_interval(Some(Duration::from_millis(50)));
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("p{i}")}}))
            .unwrap();
    }
    for i in 0..5 {
        let want = format!("apply:p{i}");
        wait_for(&mut rx, |e| (e == want).then_some(())).await;
    }
    emu.faults().clear();
}

#[tokio::test]
async fn expired_resource_version_relists() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    let faults = emu.faults();

    // Raw watch from a compacted resourceVersion: one ERROR event with 410 Expired.
    emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}))
        .unwrap();
    faults.compact_history();
    let mut raw = secrets.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    match raw.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(raw.try_next().await.unwrap().is_none(), "stream closes after the error");

    // kube's watcher: break its stream, change and compact while it cannot reconnect, then let it in.
    let mut rx = spawn_stream(
        watcher(secrets.clone(), watcher::Config::default())
            .default_backoff()
            .map(describe),
    );
    wait_for(&mut rx, |e| (e == "initdone").then_some(())).await;
    faults.set_error_rate(1.0, &[500]);
    faults.drop_watches();
    wait_for(&mut rx, |e| e.starts_with("error").then_some(())).await;
    emu.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "late"}}))
        .unwrap();
    faults.compact_history();
    faults.clear();
    wait_for(&mut rx, |e| (e == "init").then_some(())).await;
    wait_for(&mut rx, |e| (e == "initapply:late").then_some(())).await;
    assert!(faults.injected() >= 1);
}

#[tokio::test]
async fn streaming_list_selectors_and_bookmarks() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    secrets
        .create(&PostParams::default(), &secret("s0", "x"))
        .await
        .unwrap();

    // kube's streaming-list mode relies on sendInitialEvents and the initial-events-end bookmark.
    let config = watcher::Config::default().streaming_lists();
    let mut rx = spawn_stream(watcher(secrets.clone(), config).map(describe));
    assert_eq!(next(&mut rx).await.unwrap(), "init");
    assert_eq!(next(&mut rx).await.unwrap(), "initapply:s0");
    assert_eq!(next(&mut rx).await.unwrap(), "initdone");

    // A selector watch sees objects entering and leaving the selection as ADDED / DELETED.
    let wp = WatchParams::default().labels("app=x").timeout(10);
    let stream = secrets.watch(&wp, "0").await.unwrap();
    let mut raw = spawn_stream(stream.filter_map(|e| async move {
        match e.unwrap() {
            WatchEvent::Added(s) => Some(format!("ADDED:{}", s.name_any())),
            WatchEvent::Modified(s) => Some(format!("MODIFIED:{}", s.name_any())),
            WatchEvent::Deleted(s) => Some(format!("DELETED:{}", s.name_any())),
            WatchEvent::Bookmark(_) => None,
            WatchEvent::Error(e) => Some(format!("ERROR:{}", e.code)),
        }
    }));
    assert_eq!(next(&mut raw).await.unwrap(), "ADDED:s0");
    let label = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    secrets.patch("s0", &PatchParams::default(), &label("y")).await.unwrap();
    secrets.patch("s0", &PatchParams::default(), &label("x")).await.unwrap();
    secrets
        .patch(
            "s0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": "Yg=="}})),
        )
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret("other", "y"))
        .await
        .unwrap();
    for want in ["DELETED:s0", "ADDED:s0", "MODIFIED:s0"] {
        assert_eq!(next(&mut raw).await.unwrap(), want);
    }

    // Periodic bookmarks carry the resourceVersion; timeoutSeconds ends the stream.
    let wp = WatchParams {
        bookmarks: true,
        ..WatchParams::default()
    }
    .timeout(7);
    let rv = emu.resource_version().to_string();
    let mut stream = secrets.watch(&wp, &rv).await.unwrap().boxed();
    let started = std::time::Instant::now();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Bookmark(b)) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    while stream.try_next().await.unwrap().is_some() {}
    assert!(started.elapsed() < Duration::from_secs(9));
    assert_eq!(next(&mut raw).await, None, "the 10s selector watch timed out too");
}
