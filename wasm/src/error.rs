//! The one error type of the codec core. Every failure caused by input maps to a code that the
//! TypeScript facade turns into `CodecError` (see `wasm/api.ts`).

use std::fmt;

/// Why an operation failed; the names match `CodecErrorCode` in `wasm/api.ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Corrupt or truncated compressed data.
    DecompressFailed,
    /// Output would exceed the caller's cap.
    TooLarge,
    /// Wrong key, bad tag, short or corrupt ciphertext.
    DecryptFailed,
    /// Malformed public key, secret or session key.
    BadKey,
    /// Anything else the caller passed that cannot be used (bad argument, bad frame).
    BadFrame,
}

impl ErrorCode {
    /// The code as spelled in `wasm/api.ts`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::DecompressFailed => "DECOMPRESS_FAILED",
            ErrorCode::TooLarge => "TOO_LARGE",
            ErrorCode::DecryptFailed => "DECRYPT_FAILED",
            ErrorCode::BadKey => "BAD_KEY",
            ErrorCode::BadFrame => "BAD_FRAME",
        }
    }
}

/// A failed codec operation: a machine-readable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecFailure {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// What went wrong, for logs.
    pub message: String,
}

impl CodecFailure {
    /// Builds a failure from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CodecFailure { code, message: message.into() }
    }
}

impl fmt::Display for CodecFailure {
    /// Renders `CODE: message`, the form the TypeScript facade parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for CodecFailure {}

/// Result of a codec operation.
pub type CodecResult<T> = Result<T, CodecFailure>;

/// Grows `buf` by up to `additional` bytes of capacity without aborting on allocation failure.
pub(crate) fn try_grow(buf: &mut Vec<u8>, additional: usize, code: ErrorCode) -> CodecResult<()> {
    buf.try_reserve_exact(additional)
        .map_err(|_| CodecFailure::new(code, "out of memory"))
}
