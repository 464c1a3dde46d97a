//! The key set: every loaded sealing key, newest first, built from key Secrets.
//!
//! Pure: no I/O. [`crate::keywatch`] feeds it from the cluster.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::{digest, hmac};
use gitseal_api::annotations::SEALED_SECRETS_KEY_LABEL;
use gitseal_core::{Certificate, PrivateKey};
use k8s_openapi::api::core::v1::Secret;
use time::OffsetDateTime;

use crate::config::KeyOrderPriority;

/// A key's label value. Any other value means "not loaded", as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Decrypts and is served for sealing.
    Active,
    /// Still decrypts, never served for sealing.
    Compromised,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Compromised => "compromised",
        }
    }
}

/// One loaded key.
pub struct LoadedKey {
    /// The key Secret's name.
    pub name: String,
    pub key: PrivateKey,
    pub certificate: Certificate,
    pub status: KeyStatus,
    /// When it became current: the cert's notBefore or the Secret's creation time.
    pub order_time: OffsetDateTime,
    /// The first 16 characters of the SHA-256 public-key fingerprint.
    pub short_fingerprint: String,
    /// Its X25519 identity for v2 items (`age.key`), if the Secret has one: keys
    /// made by Bitnami's controller don't.
    pub age: Option<gitseal_core::v2::Identity>,
    /// Secret material for the content MAC, derived from the private key.
    mac_seed: [u8; 32],
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("name", &self.name)
            .field("status", &self.status)
            .field("fingerprint", &self.short_fingerprint)
            .finish_non_exhaustive()
    }
}

/// The short form of a key fingerprint used in annotations and metric labels.
pub fn short_fingerprint(key: &PrivateKey) -> String {
    key.public_key().short_fingerprint()
}

/// Parses one key Secret. `None` if its label says it isn't loaded.
pub fn parse_key_secret(
    secret: &Secret,
    priority: KeyOrderPriority,
    legacy_name: &str,
) -> Option<Result<LoadedKey, String>> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let label = secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SEALED_SECRETS_KEY_LABEL));
    let status = match label.map(String::as_str) {
        Some("active") => KeyStatus::Active,
        Some("compromised") => KeyStatus::Compromised,
        // The legacy single key is loaded whatever its labels say.
        _ if name == legacy_name => KeyStatus::Active,
        _ => return None,
    };
    Some(parse_material(secret, &name, status, priority))
}

fn parse_material(
    secret: &Secret,
    name: &str,
    status: KeyStatus,
    priority: KeyOrderPriority,
) -> Result<LoadedKey, String> {
    let data = secret.data.as_ref().ok_or("it has no data")?;
    let key_pem = data.get("tls.key").ok_or("it has no tls.key")?;
    let cert_pem = data.get("tls.crt").ok_or("it has no tls.crt")?;
    let key = gitseal_core::keys::parse_private_keys(&key_pem.0)
        .map_err(|e| format!("tls.key: {e}"))?
        .into_iter()
        .next()
        .ok_or("tls.key holds no private key")?;
    let certificate = Certificate::from_pem(&cert_pem.0).map_err(|e| format!("tls.crt: {e}"))?;
    if certificate.public_key().fingerprint() != key.fingerprint() {
        return Err("tls.crt does not belong to tls.key".into());
    }
    // A broken age.key must not take the RSA key (and every Bitnami item sealed
    // to it) down with it: the key loads without its age identity.
    let age = match data.get(gitseal_core::keys::AGE_KEY) {
        None => None,
        Some(file) => match gitseal_core::v2::Identity::parse_bytes(&file.0) {
            Ok(mut ids) => Some(ids.remove(0)),
            Err(error) => {
                tracing::warn!(
                    secret = name,
                    error = %error,
                    "age.key is unusable; the key loads without it (no v2 items)"
                );
                None
            }
        },
    };
    let order_time = match priority {
        KeyOrderPriority::CertNotBefore => certificate.not_before(),
        KeyOrderPriority::SecretCreationTimestamp => secret
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t.0.as_second()).ok())
            .unwrap_or_else(|| certificate.not_before()),
    };
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"gitseal/content-mac/v1\0");
    ctx.update(&key_pem.0);
    let mut mac_seed = [0u8; 32];
    mac_seed.copy_from_slice(ctx.finish().as_ref());
    Ok(LoadedKey {
        name: name.to_string(),
        short_fingerprint: short_fingerprint(&key),
        key,
        certificate,
        status,
        order_time,
        mac_seed,
        age,
    })
}

