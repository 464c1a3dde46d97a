//! `gitseal keygen`: a controller-shaped key pair for bring-your-own-key setups.

use anyhow::Result;
use gitseal_core::keys::{KeyGenParams, generate, key_secret};
use gitseal_core::manifest::{Format, to_document};
use time::OffsetDateTime;

use crate::cli::KeygenArgs;
use crate::io::{self, usage};

pub fn run(args: &KeygenArgs) -> Result<()> {
    let outputs = [Some(&args.key_out), Some(&args.cert_out), args.secret_out.as_ref()];
    if !args.force {
        for p in outputs.into_iter().flatten() {
            if p.exists() {
                return Err(usage(format!(
                    "{}: already exists; pass --force to overwrite it",
                    p.display()
                )));
            }
        }
    }
    let params = KeyGenParams {
        bits: args.key_size,
        common_name: args.my_cn.clone(),
        not_before: OffsetDateTime::now_utc(),
        validity: io::parse_go_duration(&args.key_ttl)?,
    };
    let key = generate(&params).map_err(|e| usage(e.to_string()))?;
    let cert_pem = key.certificate.to_pem();
    let mut files: Vec<(&std::path::Path, &[u8], u32)> = vec![
        (&args.key_out, key.private_key_pem.as_bytes(), 0o600),
        (&args.cert_out, cert_pem.as_bytes(), 0o644),
    ];
    let secret_yaml;
    if let Some(path) = &args.secret_out {
        let name = args.secret_name.clone().unwrap_or_else(random_key_name);
        let secret = key_secret(&key, &args.secret_namespace, &name);
        secret_yaml = zeroize::Zeroizing::new(to_document(&secret, Format::Yaml).map_err(anyhow::Error::msg)?);
        files.push((path, secret_yaml.as_bytes(), 0o600));
    }
    io::write_all_atomic(&files, args.force)?;
    eprintln!(
        "generated a {}-bit key {} (certificate valid until {})",
        args.key_size,
        key.private_key.fingerprint(),
        key.certificate.not_after().date()
    );
    Ok(())
}

/// `sealed-secrets-key` plus five characters, like the controller's generateName.
fn random_key_name() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = [0u8; 5];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    let suffix: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("sealed-secrets-key{suffix}")
}
