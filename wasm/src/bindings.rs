//! The wasm-bindgen surface: thin wrappers that turn `CodecFailure` into a JS `Error` whose
//! message is `CODE: text` (the facade maps it to `CodecError`). Byte arguments are copied in,
//! results copied out. Classes are freed by the facade's FinalizationRegistry (`--weak-refs`).

use crate::crypto::{KeyPair, SessionKey};
use crate::dedup::DedupWindow;
use crate::error::CodecFailure;
use crate::sequencer::Sequencer;
use crate::{zlib, zstd_codec};
use wasm_bindgen::prelude::*;

fn js(failure: CodecFailure) -> JsError {
    JsError::new(&failure.to_string())
}

/// zlib-compresses `data`; a negative level means the default (6), above 9 means 9.
#[wasm_bindgen(js_name = zlibCompress)]
pub fn zlib_compress(data: &[u8], level: i32) -> Result<Vec<u8>, JsError> {
    let level = u32::try_from(level).unwrap_or(zlib::DEFAULT_LEVEL);
    zlib::compress(data, level).map_err(js)
}

/// Inflates one zlib stream of at most `max_size` bytes.
#[wasm_bindgen(js_name = zlibDecompress)]
pub fn zlib_decompress(data: &[u8], max_size: u32) -> Result<Vec<u8>, JsError> {
    zlib::decompress(data, max_size as usize).map_err(js)
}

/// zstd-compresses `data` into one frame; the level is clamped to -7..=19.
#[wasm_bindgen(js_name = zstdCompress)]
pub fn zstd_compress(data: &[u8], level: i32) -> Result<Vec<u8>, JsError> {
    zstd_codec::compress(data, level).map_err(js)
}

/// Decodes zstd frames of at most `max_size` bytes in total.
#[wasm_bindgen(js_name = zstdDecompress)]
pub fn zstd_decompress(data: &[u8], max_size: u32) -> Result<Vec<u8>, JsError> {
    zstd_codec::decompress(data, max_size as usize).map_err(js)
}

/// An ephemeral P-256 key pair whose secret never leaves wasm memory.
#[wasm_bindgen(js_name = WasmKeyPair)]
pub struct WasmKeyPair {
    inner: KeyPair,
}

#[wasm_bindgen(js_class = WasmKeyPair)]
impl WasmKeyPair {
    /// A fresh random key pair.
    #[wasm_bindgen(constructor)]
    pub fn generate() -> Result<WasmKeyPair, JsError> {
        KeyPair::generate().map(|inner| WasmKeyPair { inner }).map_err(js)
    }

    /// A key pair from a 32-byte secret scalar (tests and key import).
    #[wasm_bindgen(js_name = fromSecret)]
    pub fn from_secret(secret: &[u8]) -> Result<WasmKeyPair, JsError> {
        KeyPair::from_secret(secret).map(|inner| WasmKeyPair { inner }).map_err(js)
    }

    /// The 65-byte uncompressed public point.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self) -> Vec<u8> {
        self.inner.public_key()
    }

    /// ECDH with the peer's public point + HKDF-SHA256 → the 32-byte AES key.
    #[wasm_bindgen(js_name = deriveKey)]
    pub fn derive_key(&self, peer_public_key: &[u8]) -> Result<Vec<u8>, JsError> {
        self.inner.derive_key(peer_public_key).map(|k| k.to_vec()).map_err(js)
    }
}

/// An AES-256-GCM key with its expanded key schedule.
#[wasm_bindgen(js_name = WasmSessionKey)]
pub struct WasmSessionKey {
    inner: SessionKey,
}

#[wasm_bindgen(js_class = WasmSessionKey)]
impl WasmSessionKey {
    /// A session key from 32 raw bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(raw: &[u8]) -> Result<WasmSessionKey, JsError> {
        SessionKey::new(raw).map(|inner| WasmSessionKey { inner }).map_err(js)
    }

    /// IV ‖ ciphertext ‖ tag with a fresh random IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, JsError> {
        self.inner.encrypt(plaintext).map_err(js)
    }

    /// The plaintext of IV ‖ ciphertext ‖ tag.
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, JsError> {
        self.inner.decrypt(body).map_err(js)
    }
}

/// The per-topic `(epoch, offset)` tracker.
#[wasm_bindgen(js_name = WasmSequencer)]
pub struct WasmSequencer {
    inner: Sequencer,
}

impl Default for WasmSequencer {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen(js_class = WasmSequencer)]
impl WasmSequencer {
    /// An empty sequencer.
    #[wasm_bindgen(constructor)]
    pub fn new() -> WasmSequencer {
        WasmSequencer { inner: Sequencer::new() }
    }

    /// 0 deliver, 1 duplicate, 2 gap, 3 rebaseline. `offset` is a non-negative integer
    /// (validated by the facade; fractions truncate, out-of-range values saturate).
    pub fn check(&mut self, topic: &str, epoch: &str, offset: f64) -> u8 {
        use crate::sequencer::Verdict::*;
        match self.inner.check(topic, epoch, offset as u64) {
            Deliver => 0,
            Duplicate => 1,
            Gap => 2,
            Rebaseline => 3,
        }
    }

    /// Sets a topic's position.
    pub fn reset(&mut self, topic: &str, epoch: &str, offset: f64) {
        self.inner.reset(topic, epoch, offset as u64);
    }

    /// A topic's epoch, if it has a position.
    pub fn epoch(&self, topic: &str) -> Option<String> {
        self.inner.position(topic).map(|p| p.epoch.clone())
    }

    /// A topic's last offset, or -1 when it has no position.
    pub fn offset(&self, topic: &str) -> f64 {
        self.inner.position(topic).map_or(-1.0, |p| p.offset as f64)
    }

    /// Forgets a topic.
    pub fn forget(&mut self, topic: &str) {
        self.inner.forget(topic);
    }

    /// Every topic with a position, sorted.
    pub fn topics(&self) -> Vec<String> {
        self.inner.positions().into_iter().map(|(t, _)| t.to_owned()).collect()
    }
}

/// The message-id dedup window.
#[wasm_bindgen(js_name = WasmDedupWindow)]
pub struct WasmDedupWindow {
    inner: DedupWindow,
}

#[wasm_bindgen(js_class = WasmDedupWindow)]
impl WasmDedupWindow {
    /// A window of `capacity` ids kept `max_age_ms` each.
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: u32, max_age_ms: f64) -> WasmDedupWindow {
        WasmDedupWindow { inner: DedupWindow::new(capacity as usize, max_age_ms) }
    }

    /// True when `id` was seen within the window; otherwise records it.
    pub fn seen(&mut self, id: &str, now_ms: f64) -> bool {
        self.inner.seen(id, now_ms)
    }

    /// Number of ids held.
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.len()).unwrap_or(u32::MAX)
    }

    /// Empties the window.
    pub fn clear(&mut self) {
        self.inner.clear();
    }
}
