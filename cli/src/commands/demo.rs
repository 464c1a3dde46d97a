//! `gitseal demo`: the main job on an embedded default, no cluster needed.
//!
//! Seals the Secrets under `testdata/secrets` to the demo certificate, prints the
//! SealedSecrets, unseals them with the demo key and checks every byte came back.

use anyhow::{Context as _, Result, ensure};
use gitseal_core::Certificate;
use gitseal_core::keys::parse_private_keys;
use gitseal_core::manifest::{Format, to_document};
use gitseal_core::seal::{InputSecret, SealOptions, seal};
use gitseal_core::unseal::{UnsealOptions, unseal};

use super::objects;
use crate::io::{self, Source};

const CERT: &str = include_str!("../../../testdata/keys/demo.crt");
const KEY: &str = include_str!("../../../testdata/keys/demo.key");
const SECRETS: &[(&str, &str)] = &[
    (
        "testdata/secrets/db-credentials.yaml",
        include_str!("../../../testdata/secrets/db-credentials.yaml"),
    ),
    (
        "testdata/secrets/registry-and-tls.yaml",
        include_str!("../../../testdata/secrets/registry-and-tls.yaml"),
    ),
];

pub fn run() -> Result<()> {
    let cert = Certificate::from_pem(CERT.as_bytes()).context("testdata/keys/demo.crt")?;
    let keys = parse_private_keys(KEY.as_bytes()).context("testdata/keys/demo.key")?;
    let sources: Vec<Source> = SECRETS
        .iter()
        .map(|(name, text)| Source {
            name: name.to_string(),
            bytes: text.as_bytes().to_vec().into(),
        })
        .collect();
    let opts = SealOptions {
        default_namespace: "default",
        ..Default::default()
    };
    let (mut secrets, mut items) = (0, 0);
    for obj in objects(&sources)? {
        let input = InputSecret::from_value(&obj.value).with_context(|| obj.describe())?;
        let want = input.items.clone();
        let sealed = seal(input, cert.public_key(), &opts).with_context(|| obj.describe())?;
        io::emit(
            None,
            to_document(&sealed, Format::Yaml)
                .map_err(anyhow::Error::msg)?
                .as_bytes(),
            None,
        )?;
        let back = unseal(&sealed, &keys, UnsealOptions::default()).with_context(|| obj.describe())?;
        let data = back.secret.data.unwrap_or_default();
        ensure!(data.len() == want.len(), "{}: item count changed", obj.describe());
        for (k, v) in &want {
            ensure!(
                data.get(k).map(|b| b.0.as_slice()) == Some(v.as_slice()),
                "{}: item {k:?} changed",
                obj.describe()
            );
        }
        secrets += 1;
        items += want.len();
    }
    eprintln!(
        "demo: sealed {secrets} Secrets ({items} items) from testdata/secrets to {} ({}-bit, testdata/keys/demo.crt),\n\
         demo: unsealed them with testdata/keys/demo.key: every item round-tripped byte for byte.",
        cert.public_key().fingerprint(),
        cert.public_key().bits()
    );
    Ok(())
}
