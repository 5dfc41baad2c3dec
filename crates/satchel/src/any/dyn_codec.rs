//! [`DynCodec`]: a codec chosen at run time, from a spec or a header.

#[allow(unused_imports)]
use super::*;

/// A codec chosen at run time, from a spec string or a stored value's header.
///
/// Specs are `format[+compression[:level]][@dict=…][+seal]`: `json`, `msgpack+zstd`,
/// `bincode+lz4`, `json+gzip:9` (and, with feature `kvdb`, `kvdb-json+zstd`, framed as
/// kvdb-py frames values). zstd takes a trained dictionary: `json+zstd:3@dict=FILE` loads
/// the dictionary file (once per process, see [`ZstdDict`](crate::ZstdDict)), and
/// `json+zstd@dict=id:N` names one loaded already. With feature `seal`, a trailing `+seal`
/// (always last) seals values after compression with the key ring the environment names
/// (`SATCHEL_SEAL_KEYS` or `SATCHEL_SEAL_KEYS_FILE`, read when the spec is parsed), or the
/// one given to `DynCodec::from_spec_with_keys`. A `DynCodec` prints back as its spec
/// (a dictionary by id), and (de)serializes as one, so it can sit in a config file.
///
/// The header's settings are fallible here ([`DynCodec::checksum`] and friends return a
/// `Result`): a codec chosen at run time may have a framing that has no such setting, and
/// asking for one is then an error instead of being ignored.
///
/// ```
/// # #[cfg(all(feature = "msgpack", feature = "zstd"))] {
/// use satchel::DynCodec;
///
/// let codec: DynCodec = "msgpack+zstd:9".parse()?;
/// assert_eq!(codec.to_string(), "msgpack+zstd:9");
/// let bytes = codec.encode(&vec!["a", "b"])?;
/// assert_eq!(codec.decode::<Vec<String>>(&bytes)?, ["a", "b"]);
///
/// let err = "xml+zstd".parse::<DynCodec>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown format `xml` in spec `xml+zstd`; valid formats: json, msgpack, bincode");
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
pub type DynCodec = Codec<AnyFormat, AnyCompression, AnyFraming>;

impl Codec<AnyFormat, AnyCompression, AnyFraming> {
    /// Parses a spec such as `msgpack+zstd:3` or `json+zstd@dict=sessions.dict`.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] for a malformed spec or an unknown name (the message lists the
    /// valid ones); [`ErrorKind::Unsupported`] for a backend not compiled in (the message
    /// names the cargo feature); [`ErrorKind::Dictionary`] for a dictionary file that
    /// cannot be loaded, or a dictionary id that is not loaded.
    pub fn from_spec(spec: &str) -> Result<Self, Error> {
        Self::parse_spec(spec, None)
    }

    /// [`DynCodec::from_spec`], a trailing `+seal` sealing with `keys` instead of the ring
    /// the environment names (a spec without `+seal` ignores them).
    ///
    /// # Errors
    /// As [`DynCodec::from_spec`].
    #[cfg(feature = "seal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
    pub fn from_spec_with_keys(spec: &str, keys: &Keys) -> Result<Self, Error> {
        Self::parse_spec(spec, Some(keys))
    }

