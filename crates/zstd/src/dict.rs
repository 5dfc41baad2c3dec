//! Trained dictionaries: [`ZstdDict`] and the process-wide registry that finds one by id.
//!
//! A dictionary is loaded once per process and digested once: its decoding tables when it
//! is loaded, its encoding tables the first time each level compresses with it. Every
//! codec using it shares those tables, so compressing or decompressing with a dictionary
//! costs no setup per call. Loaded dictionaries stay for the life of the process (they
//! are `&'static`, which is what lets a [`Zstd`](crate::Zstd) carrying one stay `Copy`);
//! loading the same bytes again returns the dictionary already loaded, so a program may
//! load its dictionaries wherever it builds a codec.
//!
//! Every zstd frame written with a dictionary carries the dictionary's id in its header,
//! so decompression finds the dictionary here by that id: a value written with an older
//! dictionary stays readable as long as that dictionary is loaded too.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{LazyLock, OnceLock, RwLock};

use satchel_core::{Error, ErrorKind};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::Zstd;

/// The largest dictionary [`ZstdDict::load`] accepts (zstd's trainer makes 110 KiB ones by
/// default; larger dictionaries stop helping small values long before this).
pub const MAX_DICT_LEN: usize = 4 << 20;

/// The most dictionaries one process may load: each stays in memory for good.
pub const MAX_LOADED: usize = 1024;

const LEVELS: usize = (Zstd::MAX_LEVEL - Zstd::MIN_LEVEL + 1) as usize;

