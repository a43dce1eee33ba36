//! The encryption of PROTOCOL.md §6: P-256 key pairs, ECDH (the shared secret is the 32-byte
//! x-coordinate), HKDF-SHA256 with no salt (= 32 zero bytes) and info
//! `wse-encryption/aes-gcm-key` to a 32-byte key, and AES-256-GCM with the `E:` body layout
//! IV(12) ‖ ciphertext ‖ tag(16), no AAD, a fresh random IV per message.

use crate::error::{try_grow, CodecFailure, CodecResult, ErrorCode};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

/// HKDF info string of the WSE key derivation.
pub const HKDF_INFO: &[u8] = b"wse-encryption/aes-gcm-key";
/// Length of an uncompressed SEC1 P-256 point (0x04 ‖ X ‖ Y).
pub const PUBLIC_KEY_LEN: usize = 65;
/// Length of a P-256 secret scalar and of an AES-256 key.
pub const KEY_LEN: usize = 32;
/// AES-GCM IV length.
pub const IV_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;

/// An ephemeral P-256 key pair.
pub struct KeyPair {
    secret: SecretKey,
}

impl KeyPair {
    /// A fresh key pair from the platform's secure random source.
    pub fn generate() -> CodecResult<KeyPair> {
        let mut bytes = [0u8; KEY_LEN];
        // Rejection sampling: a uniformly random 32-byte string is a valid scalar except with
        // probability ~2^-32; retry rather than bias.
        for _ in 0..64 {
            fill_random(&mut bytes)?;
            if let Ok(secret) = SecretKey::from_slice(&bytes) {
                return Ok(KeyPair { secret });
            }
        }
        Err(CodecFailure::new(ErrorCode::BadKey, "random source produced no valid scalar"))
    }

    /// A key pair from a 32-byte big-endian secret scalar (tests and key import).
    pub fn from_secret(secret: &[u8]) -> CodecResult<KeyPair> {
        if secret.len() != KEY_LEN {
            return Err(CodecFailure::new(ErrorCode::BadKey, "a P-256 secret is 32 bytes"));
        }
        SecretKey::from_slice(secret)
            .map(|secret| KeyPair { secret })
            .map_err(|_| CodecFailure::new(ErrorCode::BadKey, "secret scalar out of range"))
    }

    /// The 65-byte uncompressed public point.
    pub fn public_key(&self) -> Vec<u8> {
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// ECDH with the peer's 65-byte public point, then HKDF-SHA256 → the 32-byte AES key.
    pub fn derive_key(&self, peer_public_key: &[u8]) -> CodecResult<[u8; KEY_LEN]> {
        let peer = parse_public_key(peer_public_key)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        hkdf_key(&shared.raw_secret_bytes()[..])
    }
}

/// Parses a 65-byte uncompressed SEC1 point and checks that it lies on the curve.
pub fn parse_public_key(bytes: &[u8]) -> CodecResult<PublicKey> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 0x04 {
        return Err(CodecFailure::new(
            ErrorCode::BadKey,
            format!("a public key is 65 bytes starting 0x04 (got {} bytes)", bytes.len()),
        ));
    }
    PublicKey::from_sec1_bytes(bytes)
        .map_err(|_| CodecFailure::new(ErrorCode::BadKey, "public key is not a point on P-256"))
}

/// HKDF-SHA256 (no salt, info `wse-encryption/aes-gcm-key`) of a shared secret → 32 bytes.
pub fn hkdf_key(shared_secret: &[u8]) -> CodecResult<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    Hkdf::<Sha256>::new(None, shared_secret)
        .expand(HKDF_INFO, &mut key)
        .map_err(|_| CodecFailure::new(ErrorCode::BadKey, "HKDF expansion failed"))?;
    Ok(key)
}

/// An AES-256-GCM session key.
#[derive(Clone)]
pub struct SessionKey {
    cipher: Aes256Gcm,
}

