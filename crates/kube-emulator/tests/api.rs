//! CRUD, CRDs, patches, selectors, pagination and garbage collection through `kube::Api`.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::Resource;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::PartialObjectMeta;
use kube_emulator::Emulator;
use serde_json::{Value, json};

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn secret(name: &str, labels: Value) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "stringData": {"k": "v"},
    }))
    .unwrap()
}

#[tokio::test]
async fn secret_crud() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    let pp = PostParams::default();

    let created = secrets.create(&pp, &secret("s1", json!({}))).await.unwrap();
    assert_eq!(created.data.as_ref().unwrap()["k"], ByteString(b"v".to_vec()));
    assert!(created.string_data.is_none());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    let rv1: u64 = created.metadata.resource_version.clone().unwrap().parse().unwrap();

    let dup = api_err(secrets.create(&pp, &secret("s1", json!({}))).await.unwrap_err());
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(dup.message, "secrets \"s1\" already exists");

    let generated: Secret =
        serde_json::from_value(json!({"metadata": {"generateName": "gen-"}, "data": {"a": "Yg=="}})).unwrap();
    let generated = secrets.create(&pp, &generated).await.unwrap();
    let name = generated.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // PUT with the current resourceVersion works and bumps it; the stale one conflicts.
    let mut updated = created.clone();
    updated.string_data = Some([("k2".to_string(), "w".to_string())].into());
    let updated = secrets.replace("s1", &pp, &updated).await.unwrap();
    assert_eq!(updated.data.as_ref().unwrap().len(), 2);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert!(
        updated
            .metadata
            .resource_version
            .as_ref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > rv1
    );
    let stale = api_err(secrets.replace("s1", &pp, &created).await.unwrap_err());
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(
        stale
            .message
            .starts_with("Operation cannot be fulfilled on secrets \"s1\": the object has been modified")
    );

    // A no-op update keeps the resourceVersion.
    let same = secrets.replace("s1", &pp, &updated).await.unwrap();
    assert_eq!(same.metadata.resource_version, updated.metadata.resource_version);

    // Type is immutable.
    let mut retyped = updated.clone();
    retyped.type_ = Some("kubernetes.io/tls".into());
    let err = api_err(secrets.replace("s1", &pp, &retyped).await.unwrap_err());
    assert_eq!(err.code, 422);
    assert!(err.message.contains("field is immutable"), "{}", err.message);

    let missing = api_err(secrets.get("nope").await.unwrap_err());
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "secrets \"nope\" not found");

    let deleted = secrets.delete("s1", &DeleteParams::default()).await.unwrap();
    assert!(deleted.left().is_some());
    assert_eq!(
        api_err(secrets.delete("s1", &DeleteParams::default()).await.unwrap_err()).code,
        404
    );
    assert!(emu.get("v1", "secrets", Some("default"), "s1").is_none());
}

#[tokio::test]
async fn immutable_secret_and_validation() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    let pp = PostParams::default();
    let mut s = secret("frozen", json!({}));
    s.immutable = Some(true);
    let s = secrets.create(&pp, &s).await.unwrap();

    let mut changed = s.clone();
    changed.string_data = Some([("k".to_string(), "other".to_string())].into());
    let err = api_err(secrets.replace("frozen", &pp, &changed).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("field is immutable when `immutable` is set"),
        "{}",
        err.message
    );
    let patch = Patch::Merge(json!({"immutable": false}));
    let err = api_err(
        secrets
            .patch("frozen", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert!(err.message.contains("field is immutable when `immutable` is set"));
    // Metadata may still change.
    let labelled = Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}));
    secrets
        .patch("frozen", &PatchParams::default(), &labelled)
        .await
        .unwrap();

    // Immutable ConfigMaps behave alike.
    let cms: Api<ConfigMap> = Api::default_namespaced(emu.client());
    let cm = serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": true})).unwrap();
    cms.create(&pp, &cm).await.unwrap();
    let err = api_err(
        cms.patch("c", &PatchParams::default(), &Patch::Merge(json!({"data": {"a": "2"}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);

    let bad = api_err(secrets.create(&pp, &secret("Bad_Name", json!({}))).await.unwrap_err());
    assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
    let elsewhere: Api<Secret> = Api::namespaced(emu.client(), "nowhere");
    let err = api_err(elsewhere.create(&pp, &secret("x", json!({}))).await.unwrap_err());
    assert_eq!(
        (err.code, err.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );
    let mut wrong_ns = secret("x", json!({}));
    wrong_ns.metadata.namespace = Some("kube-system".into());
    assert_eq!(api_err(secrets.create(&pp, &wrong_ns).await.unwrap_err()).code, 400);
    let err = api_err(secrets.replace("y", &pp, &secret("x", json!({}))).await.unwrap_err());
    assert_eq!(err.code, 404);
    secrets.create(&pp, &secret("x", json!({}))).await.unwrap();
    assert_eq!(
        api_err(secrets.replace("x", &pp, &secret("z", json!({}))).await.unwrap_err()).code,
        400
    );
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
            }],
        },
    })
}

