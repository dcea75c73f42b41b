//! RSA2 (SHA256withRSA, RSASSA-PKCS1-v1_5) signing and verification of the `alipay.intl` envelope,
//! through OpenSSL (never the `rsa` crate: RUSTSEC-2023-0071).
//!
//! Alipay signs the *exact bytes* of the `request`/`response` member as transmitted, so this module
//! works on raw text: [`member_span`] cuts a member out of the received body without re-serialising,
//! and [`envelope`] builds a body around bytes that were signed once. Keys print as `[redacted]`.

use anyhow::{anyhow, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use std::fmt;

/// A merchant (or sandbox) RSA private key. Never printed.
#[derive(Clone)]
pub struct PrivateKey(PKey<Private>);

/// A public key used to verify the other side's signatures.
#[derive(Clone)]
pub struct PublicKey(PKey<Public>);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} bits)", self.0.bits())
    }
}

/// Strips PEM armour and whitespace; `None` when the text is not Base64 at all.
fn bare_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).flat_map(|l| l.split_whitespace()).collect();
    B64.decode(body).ok()
}

impl PrivateKey {
    /// Reads a PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) or a bare Base64 DER key.
    /// `what` names where it came from (a config key); the key itself never appears in errors.
    pub fn parse(text: &str, what: &str) -> Result<PrivateKey> {
        let t = text.trim();
        let key = if t.starts_with("-----BEGIN") {
            PKey::private_key_from_pem(t.as_bytes()).ok()
        } else {
            bare_der(t).and_then(|der| {
                PKey::private_key_from_der(&der)
                    .ok()
                    .or_else(|| Rsa::private_key_from_der(&der).ok().and_then(|r| PKey::from_rsa(r).ok()))
            })
        };
        let key = key.ok_or_else(|| {
            anyhow!("{what}: not an RSA private key (expected PEM or Base64 DER, PKCS#1 or PKCS#8): check the key you configured")
        })?;
        anyhow::ensure!(
            key.rsa().is_ok(),
            "{what}: the private key is not an RSA key: Alipay's RSA2 needs RSA (2048 bits)"
        );
        Ok(PrivateKey(key))
    }

    /// A fresh 2048-bit key (the sandbox's own pair, test keys).
    pub fn generate() -> Result<PrivateKey> {
        let rsa = Rsa::generate(2048).context("cannot generate an RSA key with OpenSSL")?;
        Ok(PrivateKey(PKey::from_rsa(rsa)?))
    }

    /// PKCS#8 PEM, for saving the sandbox's key in its state folder.
    pub fn to_pem(&self) -> Result<String> {
        Ok(String::from_utf8(self.0.private_key_to_pem_pkcs8()?)?)
    }

    /// Modulus size in bits (Alipay's RSA2 wants 2048 or more).
    pub fn bits(&self) -> u32 {
        self.0.bits()
    }

    pub fn public(&self) -> Result<PublicKey> {
        let der = self.0.public_key_to_der()?;
        Ok(PublicKey(PKey::public_key_from_der(&der)?))
    }

    /// Base64 signature of `bytes`.
    pub fn sign(&self, bytes: &[u8]) -> Result<String> {
        let mut s = Signer::new(MessageDigest::sha256(), &self.0)?;
        s.update(bytes)?;
        Ok(B64.encode(s.sign_to_vec()?))
    }
}

impl PublicKey {
    /// Reads an SPKI PEM (`PUBLIC KEY`), a PKCS#1 PEM (`RSA PUBLIC KEY`) or bare Base64 SPKI DER.
    pub fn parse(text: &str, what: &str) -> Result<PublicKey> {
        let t = text.trim();
        let key = if t.starts_with("-----BEGIN RSA PUBLIC KEY") {
            Rsa::public_key_from_pem_pkcs1(t.as_bytes()).ok().and_then(|r| PKey::from_rsa(r).ok())
        } else if t.starts_with("-----BEGIN") {
            PKey::public_key_from_pem(t.as_bytes()).ok()
        } else {
            bare_der(t).and_then(|der| PKey::public_key_from_der(&der).ok())
        };
        key.map(PublicKey).ok_or_else(|| {
            anyhow!("{what}: not an RSA public key (expected PEM or Base64 SPKI DER): check the file Alipay gave you")
        })
    }

    pub fn to_pem(&self) -> Result<String> {
        Ok(String::from_utf8(self.0.public_key_to_pem()?)?)
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.0.bits()
    }

