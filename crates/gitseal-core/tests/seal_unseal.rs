//! Sealing and unsealing as users rely on it: round trips in every scope, tamper
//! and scope violations detected, kubeseal's input rules, templates and v1 data.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gitseal_api::annotations::{CLUSTER_WIDE, NAMESPACE_WIDE, SEALED_TO};
use gitseal_api::{SealedSecret, SealedSecretSpec, SecretTemplateSpec};
use gitseal_core::keys::{Certificate, KeyError, PrivateKey, parse_private_keys};
use gitseal_core::seal::{InputSecret, SealError, SealOptions, merge_into, seal, seal_raw, sealed_to};
use gitseal_core::unseal::{ItemFailure, UnsealError, UnsealOptions, unseal, unseal_raw};
use gitseal_core::validate::check_structure;
use gitseal_core::{Scope, hybrid};
use proptest::prelude::*;
use serde_json::json;

fn testdata(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The 2048-bit test pair keeps property tests fast; 4096 is covered by the kit.
static CERT: LazyLock<Certificate> = LazyLock::new(|| Certificate::from_pem(&testdata("keys/second.crt")).unwrap());
static KEYS: LazyLock<Vec<PrivateKey>> = LazyLock::new(|| parse_private_keys(&testdata("keys/second.key")).unwrap());
static DEMO_KEYS: LazyLock<Vec<PrivateKey>> =
    LazyLock::new(|| parse_private_keys(&testdata("keys/demo-key-secret.yaml")).unwrap());

fn input(v: serde_json::Value) -> InputSecret {
    InputSecret::from_value(&v).unwrap()
}

fn opts() -> SealOptions<'static> {
    SealOptions {
        default_namespace: "default",
        ..Default::default()
    }
}

fn secret_with(items: &BTreeMap<String, Vec<u8>>, ns: &str, name: &str) -> InputSecret {
    let data: serde_json::Map<String, serde_json::Value> = items
        .iter()
        .map(|(k, v)| (k.clone(), json!(STANDARD.encode(v))))
        .collect();
    input(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data}))
}

fn data_of(sealed: &SealedSecret, keys: &[PrivateKey]) -> Result<BTreeMap<String, Vec<u8>>, UnsealError> {
    let u = unseal(sealed, keys, UnsealOptions::default())?;
    Ok(u.secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

fn scope_strategy() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Strict),
        Just(Scope::NamespaceWide),
        Just(Scope::ClusterWide)
    ]
}

fn items_strategy() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    prop::collection::btree_map(
        "[a-zA-Z0-9._-]{1,20}",
        prop::collection::vec(any::<u8>(), 0..2048),
        1..5,
    )
    .prop_filter("'.' and '..' are not valid keys", |m| {
        !m.contains_key(".") && !m.contains_key("..")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_binary_items_round_trip_in_every_scope(items in items_strategy(), scope in scope_strategy()) {
        let o = SealOptions { scope: Some(scope), ..opts() };
        let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &o).unwrap();
        prop_assert_eq!(Scope::from_annotations(sealed.annotations()), scope);
        prop_assert_eq!(data_of(&sealed, &KEYS).unwrap(), items);
    }

    #[test]
    fn any_flipped_bit_is_detected_and_only_that_item_is_named(
        items in items_strategy(),
        pick in any::<prop::sample::Index>(),
        bit in 0usize..8,
        pos in any::<prop::sample::Index>(),
    ) {
        let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
        let victim = pick.get(&items.keys().cloned().collect::<Vec<_>>()).clone();
        let value = sealed.spec.encrypted_data.get_mut(&victim).unwrap();
        let mut raw = STANDARD.decode(&*value).unwrap();
        let i = pos.index(raw.len());
        raw[i] ^= 1 << bit;
        *value = STANDARD.encode(&raw);
        let err = data_of(&sealed, &KEYS).unwrap_err();
        prop_assert_eq!(err.failed_items(), vec![victim.as_str()]);
    }
}

#[test]
fn strict_scope_binds_name_and_namespace() {
    let items: BTreeMap<_, _> = [("k".to_string(), b"v".to_vec())].into();
    let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    let mut moved = sealed.clone();
    moved.metadata.namespace = Some("team-b".into());
    assert_eq!(
        data_of(&moved, &KEYS).unwrap_err().to_string(),
        "no key could decrypt secret (k)"
    );
    let mut renamed = sealed.clone();
    renamed.metadata.name = Some("other".into());
    assert!(data_of(&renamed, &KEYS).is_err());
}

