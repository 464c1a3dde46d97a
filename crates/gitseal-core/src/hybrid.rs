//! The per-item hybrid format: RSA-OAEP-wrapped AES-GCM session key.
//!
//! ```text
//! u16be len(R) ‖ R = RSA-OAEP-SHA256(pub, session_key, label) ‖ AES-GCM(session_key, zero nonce, no AAD)
//! ```
//!
//! The all-zero nonce is safe only because every value gets a fresh session key; it
//! is what Bitnami's controller expects, so it is not negotiable.

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, Algorithm, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use zeroize::Zeroizing;

use crate::keys::{PrivateKey, PublicKey};

/// Bytes of a fresh session key: AES-256.
pub const SESSION_KEY_LEN: usize = 32;
/// Bytes of the AES-GCM tag after every value's ciphertext.
pub const TAG_LEN: usize = 16;
const ZERO_NONCE: [u8; 12] = [0; 12];

/// Why one sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HybridError {
    #[error("SealedSecret data is too short")]
    TooShort,
    #[error("no key could decrypt secret")]
    NoKey,
    #[error("encryption failed")]
    Encrypt,
}

/// Seals `plaintext` to `key` under `label`.
pub fn encrypt(key: &PublicKey, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HybridError> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    aws_lc_rs::rand::fill(session_key.as_mut_slice()).map_err(|_| HybridError::Encrypt)?;

    let rsa_len = key.modulus_len();
    let prefix = u16::try_from(rsa_len).map_err(|_| HybridError::Encrypt)?;
    let mut out = vec![0u8; 2 + rsa_len + plaintext.len() + TAG_LEN];
    out[..2].copy_from_slice(&prefix.to_be_bytes());
    let wrapped = key
        .oaep()
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            session_key.as_slice(),
            &mut out[2..2 + rsa_len],
            Some(label),
        )
        .map_err(|_| HybridError::Encrypt)?;
    if wrapped.len() != rsa_len {
        return Err(HybridError::Encrypt);
    }

    let aead =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, session_key.as_slice()).map_err(|_| HybridError::Encrypt)?);
    let body = &mut out[2 + rsa_len..];
    let (data, tag_out) = body.split_at_mut(plaintext.len());
    data.copy_from_slice(plaintext);
    let tag = aead
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), data)
        .map_err(|_| HybridError::Encrypt)?;
    tag_out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Splits a sealed value into the wrapped key and the GCM part.
fn split(ciphertext: &[u8]) -> Result<(&[u8], &[u8]), HybridError> {
    let [hi, lo, rest @ ..] = ciphertext else {
        return Err(HybridError::TooShort);
    };
    let rsa_len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < rsa_len {
        return Err(HybridError::TooShort);
    }
    Ok(rest.split_at(rsa_len))
}

/// The length of the RSA part a sealed value declares, if it has one.
pub fn declared_rsa_len(ciphertext: &[u8]) -> Result<usize, HybridError> {
    split(ciphertext).map(|(r, _)| r.len())
}

/// Opens a sealed value, trying `keys` in order. Returns the plaintext and the
/// index of the key that opened it.
///
/// Keys whose modulus size differs from the wrapped key's length are skipped
/// without an RSA operation: they cannot have produced it.
pub fn decrypt<'k>(
    keys: impl IntoIterator<Item = &'k PrivateKey>,
    label: &[u8],
    ciphertext: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, usize), HybridError> {
    decrypt_counting(keys, label, ciphertext, &mut 0)
}

/// [`decrypt`], adding the number of RSA private-key operations performed to
/// `rsa_operations` (the controller reports it as a metric).
pub fn decrypt_counting<'k>(
    keys: impl IntoIterator<Item = &'k PrivateKey>,
    label: &[u8],
    ciphertext: &[u8],
    rsa_operations: &mut usize,
) -> Result<(Zeroizing<Vec<u8>>, usize), HybridError> {
    let (wrapped, sealed) = split(ciphertext)?;
    for (index, key) in keys.into_iter().enumerate() {
        if key.modulus_len() != wrapped.len() {
            continue;
        }
        *rsa_operations += 1;
        if let Some(plaintext) = open_with(key, label, wrapped, sealed) {
            return Ok((plaintext, index));
        }
    }
    Err(HybridError::NoKey)
}

fn open_with(key: &PrivateKey, label: &[u8], wrapped: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut session_key = Zeroizing::new(vec![0u8; key.oaep().min_output_size()]);
    let len = key
        .oaep()
        .decrypt(&OAEP_SHA256_MGF1SHA256, wrapped, &mut session_key, Some(label))
        .ok()?
        .len();
    let alg: &'static Algorithm = match len {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        _ => return None,
    };
    let aead = LessSafeKey::new(UnboundKey::new(alg, &session_key[..len]).ok()?);
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain_len = aead
        .open_in_place(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut buf)
        .ok()?
        .len();
    buf.truncate(plain_len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::parse_private_keys;

    fn key() -> PrivateKey {
        parse_private_keys(include_bytes!("../../../testdata/keys/second.key"))
            .unwrap()
            .remove(0)
    }

    /// Go's controller accepts AES-128/192 session keys too (older or foreign sealers).
    #[test]
    fn accepts_16_24_and_32_byte_session_keys() {
        let key = key();
        for len in [16usize, 24, 32] {
            let session = vec![7u8; len];
            let alg = match len {
                16 => &AES_128_GCM,
                24 => &AES_192_GCM,
                _ => &AES_256_GCM,
            };
            let rsa_len = key.modulus_len();
            let mut out = vec![0u8; 2 + rsa_len];
            out[..2].copy_from_slice(&(rsa_len as u16).to_be_bytes());
            key.public_key()
                .oaep()
                .encrypt(&OAEP_SHA256_MGF1SHA256, &session, &mut out[2..], Some(b"ns/name"))
                .unwrap();
            let mut body = b"payload".to_vec();
            LessSafeKey::new(UnboundKey::new(alg, &session).unwrap())
                .seal_in_place_append_tag(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut body)
                .unwrap();
            out.extend(body);
            let (pt, idx) = decrypt([&key], b"ns/name", &out).unwrap();
            assert_eq!((pt.as_slice(), idx), (&b"payload"[..], 0), "session key of {len} bytes");
        }
    }

    #[test]
    fn layout_is_prefix_wrapped_key_then_gcm() {
        let key = key();
        let ct = encrypt(key.public_key(), b"", b"hello").unwrap();
        assert_eq!(&ct[..2], &[0x01, 0x00], "2048-bit key: prefix 0x0100");
        assert_eq!(ct.len(), 2 + 256 + 5 + TAG_LEN);
        assert_eq!(declared_rsa_len(&ct), Ok(256));
    }

    #[test]
    fn short_inputs_are_errors() {
        let key = key();
        assert_eq!(decrypt([&key], b"", &[]), Err(HybridError::TooShort));
        assert_eq!(decrypt([&key], b"", &[0x01]), Err(HybridError::TooShort));
        assert_eq!(decrypt([&key], b"", &[0x01, 0x00, 0xff]), Err(HybridError::TooShort));
        // Declares a 3-byte RSA part: no 2048-bit key can have made it.
        assert_eq!(decrypt([&key], b"", &[0x00, 0x03, 1, 2, 3]), Err(HybridError::NoKey));
    }
}
