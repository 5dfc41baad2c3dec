//! JSON values to pipeline bytes and back, with errors that name the failing stage.
//!
//! The command line works on JSON. Self-describing formats (json, msgpack) carry any JSON
//! value directly. bincode is not self-describing: it cannot be read back into a
//! `serde_json::Value` (that needs `deserialize_any`). So for bincode the tool writes the
//! value through [`Dyn`], a private enum that says each value's kind, and reads bincode
//! back the same way. bincode values written by other programs (with their own Rust
//! types) cannot be shown without those types; reading them fails at the decoding stage
//! with a message that says so.
//!
//! Two foreign kinds of value, which carry no satchel header, are read too: what kvdb-py
//! stores (`_kvdbenc_` + its serializer's output, compressed or not; Python class tags are
//! kept as data, never mapped onto types) and what Coherence clients store (`0x15` + JSON).

use std::borrow::Cow;

use satchel::{
    AnyCompression, AnyFormat, Compression, CompressionId, DynCodec, Format, FormatId, Header,
    Limits,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::error::{CliError, chain, code};
use crate::tree::Tree;

/// A JSON value in a form bincode can write and read back: every value tagged with its kind.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Dyn {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Seq(Vec<Counted>),
    Map(Vec<(String, Counted)>),
}

/// A [`Dyn`] that takes one node from the decoding budget ([`crate::tree`]) before it is
/// read; written exactly as the `Dyn` inside.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(transparent)]
struct Counted(Dyn);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        crate::tree::take::<D::Error>()?;
        Dyn::deserialize(de).map(Counted)
    }
}

impl From<&Value> for Dyn {
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Dyn::Null,
            Value::Bool(b) => Dyn::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Dyn::I64(i),
                (None, Some(u)) => Dyn::U64(u),
                _ => Dyn::F64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Dyn::Str(s.clone()),
            Value::Array(items) => Dyn::Seq(items.iter().map(|v| Counted(v.into())).collect()),
            Value::Object(map) => Dyn::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Counted(v.into())))
                    .collect(),
            ),
        }
    }
}

