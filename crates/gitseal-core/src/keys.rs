//! Keys and certificates: parsing (PEM, key Secrets, `v1.List`s), fingerprints and
//! generation of controller-shaped key pairs.
//!
//! Every RSA operation goes through aws-lc-rs, whose private-key operations are
//! constant-time (the `rsa` crate's are not: RUSTSEC-2023-0071).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use pkcs8::der::{Decode as _, Encode as _};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::manifest;

const RSA_ENCRYPTION_OID: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A problem with key or certificate material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("no PEM CERTIFICATE block found")]
    NoCertificate,
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("certificate does not hold an RSA public key")]
    NotRsa,
    #[error("invalid RSA public key: {0}")]
    InvalidPublicKey(String),
    #[error("invalid private key in {block}: {reason}")]
    InvalidPrivateKey { block: String, reason: String },
    #[error("unsupported PEM block {0:?}: expected \"RSA PRIVATE KEY\" or \"PRIVATE KEY\"")]
    UnsupportedPem(String),
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("no private key found (expected PEM keys, a key Secret with tls.key, or a v1.List of them)")]
    NoPrivateKey,
    #[error(transparent)]
    Input(#[from] manifest::ManifestError),
    #[error("document {document}: {reason}")]
    Manifest { document: usize, reason: String },
    #[error("failed to encrypt using an expired certificate on {0}")]
    Expired(String),
    #[error("unsupported key size {0}: use 2048, 3072, 4096 or 8192")]
    KeySize(usize),
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("{0}")]
    Age(#[from] crate::v2::V2Error),
}

/// An RSA public key ready for OAEP encryption.
#[derive(Clone)]
pub struct PublicKey {
    oaep: Arc<OaepPublicEncryptingKey>,
    spki_der: Vec<u8>,
    fingerprint: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl PublicKey {
    /// From an X.509 SubjectPublicKeyInfo (DER).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = x509_cert::spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?;
        if spki.algorithm.oid != RSA_ENCRYPTION_OID {
            return Err(KeyError::NotRsa);
        }
        let rsa = pkcs1::RsaPublicKey::from_der(spki.subject_public_key.raw_bytes())
            .map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?;
        let fingerprint = ssh_fingerprint(rsa.public_exponent.as_bytes(), rsa.modulus.as_bytes());
        let key = PublicEncryptingKey::from_der(der).map_err(|e| KeyError::InvalidPublicKey(e.to_string()))?;
        let oaep =
            OaepPublicEncryptingKey::new(key).map_err(|_| KeyError::InvalidPublicKey("unsupported key size".into()))?;
        Ok(Self {
            oaep: Arc::new(oaep),
            spki_der: der.to_vec(),
            fingerprint,
        })
    }

    pub(crate) fn oaep(&self) -> &OaepPublicEncryptingKey {
        &self.oaep
    }

    /// Bytes of the modulus: the length of every OAEP ciphertext under this key.
    pub fn modulus_len(&self) -> usize {
        self.oaep.key_size_bytes()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.oaep.key_size_bits()
    }