/// All loaded keys, newest first.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Arc<LoadedKey>>,
    mac_key: Option<hmac::Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter()).finish()
    }
}

impl KeySet {
    pub fn new(mut keys: Vec<Arc<LoadedKey>>) -> Self {
        keys.sort_by(|a, b| b.order_time.cmp(&a.order_time).then_with(|| b.name.cmp(&a.name)));
        keys.dedup_by(|a, b| a.key.fingerprint() == b.key.fingerprint());
        // The MAC key comes from the oldest key: it changes only if that key goes.
        let mac_key = keys.last().map(|k| hmac::Key::new(hmac::HMAC_SHA256, &k.mac_seed));
        KeySet { keys, mac_key }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Newest first.
    pub fn keys(&self) -> &[Arc<LoadedKey>] {
        &self.keys
    }

    /// Every key's age identity, newest first: all decrypt, compromised ones too.
    pub fn age_identities(&self) -> Vec<&gitseal_core::v2::Identity> {
        self.keys.iter().filter_map(|k| k.age.as_ref()).collect()
    }

    /// The age recipients to seal to: those of the active keys, newest first.
    pub fn recipients(&self) -> Vec<&gitseal_core::v2::Recipient> {
        self.keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .filter_map(|k| k.age.as_ref().map(|a| a.recipient()))
            .collect()
    }

    /// The key new SealedSecrets are sealed to: the newest active one.
    pub fn current(&self) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().find(|k| k.status == KeyStatus::Active)
    }

    /// The MAC key for Secret content (see [`crate::digest`]).
    pub fn mac_key(&self) -> Option<&hmac::Key> {
        self.mac_key.as_ref()
    }

    /// Decryption order: the keys named in `hint` (short fingerprints of the keys
    /// that opened this SealedSecret last time) first, then newest to oldest.
    pub fn decryption_order(&self, hint: &[&str]) -> Vec<&PrivateKey> {
        let mut order: Vec<&PrivateKey> = Vec::with_capacity(self.keys.len());
        for h in hint {
            if let Some(k) = self.keys.iter().find(|k| k.short_fingerprint == *h)
                && !order.iter().any(|o| std::ptr::eq(*o, &k.key))
            {
                order.push(&k.key);
            }
        }
        for k in &self.keys {
            if !order.iter().any(|o| std::ptr::eq(*o, &k.key)) {
                order.push(&k.key);
            }
        }
        order
    }

    /// The short fingerprint of the key whose age identity `identity` is (one of
    /// [`Self::age_identities`]).
    pub fn fingerprint_of_identity(&self, identity: &gitseal_core::v2::Identity) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.age.as_ref().is_some_and(|a| std::ptr::eq(a, identity)))
            .map(|k| k.short_fingerprint.as_str())
    }

    /// The short fingerprint of the key at `index` in a [`Self::decryption_order`] result.
    pub fn fingerprint_of(&self, key: &PrivateKey) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| std::ptr::eq(&k.key, key))
            .map(|k| k.short_fingerprint.as_str())
    }

    /// Whether the leader must generate a key: none is active, or the newest
    /// active one became current before `cutoff`.
    pub fn needs_new_key(&self, cutoff: Option<OffsetDateTime>) -> bool {
        match self.current() {
            None => true,
            Some(k) => cutoff.is_some_and(|c| k.order_time < c),
        }
    }

    /// When the next key is due: `period` after the newest active key, never in
    /// the past. `None` if renewal is off.
    pub fn next_renewal(&self, period: std::time::Duration, now: OffsetDateTime) -> Option<std::time::Duration> {
        if period.is_zero() {
            return None;
        }
        let newest = self.current().map_or(now, |k| k.order_time);
        let due = newest + period;
        Some(if due <= now {
            std::time::Duration::ZERO
        } else {
            (due - now).unsigned_abs()
        })
    }

    /// Status of the key with this short fingerprint, if loaded.
    pub fn status_of(&self, short_fingerprint: &str) -> Option<KeyStatus> {
        self.keys
            .iter()
            .find(|k| k.short_fingerprint == short_fingerprint)
            .map(|k| k.status)
    }
}

