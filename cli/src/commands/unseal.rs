//! `gitseal unseal`: offline recovery with private keys.

use anyhow::{Context as _, Result, bail};
use gitseal_core::Scope;
use gitseal_core::manifest::to_document;
use gitseal_core::unseal::{UnsealOptions, unseal, unseal_raw};

use super::{objects, sealed_secret};
use crate::cli::UnsealArgs;
use crate::io;

/// Decrypted output is written with owner-only permissions.
const PRIVATE: Option<u32> = Some(0o600);

pub fn run(args: &UnsealArgs) -> Result<()> {
    let keys = io::load_keys(&args.keys)?;
    let sources = io::read_inputs(&args.io.inputs())?;
    if args.raw {
        let src = &sources[0];
        let text = String::from_utf8_lossy(&src.bytes);
        let plain = unseal_raw(&text, &keys, Scope::from(args.scope), &args.namespace, &args.name)
            .with_context(|| src.name.clone())?;
        return io::emit(args.io.output.as_deref(), &plain, PRIVATE);
    }
    let objs = objects(&sources)?;
    if objs.is_empty() {
        bail!("no SealedSecret found in the input");
    }
    let opts = UnsealOptions {
        accept_deprecated_v1_data: args.accept_deprecated_v1_data,
    };
    let format = args.io.format();
    let mut out = zeroize::Zeroizing::new(String::new());
    for obj in &objs {
        let sealed = sealed_secret(obj)?;
        let unsealed = unseal(&sealed, &keys, opts).with_context(|| obj.describe())?;
        out.push_str(&to_document(&unsealed.secret, format).map_err(anyhow::Error::msg)?);
    }
    io::emit(args.io.output.as_deref(), out.as_bytes(), PRIVATE)
}
