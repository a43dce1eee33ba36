//! zlib (RFC 1950) compression and capped decompression with flate2's pure-Rust backend
//! (miniz_oxide). The decompressor writes into a buffer that never grows past `max_size + 1`
//! bytes, so a zip bomb costs at most the cap in memory before it is rejected.

use crate::error::{try_grow, CodecFailure, CodecResult, ErrorCode};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

/// Default zlib level (same as zlib's `Z_DEFAULT_COMPRESSION`).
pub const DEFAULT_LEVEL: u32 = 6;

/// Output grows in steps of at most this many bytes while decompressing.
const GROW_STEP: usize = 64 * 1024;

thread_local! {
    /// One compressor per level, reused: miniz_oxide's state is large to allocate per call.
    static COMPRESSOR: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
    /// One reusable decompressor.
    static DECOMPRESSOR: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Compresses `data` as one zlib stream at `level` (clamped to 0..=9).
pub fn compress(data: &[u8], level: u32) -> CodecResult<Vec<u8>> {
    let level = level.min(9);
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let reusable = matches!(&*slot, Some((l, _)) if *l == level);
        if !reusable {
            *slot = Some((level, Compress::new(Compression::new(level), true)));
        }
        let Some((_, compressor)) = slot.as_mut() else {
            return Err(CodecFailure::new(ErrorCode::BadFrame, "compressor unavailable"));
        };
        compressor.reset();
        let result = compress_with(compressor, data);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

fn compress_with(compressor: &mut Compress, data: &[u8]) -> CodecResult<Vec<u8>> {
    let mut out = Vec::new();
    // Stored blocks cost 5 bytes per 64 KiB; zlib adds 6 bytes of header and trailer.
    try_grow(&mut out, data.len() + data.len() / 1024 + 64, ErrorCode::BadFrame)?;
    loop {
        let consumed = usize::try_from(compressor.total_in()).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or(&[]);
        let status = compressor
            .compress_vec(rest, &mut out, FlushCompress::Finish)
            .map_err(|e| CodecFailure::new(ErrorCode::BadFrame, format!("zlib compression failed: {e}")))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            let step = out.len() / 2 + 64;
            try_grow(&mut out, step, ErrorCode::BadFrame)?;
        }
    }
}

/// Inflates one complete zlib stream. Errors: `TOO_LARGE` when the output would exceed
/// `max_size` bytes, `DECOMPRESS_FAILED` for corrupt, truncated or trailing data.
pub fn decompress(data: &[u8], max_size: usize) -> CodecResult<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = slot.get_or_insert_with(|| Decompress::new(true));
        decompressor.reset(true);
        let result = decompress_with(decompressor, data, max_size);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

fn decompress_with(d: &mut Decompress, data: &[u8], max_size: usize) -> CodecResult<Vec<u8>> {
    let limit = max_size.saturating_add(1);
    let mut out = Vec::new();
    let first = data.len().saturating_mul(4).clamp(256, GROW_STEP).min(limit);
    try_grow(&mut out, first, ErrorCode::TooLarge)?;
    loop {
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or(&[]);
        let produced_before = out.len();
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|e| CodecFailure::new(ErrorCode::DecompressFailed, format!("corrupt zlib stream: {e}")))?;
        if out.len() > max_size {
            return Err(too_large(max_size));
        }
        let consumed_now = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        match status {
            Status::StreamEnd => {
                if consumed_now != data.len() {
                    return Err(CodecFailure::new(ErrorCode::DecompressFailed, "trailing bytes after the zlib stream"));
                }
                return Ok(out);
            }
            Status::Ok | Status::BufError => {
                if out.len() == out.capacity() {
                    if out.capacity() >= limit {
                        return Err(too_large(max_size));
                    }
                    let step = out.capacity().clamp(256, GROW_STEP).min(limit - out.capacity());
                    try_grow(&mut out, step, ErrorCode::TooLarge)?;
                } else if consumed_now == consumed && out.len() == produced_before {
                    return Err(CodecFailure::new(ErrorCode::DecompressFailed, "truncated zlib stream"));
                }
            }
        }
    }
}

pub(crate) fn too_large(max_size: usize) -> CodecFailure {
    CodecFailure::new(ErrorCode::TooLarge, format!("decompressed size exceeds the cap of {max_size} bytes"))
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
            for level in [0, 1, 6, 9, 42] {
                let z = compress(&data, level).unwrap();
                assert_eq!(z[0], 0x78, "zlib header");
                assert_eq!(decompress(&z, n).unwrap(), data, "n={n} level={level}");
            }
        }
    }

    #[test]
    fn inflates_a_known_vector() {
        // zlib.compress(b"hello") from CPython.
        let z = [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15];
        assert_eq!(decompress(&z, 5).unwrap(), b"hello");
    }

    #[test]
    fn cap_is_exact() {
        let data = vec![7u8; 10_000];
        let z = compress(&data, 6).unwrap();
        assert_eq!(decompress(&z, 10_000).unwrap().len(), 10_000);
        assert_eq!(decompress(&z, 9_999).unwrap_err().code, ErrorCode::TooLarge);
        assert_eq!(decompress(&z, 0).unwrap_err().code, ErrorCode::TooLarge);
        assert_eq!(decompress(&compress(b"", 6).unwrap(), 0).unwrap(), b"");
    }

    #[test]
    fn zip_bomb_is_rejected_without_inflating_it() {
        let bomb = compress(&vec![0u8; 50 << 20], 9).unwrap();
        assert!(bomb.len() < 100_000);
        assert_eq!(decompress(&bomb, 1 << 20).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn truncated_corrupt_and_trailing_input_fail() {
        let z = compress(&sample(5000), 6).unwrap();
        for cut in [0, 1, 2, 5, z.len() / 2, z.len() - 1] {
            assert_eq!(decompress(&z[..cut], 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed, "cut {cut}");
        }
        let mut bad = z.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1; // adler32 checksum
        assert_eq!(decompress(&bad, 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
        let mut trailing = z.clone();
        trailing.push(0);
        assert_eq!(decompress(&trailing, 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
        assert_eq!(decompress(b"not zlib at all", 1 << 20).unwrap_err().code, ErrorCode::DecompressFailed);
    }

    #[test]
    fn still_works_after_failures() {
        let _ = decompress(b"\x78\x9c\xff\xff", 10);
        let z = compress(b"after", 6).unwrap();
        assert_eq!(decompress(&z, 100).unwrap(), b"after");
    }
}
