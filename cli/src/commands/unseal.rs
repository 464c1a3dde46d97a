//! `gitseal unseal`: offline recovery with private keys.

use anyhow::{Context as _, Result};
use gitseal_core::Scope;
use gitseal_core::manifest::to_document;
use gitseal_core::unseal::{UnsealOptions, unseal_raw, unseal_with};

use super::{objects_or_nothing, sealed_secret};
use crate::cli::UnsealArgs;
use crate::io;

/// Decrypted output is written with owner-only permissions.
const PRIVATE: Option<u32> = Some(0o600);

pub fn run(args: &UnsealArgs, kube: io::Kube<'_>) -> Result<()> {
    let keys = io::load_keys(&args.keys)?;
    let identities = io::load_identities(&args.identities, &args.keys)?;
    let identities: Vec<&gitseal_core::v2::Identity> = identities.iter().collect();
    if args.raw {
        let src = io::read_single_input(&args.io.inputs())?;
        let text = String::from_utf8_lossy(&src.bytes);
        let scope = Scope::from(args.scope);
        let namespace = io::raw_namespace(args.namespace.as_deref(), scope, kube)?;
        let plain = unseal_raw(&text, &keys, scope, &namespace, &args.name).with_context(|| src.name.clone())?;
        return io::emit(args.io.output.as_deref(), &plain, PRIVATE);
    }
    let sources = io::read_inputs(&args.io.inputs())?;
    let objs = objects_or_nothing(&sources, "SealedSecret")?;
    let opts = UnsealOptions {
        accept_deprecated_v1_data: args.accept_deprecated_v1_data,
        ..Default::default()
    };
    let format = args.io.format();
    let mut out = zeroize::Zeroizing::new(String::new());
    for obj in &objs {
        let sealed = sealed_secret(obj)?;
        let unsealed = unseal_with(&sealed, &keys, &identities, opts).with_context(|| obj.describe())?;
        let doc = zeroize::Zeroizing::new(to_document(&unsealed.secret, format).map_err(anyhow::Error::msg)?);
        out.push_str(&doc);
    }
    io::emit(args.io.output.as_deref(), out.as_bytes(), PRIVATE)
}
