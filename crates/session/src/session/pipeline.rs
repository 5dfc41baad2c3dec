//! Reading a stored session in whatever pipeline wrote it, writing it in the configured
//! one.
//!
//! A record names its pipeline in satchel's header, and its values are serialized in that
//! pipeline's format. A session read in another format than the configured one keeps
//! those values as they are, remembering their format per key ([`Record::formats`]); a
//! value set again is written in the configured format. On save the record is written by
//! the configured codec, and the keys still in another format are listed under
//! [`FORMATS_KEY`] (a value in the record's own format, so any reader of the record, 0.1
//! included, can still decode the record itself).

use satchel::{AnyFormat, DynCodec, FormatId, sniff};

use super::*;

/// The data key under which a record lists values in another format than its own.
pub(crate) const FORMATS_KEY: &str = "\u{0}satchel.formats";

impl<S, K> Sessions<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Decodes a stored record in the pipeline its header names (or the configured codec,
    /// for one without a header).
    pub(super) fn decode_record(&self, bytes: &[u8], key: &str) -> Result<Record, satchel::Error> {
        let codec = &self.shared.codec;
        let own = self.shared.own_format;
        let (mut record, read_in): (Record, _) = self.decode_stored(bytes, key)?;
        let listed: BTreeMap<String, u8> = match record.data.remove(FORMATS_KEY) {
            Some(Blob(list)) => match read_in {
                Some(f) => AnyFormat::from_id(f)?.deserialize(&list, codec.decode_limits())?,
                None => codec.format().deserialize(&list, codec.decode_limits())?,
            },
            None => BTreeMap::new(),
        };
        for key in record.data.keys() {
            let format = listed.get(key).map(|&f| FormatId::new(f)).or(read_in);
            if let Some(format) = format.filter(|&f| Some(f) != own) {
                record.formats.insert(key.clone(), format);
            }
        }
        Ok(record)
    }

    /// Decodes a stored value in the pipeline its header names when that is another
    /// format than the configured one (which reads everything else, sealed values
    /// included); returns the format it was read in. `key` is the value's key in the
    /// sessions' store, which a sealed codec checks the value was sealed under.
    pub(super) fn decode_stored<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        key: &str,
    ) -> Result<(T, Option<FormatId>), satchel::Error> {
        let codec = &self.shared.codec;
        let own = self.shared.own_format;
        let foreign = sniff(bytes)
            .ok()
            .filter(|h| h.seal.is_none())
            .map(|h| h.pipeline)
            .filter(|p| own.is_some() && Some(p.format) != own);
        match foreign {
            Some(pipeline) => Ok((
                DynCodec::for_pipeline(pipeline)?
                    .limits(*codec.decode_limits())
                    .decode(bytes)?,
                Some(pipeline.format),
            )),
            None => Ok((codec.decode_keyed(bytes, &self.at_rest(key))?, own)),
        }
    }

    /// The key a sealed codec binds a value under `key` of the sessions' store to: its key
    /// at rest, under every `Prefixed` (worked out only for codecs that bind one).
    pub(super) fn at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.shared.codec.binds_key() {
            self.shared.store.key_at_rest(key)
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    }

    /// Encodes a record kept under `key` with the configured codec, listing its values in
    /// other formats.
    pub(super) fn encode_record(&self, record: &Record, key: &str) -> Result<Vec<u8>, StoreError> {
        let codec = &self.shared.codec;
        let key = self.at_rest(key);
        let encoded = if record.formats.is_empty() {
            codec.encode_keyed(record, &key)
        } else {
            let listed: BTreeMap<&str, u8> = record
                .formats
                .iter()
                .map(|(k, f)| (k.as_str(), f.get()))
                .collect();
            let mut list = Vec::new();
            codec
                .format()
                .serialize_into(&listed, &mut list)
                .map_err(|e| codec_error("the session's format list cannot be encoded", e))?;
            let mut with_list = record.clone();
            with_list.data.insert(FORMATS_KEY.to_string(), Blob(list));
            codec.encode_keyed(&with_list, &key)
        };
        encoded.map_err(|e| codec_error("the session cannot be encoded", e))
    }

    /// Decodes the value `bytes` under `key` of `record`, in the format it was written in.
    pub(super) fn decode_value<T: DeserializeOwned>(
        &self,
        record: &Record,
        key: &str,
        bytes: &[u8],
    ) -> Result<T, satchel::Error> {
        let codec = &self.shared.codec;
        match record.formats.get(key) {
            Some(&f) => AnyFormat::from_id(f)?.deserialize(bytes, codec.decode_limits()),
            None => codec.format().deserialize(bytes, codec.decode_limits()),
        }
    }
}

/// The format id the configured codec writes in its header, if it writes one.
pub(super) fn own_format<K: ValueCodec>(codec: &K) -> Option<FormatId> {
    let bytes = codec.encode(&()).ok()?;
    sniff(&bytes).ok().map(|h| h.pipeline.format)
}