impl SessionKey {
    /// A session key from 32 raw bytes.
    pub fn new(raw: &[u8]) -> CodecResult<SessionKey> {
        if raw.len() != KEY_LEN {
            return Err(CodecFailure::new(
                ErrorCode::BadKey,
                format!("an AES-256 key is 32 bytes (got {})", raw.len()),
            ));
        }
        Aes256Gcm::new_from_slice(raw)
            .map(|cipher| SessionKey { cipher })
            .map_err(|_| CodecFailure::new(ErrorCode::BadKey, "invalid AES-256 key"))
    }

    /// Encrypts with a fresh random IV → IV ‖ ciphertext ‖ tag.
    pub fn encrypt(&self, plaintext: &[u8]) -> CodecResult<Vec<u8>> {
        let mut iv = [0u8; IV_LEN];
        fill_random(&mut iv)?;
        self.encrypt_with_iv(&iv, plaintext)
    }

    /// Encrypts with a caller-chosen IV (test vectors only: never reuse an IV).
    pub fn encrypt_with_iv(&self, iv: &[u8; IV_LEN], plaintext: &[u8]) -> CodecResult<Vec<u8>> {
        let mut out = Vec::new();
        try_grow(&mut out, IV_LEN + plaintext.len() + TAG_LEN, ErrorCode::BadFrame)?;
        out.extend_from_slice(iv);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(&Nonce::from(*iv), b"", &mut out[IV_LEN..])
            .map_err(|_| CodecFailure::new(ErrorCode::BadFrame, "message too long for AES-GCM"))?;
        out.extend_from_slice(&tag[..]);
        Ok(out)
    }

    /// Decrypts IV ‖ ciphertext ‖ tag; any failure is `DECRYPT_FAILED`.
    pub fn decrypt(&self, body: &[u8]) -> CodecResult<Vec<u8>> {
        if body.len() < IV_LEN + TAG_LEN {
            return Err(CodecFailure::new(
                ErrorCode::DecryptFailed,
                format!("an encrypted body is at least 28 bytes (got {})", body.len()),
            ));
        }
        let (iv, rest) = body.split_at(IV_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let bad_length = || CodecFailure::new(ErrorCode::DecryptFailed, "bad IV or tag length");
        let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| bad_length())?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| bad_length())?;
        let mut out = Vec::new();
        try_grow(&mut out, ciphertext.len(), ErrorCode::DecryptFailed)?;
        out.extend_from_slice(ciphertext);
        self.cipher
            .decrypt_in_place_detached(&Nonce::from(iv), b"", &mut out, &Tag::from(tag))
            .map_err(|_| CodecFailure::new(ErrorCode::DecryptFailed, "authentication failed (wrong key or corrupt data)"))?;
        Ok(out)
    }
}