fn widgets(emu: &Emulator) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Widget"), "widgets");
    Api::namespaced_with(emu.client(), "default", &ar)
}

fn generation(o: &DynamicObject) -> i64 {
    o.metadata.generation.unwrap()
}

#[tokio::test]
async fn crd_status_and_generation() {
    let emu = Emulator::start().await.unwrap();
    emu.install_crd(widget_crd()).unwrap();
    assert!(emu.install_crd(widget_crd()).unwrap_err().contains("already exists"));
    let crd = emu
        .get(
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            None,
            "widgets.example.com",
        )
        .unwrap();
    assert_eq!(crd["status"]["conditions"][1]["type"], "Established");

    let api = widgets(&emu);
    let w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 1}, "status": {"ready": true},
    }))
    .unwrap();
    let w = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(generation(&w), 1);
    assert!(w.data.get("status").is_none(), "status is dropped on create");

    // Status updates touch only status and do not bump generation.
    let mut st = w.clone();
    st.data["status"] = json!({"ready": true});
    st.data["spec"] = json!({"size": 99});
    let st = api.replace_status("w1", &PostParams::default(), &st).await.unwrap();
    assert_eq!(
        (st.data["status"]["ready"].clone(), st.data["spec"]["size"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(generation(&st), 1);
    let patched = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ok"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"], json!({"ready": true, "phase": "Ok"}));
    assert_eq!(generation(&patched), 1);

    // Main-resource writes ignore status; spec changes bump generation, metadata changes do not.
    let spec = Patch::Merge(json!({"spec": {"size": 2}, "status": {"ready": false}}));
    let bumped = api.patch("w1", &PatchParams::default(), &spec).await.unwrap();
    assert_eq!(
        (generation(&bumped), bumped.data["status"]["ready"].clone()),
        (2, json!(true))
    );
    let meta = Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}}));
    let labelled = api.patch("w1", &PatchParams::default(), &meta).await.unwrap();
    assert_eq!(generation(&labelled), 2);
    assert_ne!(labelled.metadata.resource_version, bumped.metadata.resource_version);

    // Discovery knows the new type.
    let discovery = kube::Discovery::new(emu.client()).run().await.unwrap();
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .unwrap();
    assert_eq!(ar.plural, "widgets");
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"));

    // Deleting the CRD removes its objects and the type.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(emu.client());
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(api_err(api.get("w1").await.unwrap_err()).code, 404);
    assert!(emu.list("example.com/v1", "widgets", None).is_empty());
}

#[tokio::test]
async fn patches() {
    let emu = Emulator::start().await.unwrap();
    let client = emu.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let ssa = PatchParams::apply("tester").force();
    let applied = cms
        .patch(
            "cm",
            &ssa,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.name.as_deref(), Some("cm"));
    let merged = cms
        .patch(
            "cm",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.data.unwrap(),
        [("b".to_string(), "2".to_string()), ("c".to_string(), "3".to_string())].into()
    );
    let strategic = Patch::Strategic(json!({"metadata": {"annotations": {"x": "y"}}}));
    cms.patch("cm", &PatchParams::default(), &strategic).await.unwrap();

    // JSON patch, sent by hand (kube's Patch::Json needs the jsonpatch feature).
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/cm")
        .header("content-type", "application/json-patch+json")
        .body(br#"[{"op": "test", "path": "/data/b", "value": "2"}, {"op": "replace", "path": "/data/b", "value": "20"}]"#.to_vec())
        .unwrap();
    let patched: ConfigMap = client.request(req).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["b"], "20");
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/cm")
        .header("content-type", "application/json-patch+json")
        .body(br#"[{"op": "test", "path": "/data/b", "value": "2"}]"#.to_vec())
        .unwrap();
    assert_eq!(api_err(client.request::<ConfigMap>(req).await.unwrap_err()).code, 422);

    // A second apply merges; the apply body may be YAML.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/cm?fieldManager=yaml")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  d: \"4\"\n".to_vec())
        .unwrap();
    let patched: ConfigMap = client.request(req).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap().len(), 3);

    // resourceVersion in a patch body is a precondition; apply needs a field manager.
    let stale = Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"e": "5"}}));
    assert_eq!(
        api_err(cms.patch("cm", &PatchParams::default(), &stale).await.unwrap_err()).code,
        409
    );
    let no_manager = Patch::Apply(json!({"data": {"e": "5"}}));
    assert_eq!(
        api_err(cms.patch("cm", &PatchParams::default(), &no_manager).await.unwrap_err()).code,
        400
    );
    let missing = Patch::Merge(json!({"data": {}}));
    assert_eq!(
        api_err(cms.patch("nope", &PatchParams::default(), &missing).await.unwrap_err()).code,
        404
    );

    // Writes are recorded with method and field manager.
    let writes = emu.writes();
    let ssa_write = writes
        .iter()
        .find(|w| w.field_manager.as_deref() == Some("tester"))
        .unwrap();
    assert_eq!(
        (
            ssa_write.method.as_str(),
            ssa_write.plural.as_str(),
            ssa_write.name.as_str()
        ),
        ("PATCH", "configmaps", "cm")
    );
    assert_eq!(writes.len(), 5);

    // Metadata-only get and patch.
    let meta: PartialObjectMeta<ConfigMap> = cms.get_metadata("cm").await.unwrap();
    assert_eq!(meta.metadata.annotations.unwrap()["x"], "y");
}

