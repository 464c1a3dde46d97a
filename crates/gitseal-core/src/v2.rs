//! gitseal's own item format, v2: one `spec.encryptedData` value sealed with
//! [age](https://age-encryption.org) to any number of X25519 recipients.
//! Specified in `docs/format.md`.
//!
//! ```text
//! gitseal:v2:<fingerprint>[,<fingerprint>…]:<standard base64 of an age v1 file>
//! ```
//!
//! - The `gitseal:` prefix can't begin a Bitnami value (base64 has no `:`), so both
//!   formats can sit side by side in one SealedSecret.
//! - The fingerprints record which recipients the value was sealed to, outside the
//!   ciphertext, so that the matching identity is tried first and keys can be
//!   counted without decrypting. They are a hint only: nothing trusts them.
//! - The age file is standard: `age -d -i identity.txt` opens it. Its plaintext
//!   is a one-line binding, then the value:
//!
//!   ```text
//!   gitseal.dev/v2 scope=strict namespace=app name=db key=password
//!   <value bytes>
//!   ```
//!
//!   The binding is authenticated with the value, so a value copied to another
//!   item, name or namespace fails to open, except where its scope allows.

use std::io::{Read, Write};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::Scope;

/// What every v2 value starts with.
pub const PREFIX: &str = "gitseal:v2:";
/// The first word of the binding line inside the age plaintext.
const BINDING_TAG: &str = "gitseal.dev/v2";
/// Largest age header accepted: about 500 X25519 recipients.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// Most recipients one value may be sealed to.
pub const MAX_RECIPIENTS: usize = 256;
/// Most fingerprints read from a value's record.
const MAX_RECORDED: usize = 64;
/// Longest binding line accepted (names and keys are at most 253 characters).
const MAX_BINDING_LINE: usize = 1024;
/// Characters of a recipient fingerprint (hex of SHA-256 over the recipient string).
const FINGERPRINT_LEN: usize = 12;

