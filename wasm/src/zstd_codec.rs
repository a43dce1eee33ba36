//! zstd compression (one frame) and capped decompression, on the reference C library (zstd-sys,
//! compiled to wasm32 with clang). The decoder writes into a buffer that never grows past
//! `max_size + 1` bytes and refuses frames whose window exceeds `WINDOW_LOG_MAX`, so neither a
//! zip bomb nor a forged window size can make it allocate without bound.

use crate::error::{try_grow, CodecFailure, CodecResult, ErrorCode};
use crate::zlib::too_large;
use std::cell::RefCell;
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer, ResetDirective};

/// Default zstd level (zstd's own default).
pub const DEFAULT_LEVEL: i32 = 3;
/// Lowest accepted level (faster, "negative" levels); lower requests are clamped.
pub const MIN_LEVEL: i32 = -7;
/// Highest accepted level; higher requests are clamped.
pub const MAX_LEVEL: i32 = 19;
/// Largest window a frame may declare: 8 MiB (level 19 of a ≤ 8 MiB message fits).
pub const WINDOW_LOG_MAX: u32 = 23;

/// Output grows in steps of at most this many bytes while decompressing.
const GROW_STEP: usize = 128 * 1024;

thread_local! {
    /// A reusable compression context (creating one per call dominates small messages).
    static CCTX: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    /// A reusable decompression context.
    static DCTX: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

fn zstd_error(code: ErrorCode, what: &str, err: usize) -> CodecFailure {
    CodecFailure::new(code, format!("{what}: {}", zstd_safe::get_error_name(err)))
}

/// Compresses `data` into one zstd frame (content size recorded) at `level`, clamped to
/// `MIN_LEVEL..=MAX_LEVEL`.
pub fn compress(data: &[u8], level: i32) -> CodecResult<Vec<u8>> {
    let level = level.clamp(MIN_LEVEL, MAX_LEVEL);
    CCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        let cctx = slot.get_or_insert_with(CCtx::create);
        let result = compress_with(cctx, data, level);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

fn compress_with(cctx: &mut CCtx<'static>, data: &[u8], level: i32) -> CodecResult<Vec<u8>> {
    cctx.reset(ResetDirective::SessionAndParameters)
        .map_err(|e| zstd_error(ErrorCode::BadFrame, "zstd reset failed", e))?;
    cctx.set_parameter(CParameter::CompressionLevel(level))
        .map_err(|e| zstd_error(ErrorCode::BadFrame, "zstd level rejected", e))?;
    let mut out = Vec::new();
    try_grow(&mut out, zstd_safe::compress_bound(data.len()), ErrorCode::BadFrame)?;
    cctx.compress2(&mut out, data)
        .map_err(|e| zstd_error(ErrorCode::BadFrame, "zstd compression failed", e))?;
    Ok(out)
}

/// Decodes one or more complete zstd frames. Errors: `TOO_LARGE` past `max_size` bytes,
/// `DECOMPRESS_FAILED` for corrupt or truncated data, or a window above 8 MiB.
pub fn decompress(data: &[u8], max_size: usize) -> CodecResult<Vec<u8>> {
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut dctx = DCtx::create();
            dctx.set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX))
                .map_err(|e| zstd_error(ErrorCode::DecompressFailed, "zstd setup failed", e))?;
            *slot = Some(dctx);
        }
        let Some(dctx) = slot.as_mut() else {
            return Err(CodecFailure::new(ErrorCode::DecompressFailed, "zstd context unavailable"));
        };
        let result = decompress_with(dctx, data, max_size);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