#[tokio::test]
async fn selectors_and_pagination() {
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    for (i, (app, tier)) in [("web", "1"), ("web", "2"), ("db", "1"), ("cache", "")]
        .iter()
        .enumerate()
    {
        let mut labels = json!({"app": app});
        if !tier.is_empty() {
            labels["tier"] = json!(tier);
        }
        secrets
            .create(&PostParams::default(), &secret(&format!("s{i}"), labels))
            .await
            .unwrap();
    }
    let names = |sel: &'static str| {
        let secrets = secrets.clone();
        async move {
            let list = secrets.list(&ListParams::default().labels(sel)).await.unwrap();
            list.items
                .into_iter()
                .map(|s| s.metadata.name.unwrap())
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    assert_eq!(names("app=web").await, "s0,s1");
    assert_eq!(names("app==db").await, "s2");
    assert_eq!(names("app!=web").await, "s2,s3");
    assert_eq!(names("app in (db,cache)").await, "s2,s3");
    assert_eq!(names("app notin (web)").await, "s2,s3");
    assert_eq!(names("tier").await, "s0,s1,s2");
    assert_eq!(names("!tier").await, "s3");
    assert_eq!(names("app=web,tier=2").await, "s1");
    let by_name = secrets
        .list(&ListParams::default().fields("metadata.name=s2"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let err = api_err(
        secrets
            .list(&ListParams::default().labels("app in web"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);

    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(3);
    let first_rv = emu.resource_version().to_string();
    loop {
        let page = secrets.list(&lp).await.unwrap();
        assert_eq!(page.metadata.resource_version.as_deref(), Some(first_rv.as_str()));
        assert_eq!(page.types.kind, "SecretList");
        seen.extend(page.items.into_iter().map(|s| s.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(seen, ["s0", "s1", "s2", "s3"]);

    let meta = secrets
        .list_metadata(&ListParams::default().labels("app=db"))
        .await
        .unwrap();
    assert_eq!(meta.types.kind, "PartialObjectMetadataList");
    assert_eq!(meta.items[0].metadata.name.as_deref(), Some("s2"));
    let all: Api<Secret> = Api::all(emu.client());
    assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 4);
}

#[tokio::test]
async fn owner_references_cascade() {
    let emu = Emulator::start().await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(emu.client());
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    let pp = PostParams::default();
    let owner = |cm: &ConfigMap| json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": cm.metadata.name, "uid": cm.metadata.uid}]);
    let cm_a = cms
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap(),
        )
        .await
        .unwrap();
    let cm_b = cms
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "b"}})).unwrap(),
        )
        .await
        .unwrap();
    let child = |name: &str, owners: Value| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": owners}})).unwrap()
    };
    let s_a = secrets.create(&pp, &child("of-a", owner(&cm_a))).await.unwrap();
    secrets.create(&pp, &child("of-b", owner(&cm_b))).await.unwrap();
    let both = json!([owner(&cm_a)[0], owner(&cm_b)[0]]);
    secrets.create(&pp, &child("of-both", both)).await.unwrap();
    // A grandchild owned by a secret that is itself collected.
    let grand = json!([{"apiVersion": "v1", "kind": "Secret", "name": "of-a", "uid": s_a.metadata.uid}]);
    cms.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "grandchild", "ownerReferences": grand}})).unwrap(),
    )
    .await
    .unwrap();

    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let left: Vec<String> = emu
        .list("v1", "secrets", Some("default"))
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["of-b", "of-both"]);
    assert_eq!(emu.count("v1", "secrets", Some("default")), 2);
    assert_eq!(emu.count("v1", "secrets", Some("elsewhere")), 0);
    assert!(emu.get("v1", "configmaps", Some("default"), "grandchild").is_none());
    cms.delete("b", &DeleteParams::default()).await.unwrap();
    assert!(emu.list("v1", "secrets", Some("default")).is_empty());

    // Deleting a namespace deletes its contents.
    let nss: Api<Namespace> = Api::all(emu.client());
    nss.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap(),
    )
    .await
    .unwrap();
    let doomed: Api<Secret> = Api::namespaced(emu.client(), "doomed");
    doomed.create(&pp, &secret("s", json!({}))).await.unwrap();
    nss.delete("doomed", &DeleteParams::default()).await.unwrap();
    assert!(emu.list("v1", "secrets", Some("doomed")).is_empty());
}