    /// SHA-256 of the SPKI DER, lowercase hex: the same value as
    /// `openssl pkey -pubin -in key.pem -outform DER | sha256sum`, safe to print and compare.
    pub fn sha256_fingerprint(&self) -> Result<String> {
        use sha2::Digest;
        Ok(hex::encode(sha2::Sha256::digest(self.0.public_key_to_der()?)))
    }

    /// Bare Base64 SPKI DER (the form Alipay's portal shows).
    pub fn to_base64(&self) -> Result<String> {
        Ok(B64.encode(self.0.public_key_to_der()?))
    }

    /// Whether `signature` (Base64, possibly Base64 twice as in Alipay's worked example) signs `bytes`.
    pub fn verify(&self, bytes: &[u8], signature: &str) -> bool {
        let Ok(once) = B64.decode(signature.trim()) else { return false };
        let size = self.0.size();
        let raw = if once.len() == size {
            once
        } else {
            // Double encoding: the first decode yields Base64 text of the real signature.
            match std::str::from_utf8(&once).ok().and_then(|t| B64.decode(t.trim()).ok()) {
                Some(twice) => twice,
                None => return false,
            }
        };
        let check = || -> Result<bool, openssl::error::ErrorStack> {
            let mut v = Verifier::new(MessageDigest::sha256(), &self.0)?;
            v.update(bytes)?;
            v.verify(&raw)
        };
        check().unwrap_or(false)
    }
}

/// The raw text of the top-level member `name` of the JSON object `body` (from its value's first
/// byte to its last), found by scanning — never by re-serialising, so the signed bytes stay exact.
pub fn member_span<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let b = body.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let key = &body[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let start = i;
        let end = value_end(b, i)?;
        if key == name {
            return Some(&body[start..end]);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i += 1,
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Index just past the closing quote of the string starting at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// Index just past the JSON value starting at `i` (object, array, string or scalar).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            Some(j)
        }
    }
}

/// `{"<member>":<signed bytes>,"signature":"<sig>"}` — built textually around bytes signed once.
pub fn envelope(member: &str, signed: &str, signature: &str) -> String {
    format!("{{\"{member}\":{signed},\"signature\":\"{signature}\"}}")
}

/// Signs `inner` (the serialised `{head, body}`) and wraps it.
pub fn sign_envelope(key: &PrivateKey, member: &str, inner: &str) -> Result<String> {
    Ok(envelope(member, inner, &key.sign(inner.as_bytes())?))
}

/// Why a received envelope is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body has no `{0}` member: it is not an Alipay envelope")]
    NoMember(&'static str),
    #[error("the body has no `signature`")]
    NoSignature,
    #[error("the signature does not verify with the configured public key (tampered, or the wrong key is configured)")]
    BadSignature,
}