/// A zstd dictionary, loaded into this process's registry and digested for use.
///
/// Made only by [`ZstdDict::load`] (or [`ZstdDict::load_file`]), which returns a
/// `&'static ZstdDict`: the id names exactly one dictionary in a process, so two
/// `ZstdDict`s are equal when their ids are.
///
/// ```
/// use satchel_core::Compression;
/// use satchel_zstd::{Zstd, ZstdDict};
///
/// let dict = ZstdDict::load(include_bytes!("../tests/data/sessions.dict"))?;
/// let zstd = Zstd.dict(dict);
/// let record = br#"{"created_ms":1735689600000,"owner":"ann","data":{"cart":"[1,2]"}}"#;
/// let mut packed = Vec::new();
/// zstd.compress(record, &mut packed)?;
/// assert_eq!(satchel_zstd::frame_dict_id(&packed), Some(dict.id()));
///
/// // Any Zstd reads it: the frame names its dictionary, found here by id.
/// let mut out = Vec::new();
/// Zstd.decompress(&packed, &mut out, 1 << 20)?;
/// assert_eq!(out, record);
/// # Ok::<(), satchel_core::Error>(())
/// ```
pub struct ZstdDict {
    id: NonZeroU32,
    bytes: Box<[u8]>,
    decoder: DecoderDictionary<'static>,
    /// Encoding tables per level (index: level - `Zstd::MIN_LEVEL`), made on first use.
    encoders: [OnceLock<EncoderDictionary<'static>>; LEVELS],
}

static REGISTRY: LazyLock<RwLock<HashMap<u32, &'static ZstdDict>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

fn dict_error(message: String) -> Error {
    Error::new(ErrorKind::Dictionary, message)
}

impl ZstdDict {
    /// Loads a dictionary (as `zstd --train` or [`train`](crate::train) writes one) into
    /// this process's registry, digesting it for decompression; returns the one already
    /// loaded if these exact bytes were loaded before.
    ///
    /// # Errors
    /// [`ErrorKind::Dictionary`] if the bytes are not a zstd dictionary with an id (a raw
    /// content dictionary has none, so values could not name it), are larger than
    /// [`MAX_DICT_LEN`], cannot be digested, carry the id of a different dictionary
    /// already loaded, or [`MAX_LOADED`] dictionaries are loaded already.
    pub fn load(bytes: &[u8]) -> Result<&'static Self, Error> {
        if bytes.len() > MAX_DICT_LEN {
            return Err(dict_error(format!(
                "zstd dictionary of {} bytes is over the limit of {MAX_DICT_LEN} bytes",
                bytes.len()
            )));
        }
        let id = zstd::zstd_safe::get_dict_id_from_dict(bytes).ok_or_else(|| {
            dict_error(
                "not a zstd dictionary with an id (it must start with the dictionary magic \
                 number 0xEC30A437, as `satchel train` and `zstd --train` write it)"
                    .to_string(),
            )
        })?;
        if let Some(loaded) = Self::get(id.get()) {
            return loaded.same_or_conflict(bytes);
        }
        let decoder = DecoderDictionary::try_copy(bytes).map_err(|e| {
            dict_error(format!(
                "zstd dictionary {id} is corrupt: zstd cannot load it"
            ))
            .with_source(e)
        })?;
        let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have loaded it while this one digested it.
        if let Some(loaded) = registry.get(&id.get()) {
            return loaded.same_or_conflict(bytes);
        }
        if registry.len() >= MAX_LOADED {
            return Err(dict_error(format!(
                "cannot load zstd dictionary {id}: {MAX_LOADED} dictionaries are loaded \
                 already, the most one process keeps"
            )));
        }
        let dict: &'static Self = Box::leak(Box::new(Self {
            id,
            bytes: bytes.into(),
            decoder,
            encoders: std::array::from_fn(|_| OnceLock::new()),
        }));
        registry.insert(id.get(), dict);
        Ok(dict)
    }

    /// [`ZstdDict::load`] on the contents of a file.
    ///
    /// # Errors
    /// [`ErrorKind::Dictionary`] naming the file if it cannot be read (the I/O error is the
    /// source) or is larger than [`MAX_DICT_LEN`]; otherwise as [`ZstdDict::load`].
    pub fn load_file(path: impl AsRef<Path>) -> Result<&'static Self, Error> {
        let path = path.as_ref();
        let unreadable = |e: std::io::Error| {
            dict_error(format!(
                "cannot read zstd dictionary file `{}`",
                path.display()
            ))
            .with_source(e)
        };
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        if len > MAX_DICT_LEN as u64 {
            return Err(dict_error(format!(
                "zstd dictionary file `{}` holds {len} bytes, over the limit of \
                 {MAX_DICT_LEN} bytes",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        Self::load(&bytes).map_err(|e| e.context(format_args!("file `{}`", path.display())))
    }

    /// The dictionary with this id, if it is loaded.
    pub fn get(id: u32) -> Option<&'static Self> {
        REGISTRY
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }

    /// Every dictionary loaded in this process, by id.
    pub fn loaded() -> Vec<&'static Self> {
        let mut all: Vec<_> = REGISTRY
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .copied()
            .collect();
        all.sort_by_key(|d| d.id);
        all
    }

    /// The dictionary's id, written in the header of every frame compressed with it.
    pub fn id(&self) -> u32 {
        self.id.get()
    }

    /// The dictionary's bytes, as loaded (what a dictionary file holds).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn same_or_conflict(&'static self, bytes: &[u8]) -> Result<&'static Self, Error> {
        if *self.bytes == *bytes {
            Ok(self)
        } else {
            Err(dict_error(format!(
                "another zstd dictionary with id {} is loaded already: ids must be unique \
                 (retrain, or give the new dictionary another id)",
                self.id
            )))
        }
    }

    /// The digested tables for decompression.
    pub(crate) fn decoder(&self) -> &DecoderDictionary<'static> {
        &self.decoder
    }

    /// The digested tables for compressing at `level` (made once per level).
    pub(crate) fn encoder(&self, level: i32) -> Result<&EncoderDictionary<'static>, Error> {
        let slot = &self.encoders[(level - Zstd::MIN_LEVEL) as usize];
        if let Some(encoder) = slot.get() {
            return Ok(encoder);
        }
        let encoder = EncoderDictionary::try_copy(&self.bytes, level).map_err(|e| {
            Error::new(
                ErrorKind::Compress,
                format!(
                    "zstd cannot prepare dictionary {} for level {level}",
                    self.id
                ),
            )
            .with_source(e)
        })?;
        // A racing thread's tables are as good as ours: keep whichever landed first.
        Ok(slot.get_or_init(|| encoder))
    }
}

/// The error for a frame whose dictionary is not loaded.
pub(crate) fn missing(id: u32) -> Error {
    let loaded: Vec<String> = ZstdDict::loaded()
        .iter()
        .map(|d| d.id().to_string())
        .collect();
    let loaded = if loaded.is_empty() {
        "none is loaded".to_string()
    } else {
        format!("loaded: {}", loaded.join(", "))
    };
    dict_error(format!(
        "value was compressed with zstd dictionary {id}, which is not loaded ({loaded}): \
         load it with ZstdDict::load, a `@dict=FILE` spec or `satchel train --into-store`"
    ))
}

/// The id of the dictionary a zstd frame was compressed with, read from its header;
/// `None` for a frame written without one (or bytes too short to hold a frame header).
pub fn frame_dict_id(frame: &[u8]) -> Option<u32> {
    zstd::zstd_safe::get_dict_id_from_frame(frame).map(NonZeroU32::get)
}

impl PartialEq for ZstdDict {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for ZstdDict {}

impl Hash for ZstdDict {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Debug for ZstdDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZstdDict")
            .field("id", &self.id)
            .field("len", &self.bytes.len())
            .finish()
    }
}