/// Whether `value` is in this format (rather than Bitnami's).
pub fn is_v2(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2Error {
    #[error("not a gitseal v2 value (it must start with {PREFIX:?})")]
    NotV2,
    #[error("malformed gitseal v2 value: {0}")]
    Malformed(String),
    #[error("invalid base64 after the recipient record: {0}")]
    Base64(String),
    #[error("truncated or malformed age header")]
    BadHeader,
    #[error("the age header is larger than {MAX_HEADER_BYTES} bytes")]
    HeaderTooLarge,
    #[error("sealed to {0} recipients, more than the {MAX_RECIPIENTS} allowed")]
    TooManyRecipients(usize),
    #[error("the age header's MAC is wrong: the value was altered")]
    BadMac,
    #[error("no identity matches this value (sealed to {0})")]
    NoIdentity(String),
    #[error("the value is sealed to recipient types gitseal can't open: {0}")]
    UnsupportedStanzas(String),
    #[error("the age payload is corrupt or truncated")]
    Corrupt,
    #[error("unsupported age format version")]
    UnknownFormat,
    #[error("the age payload has no gitseal binding line (was it encrypted with age alone?)")]
    NoBinding,
    #[error("the value is bound to {bound}, not to {here}")]
    WrongBinding { bound: String, here: String },
    #[error("invalid age recipient {0:?}: gitseal seals to X25519 recipients (age1…)")]
    InvalidRecipient(String),
    #[error("invalid age identity: {0}")]
    InvalidIdentity(String),
    #[error("no recipients to seal to")]
    NoRecipients,
    #[error("encrypting: {0}")]
    Encrypt(String),
}

/// A short, stable name for a recipient: 12 hex digits of SHA-256 over its
/// `age1…` string.
pub fn fingerprint(recipient: &str) -> String {
    let d = digest::digest(&digest::SHA256, recipient.as_bytes());
    let mut hex = String::with_capacity(FINGERPRINT_LEN);
    for b in &d.as_ref()[..FINGERPRINT_LEN / 2] {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// An X25519 recipient (`age1…`) with its fingerprint.
#[derive(Clone)]
pub struct Recipient {
    inner: age::x25519::Recipient,
    text: String,
    fingerprint: String,
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Recipient {
    type Err = V2Error;
    fn from_str(s: &str) -> Result<Self, V2Error> {
        let s = s.trim();
        let inner: age::x25519::Recipient = s.parse().map_err(|_| V2Error::InvalidRecipient(s.to_string()))?;
        let text = inner.to_string();
        Ok(Recipient {
            fingerprint: fingerprint(&text),
            inner,
            text,
        })
    }
}

impl Recipient {
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    /// The `age1…` string.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Parses a recipients file: one `age1…` per line; blank lines and `#` comments
/// are skipped. Errors name the line.
pub fn parse_recipients(text: &str) -> Result<Vec<Recipient>, (usize, V2Error)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| l.parse().map_err(|e| (n, e)))
        .collect()
}

/// An X25519 identity (`AGE-SECRET-KEY-1…`) with its recipient's fingerprint.
pub struct Identity {
    inner: age::x25519::Identity,
    recipient: Recipient,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.recipient.text)
    }
}

impl Identity {
    /// A new random identity.
    pub fn generate() -> Identity {
        Self::from_inner(age::x25519::Identity::generate())
    }

    fn from_inner(inner: age::x25519::Identity) -> Identity {
        let text = inner.to_public().to_string();
        Identity {
            recipient: Recipient {
                fingerprint: fingerprint(&text),
                inner: inner.to_public(),
                text,
            },
            inner,
        }
    }

    /// Every identity in an age identity file (`age-keygen` output: comments and
    /// `AGE-SECRET-KEY-1…` lines). Errors name the line, never its content.
    pub fn parse_file(text: &str) -> Result<Vec<Identity>, V2Error> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let inner: age::x25519::Identity = line.parse().map_err(|_| {
                V2Error::InvalidIdentity(format!("line {} is not an AGE-SECRET-KEY-1… identity", i + 1))
            })?;
            out.push(Self::from_inner(inner));
        }
        if out.is_empty() {
            return Err(V2Error::InvalidIdentity("no AGE-SECRET-KEY-1… line".into()));
        }
        Ok(out)
    }

    /// [`Self::parse_file`] of raw bytes (a key Secret's `age.key`, a file).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Identity>, V2Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| V2Error::InvalidIdentity("not a text file".into()))?;
        Self::parse_file(text)
    }

    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// The identity file text, as `age-keygen` writes it.
    pub fn to_file(&self, created: &str) -> Zeroizing<String> {
        use age::secrecy::ExposeSecret as _;
        Zeroizing::new(format!(
            "# created: {created}\n# public key: {}\n{}\n",
            self.recipient.text,
            self.inner.to_string().expose_secret()
        ))
    }
}

/// Where a value may be unsealed: its scope, and the namespace, name and item key
/// that scope binds.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub scope: Scope,
    pub namespace: &'a str,
    pub name: &'a str,
    pub key: &'a str,
}

impl Binding<'_> {
    /// The binding line. Namespace-wide omits the name, cluster-wide both.
    fn line(&self) -> String {
        let mut l = format!("{BINDING_TAG} scope={}", self.scope);
        if self.scope.needs_namespace() {
            l.push_str(&format!(" namespace={}", self.namespace));
        }
        if self.scope.needs_name() {
            l.push_str(&format!(" name={}", self.name));
        }
        l.push_str(&format!(" key={}", self.key));
        l
    }

    fn describe(line: &str) -> String {
        line.strip_prefix(BINDING_TAG).unwrap_or(line).trim().to_string()
    }
}

/// An age encryptor to every one of `recipients` (at least one).
fn encryptor(recipients: &[Recipient]) -> Result<age::Encryptor, V2Error> {
    if recipients.is_empty() {
        return Err(V2Error::NoRecipients);
    }
    age::Encryptor::with_recipients(recipients.iter().map(|r| &r.inner as &dyn age::Recipient))
        .map_err(|e| V2Error::Encrypt(e.to_string()))
}

