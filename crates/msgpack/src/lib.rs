//! MessagePack format for [satchel](https://docs.rs/satchel), through rmp-serde.
//!
//! Structs are written as maps with their field names (`rmp_serde::to_vec_named`), so a
//! field added, removed or reordered later still reads. Decoding accepts structs written
//! as arrays too, as rmp-serde does.
//!
//! Hostile input is bounded: nesting by [`Limits::max_depth`] (rmp-serde's own depth
//! limit), and the element counts arrays and maps claim, from which serde's collections
//! pre-allocate (up to 1 MiB each), by a budget of the input's length summed over the value
//! ([`DepthLimit::size_hint_budget`]): every element takes at least a byte, so honest counts
//! are never cut, and 200 bytes of nested claims cannot make the decoder allocate 40 MiB.
//!
//! ```
//! use satchel_core::{Format, Limits};
//! use satchel_msgpack::MsgPack;
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct User { name: String }
//!
//! let mut out = Vec::new();
//! MsgPack.serialize_into(&User { name: "ann".into() }, &mut out)?;
//! assert_eq!(out, b"\x81\xa4name\xa3ann");
//! let back: User = MsgPack.deserialize(&out, &Limits::default())?;
//! assert_eq!(back.name, "ann");
//! # Ok::<(), satchel_core::Error>(())
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use satchel_core::depth::DepthLimit;
use satchel_core::{Error, ErrorKind, Format, FormatId, HeaderFormat, Limits};

/// The MessagePack format, structs as maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MsgPack;

impl HeaderFormat for MsgPack {
    fn id(&self) -> FormatId {
        FormatId::MSGPACK
    }
}

impl Format for MsgPack {
    fn name(&self) -> &'static str {
        "msgpack"
    }

    #[inline]
    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        rmp_serde::encode::write_named(out, value).map_err(|e| {
            Error::new(ErrorKind::Encode, "value cannot be written as MessagePack").with_source(e)
        })
    }

    #[inline]
    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
        de.set_max_depth(limits.max_depth);
        // Depth is rmp-serde's to count; the wrapper only budgets the claimed lengths.
        let claims = DepthLimit::new(usize::MAX).size_hint_budget(bytes.len());
        let value = claims.deserialize::<T, _>(&mut de).map_err(|e| match e {
            rmp_serde::decode::Error::DepthLimitExceeded => Error::new(
                ErrorKind::LimitExceeded,
                format!("MessagePack nests deeper than {} levels", limits.max_depth),
            )
            .with_source(e),
            rmp_serde::decode::Error::InvalidMarkerRead(_)
            | rmp_serde::decode::Error::InvalidDataRead(_) => {
                Error::new(ErrorKind::Decode, "MessagePack is truncated or unreadable")
                    .with_source(e)
            }
            _ => Error::new(
                ErrorKind::Decode,
                "MessagePack does not match the expected type",
            )
            .with_source(e),
        })?;
        // The slice reader borrows strings straight from the input but does not say where it
        // stopped; reading one more value tells: only a clean end of input is accepted.
        match serde::de::IgnoredAny::deserialize(&mut de) {
            Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                Ok(value)
            }
            _ => Err(Error::new(
                ErrorKind::Decode,
                "unexpected bytes after the MessagePack value (was it written as another type?)",
            )),
        }
    }
}