/// Fills `buf` from the platform's secure random source (getrandom; crypto.getRandomValues in wasm).
pub fn fill_random(buf: &mut [u8]) -> CodecResult<()> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|_| CodecFailure::new(ErrorCode::BadKey, "secure random source unavailable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn both_sides_derive_the_same_key() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let ka = a.derive_key(&b.public_key()).unwrap();
        let kb = b.derive_key(&a.public_key()).unwrap();
        assert_eq!(ka, kb);
        assert_eq!(a.public_key().len(), 65);
        assert_eq!(a.public_key()[0], 4);
    }

    #[test]
    fn hkdf_matches_rfc5869_structure() {
        // HKDF-SHA256 with an empty salt equals HMAC-based extract with 32 zero bytes: check that
        // None and an explicit zero salt agree, and pin one output.
        let ikm = [0x0bu8; 32];
        let none = hkdf_key(&ikm).unwrap();
        let mut zero = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), &ikm).expand(HKDF_INFO, &mut zero).unwrap();
        assert_eq!(none, zero);
    }

    #[test]
    fn ecdh_matches_a_fixed_vector() {
        // NIST CAVS P-256 ECDH vector (KAS ECC CDH primitive, count 0).
        let peer = hex("04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac");
        let secret = hex("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534");
        let pair = KeyPair::from_secret(&secret).unwrap();
        assert_eq!(
            pair.public_key(),
            hex("04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b23028af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141")
        );
        let shared = p256::ecdh::diffie_hellman(
            pair.secret.to_nonzero_scalar(),
            parse_public_key(&peer).unwrap().as_affine(),
        );
        assert_eq!(
            &shared.raw_secret_bytes()[..],
            hex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b").as_slice()
        );
        assert_eq!(pair.derive_key(&peer).unwrap(), hkdf_key(&shared.raw_secret_bytes()[..]).unwrap());
    }

    #[test]
    fn bad_public_keys_are_rejected() {
        let pair = KeyPair::generate().unwrap();
        let good = KeyPair::generate().unwrap().public_key();
        assert_eq!(pair.derive_key(&good[..64]).unwrap_err().code, ErrorCode::BadKey);
        assert_eq!(pair.derive_key(&[]).unwrap_err().code, ErrorCode::BadKey);
        let mut compressed_prefix = good.clone();
        compressed_prefix[0] = 2;
        assert_eq!(pair.derive_key(&compressed_prefix).unwrap_err().code, ErrorCode::BadKey);
        let mut off_curve = good.clone();
        off_curve[64] ^= 1;
        assert_eq!(pair.derive_key(&off_curve).unwrap_err().code, ErrorCode::BadKey);
        let mut identity = vec![0u8; 65];
        identity[0] = 4;
        assert_eq!(pair.derive_key(&identity).unwrap_err().code, ErrorCode::BadKey);
        assert_eq!(KeyPair::from_secret(&[0u8; 32]).err().unwrap().code, ErrorCode::BadKey);
        assert_eq!(KeyPair::from_secret(&[0xffu8; 32]).err().unwrap().code, ErrorCode::BadKey);
        assert_eq!(KeyPair::from_secret(&[1u8; 31]).err().unwrap().code, ErrorCode::BadKey);
    }

    #[test]
    fn aes_gcm_matches_a_known_vector() {
        // NIST GCM test case 14 (AES-256, zero key, zero IV, one zero block).
        let key = SessionKey::new(&[0u8; 32]).unwrap();
        let body = key.encrypt_with_iv(&[0u8; 12], &[0u8; 16]).unwrap();
        assert_eq!(&body[..12], &[0u8; 12]);
        assert_eq!(&body[12..28], hex("cea7403d4d606b6e074ec5d3baf39d18").as_slice());
        assert_eq!(&body[28..], hex("d0d1c8a799996bf0265b98b5d48ab919").as_slice());
        assert_eq!(key.decrypt(&body).unwrap(), vec![0u8; 16]);
    }

    #[test]
    fn encrypt_layout_and_fresh_ivs() {
        let key = SessionKey::new(&[9u8; 32]).unwrap();
        let a = key.encrypt(b"hello").unwrap();
        let b = key.encrypt(b"hello").unwrap();
        assert_eq!(a.len(), 12 + 5 + 16);
        assert_ne!(&a[..12], &b[..12], "IV must be fresh");
        assert_eq!(key.decrypt(&a).unwrap(), b"hello");
        assert_eq!(key.decrypt(&key.encrypt(b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let key = SessionKey::new(&[1u8; 32]).unwrap();
        let other = SessionKey::new(&[2u8; 32]).unwrap();
        let body = key.encrypt(b"secret message").unwrap();
        assert_eq!(other.decrypt(&body).unwrap_err().code, ErrorCode::DecryptFailed);
        for i in 0..body.len() {
            let mut bad = body.clone();
            bad[i] ^= 0x80;
            assert_eq!(key.decrypt(&bad).unwrap_err().code, ErrorCode::DecryptFailed, "byte {i}");
        }
        for n in 0..28 {
            assert_eq!(key.decrypt(&body[..n]).unwrap_err().code, ErrorCode::DecryptFailed);
        }
        assert_eq!(key.decrypt(&body[..body.len() - 1]).unwrap_err().code, ErrorCode::DecryptFailed);
        assert_eq!(SessionKey::new(&[0u8; 16]).err().unwrap().code, ErrorCode::BadKey);
    }
}
