//! Per-item seal and unseal with an RSA-4096 key, next to the raw aws-lc-rs
//! RSA-OAEP operation measured in the same run. Target: within 1.2x of raw.
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

criterion_group!(benches, bench);
criterion_main!(benches);
