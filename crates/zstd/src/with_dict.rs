//! Compressing and decompressing with a [`ZstdDict`]: per-thread contexts that reference
//! the dictionary's digested tables, and the same bounds as without one.

use std::cell::RefCell;
use std::io::{self, Cursor};

use satchel_core::{Error, check_len, read_bounded};
use zstd::zstd_safe::DCtx;

use crate::{ZstdDict, compress_error, compress_with, corrupt, new_compressor, window_log_for};

thread_local! {
    /// The compressor, with the dictionary (by id) and level it references.
    static COMPRESSOR: RefCell<Option<(u32, i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// A compressor with checksums and content sizes on, referencing `dict`'s tables for
/// `level` (the level of a referenced dictionary is the one zstd compresses at).
fn prepare(
    c: Option<zstd::bulk::Compressor<'static>>,
    dict: &'static ZstdDict,
    level: i32,
) -> Result<zstd::bulk::Compressor<'static>, Error> {
    let encoder = dict.encoder(level)?;
    let mut c = match c {
        Some(c) => c,
        None => new_compressor(level).map_err(compress_error)?,
    };
    c.set_prepared_dictionary(encoder).map_err(compress_error)?;
    Ok(c)
}

/// Compresses `input` with `dict` at `level`, appending to `out`.
pub(crate) fn compress(
    dict: &'static ZstdDict,
    level: i32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    COMPRESSOR.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let current = matches!(&*slot, Some((id, l, _)) if *id == dict.id() && *l == level);
            if !current {
                let c = prepare(slot.take().map(|(_, _, c)| c), dict, level)?;
                *slot = Some((dict.id(), level, c));
            }
            let (_, _, c) = slot.as_mut().expect("compressor was just set");
            compress_with(c, input, out)
                .map(drop)
                .map_err(compress_error)
        }
        // Re-entered on this thread (a compression inside a compression): a fresh one.
        Err(_) => compress_with(&mut prepare(None, dict, level)?, input, out)
            .map(drop)
            .map_err(compress_error),
    })
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(zstd::zstd_safe::get_error_name(code))
}

fn new_dctx() -> io::Result<DCtx<'static>> {
    DCtx::try_create().ok_or_else(|| io::Error::other("zstd could not allocate a context"))
}

/// Decompresses a frame written with `dict`, appending at most `limit` bytes to `out`:
/// the declared size is checked before anything is allocated, and a frame declaring none
/// is streamed with the same bounded window as frames without a dictionary.
pub(crate) fn decompress(
    dict: &'static ZstdDict,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<(), Error> {
    match zstd::bulk::Decompressor::upper_bound(input) {
        Some(declared) => {
            check_len(declared, limit, "zstd")?;
            out.reserve_exact(declared);
            let start = out.len() as u64;
            let mut run = |d: &mut DCtx<'static>| {
                let mut tail = Cursor::new(&mut *out);
                tail.set_position(start);
                d.decompress_using_ddict(&mut tail, input, dict.decoder().as_ddict())
                    .map_err(zstd_error)
            };
            DECOMPRESSOR
                .with(|cell| match cell.try_borrow_mut() {
                    Ok(mut slot) => {
                        if slot.is_none() {
                            *slot = Some(new_dctx()?);
                        }
                        run(slot.as_mut().expect("context was just set"))
                    }
                    Err(_) => run(&mut new_dctx()?),
                })
                .map(drop)
                .map_err(corrupt)
        }
        None => {
            let mut decoder =
                zstd::stream::read::Decoder::with_prepared_dictionary(input, dict.decoder())
                    .map_err(corrupt)?;
            decoder
                .window_log_max(window_log_for(limit))
                .map_err(corrupt)?;
            read_bounded(decoder, out, limit, input.len().saturating_mul(4), "zstd")
        }
    }
}