/// Seals `plaintext` for `binding` to every one of `recipients`.
pub fn seal(plaintext: &[u8], recipients: &[Recipient], binding: &Binding<'_>) -> Result<String, V2Error> {
    if recipients.len() > MAX_RECIPIENTS {
        return Err(V2Error::TooManyRecipients(recipients.len()));
    }
    let mut fps: Vec<&str> = recipients.iter().map(|r| r.fingerprint.as_str()).collect();
    fps.sort_unstable();
    fps.dedup();
    let encryptor = encryptor(recipients)?;
    let mut out = Vec::with_capacity(plaintext.len() + 200 + 100 * recipients.len());
    let write = |out: &mut Vec<u8>| -> std::io::Result<()> {
        let mut w = encryptor.wrap_output(out)?;
        w.write_all(binding.line().as_bytes())?;
        w.write_all(b"\n")?;
        w.write_all(plaintext)?;
        w.finish().map(drop)
    };
    write(&mut out).map_err(|e| V2Error::Encrypt(e.to_string()))?;
    Ok(format!("{PREFIX}{}:{}", fps.join(","), STANDARD.encode(out)))
}

/// A v2 value split into its recipient record and its age file.
pub struct Parsed<'a> {
    /// The fingerprints the value says it was sealed to.
    pub recorded: Vec<&'a str>,
    pub age: Vec<u8>,
    /// The header's stanza types (age's grease stanzas left out).
    pub stanzas: Vec<String>,
}

/// The fingerprints of a recipient record.
fn record_list(record: &str) -> Vec<&str> {
    record.split(',').filter(|s| !s.is_empty()).take(MAX_RECORDED).collect()
}

/// Splits a value and checks its age header (size, recipients, syntax) without
/// any key.
pub fn parse(value: &str) -> Result<Parsed<'_>, V2Error> {
    let rest = value.strip_prefix(PREFIX).ok_or(V2Error::NotV2)?;
    let (record, b64) = rest
        .split_once(':')
        .ok_or_else(|| V2Error::Malformed("no ':' after the recipient record".into()))?;
    let age = STANDARD
        .decode(b64.trim())
        .map_err(|e| V2Error::Base64(e.to_string()))?;
    let stanzas = header_stanzas(&age)?;
    Ok(Parsed {
        recorded: record_list(record),
        age,
        stanzas,
    })
}

/// The stanza types of an age v1 header, checked for size and shape.
fn header_stanzas(age: &[u8]) -> Result<Vec<String>, V2Error> {
    let end = age
        .windows(4)
        .take(MAX_HEADER_BYTES + 4)
        .position(|w| w == b"\n---")
        .ok_or(if age.len() > MAX_HEADER_BYTES {
            V2Error::HeaderTooLarge
        } else {
            V2Error::BadHeader
        })?;
    if end > MAX_HEADER_BYTES {
        return Err(V2Error::HeaderTooLarge);
    }
    let header = std::str::from_utf8(&age[..end]).map_err(|_| V2Error::BadHeader)?;
    let mut lines = header.split('\n');
    if lines.next() != Some("age-encryption.org/v1") {
        return Err(if age.starts_with(b"age-encryption.org/") {
            V2Error::UnknownFormat
        } else {
            V2Error::BadHeader
        });
    }
    // age adds a random "*-grease" stanza to every header; it means nothing.
    let types: Vec<String> = lines
        .filter_map(|l| l.strip_prefix("-> "))
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .filter(|t| !t.ends_with("-grease"))
        .collect();
    if types.is_empty() {
        return Err(V2Error::BadHeader);
    }
    if types.len() > MAX_RECIPIENTS {
        return Err(V2Error::TooManyRecipients(types.len()));
    }
    Ok(types)
}