    /// The SSH-style SHA256 fingerprint, `SHA256:<base64>`, as Bitnami computes it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The first 16 characters of the fingerprint's base64 body (96 bits): the
    /// form gitseal uses in annotations and metric labels.
    pub fn short_fingerprint(&self) -> String {
        let body = self.fingerprint.strip_prefix("SHA256:").unwrap_or(&self.fingerprint);
        body.chars().take(16).collect()
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

/// `ssh.FingerprintSHA256` of an RSA key: SHA-256 over the SSH wire encoding.
fn ssh_fingerprint(e: &[u8], n: &[u8]) -> String {
    fn put_string(buf: &mut Vec<u8>, b: &[u8]) {
        buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
        buf.extend_from_slice(b);
    }
    fn put_mpint(buf: &mut Vec<u8>, b: &[u8]) {
        let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..];
        if b.first().is_some_and(|x| x & 0x80 != 0) {
            buf.extend_from_slice(&((b.len() + 1) as u32).to_be_bytes());
            buf.push(0);
            buf.extend_from_slice(b);
        } else {
            put_string(buf, b);
        }
    }
    let mut wire = Vec::with_capacity(n.len() + 32);
    put_string(&mut wire, b"ssh-rsa");
    put_mpint(&mut wire, e);
    put_mpint(&mut wire, n);
    let d = digest::digest(&digest::SHA256, &wire);
    format!("SHA256:{}", STANDARD_NO_PAD.encode(d.as_ref()))
}

/// A certificate as gitseal uses it: the RSA public key and the validity, nothing else.
///
/// Parsing is deliberately tolerant: extensions are not interpreted, so the
/// controller's `encipherOnly` KeyUsage (which strict parsers refuse) is fine.
#[derive(Debug, Clone)]
pub struct Certificate {
    public_key: PublicKey,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// `urn:gitseal:age:age1…` subject alternative names: the age recipient of
    /// the same key Secret, so a pinned certificate also seals v2 items.
    age_recipients: Vec<String>,
    der: Vec<u8>,
}

/// The URI prefix of the subject alternative name that carries a key's age
/// recipient. Go's x509 (Bitnami's controller, kubeseal) accepts and ignores it.
pub const AGE_SAN_PREFIX: &str = "urn:gitseal:age:";

/// The `urn:gitseal:age:` URIs among a certificate's subject alternative names.
/// Anything unreadable is skipped: extensions never make a certificate unusable.
fn age_sans(tbs: &x509_cert::TbsCertificate) -> Vec<String> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    const SAN_OID: x509_cert::der::asn1::ObjectIdentifier =
        x509_cert::der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17");
    tbs.extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == SAN_OID)
        .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => {
                uri.as_str().strip_prefix(AGE_SAN_PREFIX).map(str::to_string)
            }
            _ => None,
        })
        .collect()
}

impl Certificate {
    /// Reads the first `CERTIFICATE` block of a PEM file.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Self, KeyError> {
        let blocks = pem::parse_many(pem_bytes).map_err(|e| KeyError::Pem(e.to_string()))?;
        let block = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or(KeyError::NoCertificate)?;
        Self::from_der(block.contents())
    }

    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|e| KeyError::InvalidCertificate(e.to_string()))?;
        let to_time = |t: x509_cert::time::Time| {
            let secs = t.to_unix_duration().as_secs();
            OffsetDateTime::from_unix_timestamp(secs as i64).map_err(|e| KeyError::InvalidCertificate(e.to_string()))
        };
        Ok(Self {
            public_key: PublicKey::from_spki_der(&spki)?,
            not_before: to_time(tbs.validity.not_before)?,
            not_after: to_time(tbs.validity.not_after)?,
            age_recipients: age_sans(tbs),
            der: der.to_vec(),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The age recipient the certificate carries (certificates gitseal made
    /// carry their key Secret's; Bitnami's carry none).
    pub fn age_recipient(&self) -> Option<Result<crate::v2::Recipient, crate::v2::V2Error>> {
        self.age_recipients.first().map(|r| r.parse())
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The certificate as one PEM block.
    pub fn to_pem(&self) -> String {
        encode_pem(&pem::Pem::new("CERTIFICATE", self.der.clone()))
    }

    /// kubeseal refuses to seal to an expired certificate; so does gitseal.
    pub fn check_not_expired(&self, now: OffsetDateTime) -> Result<(), KeyError> {
        if now > self.not_after {
            let t = self.not_after;
            return Err(KeyError::Expired(format!("{} {}, {}", t.month(), t.day(), t.year())));
        }
        Ok(())
    }
}

/// PEM with `\n` line endings, as Go's `encoding/pem` writes it (the `pem` crate
/// defaults to `\r\n`), so served and generated files match the Bitnami controller's.
fn encode_pem(p: &pem::Pem) -> String {
    pem::encode_config(p, pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}

/// An RSA private key for unsealing.
pub struct PrivateKey {
    oaep: OaepPrivateDecryptingKey,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// From PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::InvalidPrivateKey {
            block: "PRIVATE KEY".into(),
            reason,
        };
        let key = PrivateDecryptingKey::from_pkcs8(der).map_err(|e| invalid(e.to_string()))?;
        let spki = key.public_key().as_der().map_err(|e| invalid(e.to_string()))?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        let oaep = OaepPrivateDecryptingKey::new(key).map_err(|_| invalid("unsupported key size".into()))?;
        Ok(Self { oaep, public })
    }

    /// From PKCS#1 `RSAPrivateKey` DER, the form the controller stores.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let pkcs8 = pkcs1_to_pkcs8(der).map_err(|reason| KeyError::InvalidPrivateKey {
            block: "RSA PRIVATE KEY".into(),
            reason,
        })?;
        Self::from_pkcs8_der(&pkcs8)
    }

    pub(crate) fn oaep(&self) -> &OaepPrivateDecryptingKey {
        &self.oaep
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn modulus_len(&self) -> usize {
        self.public.modulus_len()
    }

    pub fn fingerprint(&self) -> &str {
        self.public.fingerprint()
    }
}

