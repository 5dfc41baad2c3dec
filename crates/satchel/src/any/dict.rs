//! Dictionaries in run-time codecs: the `@dict=` part of a spec, and [`dict_id`].

#[allow(unused_imports)]
use super::*;

/// What the `@` part of a spec may hold, for messages.
const DICT_OPTION: &str = "`@dict=FILE` (a dictionary file) or `@dict=id:N` (a dictionary \
                           loaded already)";

/// Applies the options after `@` in `spec` (`dict=FILE` or `dict=id:N`) to `compression`.
pub(super) fn apply_options(
    compression: AnyCompression,
    options: &str,
    spec: &str,
) -> Result<AnyCompression, Error> {
    let Some(value) = options.strip_prefix("dict=") else {
        return Err(Error::new(
            ErrorKind::Spec,
            format!("unknown option `@{options}` in spec `{spec}`; valid: {DICT_OPTION}"),
        ));
    };
    if value.is_empty() {
        return Err(Error::new(
            ErrorKind::Spec,
            format!("`@dict=` in spec `{spec}` names no dictionary; use {DICT_OPTION}"),
        ));
    }
    match compression {
        #[cfg(feature = "zstd")]
        AnyCompression::Zstd(zstd) => {
            let dict = match value.strip_prefix("id:") {
                Some(id) => {
                    let id: u32 = id.parse().map_err(|_| {
                        Error::new(
                            ErrorKind::Spec,
                            format!(
                                "dictionary id `{id}` in spec `{spec}` is not a whole number \
                                 (a path starting with `id:` is written `./id:…`)"
                            ),
                        )
                    })?;
                    crate::ZstdDict::get(id).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Dictionary,
                            format!(
                                "spec `{spec}` names zstd dictionary {id}, which is not \
                                 loaded: name its file instead (`@dict=FILE`) or load it \
                                 first (ZstdDict::load)"
                            ),
                        )
                    })?
                }
                None => crate::ZstdDict::load_file(value)
                    .map_err(|e| e.context(format_args!("spec `{spec}`")))?,
            };
            Ok(AnyCompression::Zstd(zstd.dict(dict)))
        }
        other => Err(Error::new(
            ErrorKind::Spec,
            format!(
                "a dictionary needs zstd, and spec `{spec}` compresses with `{}`: write \
                 e.g. `json+zstd@dict=FILE`",
                other.name()
            ),
        )),
    }
}

/// The `@dict=id:N` suffix of a codec's spec, if it compresses with a dictionary.
pub(super) fn spec_suffix(compression: &AnyCompression) -> Option<String> {
    compression.dict_id().map(|id| format!("@dict=id:{id}"))
}

/// The id of the zstd dictionary a satchel value was compressed with: `None` for a value
/// that is not zstd-compressed behind satchel's header, or was compressed without one.
///
/// ```
/// # #[cfg(all(feature = "json", feature = "zstd"))] {
/// use satchel::{Codec, Zstd};
/// let bytes = Codec::json().compress(Zstd).encode(&[1, 2, 3])?;
/// assert_eq!(satchel::dict_id(&bytes), None);
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
pub fn dict_id(bytes: &[u8]) -> Option<u32> {
    #[cfg(feature = "zstd")]
    if let Ok((header, payload)) = satchel_core::Header::parse(bytes)
        && header.compression() == CompressionId::ZSTD
    {
        return satchel_zstd::frame_dict_id(payload);
    }
    let _ = bytes;
    None
}