#[test]
fn namespace_wide_survives_rename_but_not_a_move() {
    let items: BTreeMap<_, _> = [("k".to_string(), b"v".to_vec())].into();
    let o = SealOptions {
        scope: Some(Scope::NamespaceWide),
        ..opts()
    };
    let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &o).unwrap();
    let mut renamed = sealed.clone();
    renamed.metadata.name = Some("other".into());
    let u = unseal(&renamed, &KEYS, UnsealOptions::default()).unwrap();
    assert_eq!(u.secret.metadata.name.as_deref(), Some("other"));
    let mut moved = sealed;
    moved.metadata.namespace = Some("team-b".into());
    assert!(data_of(&moved, &KEYS).is_err());
}

#[test]
fn scope_is_read_from_the_sealedsecret_metadata_never_the_template() {
    let items: BTreeMap<_, _> = [("k".to_string(), b"v".to_vec())].into();
    let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    // Widening only the template's annotations changes nothing.
    let mut t = sealed.clone();
    let tmeta = t.spec.template.as_mut().unwrap().metadata.as_mut().unwrap();
    tmeta.annotations = Some([(CLUSTER_WIDE.to_string(), "true".to_string())].into());
    assert_eq!(data_of(&t, &KEYS).unwrap()["k"], b"v");
    // Claiming cluster-wide on the object itself changes the label, so it fails.
    let mut o = sealed;
    o.metadata.annotations = Some([(CLUSTER_WIDE.to_string(), "true".to_string())].into());
    assert!(data_of(&o, &KEYS).is_err());
}