fn pkcs1_to_pkcs8(pkcs1_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    // Validate the structure before wrapping it.
    pkcs1::RsaPrivateKey::from_der(pkcs1_der).map_err(|e| e.to_string())?;
    let info = pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION_OID,
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        },
        pkcs1_der,
    );
    info.to_der().map(Zeroizing::new).map_err(|e| e.to_string())
}

fn pkcs8_to_pkcs1(pkcs8_der: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8_der).map_err(|e| e.to_string())?;
    Ok(Zeroizing::new(info.private_key.to_vec()))
}

/// Reads private keys from PEM (PKCS#1 or PKCS#8, any number of blocks; certificates
/// are skipped), from a `kubernetes.io/tls` key Secret, or from a `v1.List` of them.
pub fn parse_private_keys(input: &[u8]) -> Result<Vec<PrivateKey>, KeyError> {
    let keys = if looks_like_pem(input) {
        parse_pem_keys(input)?
    } else {
        parse_key_secrets(input)?
    };
    if keys.is_empty() {
        return Err(KeyError::NoPrivateKey);
    }
    Ok(keys)
}

/// Reads age identities: an identity file (`AGE-SECRET-KEY-1…` lines, as
/// age-keygen writes), or the `age.key` of key Secrets, alone or in a `v1.List`
/// (key Secrets without one are skipped). PEM input holds none.
pub fn parse_age_identities(input: &[u8]) -> Result<Vec<crate::v2::Identity>, KeyError> {
    if looks_like_pem(input) {
        return Ok(Vec::new());
    }
    let text = manifest::decode_text(input)?;
    if text.lines().any(|l| l.trim_start().starts_with("AGE-SECRET-KEY-1")) {
        return Ok(crate::v2::Identity::parse_file(&text)?);
    }
    let mut out = Vec::new();
    for doc in manifest::parse_documents(&text)? {
        let document = doc.index;
        for (_, item) in doc.into_objects() {
            let Some(encoded) = item.pointer(&format!("/data/{AGE_KEY}")).and_then(|v| v.as_str()) else {
                continue;
            };
            let name = item
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or("<unnamed>");
            let err = |reason: String| KeyError::Manifest { document, reason };
            let file = Zeroizing::new(
                crate::meta::decode_base64(encoded)
                    .map_err(|e| err(format!("Secret {name:?}: {AGE_KEY} is not valid base64: {e}")))?,
            );
            out.extend(
                crate::v2::Identity::parse_bytes(&file).map_err(|e| err(format!("Secret {name:?}: {AGE_KEY}: {e}")))?,
            );
        }
    }
    Ok(out)
}

fn looks_like_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

fn parse_pem_keys(input: &[u8]) -> Result<Vec<PrivateKey>, KeyError> {
    let blocks = pem::parse_many(input).map_err(|e| KeyError::Pem(e.to_string()))?;
    let mut keys = Vec::new();
    for block in blocks {
        let tag = block.tag().to_string();
        let der = Zeroizing::new(block.into_contents());
        match tag.as_str() {
            "RSA PRIVATE KEY" => keys.push(PrivateKey::from_pkcs1_der(&der)?),
            "PRIVATE KEY" => keys.push(PrivateKey::from_pkcs8_der(&der)?),
            "CERTIFICATE" | "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
            other => return Err(KeyError::UnsupportedPem(other.to_string())),
        }
    }
    Ok(keys)
}

