//! A `BuildHasher` with per-instance random SipHash keys for maps keyed by peer-supplied
//! strings (topic names, message ids). std's `RandomState` has no entropy source on
//! wasm32-unknown-unknown and falls back to fixed keys, which would let a peer craft colliding
//! ids; these keys come from the platform's secure random source instead.

use crate::crypto::fill_random;
#[allow(deprecated)]
use std::hash::{BuildHasher, SipHasher};

/// Builds SipHash-2-4 hashers with keys drawn once per map from the secure random source.
#[derive(Debug, Clone)]
pub struct RandomKeys {
    k0: u64,
    k1: u64,
}

impl Default for RandomKeys {
    fn default() -> Self {
        let mut bytes = [0u8; 16];
        // Without entropy the map still works; it only loses its collision resistance.
        let _ = fill_random(&mut bytes);
        let (a, b) = bytes.split_at(8);
        RandomKeys {
            k0: u64::from_le_bytes(a.try_into().unwrap_or([0; 8])),
            k1: u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        }
    }
}

impl BuildHasher for RandomKeys {
    #[allow(deprecated)]
    type Hasher = SipHasher;

    #[allow(deprecated)]
    fn build_hasher(&self) -> SipHasher {
        SipHasher::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_get_different_keys() {
        let a = RandomKeys::default();
        let b = RandomKeys::default();
        assert!(a.k0 != b.k0 || a.k1 != b.k1);
        assert_eq!(a.hash_one("topic"), a.hash_one("topic"));
        assert_ne!(a.hash_one("topic"), b.hash_one("topic"));
    }
}