#[test]
fn every_key_is_tried_and_the_opening_key_is_reported() {
    let items: BTreeMap<_, _> = [("k".to_string(), b"v".to_vec())].into();
    let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    let mut keys = parse_private_keys(&testdata("keys/demo.key")).unwrap();
    keys.extend(parse_private_keys(&testdata("keys/second.key")).unwrap());
    let u = unseal(&sealed, &keys, UnsealOptions::default()).unwrap();
    assert_eq!(u.key_by_item["k"], 1);
    let err = unseal(&sealed, &DEMO_KEYS, UnsealOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (k)");
}

#[test]
fn the_key_that_opened_one_item_is_tried_first_for_the_next() {
    let items: BTreeMap<_, _> = (0..4).map(|i| (format!("k{i}"), b"v".to_vec())).collect();
    let sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    // Two keys of the same size, the right one last: only the first item pays for the wrong one.
    let mut keys = parse_private_keys(&testdata("keys/expired.key")).unwrap();
    keys.extend(parse_private_keys(&testdata("keys/second.key")).unwrap());
    let u = unseal(&sealed, &keys, UnsealOptions::default()).unwrap();
    assert!(u.key_by_item.values().all(|i| *i == 1), "{:?}", u.key_by_item);
    assert_eq!(u.rsa_operations, 4 + 1);
    // A key of another size costs nothing.
    let mut keys = parse_private_keys(&testdata("keys/demo.key")).unwrap();
    keys.extend(parse_private_keys(&testdata("keys/second.key")).unwrap());
    assert_eq!(
        unseal(&sealed, &keys, UnsealOptions::default()).unwrap().rsa_operations,
        4
    );
}

#[test]
fn reseal_moves_items_to_the_new_key_and_never_widens_scope() {
    use gitseal_core::rotate::reseal;
    let items: BTreeMap<_, _> = [("password".to_string(), b"p".to_vec())].into();
    let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    let template = sealed.spec.template.as_mut().unwrap();
    template.data = Some([("cfg".to_string(), Some("x={{ .password }}".to_string()))].into());
    // Someone widened the scope in the template only.
    template.metadata.get_or_insert_with(Default::default).annotations =
        Some([(CLUSTER_WIDE.to_string(), "true".to_string())].into());
    let demo = parse_private_keys(&testdata("keys/demo.key")).unwrap();
    let rotated = reseal(&sealed, &KEYS, demo[0].public_key(), UnsealOptions::default()).unwrap();
    let t = rotated.spec.template.as_ref().unwrap();
    assert!(
        t.metadata.as_ref().unwrap().annotations.is_none(),
        "template scope follows the outer (strict) scope"
    );
    assert_eq!(
        t.data.as_ref().unwrap()["cfg"].as_deref(),
        Some("x={{ .password }}"),
        "template kept, not baked"
    );
    assert!(
        unseal(&rotated, &KEYS, UnsealOptions::default()).is_err(),
        "sealed to the new key only"
    );
    let u = unseal(&rotated, &demo, UnsealOptions::default()).unwrap();
    let data = u.secret.data.unwrap();
    assert_eq!(data["password"].0, b"p");
    assert_eq!(data["cfg"].0, b"x=p");
}

#[test]
fn sealed_to_records_every_key_the_items_were_sealed_to() {
    use gitseal_core::rotate::reseal;
    let (second, demo) = (CERT.public_key(), DEMO_KEYS[0].public_key());
    let items: BTreeMap<_, _> = [("a".to_string(), b"1".to_vec())].into();
    let mut file = seal(secret_with(&items, "team-a", "app"), second, &opts()).unwrap();
    let recorded = |f: &SealedSecret| {
        sealed_to(f.annotations())
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(recorded(&file), [second.short_fingerprint()]);
    assert_eq!(second.short_fingerprint().len(), 16);
    assert_ne!(second.short_fingerprint(), demo.short_fingerprint());

    // --merge-into with another key: both are recorded, sorted, once each.
    let more = |k: &str| input(json!({"apiVersion": "v1", "kind": "Secret", "stringData": {k: "2"}}));
    merge_into(&mut file, more("b"), demo).unwrap();
    merge_into(&mut file, more("c"), second).unwrap();
    let mut both = vec![second.short_fingerprint(), demo.short_fingerprint()];
    both.sort();
    assert_eq!(recorded(&file), both);

    // A file that never said (kubeseal's) gets no partial record.
    let mut kubeseal_made = file.clone();
    kubeseal_made.metadata.annotations = None;
    merge_into(&mut kubeseal_made, more("d"), demo).unwrap();
    assert!(recorded(&kubeseal_made).is_empty());

    // Re-sealing moves every item, so the record is replaced, even where there was none.
    let all_keys: Vec<&PrivateKey> = KEYS.iter().chain(DEMO_KEYS.iter()).collect();
    for f in [&file, &kubeseal_made] {
        let rotated = reseal(f, &all_keys, demo, UnsealOptions::default()).unwrap();
        assert_eq!(recorded(&rotated), [demo.short_fingerprint()]);
    }

    // Reading is lenient and bounded: it is only a hint.
    let hint = |v: &str| sealed_to(Some(&[(SEALED_TO.to_string(), v.to_string())].into())).len();
    assert_eq!(hint(" a , ,b,"), 2);
    assert_eq!(hint(&vec!["x"; 100].join(",")), 16);
}

#[test]
fn unseal_is_all_or_nothing_and_names_bad_base64_and_short_items() {
    let items: BTreeMap<_, _> = [("a".to_string(), b"1".to_vec()), ("b".to_string(), b"2".to_vec())].into();
    let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    sealed.spec.encrypted_data.insert("c".into(), "not base64!".into());
    sealed
        .spec
        .encrypted_data
        .insert("d".into(), STANDARD.encode([0x02, 0x00, 1, 2, 3]));
    let err = unseal(&sealed, &KEYS, UnsealOptions::default()).unwrap_err();
    let UnsealError::Items(failures) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failures.len(), 2);
    assert!(matches!(failures[0], (ref k, ItemFailure::InvalidBase64(_)) if k == "c"));
    assert_eq!(failures[1], ("d".to_string(), ItemFailure::TooShort));
    let msg = err.to_string();
    assert!(
        msg.contains("item \"c\": invalid base64") && msg.contains("item \"d\": SealedSecret data is too short"),
        "{msg}"
    );
}

#[test]
fn template_data_renders_over_decrypted_items_and_overrides_them() {
    let items: BTreeMap<_, _> = [
        ("user".to_string(), b"admin".to_vec()),
        ("pass".to_string(), b"hunter2".to_vec()),
    ]
    .into();
    let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    sealed.spec.template.as_mut().unwrap().data = Some(
        [
            (
                "dsn".to_string(),
                Some("postgres://{{ .user }}:{{ .pass | sha1sum }}@db".to_string()),
            ),
            ("user".to_string(), Some("{{ .user | upper }}".to_string())),
        ]
        .into(),
    );
    let err = unseal(&sealed, &KEYS, UnsealOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"dsn\"") && msg.contains("sha1sum"), "{msg}");

    let tdata = sealed.spec.template.as_mut().unwrap().data.as_mut().unwrap();
    tdata.insert("dsn".into(), Some("postgres://{{ .user }}:{{ .pass }}@db".into()));
    let data = data_of(&sealed, &KEYS).unwrap();
    assert_eq!(data["dsn"], b"postgres://admin:hunter2@db");
    assert_eq!(data["user"], b"ADMIN");
    assert_eq!(data["pass"], b"hunter2");

    // A null template value drops the item, as the Go controller's map[string]*string does.
    let tdata = sealed.spec.template.as_mut().unwrap().data.as_mut().unwrap();
    tdata.insert("pass".into(), None);
    let data = data_of(&sealed, &KEYS).unwrap();
    assert!(!data.contains_key("pass"));
    assert_eq!(
        data["dsn"], b"postgres://admin:hunter2@db",
        "still rendered from the decrypted item"
    );
}

