//! gitseal's sealing core, free of I/O.
//!
//! - [`scope`]: the three scopes and the OAEP label each binds;
//! - [`hybrid`]: the per-item RSA-OAEP + AES-GCM format, byte-compatible with Sealed Secrets;
//! - [`keys`]: private keys, certificates, fingerprints and key generation;
//! - [`manifest`]: multi-document YAML/JSON in and out;
//! - [`v2`]: gitseal's own item format, sealed with age to any number of recipients;
//! - [`seal`] and [`unseal`]: Secret ↔ SealedSecret conversion, in either format;
//! - [`validate`]: structural checks needing no private key.
//!
//! Callers supply bytes and the current time; nothing here touches files, the
//! network or the clock.

pub mod duration;
pub mod hybrid;
pub mod keys;
pub mod manifest;
pub mod meta;
pub mod names;
pub mod rotate;
pub mod scan;
pub mod scope;
pub mod seal;
pub mod unseal;
pub mod v2;
pub mod validate;

pub use gitseal_api as api;
pub use keys::{Certificate, PrivateKey, PublicKey};
pub use scope::Scope;