fn parse_key_secrets(input: &[u8]) -> Result<Vec<PrivateKey>, KeyError> {
    let text = manifest::decode_text(input)?;
    let docs = manifest::parse_documents(&text)?;
    let mut keys = Vec::new();
    for doc in docs {
        let document = doc.index;
        let err = |reason: String| KeyError::Manifest { document, reason };
        if !doc.is_list() && doc.kind() != Some("Secret") {
            return Err(err(match doc.kind() {
                Some(other) => format!("expected a key Secret or a List, found kind {other}"),
                None => "expected a key Secret or a List, found an object without kind".into(),
            }));
        }
        for (position, item) in doc.into_objects() {
            let name = item
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or("<unnamed>");
            let Some(encoded) = item.pointer("/data/tls.key").and_then(|v| v.as_str()) else {
                return Err(err(format!(
                    "item {} (Secret {name:?}) must contain a 'tls.key' data item",
                    position.unwrap_or(1)
                )));
            };
            let pem_bytes = Zeroizing::new(
                crate::meta::decode_base64(encoded)
                    .map_err(|e| err(format!("Secret {name:?}: tls.key is not valid base64: {e}")))?,
            );
            keys.extend(parse_pem_keys(&pem_bytes).map_err(|e| err(format!("Secret {name:?}: {e}")))?);
        }
    }
    Ok(keys)
}

/// A freshly generated key pair, in the shapes the controller stores.
pub struct GeneratedKey {
    pub private_key: PrivateKey,
    pub certificate: Certificate,
    /// `RSA PRIVATE KEY` (PKCS#1) PEM, as in the key Secret's `tls.key`.
    pub private_key_pem: Zeroizing<String>,
    /// The X25519 identity generated with it, for v2 items; stored in the key
    /// Secret as [`AGE_KEY`], which Bitnami's controller ignores.
    pub age_identity: crate::v2::Identity,
}

/// The key Secret's data key holding the age identity file.
pub const AGE_KEY: &str = "age.key";

/// `2026-01-02T03:04:05Z`: RFC 3339 in UTC, as kubectl prints times.
pub fn utc_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What `gitseal keys list` shows of a key Secret, read without its private key.
#[derive(Debug, Clone)]
pub struct KeySecretInfo {
    pub name: String,
    pub namespace: String,
    /// The label value: `active`, `compromised`, or empty for the legacy key.
    pub status: String,
    /// 16 characters, as in `gitseal.dev/sealed-to` and the controller's metrics.
    pub short_fingerprint: String,
    pub bits: usize,
    pub not_before: OffsetDateTime,
    /// The fingerprint of its age recipient, if it has an `age.key`.
    pub age_fingerprint: Option<String>,
}

/// Describes a key Secret (as JSON) from its certificate and age identity.
pub fn describe_key_secret(secret: &serde_json::Value) -> Result<KeySecretInfo, String> {
    let text = |p: &str| secret.pointer(p).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let data = |k: &str| -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        match secret.pointer(&format!("/data/{k}")).and_then(|v| v.as_str()) {
            None => Ok(None),
            Some(b64) => crate::meta::decode_base64(b64)
                .map(|b| Some(Zeroizing::new(b)))
                .map_err(|e| format!("{k} is not valid base64: {e}")),
        }
    };
    let cert_pem = data("tls.crt")?.ok_or("it has no tls.crt")?;
    let cert = Certificate::from_pem(&cert_pem).map_err(|e| format!("tls.crt: {e}"))?;
    // The private key must be there and belong to the certificate: a backup of
    // a key that can't decrypt is no backup.
    let key_pem = data("tls.key")?.ok_or("it has no tls.key")?;
    let key = parse_pem_keys(&key_pem)
        .map_err(|e| format!("tls.key: {e}"))?
        .into_iter()
        .next()
        .ok_or("tls.key holds no private key")?;
    if key.fingerprint() != cert.public_key().fingerprint() {
        return Err("tls.crt does not belong to tls.key".into());
    }
    let age_fingerprint = match data(AGE_KEY)? {
        None => None,
        Some(file) => {
            let ids = crate::v2::Identity::parse_bytes(&file).map_err(|e| format!("{AGE_KEY}: {e}"))?;
            ids.first().map(|id| id.recipient().fingerprint().to_string())
        }
    };
    Ok(KeySecretInfo {
        name: text("/metadata/name"),
        namespace: text("/metadata/namespace"),
        status: text(&format!(
            "/metadata/labels/{}",
            gitseal_api::annotations::SEALED_SECRETS_KEY_LABEL.replace('/', "~1")
        )),
        short_fingerprint: cert.public_key().short_fingerprint(),
        bits: cert.public_key().bits(),
        not_before: cert.not_before(),
        age_fingerprint,
    })
}