impl From<Dyn> for Value {
    fn from(value: Dyn) -> Self {
        match value {
            Dyn::Null => Value::Null,
            Dyn::Bool(b) => Value::Bool(b),
            Dyn::I64(i) => Value::Number(i.into()),
            Dyn::U64(u) => Value::Number(u.into()),
            Dyn::F64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Dyn::Str(s) => Value::String(s),
            Dyn::Seq(items) => Value::Array(items.into_iter().map(|c| c.0.into()).collect()),
            Dyn::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.0.into()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// Encodes a JSON value kept under store key `key` with `codec` (through [`Dyn`] for
/// bincode); a sealed codec binds it to the key.
pub(crate) fn encode(
    codec: &DynCodec,
    value: &Value,
    key: &str,
) -> Result<Vec<u8>, satchel::Error> {
    if codec.format().header_id() == Some(FormatId::BINCODE) {
        codec.encode_keyed(&Dyn::from(value), key)
    } else {
        codec.encode_keyed(value, key)
    }
}

/// Decodes bytes written by `codec` into JSON (through [`Dyn`] for bincode): the fast
/// path, with the codec's own errors and no stage-by-stage report.
pub(crate) fn decode_with(
    codec: &DynCodec,
    bytes: &[u8],
    key: &str,
) -> Result<Value, satchel::Error> {
    bounded(|| {
        if codec.format().header_id() == Some(FormatId::BINCODE) {
            codec
                .decode_keyed::<Counted>(bytes, key)
                .map(|c| c.0.into())
        } else {
            codec.decode_keyed::<Tree>(bytes, key).map(|t| t.0)
        }
    })
}

/// Runs one decoding into a tree under [`crate::tree::MAX_NODES`]; a value over it is a
/// [`satchel::ErrorKind::LimitExceeded`] error saying so.
fn bounded(f: impl FnOnce() -> Result<Value, satchel::Error>) -> Result<Value, satchel::Error> {
    match crate::tree::bounded(f) {
        // The format's error only wraps the budget's own message: not repeated.
        (Err(_), true) => Err(satchel::Error::new(
            satchel::ErrorKind::LimitExceeded,
            crate::tree::too_large_message(),
        )),
        (result, _) => result,
    }
}

/// A value read back, with what its bytes say about it.
pub(crate) struct Decoded {
    /// The parsed header; `None` for a foreign value (kvdb-py, Coherence).
    pub(crate) header: Option<Header>,
    /// The pipeline's spec (`msgpack+zstd`, `kvdb-json+zstd`, `coherence-json`).
    pub(crate) pipeline: String,
    /// The format's name.
    pub(crate) format: String,
    /// The compression's name (`none` without one).
    pub(crate) compression: String,
    /// Bytes of the header.
    pub(crate) header_len: usize,
    /// Bytes in all, header included.
    pub(crate) stored_len: usize,
    /// Bytes of the serialized value after decompression.
    pub(crate) decoded_len: usize,
    /// The compression level, when the compressed stream says it.
    pub(crate) level: Option<&'static str>,
    /// The value.
    pub(crate) value: Value,
    /// Why the value above is not exactly what is stored, if it is not (a JSON integer
    /// wider than 64 bits, read as a float).
    pub(crate) inexact: Option<&'static str>,
}

const WIDE_INTEGER: &str =
    "it holds an integer wider than 64 bits, which the JSON data model reads as a float";

/// Decodes any satchel value into JSON, step by step so a failure names its stage:
/// header, checksum, decompression or decoding. `what` names the value in messages
/// (a file, a key; empty: not named).
pub(crate) fn decode(bytes: &[u8], what: &str) -> Result<Decoded, CliError> {
    let corrupt = |stage: &str, err: &satchel::Error| {
        // The codec's advice about `accept_unheadered` is for programs, not this tool.
        let cause = chain(err).replace(
            " (if these are plain bytes from another program, use accept_unheadered)",
            "",
        );
        let prefix = if what.is_empty() {
            String::new()
        } else {
            format!("{what}: ")
        };
        CliError::new(
            code::CORRUPT,
            format!("{prefix}cannot read the value at the {stage} stage: {cause}"),
        )
    };
    if let Some(decoded) = decode_foreign(bytes, &corrupt)? {
        return Ok(decoded);
    }
    let (header, payload) = Header::parse(bytes).map_err(|e| {
        let hint = if bytes.first().is_some_and(|b| *b == b'{' || *b == b'[') {
            " (this looks like plain JSON, not a satchel value: `satchel encode` makes one)"
        } else {
            ""
        };
        let mut err = corrupt("header", &e);
        err = CliError::new(err.code(), format!("{err}{hint}"));
        err
    })?;
    header
        .verify(payload)
        .map_err(|e| corrupt("checksum", &e))?;
    let compression =
        AnyCompression::from_id(header.compression()).map_err(|e| corrupt("header", &e))?;
    let format = AnyFormat::from_id(header.format()).map_err(|e| corrupt("header", &e))?;
    let limits = Limits::default();
    let raw: Cow<'_, [u8]> = if header.compression() == CompressionId::NONE {
        Cow::Borrowed(payload)
    } else {
        let mut out = Vec::new();
        compression
            .decompress(payload, &mut out, limits.max_decoded_len)
            .map_err(|e| corrupt("decompression", &e))?;
        Cow::Owned(out)
    };
    let value = if format.header_id() == Some(FormatId::BINCODE) {
        bounded(|| {
            format
                .deserialize::<Counted>(&raw, &limits)
                .map(|c| c.0.into())
        })
        .map_err(|e| {
            if e.is_limit() {
                return corrupt("decoding", &e);
            }
            let err = corrupt("decoding", &e);
            CliError::new(
                err.code(),
                format!(
                    "{err} (bincode is not self-describing: satchel can show the bincode \
                         values it wrote itself, but values other programs wrote need their \
                         Rust type to be read)"
                ),
            )
        })?
    } else {
        bounded(|| format.deserialize::<Tree>(&raw, &limits).map(|t| t.0))
            .map_err(|e| corrupt("decoding", &e))?
    };
    Ok(Decoded {
        header: Some(header),
        pipeline: spec_of(header, bytes),
        format: header.format().to_string(),
        compression: header.compression().to_string(),
        header_len: bytes.len() - payload.len(),
        stored_len: bytes.len(),
        decoded_len: raw.len(),
        level: level_hint(header.compression(), payload),
        inexact: (header.format() == FormatId::JSON && crate::tree::has_wide_integer(&raw))
            .then_some(WIDE_INTEGER),
        value,
    })
}

/// Class names in kvdb values are kept as data (a `"__class__"` field): the tool maps no
/// Python class onto a type, and migrating must not lose them.
static KVDB_KEEP: std::sync::LazyLock<satchel::kvdb::Classes> =
    std::sync::LazyLock::new(|| satchel::kvdb::Classes::new().keep_unregistered());

/// Reads kvdb-py and Coherence values; `None` for anything else.
fn decode_foreign(
    bytes: &[u8],
    corrupt: &dyn Fn(&str, &satchel::Error) -> CliError,
) -> Result<Option<Decoded>, CliError> {
    let limits = Limits::default();
    let mut inexact = None;
    let (pipeline, format, compression, value) = if let Some(sniffed) = satchel::kvdb::sniff(bytes)
    {
        let detected = satchel::kvdb::inspect(bytes, &limits)
            .map_err(|e| corrupt("decompression", &e))?
            .unwrap_or(sniffed);
        let value = bounded(|| {
            satchel::kvdb::decode_any_with::<Tree>(bytes, &limits, &KVDB_KEEP).map(|t| t.0)
        })
        .map_err(|e| corrupt("decoding", &e))?;
        let format = detected
            .serializer
            .map_or("kvdb-?", satchel::kvdb::Serializer::name);
        (
            detected.to_string(),
            format.to_string(),
            detected.compression.name().to_string(),
            value,
        )
    } else if satchel::coherence::is_coherence_json(bytes) {
        let value = bounded(|| {
            satchel::Codec::coherence()
                .decode::<Tree>(bytes)
                .map(|t| t.0)
        })
        .map_err(|e| corrupt("decoding", &e))?;
        let name = satchel::coherence::CoherenceJson::NAME.to_string();
        if crate::tree::has_wide_integer(&bytes[1..]) {
            inexact = Some(WIDE_INTEGER);
        }
        (name.clone(), name, "none".to_string(), value)
    } else {
        return Ok(None);
    };
    let decoded_len = serde_json::to_vec(&value).map_or(0, |v| v.len());
    Ok(Some(Decoded {
        header: None,
        pipeline,
        format,
        compression,
        header_len: 0,
        stored_len: bytes.len(),
        decoded_len,
        level: None,
        value,
        inexact,
    }))
}

/// The pipeline a stored value names, for listings: its header's, a foreign kind's, or
/// `(no satchel header)`.
pub(crate) fn pipeline_name(bytes: &[u8]) -> String {
    if let Ok(header) = satchel::sniff(bytes) {
        spec_of(header, bytes)
    } else if let Some(kvdb) = satchel::kvdb::sniff(bytes) {
        // The serializer of a compressed value is only known once decompressed: try,
        // within a small limit (a bomb stays `kvdb-?+…`).
        let limits = Limits::default().max_decoded_len(1 << 20);
        satchel::kvdb::inspect(bytes, &limits)
            .ok()
            .flatten()
            .unwrap_or(kvdb)
            .to_string()
    } else if satchel::coherence::is_coherence_json(bytes) {
        satchel::coherence::CoherenceJson::NAME.to_string()
    } else {
        "(no satchel header)".to_string()
    }
}

/// The spec of the pipeline a headered value was written with, naming its dictionary if
/// it has one (`json+zstd@dict=id:N`).
fn spec_of(header: Header, bytes: &[u8]) -> String {
    match satchel::dict_id(bytes) {
        Some(id) => format!("{}@dict=id:{id}", header.pipeline),
        None => header.pipeline.to_string(),
    }
}

/// The compression level, where the stream records it (gzip's XFL, zlib's FLEVEL);
/// zstd and lz4 frames do not.
fn level_hint(compression: CompressionId, payload: &[u8]) -> Option<&'static str> {
    match compression {
        CompressionId::GZIP => match payload.get(8) {
            Some(2) => Some("best (9)"),
            Some(4) => Some("fastest (1)"),
            _ => None,
        },
        CompressionId::ZLIB => match payload.get(1).map(|b| b >> 6) {
            Some(0) => Some("fastest (0-1)"),
            Some(1) => Some("fast (2-5)"),
            Some(2) => Some("default (6)"),
            Some(3) => Some("best (7-9)"),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bincode_round_trips_any_json() {
        let value = serde_json::json!({
            "a": [1, -2, 18446744073709551615u64, 1.5, null, true, "x"],
            "b": {"c": {}}
        });
        let codec: DynCodec = "bincode+zstd".parse().expect("spec");
        let bytes = encode(&codec, &value, "").expect("encode");
        assert_eq!(decode(&bytes, "test").expect("decode").value, value);
    }

    #[test]
    fn stages_are_named() {
        let err = decode(b"{}", "f").err().expect("plain JSON has no header");
        assert!(err.to_string().contains("header stage"), "{err}");
        let codec: DynCodec = "json+zstd".parse().expect("spec");
        let mut bytes = encode(&codec, &serde_json::json!([1, 2, 3]), "").expect("encode");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        let err = decode(&bytes, "f").err().expect("corrupt");
        assert!(err.to_string().contains("decompression stage"), "{err}");
    }
}