#[test]
fn templates_render_even_without_encrypted_items() {
    let sealed = SealedSecret {
        metadata: kube_meta("team-a", "static"),
        spec: SealedSecretSpec {
            template: Some(Box::new(SecretTemplateSpec {
                data: Some([("config".to_string(), Some("mode={{ \"prod\" }}".to_string()))].into()),
                ..Default::default()
            })),
            ..Default::default()
        },
        status: None,
    };
    assert_eq!(data_of(&sealed, &KEYS).unwrap()["config"], b"mode=prod");
}

fn kube_meta(ns: &str, name: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

/// A pre-v0.7 SealedSecret: the whole Secret as JSON in one hybrid blob in spec.data.
fn v1_sealed() -> SealedSecret {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old", "namespace": "team-a"},
                        "data": {"k": STANDARD.encode("legacy")}});
    let blob = hybrid::encrypt(CERT.public_key(), b"team-a/old", secret.to_string().as_bytes()).unwrap();
    SealedSecret {
        metadata: kube_meta("team-a", "old"),
        spec: SealedSecretSpec {
            data: Some(k8s_openapi::ByteString(blob)),
            ..Default::default()
        },
        status: None,
    }
}

#[test]
fn unseal_output_carries_no_owner_references_or_server_fields() {
    let items: BTreeMap<_, _> = [("k".to_string(), b"v".to_vec())].into();
    let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    let tmeta = sealed.spec.template.as_mut().unwrap().metadata.as_mut().unwrap();
    tmeta.owner_references = Some(vec![Default::default()]);
    tmeta.uid = Some("stale".into());
    tmeta.resource_version = Some("9".into());
    let u = unseal(&sealed, &KEYS, UnsealOptions::default()).unwrap();
    assert_eq!(u.secret.metadata.owner_references, None);
    assert_eq!(
        (&u.secret.metadata.uid, &u.secret.metadata.resource_version),
        (&None, &None)
    );
    let shown = format!("{u:?}");
    assert!(
        shown.contains("\"k\"") && !shown.contains("ByteString"),
        "Debug shows names, not values: {shown}"
    );
}