    #[cfg_attr(not(feature = "seal"), allow(unused_variables))]
    fn parse_spec(spec: &str, keys: Option<&SpecKeys>) -> Result<Self, Error> {
        let trimmed = spec.trim();
        if let Some(base) = trimmed.strip_suffix("+seal") {
            let codec = Self::parse_spec(base, None)?;
            #[cfg(feature = "seal")]
            {
                let keys = match keys {
                    Some(keys) => keys.clone(),
                    None => Keys::new(crate::seal::KeyRing::require_env().map_err(|e| {
                        Error::new(e.kind(), format!("spec `{spec}`: {}", e.message()))
                    })?),
                };
                return codec.seal(keys);
            }
            #[cfg(not(feature = "seal"))]
            {
                let _ = codec;
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "`+seal` in spec `{spec}` is not compiled into this build: enable \
                         cargo feature `seal` of satchel"
                    ),
                ));
            }
        }
        let in_spec = |e: Error| {
            let message = e.message().to_string();
            let message = match message.split_once(';') {
                Some((head, tail)) => format!("{head} in spec `{spec}`;{tail}"),
                None => format!("{message} (spec `{spec}`)"),
            };
            Error::new(e.kind(), message)
        };
        let trimmed = spec.trim();
        // Options come last, after the first `@`: a dictionary path may hold `+` or `:`.
        let (trimmed, options) = match trimmed.split_once('@') {
            Some((pipeline, options)) => (pipeline, Some(options)),
            None => (trimmed, None),
        };
        let (format, compression) = match trimmed.split_once('+') {
            Some((f, c)) => (f, Some(c)),
            None => (trimmed, None),
        };
        let format = AnyFormat::from_name(format).map_err(in_spec)?;
        let compression = match compression {
            None => AnyCompression::None,
            Some(c) => {
                let (name, level) = match c.split_once(':') {
                    Some((name, level)) => (name, Some(level)),
                    None => (c, None),
                };
                let compression = AnyCompression::from_name(name).map_err(in_spec)?;
                match level {
                    None => compression,
                    Some(level) => {
                        let n: i32 = level.parse().map_err(|_| {
                            Error::new(
                                ErrorKind::Spec,
                                format!(
                                    "level `{level}` in spec `{spec}` is not a whole number \
                                     (e.g. `zstd:19`, `gzip:9`)"
                                ),
                            )
                        })?;
                        if compression.level_in_use().is_none() {
                            return Err(Error::new(
                                ErrorKind::Spec,
                                format!("`{name}` has no levels (spec `{spec}`)"),
                            ));
                        }
                        compression.with_level(Level::Precise(n))
                    }
                }
            }
        };
        let compression = match options {
            Some(options) => dict::apply_options(compression, options, spec)?,
            None => compression,
        };
        Ok(Self::from_parts(format, compression))
    }

    /// The codec for `format` and `compression`, in the framing the format is written in
    /// ([`AnyFormat::default_framing`]).
    pub fn from_parts(format: AnyFormat, compression: AnyCompression) -> Self {
        let framing = format.default_framing();
        Codec::framed(format, framing).compress(compression)
    }

    /// The codec that reads values written by `pipeline`.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] if a part of it is not compiled in.
    pub fn for_pipeline(pipeline: Pipeline) -> Result<Self, Error> {
        Ok(Self::from_parts(
            AnyFormat::from_id(pipeline.format)?,
            AnyCompression::from_id(pipeline.compression)?,
        ))
    }

    /// This codec, sealing values after compression with `keys` (see [`Codec::seal`]);
    /// [`Codec::compress_above`] carries over.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec has no satchel header to seal behind (kvdb-py's
    /// framing), or is sealed already.
    #[cfg(feature = "seal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
    pub fn seal(self, keys: Keys) -> Result<Self, Error> {
        match self.framing().0 {
            Inner::Header(h) => {
                Ok(self
                    .map_framing(|_| AnyFraming(Inner::Sealed(satchel_core::Sealed::new(h, keys)))))
            }
            _ => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "`{self}` cannot be sealed: only values behind satchel's header can be \
                     (and only once)"
                ),
            )),
        }
    }

    /// Whether this codec seals its values.
    pub fn is_sealed(&self) -> bool {
        self.framing().is_sealed()
    }

    /// The pipeline this codec names in satchel's header; `None` for a codec in another
    /// framing (kvdb-py's), which writes no header.
    pub fn pipeline(&self) -> Option<Pipeline> {
        self.framing().headered()?;
        Some(Pipeline {
            format: self.format().header_id()?,
            compression: self.compression().id(),
        })
    }

    #[cfg_attr(not(feature = "kvdb"), allow(unused_variables))]
    fn header_setting(
        self,
        setting: &str,
        f: impl FnOnce(Headered) -> Headered,
    ) -> Result<Self, Error> {
        match &self.framing().0 {
            Inner::Header(_) => Ok(self.map_framing(|e| match e.0 {
                Inner::Header(h) => AnyFraming(Inner::Header(f(h))),
                #[allow(unreachable_patterns)]
                other => AnyFraming(other),
            })),
            #[cfg(feature = "seal")]
            Inner::Sealed(sealed) => {
                let before = *sealed.headered();
                let after = f(before);
                if after.checksum != before.checksum
                    || after.accept_unheadered != before.accept_unheadered
                {
                    return Err(Error::new(
                        ErrorKind::Spec,
                        format!(
                            "`{setting}` does not apply to the sealed codec `{self}`: its tag \
                             already checks every byte, and it reads sealed values only"
                        ),
                    ));
                }
                let keys = sealed.seal().clone();
                Ok(self.map_framing(|_| {
                    AnyFraming(Inner::Sealed(satchel_core::Sealed::new(after, keys)))
                }))
            }
            #[cfg(feature = "kvdb")]
            Inner::Kvdb(_) => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "`{setting}` is a setting of satchel's header, and `{self}` is written in \
                     kvdb-py's framing, which has no header: leave it off for kvdb codecs"
                ),
            )),
        }
    }

    /// [`Codec::compress_above`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn compress_above(self, bytes: usize) -> Result<Self, Error> {
        self.header_setting("compress_above", |h| h.compress_above(bytes))
    }

    /// [`Codec::checksum`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn checksum(self) -> Result<Self, Error> {
        self.header_setting("checksum", Headered::checksum)
    }

    /// [`Codec::accept_unheadered`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn accept_unheadered(self) -> Result<Self, Error> {
        self.header_setting("accept_unheadered", Headered::accept_unheadered)
    }
}

impl FromStr for DynCodec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_spec(s)
    }
}

impl fmt::Display for DynCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format().name())?;
        let c = self.compression();
        if c.id() != CompressionId::NONE {
            write!(f, "+{}", c.name())?;
            if let Some(level) = c
                .level_in_use()
                .filter(|_| c.level_in_use() != c.default_level())
            {
                write!(f, ":{level}")?;
            }
            if let Some(suffix) = dict::spec_suffix(c) {
                f.write_str(&suffix)?;
            }
        }
        if self.is_sealed() {
            f.write_str("+seal")?;
        }
        Ok(())
    }
}

impl serde::Serialize for DynCodec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DynCodec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        spec.parse().map_err(serde::de::Error::custom)
    }
}