/// Cuts `member` and `signature` out of `body` and verifies; returns the member's raw text.
pub fn open_envelope<'a>(body: &'a str, member: &'static str, key: &PublicKey) -> Result<&'a str, EnvelopeError> {
    let inner = member_span(body, member).ok_or(EnvelopeError::NoMember(member))?;
    let sig_raw = member_span(body, "signature").ok_or(EnvelopeError::NoSignature)?;
    let sig: String = serde_json::from_str(sig_raw).map_err(|_| EnvelopeError::NoSignature)?;
    if key.verify(inner.as_bytes(), &sig) {
        Ok(inner)
    } else {
        Err(EnvelopeError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    const VECTOR_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmk1isShc+WrA9N89t+xQuXTuIUSgSkRD7q0HkLXrPoI8WvQoquxh6v6N6gD4AzqMwsqKvfYLd8E+BH5bFKbCm+X3o6lSK2rjpfvSvUyoXlSFJ8445PrRqceR/kmCk92p3qG4HKUKdOY6ECAnb2sQEkMPCN4qYfOgi+QlElS3R1meo+eEnxNi0PZwK4B5FgGfOSH7zo61s4TYzRCY/5d2niH9i1ezUG5AK3kGxu69iULKbHytzRaw8ze5krCFq8Ud4zj6WawYMCrUGAD+lrkFn++WzGcjp+jW0im0+6Cb1/sYe8SG+JTgsfDKQ4PEG87n/zS6DjrG9Tmm/h3u9SKJvwIDAQAB";
    const VECTOR_BYTES: &str = r#"{"head":{"version":"2.0.4","function":"alipay.intl.acquiring.offline.payQuery","clientId":"385XXXXXXXXX0001","reqTime":"2024-01-15T10:30:10+08:00","reqMsgId":"7d0e9c6e-1c0b-4a57-9a1e-2f3c4d5e6f70","reserve":"{}","signType":"RSA2"},"body":{"merchantId":"2188XXXXXXXX0001","merchantTransId":"POS01-20240115-000123"}}"#;
    const VECTOR_SIG: &str = "ZDk850iiFSS/alXb3ALO46hOl3FfrYHxlWIf4g2U6kKNd5uD6b/UcEZH4H6gQg9oqFRrzuDjtric+j0+ACYzUd/ptnWHXAAIepkj7z7UVkGpkEEYmUIR4JaL8B8COXFMqY3mT2Bhtf/YkkjVytjJ3/keiipHNAo6T9mT2lzFgzocwHCDWaeBneBZ32fq9oepKNk553CW4TTfewHlvUVVchPVLHaBUxhhVt2ECTUrZQXGqy0qCUEhV/V1PjIp6XNk2dk1pZwZ/7dqjiZ72p3fbmIrXf2zzZT5RDt9QMSm+emgFV0BC42bpWl+c6q04OfD7Ql33q0pKP4mIRFEgBfogg==";

    #[test]
    fn spec_test_vector_verifies() {
        assert_eq!(
            hex::encode(sha2::Sha256::digest(VECTOR_BYTES.as_bytes())),
            "2f4a3ddcaf6b14d921682ce728d08106e8b855434ea135a17acfbd067e7dcd83"
        );
        let key = PublicKey::parse(VECTOR_KEY, "vector").unwrap();
        assert!(key.verify(VECTOR_BYTES.as_bytes(), VECTOR_SIG));
        // Base64 twice, as the docs' worked example seems to do.
        assert!(key.verify(VECTOR_BYTES.as_bytes(), &B64.encode(VECTOR_SIG)));
        // One changed byte of the signed text fails.
        assert!(!key.verify(VECTOR_BYTES.replace("000123", "000124").as_bytes(), VECTOR_SIG));
        assert!(!key.verify(VECTOR_BYTES.as_bytes(), "not base64!"));
    }

    #[test]
    fn vector_through_the_envelope() {
        let key = PublicKey::parse(VECTOR_KEY, "vector").unwrap();
        let body = format!("{{ \"response\" : {VECTOR_BYTES} , \"signature\":\"{VECTOR_SIG}\"}}");
        assert_eq!(open_envelope(&body, "response", &key).unwrap(), VECTOR_BYTES);
        let tampered = body.replace("POS01", "POS02");
        assert_eq!(open_envelope(&tampered, "response", &key), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn sign_round_trip_and_key_forms() {
        let k = PrivateKey::generate().unwrap();
        let pem = k.to_pem().unwrap();
        assert!(format!("{k:?}").contains("redacted"));
        let again = PrivateKey::parse(&pem, "k").unwrap();
        let pkcs1 = String::from_utf8(again.0.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
        let der_b64 = B64.encode(again.0.rsa().unwrap().private_key_to_der().unwrap());
        let pkcs8_b64 = B64.encode(again.0.private_key_to_pkcs8().unwrap());
        let public = k.public().unwrap();
        for form in [pem.as_str(), pkcs1.as_str(), der_b64.as_str(), pkcs8_b64.as_str()] {
            let key = PrivateKey::parse(form, "k").unwrap();
            let inner = r#"{"head":{"a":"x\"}"},"body":{"n":[1,{"b":2}]}}"#;
            let env = sign_envelope(&key, "request", inner).unwrap();
            assert_eq!(open_envelope(&env, "request", &public).unwrap(), inner);
        }
        let pub_b64 = PublicKey::parse(&public.to_base64().unwrap(), "p").unwrap();
        assert!(pub_b64.verify(b"x", &k.sign(b"x").unwrap()));
        let err = PrivateKey::parse(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "environments.sandbox.private_key",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("environments.sandbox.private_key"), "{err}");
    }

    #[test]
    fn member_span_table() {
        let body = r#"{"a":1, "s":"}{\"x", "o":{"k":[1,2,{"z":"]"}]}, "last":true}"#;
        assert_eq!(member_span(body, "a"), Some("1"));
        assert_eq!(member_span(body, "s"), Some(r#""}{\"x""#));
        assert_eq!(member_span(body, "o"), Some(r#"{"k":[1,2,{"z":"]"}]}"#));
        assert_eq!(member_span(body, "last"), Some("true"));
        assert_eq!(member_span(body, "missing"), None);
        assert_eq!(member_span("not json", "a"), None);
        assert_eq!(member_span(r#"{"a":{"#, "a"), None);
    }
}