#[test]
fn deprecated_v1_data_needs_the_explicit_flag() {
    let sealed = v1_sealed();
    let err = unseal(&sealed, &KEYS, UnsealOptions::default()).unwrap_err();
    assert_eq!(err, UnsealError::DeprecatedV1Data);
    assert!(err.to_string().contains("--accept-deprecated-v1-data"));
    let ok = unseal(
        &sealed,
        &KEYS,
        UnsealOptions {
            accept_deprecated_v1_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ok.secret.data.unwrap()["k"].0, b"legacy");

    let mut both = v1_sealed();
    both.spec.encrypted_data.insert("x".into(), "AgA=".into());
    let err = unseal(
        &both,
        &KEYS,
        UnsealOptions {
            accept_deprecated_v1_data: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, UnsealError::BothDataFields);
}

#[test]
fn seal_follows_kubeseal_namespace_rules() {
    let s =
        || input(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"a": "b"}}));
    let s_ns = || {
        input(
            json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "x", "namespace": "team-a"}, "stringData": {"a": "b"}}),
        )
    };

    let filled = seal(
        s(),
        CERT.public_key(),
        &SealOptions {
            default_namespace: "from-context",
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(filled.metadata.namespace.as_deref(), Some("from-context"));

    let flag = seal(
        s(),
        CERT.public_key(),
        &SealOptions {
            namespace: Some("flag"),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(flag.metadata.namespace.as_deref(), Some("flag"));

    let err = seal(
        s_ns(),
        CERT.public_key(),
        &SealOptions {
            namespace: Some("team-b"),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("namespace mismatch"), "{err}");

    let cw = seal(
        s(),
        CERT.public_key(),
        &SealOptions {
            scope: Some(Scope::ClusterWide),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(cw.metadata.namespace, None, "cluster-wide does not fill in a namespace");

    let err = seal(
        s(),
        CERT.public_key(),
        &SealOptions {
            default_namespace: "",
            ..opts()
        },
    )
    .unwrap_err();
    assert_eq!(err, SealError::MissingNamespace(Scope::Strict));
}

#[test]
fn seal_strips_server_fields_and_plaintext_annotations() {
    let v = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": "x", "namespace": "team-a", "uid": "u", "resourceVersion": "1", "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z", "selfLink": "/x",
            "managedFields": [{"manager": "kubectl"}],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u2"}],
            "labels": {"app": "a"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"a\":\"c2VjcmV0\"}}", "keep": "me"}
        },
        "type": "Opaque", "immutable": true,
        "data": {"a": "c2VjcmV0"}
    });
    let sealed = seal(input(v), CERT.public_key(), &opts()).unwrap();
    let out = serde_json::to_value(&sealed).unwrap();
    let tmeta = &out["spec"]["template"]["metadata"];
    assert_eq!(
        tmeta,
        &json!({"name": "x", "namespace": "team-a", "labels": {"app": "a"}, "annotations": {"keep": "me"}})
    );
    assert_eq!(out["spec"]["template"]["type"], "Opaque");
    assert_eq!(out["spec"]["template"]["immutable"], true);
    assert_eq!(
        out["metadata"],
        json!({"name": "x", "namespace": "team-a", "annotations": {SEALED_TO: CERT.public_key().short_fingerprint()}}),
        "outer metadata: name, namespace, scope and the sealing key's fingerprint only"
    );
    assert!(!serde_json::to_string(&out).unwrap().contains("creationTimestamp"));
}

#[test]
fn scope_flag_rewrites_annotations_and_input_annotations_apply_without_it() {
    let v = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "x", "namespace": "n", "annotations": {NAMESPACE_WIDE: "true"}}, "stringData": {"a": "b"}});
    let kept = seal(input(v.clone()), CERT.public_key(), &opts()).unwrap();
    assert_eq!(Scope::from_annotations(kept.annotations()), Scope::NamespaceWide);

    let widened = seal(
        input(v),
        CERT.public_key(),
        &SealOptions {
            scope: Some(Scope::ClusterWide),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(Scope::from_annotations(widened.annotations()), Scope::ClusterWide);
    let tann = widened
        .spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref();
    assert_eq!(Scope::from_annotations(tann), Scope::ClusterWide);
    assert!(!tann.unwrap().contains_key(NAMESPACE_WIDE));
    assert!(check_structure(&widened, Some(CERT.public_key())).is_empty());
}

#[test]
fn input_rules_name_the_problem() {
    let err = |v: serde_json::Value| InputSecret::from_value(&v).unwrap_err().to_string();
    assert_eq!(
        err(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        "expected a v1 Secret, found v1/ConfigMap"
    );
    assert_eq!(
        err(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"pw": "%%%"}})),
        "data item \"pw\": invalid base64: invalid character at offset 0"
    );
    assert_eq!(
        err(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"port": 5432}})),
        "stringData item \"port\": expected a string, found a number (quote the value in YAML)"
    );
    let big = "x".repeat((1 << 20) + 1);
    assert!(err(json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"big": big}})).contains("over the 1 MiB"));

    let both = input(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
        "data": {"a": STANDARD.encode("from-data")}, "stringData": {"a": "from-stringData"}}));
    assert_eq!(both.items["a"].as_slice(), b"from-stringData");

    let seal_err = |v: serde_json::Value| seal(input(v), CERT.public_key(), &opts()).unwrap_err();
    assert_eq!(
        seal_err(json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"a": "b"}})),
        SealError::MissingName
    );
    assert_eq!(
        seal_err(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})),
        SealError::Empty
    );
    assert!(matches!(
        seal_err(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad_Name"}, "stringData": {"a": "b"}})
        ),
        SealError::InvalidName(_)
    ));
    assert!(matches!(
        seal_err(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "a.b"}, "stringData": {"a": "b"}})
        ),
        SealError::InvalidNamespace(_)
    ));
    assert!(matches!(
        seal_err(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"a/b": "c"}})),
        SealError::InvalidItem(_)
    ));
    let empty_ok = seal(
        input(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})),
        CERT.public_key(),
        &SealOptions {
            allow_empty_data: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(empty_ok.spec.encrypted_data.is_empty());
}