/// Opens a v2 value with `identities`, trying first those whose fingerprint the
/// value records, and checks its binding. Returns the plaintext and the index (in
/// `identities`) of the identity that opened it.
pub fn open(
    value: &str,
    identities: &[&Identity],
    binding: &Binding<'_>,
) -> Result<(Zeroizing<Vec<u8>>, usize), V2Error> {
    let parsed = parse(value)?;
    if identities.is_empty() {
        return Err(V2Error::NoIdentity(format!(
            "{}; no age identity was given",
            describe_record(&parsed)
        )));
    }
    let recorded = |i: &usize| parsed.recorded.contains(&identities[*i].recipient.fingerprint.as_str());
    let order: Vec<usize> = (0..identities.len())
        .filter(recorded)
        .chain((0..identities.len()).filter(|i| !recorded(i)))
        .collect();
    let mut opened = None;
    for i in order {
        let decryptor = age::Decryptor::new_buffered(&parsed.age[..]).map_err(map_decrypt_error)?;
        match decryptor.decrypt(std::iter::once(&identities[i].inner as &dyn age::Identity)) {
            Ok(mut reader) => {
                let mut plain = Zeroizing::new(Vec::new());
                reader.read_to_end(&mut plain).map_err(|_| V2Error::Corrupt)?;
                opened = Some((plain, i));
                break;
            }
            Err(age::DecryptError::NoMatchingKeys) => continue,
            Err(e) => return Err(map_decrypt_error(e)),
        }
    }
    let Some((plain, index)) = opened else {
        if !parsed.stanzas.iter().any(|t| t == "X25519") {
            return Err(V2Error::UnsupportedStanzas(parsed.stanzas.join(", ")));
        }
        return Err(V2Error::NoIdentity(describe_record(&parsed)));
    };

    // The binding line; a payload without one (made with age alone) is refused
    // without showing any of it: it may be the secret itself.
    let line = plain
        .iter()
        .position(|b| *b == b'\n')
        .and_then(|n| std::str::from_utf8(&plain[..n]).ok())
        .filter(|l| l.starts_with(BINDING_TAG) && l.len() <= MAX_BINDING_LINE)
        .ok_or(V2Error::NoBinding)?;
    let expected = binding.line();
    if line != expected {
        return Err(V2Error::WrongBinding {
            bound: Binding::describe(line),
            here: Binding::describe(&expected),
        });
    }
    Ok((Zeroizing::new(plain[line.len() + 1..].to_vec()), index))
}

/// "sealed to abc, def" from the record, else the number of X25519 stanzas.
fn describe_record(parsed: &Parsed<'_>) -> String {
    if parsed.recorded.is_empty() {
        let n = parsed.stanzas.iter().filter(|t| *t == "X25519").count();
        format!("{n} X25519 recipients")
    } else {
        parsed.recorded.join(", ")
    }
}

fn map_decrypt_error(e: age::DecryptError) -> V2Error {
    match e {
        age::DecryptError::InvalidHeader => V2Error::BadHeader,
        age::DecryptError::InvalidMac => V2Error::BadMac,
        age::DecryptError::UnknownFormat => V2Error::UnknownFormat,
        age::DecryptError::NoMatchingKeys => V2Error::NoIdentity("other recipients".into()),
        age::DecryptError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => V2Error::BadHeader,
        _ => V2Error::Corrupt,
    }
}

/// Encrypts a whole file (a key backup) to `recipients`, ASCII-armored: the
/// `age` CLI opens it too.
pub fn encrypt_file(plaintext: &[u8], recipients: &[Recipient]) -> Result<String, V2Error> {
    use age::armor::{ArmoredWriter, Format};
    let encryptor = encryptor(recipients)?;
    let mut out = Vec::new();
    let write = |out: &mut Vec<u8>| -> std::io::Result<()> {
        let armor = ArmoredWriter::wrap_output(out, Format::AsciiArmor)?;
        let mut w = encryptor.wrap_output(armor)?;
        w.write_all(plaintext)?;
        w.finish()?.finish().map(drop)
    };
    write(&mut out).map_err(|e| V2Error::Encrypt(e.to_string()))?;
    String::from_utf8(out).map_err(|e| V2Error::Encrypt(e.to_string()))
}