#[tokio::test]
async fn direct_access() {
    let emu = Emulator::start().await.unwrap();
    let namespaces: Vec<String> = emu
        .list("v1", "namespaces", None)
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().into())
        .collect();
    assert_eq!(namespaces, ["default", "kube-public", "kube-system"]);
    let rv = emu.resource_version();
    let created = emu
        .create(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"generateName": "d-", "resourceVersion": "7"}}),
        )
        .unwrap();
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["resourceVersion"], (rv + 1).to_string());
    assert!(emu.create(json!({"apiVersion": "v9", "kind": "Nope"})).is_err());
    assert!(emu.writes().is_empty(), "direct writes are not HTTP writes");
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(emu.client());
    assert!(events.list(&ListParams::default()).await.unwrap().items.is_empty());
    let version = emu.client().apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn event_recorder_creates_then_patches() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let emu = Emulator::start().await.unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(emu.client());
    let s = secrets
        .create(&PostParams::default(), &secret("target", json!({})))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "gitseal".into(),
        instance: None,
    };
    let recorder = Recorder::new(emu.client(), reporter);
    let event = Event {
        type_: EventType::Normal,
        reason: "Unsealed".into(),
        note: Some("ok".into()),
        action: "Unseal".into(),
        secondary: None,
    };
    let reference = s.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    let events = emu.list("events.k8s.io/v1", "events", Some("default"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["series"]["count"], 2);
    assert_eq!(events[0]["regarding"]["name"], "target");
    let methods: Vec<String> = emu
        .writes()
        .iter()
        .filter(|w| w.plural == "events")
        .map(|w| w.method.clone())
        .collect();
    assert_eq!(methods, ["POST", "PATCH"]);
}

#[tokio::test]
async fn requests_are_recorded_as_rbac_sees_them() {
    use kube_emulator::RequestAttributes;
    let emu = Emulator::start().await.unwrap();
    emu.install_crd(widget_crd()).unwrap();
    let secrets: Api<Secret> = Api::namespaced(emu.client(), "default");
    let s = secrets
        .create(&PostParams::default(), &secret("a", json!({})))
        .await
        .unwrap();
    secrets.get("a").await.unwrap();
    secrets.replace("a", &PostParams::default(), &s).await.unwrap();
    secrets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    let all: Api<Secret> = Api::all(emu.client());
    all.list(&ListParams::default()).await.unwrap();
    let w =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}))
            .unwrap();
    widgets(&emu).create(&PostParams::default(), &w).await.unwrap();
    widgets(&emu)
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    secrets.delete("a", &DeleteParams::default()).await.unwrap();
    // A request that fails is still one the authorizer saw.
    assert!(secrets.get("gone").await.is_err());
    // Objects made in-process are not requests.
    emu.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}))
        .unwrap();

    let attr = |verb: &str, group: &str, resource: &str, sub: Option<&str>, ns: Option<&str>| RequestAttributes {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        subresource: sub.map(Into::into),
        namespace: ns.map(Into::into),
        user_agent: String::new(),
    };
    let d = Some("default");
    let mut seen = emu.requests();
    for r in &mut seen {
        assert_eq!(r.user_agent, "", "kube-rs sends no User-Agent of its own");
    }
    let mut expected = vec![
        attr("create", "", "secrets", None, d),
        attr("get", "", "secrets", None, d),
        attr("update", "", "secrets", None, d),
        attr("patch", "", "secrets", None, d),
        attr("list", "", "secrets", None, None),
        attr("create", "example.com", "widgets", None, d),
        attr("patch", "example.com", "widgets", Some("status"), d),
        attr("delete", "", "secrets", None, d),
    ];
    expected.sort();
    assert_eq!(seen, expected);
}