fn decompress_with(dctx: &mut DCtx<'static>, data: &[u8], max_size: usize) -> CodecResult<Vec<u8>> {
    dctx.reset(ResetDirective::SessionOnly)
        .map_err(|e| zstd_error(ErrorCode::DecompressFailed, "zstd reset failed", e))?;
    if data.is_empty() {
        return Err(CodecFailure::new(ErrorCode::DecompressFailed, "empty zstd input"));
    }
    let limit = max_size.saturating_add(1);
    let first = match declared_size(data) {
        Some(n) => n.min(limit),
        None => data.len().saturating_mul(4).clamp(256, GROW_STEP).min(limit),
    };
    let mut out: Vec<u8> = Vec::new();
    try_grow(&mut out, first, ErrorCode::TooLarge)?;
    let mut input = InBuffer::around(data);
    loop {
        if out.len() == out.capacity() {
            if out.capacity() >= limit {
                return Err(too_large(max_size));
            }
            let step = out.capacity().clamp(256, GROW_STEP).min(limit - out.capacity());
            try_grow(&mut out, step, ErrorCode::TooLarge)?;
        }
        let consumed_before = input.pos();
        let produced_before = out.len();
        let hint = {
            let start = out.len();
            let mut output = OutBuffer::around_pos(&mut out, start);
            dctx.decompress_stream(&mut output, &mut input)
                .map_err(|e| zstd_error(ErrorCode::DecompressFailed, "corrupt zstd frame", e))?
        };
        if out.len() > max_size {
            return Err(too_large(max_size));
        }
        let input_left = input.pos() < data.len();
        // hint 0: a frame is complete and fully flushed; more input means another frame.
        if hint == 0 && !input_left {
            return Ok(out);
        }
        let output_full = out.len() == out.capacity();
        let stalled = input.pos() == consumed_before && out.len() == produced_before;
        if !output_full && (!input_left || stalled) {
            return Err(CodecFailure::new(ErrorCode::DecompressFailed, "truncated zstd frame"));
        }
    }
}

/// The content size a frame header declares, when it declares one that fits in memory.
fn declared_size(data: &[u8]) -> Option<usize> {
    match zstd_safe::get_frame_content_size(data) {
        Ok(Some(n)) => usize::try_from(n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"{\"t\":\"price_update\",\"p\":{\"v\":"[i % 29] ^ (i / 97) as u8).collect()
    }

    #[test]
    fn round_trips_every_size_and_level() {
        for n in [0usize, 1, 100, 1024, 70_000, 300_000] {
            let data = sample(n);
            for level in [-100, -1, 1, 3, 19, 100] {
                let z = compress(&data, level).unwrap();
                assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
                assert_eq!(decompress(&z, n).unwrap(), data, "n={n} level={level}");
            }
        }
    }

    #[test]
    fn cap_is_exact() {
        let data = vec![7u8; 10_000];
        let z = compress(&data, 3).unwrap();
        assert_eq!(decompress(&z, 10_000).unwrap().len(), 10_000);
        assert_eq!(decompress(&z, 9_999).unwrap_err().code, ErrorCode::TooLarge);
        assert_eq!(decompress(&z, 0).unwrap_err().code, ErrorCode::TooLarge);
        assert_eq!(decompress(&compress(b"", 3).unwrap(), 0).unwrap(), b"");
    }

    #[test]
    fn zip_bomb_is_rejected_without_inflating_it() {
        let bomb = compress(&vec![0u8; 64 << 20], 3).unwrap();
        assert!(bomb.len() < 100_000);
        assert_eq!(decompress(&bomb, 1 << 20).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn concatenated_frames_decode_in_order() {
        let mut z = compress(b"abc", 3).unwrap();
        z.extend(compress(b"def", 3).unwrap());
        assert_eq!(decompress(&z, 6).unwrap(), b"abcdef");
    }

    #[test]
    fn truncated_and_corrupt_input_fail() {
        let z = compress(&sample(50_000), 3).unwrap();
        for cut in [1, 3, 4, 6, z.len() / 2, z.len() - 1] {
            let err = decompress(&z[..cut], 1 << 20).unwrap_err();
            assert_eq!(err.code, ErrorCode::DecompressFailed, "cut {cut}: {err}");
        }
        assert_eq!(decompress(b"", 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
        assert_eq!(decompress(b"not zstd data", 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
        let mut trailing = compress(b"abc", 3).unwrap();
        trailing.push(0x28);
        assert_eq!(decompress(&trailing, 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
        let mut flipped = z.clone();
        for i in (8..flipped.len()).step_by(97) {
            flipped[i] ^= 0x55;
        }
        assert!(decompress(&flipped, 1 << 20).is_err());
    }

    #[test]
    fn oversized_window_is_refused() {
        // Frame header: magic, descriptor 0x00 (window descriptor present, no content size),
        // window descriptor 0xF0 = 2^(10+30) bytes, far above the limit.
        let forged = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf0, 0x01, 0x00, 0x00];
        assert_eq!(decompress(&forged, 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
    }

    #[test]
    fn still_works_after_failures() {
        let _ = decompress(b"\x28\xb5\x2f\xfd\xff\xff\xff", 10);
        let z = compress(b"after", 3).unwrap();
        assert_eq!(decompress(&z, 100).unwrap(), b"after");
    }
}