/// Parses key Secrets, reusing earlier parses of unchanged Secrets (keyed by
/// name and resourceVersion), so a key event doesn't re-parse every key.
#[derive(Default)]
pub struct KeyCache {
    parsed: HashMap<(String, String), Result<Arc<LoadedKey>, String>>,
}

impl KeyCache {
    /// Builds the key set. Malformed key Secrets are returned as (name, error)
    /// and skipped: they never stop the controller.
    pub fn build<'a>(
        &mut self,
        secrets: impl IntoIterator<Item = &'a Secret>,
        priority: KeyOrderPriority,
        legacy_name: &str,
    ) -> (KeySet, Vec<(String, String)>) {
        let mut next = HashMap::new();
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        for secret in secrets {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let id = (
                name.clone(),
                secret.metadata.resource_version.clone().unwrap_or_default(),
            );
            let parsed = match self.parsed.remove(&id) {
                Some(p) => p,
                None => match parse_key_secret(secret, priority, legacy_name) {
                    None => continue,
                    Some(r) => r.map(Arc::new),
                },
            };
            match &parsed {
                Ok(k) => keys.push(k.clone()),
                Err(e) => errors.push((name, e.clone())),
            }
            next.insert(id, parsed);
        }
        self.parsed = next;
        (KeySet::new(keys), errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn key_secret_with_age(age: Option<&[u8]>) -> Secret {
        let mut s: Secret = serde_saphyr::from_str(include_str!("../../testdata/keys/second-key-secret.yaml")).unwrap();
        if let Some(age) = age {
            s.data
                .get_or_insert_with(Default::default)
                .insert(gitseal_core::keys::AGE_KEY.into(), ByteString(age.to_vec()));
        }
        s
    }

    fn load(s: &Secret) -> LoadedKey {
        parse_key_secret(s, KeyOrderPriority::CertNotBefore, "sealed-secrets-key")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_age_identity_loads_with_the_key_and_a_broken_one_never_takes_the_rsa_key_down() {
        assert!(
            load(&key_secret_with_age(None)).age.is_none(),
            "Bitnami-made keys have none"
        );
        let id = gitseal_core::v2::Identity::generate();
        let file = id.to_file("2026-01-01T00:00:00Z");
        let key = load(&key_secret_with_age(Some(file.as_bytes())));
        assert_eq!(key.age.unwrap().recipient().as_str(), id.recipient().as_str());
        // Garbage in age.key: the RSA key still loads (its Bitnami items still open).
        let key = load(&key_secret_with_age(Some(b"AGE-SECRET-KEY-1NOTAKEY")));
        assert!(key.age.is_none());
        assert_eq!(key.short_fingerprint, key.key.public_key().short_fingerprint());
        // Only active keys' recipients are served.
        let mut compromised = key_secret_with_age(Some(file.as_bytes()));
        compromised
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(SEALED_SECRETS_KEY_LABEL.into(), "compromised".into());
        let set = KeySet::new(vec![Arc::new(load(&compromised))]);
        assert!(set.recipients().is_empty());
        assert_eq!(set.age_identities().len(), 1, "but it still decrypts");
    }
}