/// Parameters for [`generate`].
#[derive(Debug, Clone)]
pub struct KeyGenParams {
    pub bits: usize,
    /// Certificate subject and issuer CN; empty gives an empty DN, like the controller.
    pub common_name: String,
    pub not_before: OffsetDateTime,
    pub validity: time::Duration,
}

/// Generates an RSA key and a self-signed certificate shaped like the controller's:
/// random serial, KeyUsage `encipherOnly` (critical), BasicConstraints CA:TRUE
/// (critical), sha256WithRSAEncryption.
pub fn generate(params: &KeyGenParams) -> Result<GeneratedKey, KeyError> {
    let size = match params.bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        other => return Err(KeyError::KeySize(other)),
    };
    let gen_err = |e: &dyn fmt::Display| KeyError::Generate(e.to_string());
    let key = PrivateDecryptingKey::generate(size).map_err(|e| gen_err(&e))?;
    let pkcs8: Pkcs8V1Der<'static> = key.as_der().map_err(|e| gen_err(&e))?;
    let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());

    let signer = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|e| gen_err(&e))?;
    let mut cert_params = rcgen::CertificateParams::default();
    cert_params.distinguished_name = rcgen::DistinguishedName::new();
    if !params.common_name.is_empty() {
        cert_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, params.common_name.as_str());
    }
    // The age identity comes first: its recipient goes into the certificate, so
    // a pinned certificate can seal v2 items too.
    let age_identity = crate::v2::Identity::generate();
    let san = format!("{AGE_SAN_PREFIX}{}", age_identity.recipient().as_str());
    cert_params.subject_alt_names = vec![rcgen::SanType::URI(san.try_into().map_err(|e| gen_err(&e))?)];
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|e| gen_err(&e))?;
    serial[0] &= 0x7f; // positive INTEGER in [0, 2^127)
    cert_params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    cert_params.not_before = params.not_before;
    cert_params.not_after = params
        .not_before
        .checked_add(params.validity)
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| KeyError::Generate("certificate validity is out of range".into()))?;
    cert_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    cert_params.key_usages = vec![rcgen::KeyUsagePurpose::EncipherOnly];
    let cert = cert_params.self_signed(&signer).map_err(|e| gen_err(&e))?;

    let pkcs1 = pkcs8_to_pkcs1(&pkcs8).map_err(|e| gen_err(&e))?;
    let private_key_pem = Zeroizing::new(encode_pem(&pem::Pem::new("RSA PRIVATE KEY", pkcs1.to_vec())));
    Ok(GeneratedKey {
        private_key: PrivateKey::from_pkcs8_der(&pkcs8)?,
        certificate: Certificate::from_der(cert.der())?,
        private_key_pem,
        age_identity,
    })
}

/// The controller's key Secret for `key`: type `kubernetes.io/tls`, label
/// `sealedsecrets.bitnami.com/sealed-secrets-key: active`, PKCS#1 `tls.key`, the
/// certificate in `tls.crt` and the age identity in [`AGE_KEY`].
pub fn key_secret(key: &GeneratedKey, namespace: &str, name: &str) -> k8s_openapi::api::core::v1::Secret {
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let labels = [(
        gitseal_api::annotations::SEALED_SECRETS_KEY_LABEL.to_string(),
        "active".to_string(),
    )];
    let age_file = key.age_identity.to_file(&utc_timestamp(key.certificate.not_before()));
    k8s_openapi::api::core::v1::Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(
            [
                ("tls.crt".to_string(), ByteString(key.certificate.to_pem().into_bytes())),
                (
                    "tls.key".to_string(),
                    ByteString(key.private_key_pem.as_bytes().to_vec()),
                ),
                (AGE_KEY.to_string(), ByteString(age_file.as_bytes().to_vec())),
            ]
            .into_iter()
            .collect(),
        ),
        ..Default::default()
    }
}