#[test]
fn merge_into_keeps_the_files_identity_scope_and_other_items() {
    let items: BTreeMap<_, _> = [
        ("keep".to_string(), b"old".to_vec()),
        ("swap".to_string(), b"old".to_vec()),
    ]
    .into();
    let o = SealOptions {
        scope: Some(Scope::NamespaceWide),
        ..opts()
    };
    let mut file = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &o).unwrap();
    let before_keep = file.spec.encrypted_data["keep"].clone();
    let other_ns = input(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "app", "namespace": "team-b"}, "stringData": {"swap": "new"}}));
    let err = merge_into(&mut file.clone(), other_ns, CERT.public_key()).unwrap_err();
    assert!(err.to_string().starts_with("namespace mismatch"), "{err}");
    let update = input(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ignored", "labels": {"new": "label"}},
        "stringData": {"swap": "new", "added": "yes"}}));
    let written = merge_into(&mut file, update, CERT.public_key()).unwrap();
    assert_eq!(written, ["added", "swap"]);
    assert_eq!(
        file.spec.encrypted_data["keep"], before_keep,
        "untouched items stay byte-identical"
    );
    assert_eq!(file.metadata.name.as_deref(), Some("app"));
    assert_eq!(Scope::from_annotations(file.annotations()), Scope::NamespaceWide);
    let data = data_of(&file, &KEYS).unwrap();
    assert_eq!(
        (
            data["keep"].as_slice(),
            data["swap"].as_slice(),
            data["added"].as_slice()
        ),
        (&b"old"[..], &b"new"[..], &b"yes"[..])
    );
    let labels = file.spec.template.unwrap().metadata.unwrap().labels.unwrap();
    assert_eq!(labels["new"], "label");

    // A file still on the deprecated spec.data can't take encryptedData items.
    let mut v1 = v1_sealed();
    let err = merge_into(
        &mut v1,
        input(json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"a": "b"}})),
        CERT.public_key(),
    );
    assert!(err.unwrap_err().to_string().contains("deprecated spec.data"));
}

#[test]
fn rendered_template_data_counts_against_the_1_mib_limit() {
    let items: BTreeMap<_, _> = [("k".to_string(), vec![b'x'; 600_000])].into();
    let mut sealed = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    sealed.spec.template.as_mut().unwrap().data = Some([("copy".to_string(), Some("{{ .k }}".to_string()))].into());
    let err = unseal(&sealed, &KEYS, UnsealOptions::default()).unwrap_err();
    assert!(
        matches!(err, UnsealError::TooLarge { ref key, .. } if key == "k"),
        "{err}"
    );
}

#[test]
fn raw_values_need_the_identity_their_scope_binds() {
    let key = CERT.public_key();
    assert_eq!(
        seal_raw(b"v", key, Scope::Strict, "team-a", ""),
        Err(SealError::MissingName)
    );
    assert_eq!(
        seal_raw(b"v", key, Scope::NamespaceWide, "", ""),
        Err(SealError::MissingNamespace(Scope::NamespaceWide))
    );
    let cw = seal_raw(b"anywhere", key, Scope::ClusterWide, "", "").unwrap();
    assert_eq!(
        unseal_raw(&cw, &KEYS, Scope::ClusterWide, "", "").unwrap().as_slice(),
        b"anywhere"
    );
    let strict = seal_raw(b"", key, Scope::Strict, "team-a", "db").unwrap();
    assert_eq!(
        unseal_raw(&strict, &KEYS, Scope::Strict, "team-a", "db")
            .unwrap()
            .as_slice(),
        b""
    );
    assert!(unseal_raw(&strict, &KEYS, Scope::Strict, "team-b", "db").is_err());
    assert!(unseal_raw(&strict, &KEYS, Scope::NamespaceWide, "team-a", "").is_err());
    let e = unseal_raw(&strict, &KEYS, Scope::Strict, "team-a", "").unwrap_err();
    assert_eq!(e.to_string(), "strict scope needs the name the value was sealed for");
}

