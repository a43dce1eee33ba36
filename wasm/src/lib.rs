//! WSE codec core: zlib and zstd with hard caps on decompressed size, P-256 ECDH + HKDF-SHA256 +
//! AES-256-GCM for `E:` frames, and the client's topic sequencer and message-id dedup window.
//!
//! Plain Rust modules hold the logic and are unit-tested natively (`cargo test`); `bindings`
//! is a thin wasm-bindgen surface over them that the TypeScript facade `wasm/mod.ts` wraps.
//! No input reaches a panic: the build uses `panic = "abort"`, and a panic inside wasm would
//! poison the instance, so every length is checked and every failure is a `CodecFailure`.

pub mod bindings;
pub mod crypto;
pub mod dedup;
pub mod error;
pub mod keyed_hash;
pub mod sequencer;
pub mod zlib;
pub mod zstd_codec;

pub use error::{CodecFailure, CodecResult, ErrorCode};
