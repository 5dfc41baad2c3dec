//! [`train`]: a dictionary from sample values, with zstd's own trainer (feature `train`).

use satchel_core::{Error, ErrorKind};

/// The dictionary size zstd's trainer uses by default (110 KiB), and `satchel train`'s.
pub const DEFAULT_DICT_SIZE: usize = 110 * 1024;

/// Trains a dictionary of at most `max_size` bytes on `samples` (the uncompressed bytes of
/// values like the ones it will compress) with zstd's trainer, ready for
/// [`ZstdDict::load`](crate::ZstdDict::load).
///
/// zstd needs a fair number of samples to find what they share: a few hundred small
/// values, or samples adding up to about a hundred times `max_size`, give a good
/// dictionary.
///
/// # Errors
/// [`ErrorKind::Dictionary`] if `max_size` is under 256 bytes or zstd's trainer fails
/// (too few or too small samples; its error is the source).
pub fn train<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Vec<u8>, Error> {
    if max_size < 256 {
        return Err(Error::new(
            ErrorKind::Dictionary,
            format!("a zstd dictionary of {max_size} bytes is too small: ask for 256 or more"),
        ));
    }
    let total: usize = samples.iter().map(|s| s.as_ref().len()).sum();
    zstd::dict::from_samples(samples, max_size).map_err(|e| {
        Error::new(
            ErrorKind::Dictionary,
            format!(
                "zstd could not train a dictionary of up to {max_size} bytes on {} samples \
                 ({total} bytes): give it more samples, or ask for a smaller dictionary",
                samples.len()
            ),
        )
        .with_source(e)
    })
}