#[test]
fn structural_validation_reports_each_problem() {
    let items: BTreeMap<_, _> = [("a".to_string(), b"1".to_vec()), ("b".to_string(), b"2".to_vec())].into();
    let mut s = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    assert!(check_structure(&s, Some(CERT.public_key())).is_empty());
    let demo = Certificate::from_pem(&testdata("keys/demo.crt")).unwrap();
    let problems = check_structure(&s, Some(demo.public_key()));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("2048-bit key, but the certificate's key is 4096-bit"));

    s.spec.encrypted_data.insert("c".into(), "@@@".into());
    s.spec.encrypted_data.insert("d".into(), STANDARD.encode([1u8, 0, 0]));
    s.metadata.annotations = Some([(NAMESPACE_WIDE.to_string(), "true".to_string())].into());
    s.metadata.name = Some("Bad".into());
    let problems = check_structure(&s, None);
    let joined = problems.join("\n");
    assert!(joined.contains("metadata.name"), "{joined}");
    assert!(
        joined.contains("scope annotations disagree: metadata says namespace-wide, spec.template.metadata says strict"),
        "{joined}"
    );
    assert!(joined.contains("item \"c\": invalid base64"), "{joined}");
    assert!(
        joined.contains("item \"d\": SealedSecret data is too short"),
        "{joined}"
    );
}

#[test]
fn key_material_in_every_accepted_shape() {
    let pem = parse_private_keys(&testdata("keys/second.key")).unwrap();
    let secret = parse_private_keys(&testdata("keys/second-key-secret.yaml")).unwrap();
    assert_eq!(pem[0].fingerprint(), secret[0].fingerprint());
    assert_eq!(pem[0].fingerprint(), CERT.public_key().fingerprint());
    // Several PEM files concatenated, certificates interleaved, all load.
    let mut bundle = testdata("keys/second.key");
    bundle.extend(testdata("keys/demo.crt"));
    bundle.extend(testdata("keys/demo.key"));
    assert_eq!(parse_private_keys(&bundle).unwrap().len(), 2);

    assert_eq!(
        parse_private_keys(b"garbage").unwrap_err().to_string(),
        "document 1 (line 1): expected an object, found a string"
    );
    assert_eq!(
        parse_private_keys(b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n").unwrap_err(),
        KeyError::UnsupportedPem("EC PRIVATE KEY".into())
    );
    let no_tls_key = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: k\ndata:\n  other: YQ==\n";
    assert!(
        parse_private_keys(no_tls_key)
            .unwrap_err()
            .to_string()
            .contains("must contain a 'tls.key' data item")
    );
    assert_eq!(
        parse_private_keys(&testdata("keys/demo.crt")).unwrap_err(),
        KeyError::NoPrivateKey
    );
}

#[test]
fn expired_certificates_are_refused_with_kubeseals_message() {
    let expired = Certificate::from_pem(&testdata("keys/expired.crt")).unwrap();
    let err = expired
        .check_not_expired(time::OffsetDateTime::now_utc())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("failed to encrypt using an expired certificate on "),
        "{err}"
    );
    assert!(CERT.check_not_expired(time::OffsetDateTime::now_utc()).is_ok());
    assert!(Certificate::from_pem(b"not a cert").is_err());
}

