//! Per-item seal and unseal with an RSA-4096 key, next to the raw aws-lc-rs
//! RSA-OAEP operation measured in the same run. Target: within 1.2x of raw.
//!
//! v2 (age) items: unseal of a 1 KiB value, next to the age crate's own decrypt
//! of the same file. Target: at least 10,000 items/s on one core.
//!
//! `cargo bench -p gitseal-core --bench item`

use std::hint::black_box;
use std::path::Path;

use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use criterion::{Criterion, criterion_group, criterion_main};
use gitseal_core::keys::{Certificate, parse_private_keys};
use gitseal_core::{Scope, hybrid};

fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)).unwrap()
}

fn bench(c: &mut Criterion) {
    let cert = Certificate::from_pem(&testdata("keys/demo.crt")).unwrap();
    let keys = parse_private_keys(&testdata("keys/demo.key")).unwrap();
    let label = Scope::Strict.label("team-a", "db-credentials");
    let item = b"a typical secret value, e.g. a password or token";

    // The raw operations gitseal wraps: OAEP of a 32-byte session key under the same label.
    let raw_pub =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(cert.public_key().spki_der()).unwrap()).unwrap();
    let pem = pem::parse(testdata("keys/demo.key")).unwrap();
    let pkcs8 = pkcs1_to_pkcs8(pem.contents());
    let raw_priv = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&pkcs8).unwrap()).unwrap();
    let session = [7u8; 32];
    let mut wrapped = vec![0u8; raw_pub.ciphertext_size()];
    raw_pub
        .encrypt(&OAEP_SHA256_MGF1SHA256, &session, &mut wrapped, Some(&label))
        .unwrap();

    let mut g = c.benchmark_group("rsa4096_seal_item");
    g.bench_function("raw_aws_lc_oaep_encrypt", |b| {
        let mut out = vec![0u8; raw_pub.ciphertext_size()];
        b.iter(|| {
            raw_pub
                .encrypt(&OAEP_SHA256_MGF1SHA256, black_box(&session), &mut out, Some(&label))
                .unwrap();
        })
    });
    g.bench_function("gitseal_hybrid_encrypt", |b| {
        b.iter(|| hybrid::encrypt(cert.public_key(), black_box(&label), black_box(item)).unwrap())
    });
    g.finish();

    let sealed = hybrid::encrypt(cert.public_key(), &label, item).unwrap();
    let mut g = c.benchmark_group("rsa4096_unseal_item");
    g.bench_function("raw_aws_lc_oaep_decrypt", |b| {
        let mut out = vec![0u8; raw_priv.min_output_size()];
        b.iter(|| {
            raw_priv
                .decrypt(&OAEP_SHA256_MGF1SHA256, black_box(&wrapped), &mut out, Some(&label))
                .unwrap();
        })
    });
    g.bench_function("gitseal_hybrid_decrypt", |b| {
        b.iter(|| hybrid::decrypt(&keys, black_box(&label), black_box(&sealed)).unwrap())
    });
    g.finish();
}

fn bench_v2(c: &mut Criterion) {
    use criterion::Throughput;
    use gitseal_core::v2::{self, Binding, Identity};
    let id = Identity::generate();
    let binding = Binding {
        scope: Scope::Strict,
        namespace: "team-a",
        name: "db-credentials",
        key: "config",
    };
    let value = vec![b'x'; 1024];
    let sealed = v2::seal(&value, std::slice::from_ref(id.recipient()), &binding).unwrap();
    let age_file = v2::parse(&sealed).unwrap().age;
    // The same identity, as the age crate's own type.
    let file = id.to_file("");
    let line = file.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")).unwrap();
    let raw_identity: age::x25519::Identity = line.parse().unwrap();

    let mut g = c.benchmark_group("v2_unseal_1kib_item");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_age_decrypt", |b| {
        b.iter(|| age::decrypt(&raw_identity, black_box(&age_file)).unwrap())
    });
    g.bench_function("gitseal_v2_open", |b| {
        b.iter(|| v2::open(black_box(&sealed), &[&id], &binding).unwrap().0)
    });
    g.finish();

    let mut g = c.benchmark_group("v2_seal_1kib_item");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gitseal_v2_seal", |b| {
        b.iter(|| v2::seal(black_box(&value), std::slice::from_ref(id.recipient()), &binding).unwrap())
    });
    g.finish();
}

/// Test-only: wraps the demo key's PKCS#1 in PKCS#8 for the raw aws-lc-rs API.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    use pkcs8::der::Encode as _;
    pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        },
        pkcs1,
    )
    .to_der()
    .unwrap()
}

criterion_group!(benches, bench, bench_v2);
criterion_main!(benches);