/// Decrypts an age file, armored or binary, with any of `identities`.
pub fn decrypt_file(file: &[u8], identities: &[&Identity]) -> Result<Zeroizing<Vec<u8>>, V2Error> {
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(file)).map_err(map_decrypt_error)?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|id| &id.inner as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => V2Error::NoIdentity("recipients not given".into()),
            other => map_decrypt_error(other),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain).map_err(|_| V2Error::Corrupt)?;
    Ok(plain)
}

/// The fingerprints a value records, without checking anything else; empty for
/// Bitnami values.
pub fn recorded(value: &str) -> Vec<&str> {
    value
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(record, _)| record_list(record))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding<'static> {
        Binding {
            scope: Scope::Strict,
            namespace: "app",
            name: "db",
            key: "password",
        }
    }

    #[test]
    fn round_trip_to_several_recipients_with_the_record_outside() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let recipients = [a.recipient().clone(), b.recipient().clone()];
        let value = seal(b"hunter2", &recipients, &binding()).unwrap();
        assert!(is_v2(&value));
        let mut fps = vec![a.recipient().fingerprint(), b.recipient().fingerprint()];
        fps.sort_unstable();
        assert_eq!(recorded(&value), fps);
        for who in [&a, &b] {
            assert_eq!(&open(&value, &[who], &binding()).unwrap().0[..], b"hunter2");
        }
        // The recorded identity is tried first, and reported.
        let other = Identity::generate();
        let (plain, index) = open(&value, &[&other, &b], &binding()).unwrap();
        assert_eq!((&plain[..], index), (&b"hunter2"[..], 1));
        let err = open(&value, &[], &binding()).unwrap_err();
        assert!(err.to_string().contains("no age identity was given"), "{err}");
        let err = open(&value, &[&other], &binding()).unwrap_err();
        assert!(matches!(err, V2Error::NoIdentity(_)), "{err}");
    }

    #[test]
    fn the_binding_follows_the_scope() {
        let id = Identity::generate();
        let r = [id.recipient().clone()];
        let moved = |s: Scope, ns: &'static str, name: &'static str, key: &'static str| Binding {
            scope: s,
            namespace: ns,
            name,
            key,
        };
        let strict = seal(b"v", &r, &binding()).unwrap();
        for wrong in [
            moved(Scope::Strict, "other", "db", "password"),
            moved(Scope::Strict, "app", "db2", "password"),
            moved(Scope::Strict, "app", "db", "token"),
            moved(Scope::ClusterWide, "app", "db", "password"),
        ] {
            let err = open(&strict, &[&id], &wrong).unwrap_err();
            assert!(matches!(err, V2Error::WrongBinding { .. }), "{err}");
        }
        let ns_wide = seal(b"v", &r, &moved(Scope::NamespaceWide, "app", "db", "k")).unwrap();
        assert!(open(&ns_wide, &[&id], &moved(Scope::NamespaceWide, "app", "renamed", "k")).is_ok());
        assert!(open(&ns_wide, &[&id], &moved(Scope::NamespaceWide, "other", "db", "k")).is_err());
        let cluster = seal(b"v", &r, &moved(Scope::ClusterWide, "app", "db", "k")).unwrap();
        assert!(open(&cluster, &[&id], &moved(Scope::ClusterWide, "x", "y", "k")).is_ok());
        assert!(open(&cluster, &[&id], &moved(Scope::ClusterWide, "x", "y", "other-key")).is_err());
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let id = Identity::generate();
        let value = seal(b"v", &[id.recipient().clone()], &binding()).unwrap();
        let parsed = parse(&value).unwrap();
        let rebuild = |age: &[u8]| format!("{PREFIX}{}:{}", parsed.recorded.join(","), STANDARD.encode(age));
        let open_it = |v: &str| open(v, &[&id], &binding()).unwrap_err();

        assert_eq!(open_it("AgBy"), V2Error::NotV2);
        assert!(matches!(open_it("gitseal:v2:abc"), V2Error::Malformed(_)));
        assert!(matches!(open_it("gitseal:v2:abc:***"), V2Error::Base64(_)));
        // Truncated inside the header.
        assert_eq!(open_it(&rebuild(&parsed.age[..30])), V2Error::BadHeader);
        // Another (well-formed) header MAC.
        let mac_at = parsed.age.windows(4).position(|w| w == b"--- ").unwrap() + 4;
        let mut bad_mac = parsed.age.clone();
        bad_mac[mac_at] = if bad_mac[mac_at] == b'A' { b'B' } else { b'A' };
        assert_eq!(open_it(&rebuild(&bad_mac)), V2Error::BadMac);
        // The payload cut short.
        assert_eq!(open_it(&rebuild(&parsed.age[..parsed.age.len() - 5])), V2Error::Corrupt);
        // Only stanza types gitseal doesn't know.
        let text = String::from_utf8_lossy(&parsed.age).into_owned();
        let unknown = text.replacen("-> X25519 ", "-> piv-p256 ", 1);
        let e = open_it(&rebuild(unknown.as_bytes()));
        assert!(matches!(&e, V2Error::UnsupportedStanzas(t) if t == "piv-p256"), "{e:?}");
        // A header of a megabyte.
        let mut huge = b"age-encryption.org/v1\n".to_vec();
        huge.extend(std::iter::repeat_n(b"-> X25519 AAAA\nAAAA\n".as_slice(), 60_000).flatten());
        assert_eq!(open_it(&rebuild(&huge)), V2Error::HeaderTooLarge);
        // Exactly the maximum, sealed for real, opens (age's grease stanza doesn't count).
        let max: Vec<Recipient> = (0..MAX_RECIPIENTS - 1)
            .map(|_| Identity::generate().recipient().clone())
            .collect();
        let max = [max, vec![id.recipient().clone()]].concat();
        assert!(open(&seal(b"v", &max, &binding()).unwrap(), &[&id], &binding()).is_ok());
        // A payload without a binding line is refused without echoing it.
        let bare = {
            let e =
                age::Encryptor::with_recipients(std::iter::once(&id.recipient().inner as &dyn age::Recipient)).unwrap();
            let mut out = Vec::new();
            let mut w = e.wrap_output(&mut out).unwrap();
            w.write_all(b"s3cret-password\n").unwrap();
            w.finish().unwrap();
            out
        };
        let err = open_it(&rebuild(&bare));
        assert_eq!(err, V2Error::NoBinding);
        assert!(!err.to_string().contains("s3cret"));
        let many: String = std::iter::repeat_n("-> X25519 AAAA\nAAAA\n", 300).collect();
        let many = format!("age-encryption.org/v1\n{many}--- AAAA\n");
        assert_eq!(open_it(&rebuild(many.as_bytes())), V2Error::TooManyRecipients(300));
        // Not age at all.
        assert_eq!(open_it(&rebuild(b"hello\n--- x")), V2Error::BadHeader);
    }

    #[test]
    fn recipients_and_identities_parse_with_line_numbers() {
        let id = Identity::generate();
        let file = id.to_file("2026-01-01T00:00:00Z");
        let back = Identity::parse_file(&file).unwrap();
        assert_eq!(back[0].recipient().as_str(), id.recipient().as_str());
        let text = format!("# team\n{}\n\nage1nope\n", id.recipient().as_str());
        let (line, err) = parse_recipients(&text).unwrap_err();
        assert_eq!(line, 4);
        assert!(matches!(err, V2Error::InvalidRecipient(_)));
        let err = Identity::parse_file("# nothing\n").unwrap_err();
        assert!(err.to_string().contains("no AGE-SECRET-KEY"));
        let err = Identity::parse_file("AGE-SECRET-KEY-1NOPE\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(!err.to_string().contains("NOPE"), "never echoes key material");
    }
}