#[test]
fn v2_items_mix_with_bitnami_items_in_one_sealed_secret() {
    use gitseal_core::rotate::reseal;
    use gitseal_core::unseal::unseal_with;
    use gitseal_core::v2::{Identity, Recipient};
    let (cluster, recovery) = (Identity::generate(), Identity::generate());
    let recipients: Vec<Recipient> = vec![cluster.recipient().clone(), recovery.recipient().clone()];

    // Bitnami items first, then a v2 item merged in.
    let items: BTreeMap<_, _> = [("rsa".to_string(), b"from-kubeseal".to_vec())].into();
    let mut file = seal(secret_with(&items, "team-a", "app"), CERT.public_key(), &opts()).unwrap();
    let more = input(json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"age": "from-gitseal"}}));
    merge_into(&mut file, more, recipients.as_slice()).unwrap();
    assert!(gitseal_core::v2::is_v2(&file.spec.encrypted_data["age"]));
    assert!(!gitseal_core::v2::is_v2(&file.spec.encrypted_data["rsa"]));
    assert_eq!(
        sealed_to(file.annotations()),
        [CERT.public_key().short_fingerprint().as_str()],
        "the RSA record is unchanged by v2 items"
    );

    // Both formats open together; either recipient opens the v2 item.
    for id in [&cluster, &recovery] {
        let u = unseal_with(&file, &KEYS, &[id], UnsealOptions::default()).unwrap();
        let data = u.secret.data.unwrap();
        assert_eq!(
            (data["rsa"].0.as_slice(), data["age"].0.as_slice()),
            (&b"from-kubeseal"[..], &b"from-gitseal"[..])
        );
        assert_eq!(u.v2_items, 1);
    }
    // Without an identity the v2 item fails, by name, and nothing is unsealed.
    let err = unseal(&file, &KEYS, UnsealOptions::default()).unwrap_err();
    assert_eq!(err.failed_items(), ["age"]);
    assert!(err.to_string().contains("item \"age\": no identity matches"), "{err}");
    let stranger = Identity::generate();
    assert!(unseal_with(&file, &KEYS, &[&stranger], UnsealOptions::default()).is_err());

    // Copied into another SealedSecret, the v2 value is refused: it binds the name.
    let mut other = file.clone();
    other.metadata.name = Some("other".into());
    other.spec.encrypted_data.remove("rsa");
    let err = unseal_with(&other, &KEYS, &[&cluster], UnsealOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("is bound to scope=strict namespace=team-a name=app key=age"),
        "{err}"
    );
    // Or into another item of the same one.
    let mut swapped = file.clone();
    let v = swapped.spec.encrypted_data.remove("age").unwrap();
    swapped.spec.encrypted_data.insert("renamed".into(), v);
    assert!(unseal_with(&swapped, &KEYS, &[&cluster], UnsealOptions::default()).is_err());

    // Rotation moves Bitnami items and leaves v2 items (their recipients may be
    // recovery keys the controller doesn't hold) byte-identical.
    let rotated = reseal(&file, &KEYS, DEMO_KEYS[0].public_key(), UnsealOptions::default()).unwrap();
    assert_eq!(rotated.spec.encrypted_data["age"], file.spec.encrypted_data["age"]);
    assert_ne!(rotated.spec.encrypted_data["rsa"], file.spec.encrypted_data["rsa"]);
    let u = unseal_with(&rotated, &DEMO_KEYS, &[&recovery], UnsealOptions::default()).unwrap();
    assert_eq!(u.secret.data.unwrap()["rsa"].0, b"from-kubeseal");

    // Structure checks accept v2 items without a key.
    assert_eq!(check_structure(&file, Some(CERT.public_key())), Vec::<String>::new());
    let mut broken = file.clone();
    broken
        .spec
        .encrypted_data
        .insert("bad".into(), "gitseal:v2:abc:AAAA".into());
    let problems = check_structure(&broken, None);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("item \"bad\": truncated or malformed age header"),
        "{problems:?}"
    );
}

#[test]
fn generated_key_secrets_carry_an_age_identity_that_parses_back() {
    use gitseal_core::keys::{AGE_KEY, KeyGenParams, generate, key_secret, parse_age_identities};
    let key = generate(&KeyGenParams {
        bits: 2048,
        common_name: String::new(),
        not_before: time::OffsetDateTime::now_utc(),
        validity: time::Duration::days(1),
    })
    .unwrap();
    let secret = key_secret(&key, "kube-system", "sealed-secrets-keyabc");
    let file = String::from_utf8(secret.data.as_ref().unwrap()[AGE_KEY].0.clone()).unwrap();
    assert!(file.contains(&format!("# public key: {}", key.age_identity.recipient().as_str())));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [serde_json::to_value(&secret).unwrap()]});
    let ids = parse_age_identities(serde_json::to_string(&list).unwrap().as_bytes()).unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].recipient().as_str(), key.age_identity.recipient().as_str());
    // The certificate carries the same recipient, so a pinned certificate seals
    // v2 items too; certificates Bitnami's controller made carry none.
    let from_cert = key.certificate.age_recipient().unwrap().unwrap();
    assert_eq!(from_cert.as_str(), key.age_identity.recipient().as_str());
    let reparsed = Certificate::from_pem(key.certificate.to_pem().as_bytes()).unwrap();
    assert_eq!(reparsed.age_recipient().unwrap().unwrap().as_str(), from_cert.as_str());
    assert!(CERT.age_recipient().is_none());
    // An identity file reads as it is; PEM holds none.
    assert_eq!(parse_age_identities(file.as_bytes()).unwrap().len(), 1);
    assert!(parse_age_identities(&testdata("keys/second.key")).unwrap().is_empty());
}
