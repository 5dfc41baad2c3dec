//! [`KeyRing`]: the keys values are sealed with, by id; the first is the current one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use satchel_core::{Error, ErrorKind, SEAL_TAG_LEN, Seal, SealInfo};
use zeroize::Zeroizing;

/// Bytes of a key (ChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;

/// The keys sealed values are written and read with, each under an id.
///
/// One key is current: new values are sealed with it, its id in their header. The others
/// are older keys, kept so values sealed before a rotation still open; reading picks the
/// key by the id in the value's header. To rotate: put a new key first (it becomes current)
/// and keep the old ones after it, deploy, then re-seal old values (`satchel convert`) and
/// drop the old keys.
///
/// The key bytes are wiped from memory when the ring is dropped (`zeroize`); `Debug` shows
/// the ids only. Each call builds the cipher's key from them on the stack for its duration
/// (ChaCha20's key is the key itself, so no expanded schedule lives on between calls).
///
/// ```
/// use satchel_seal::KeyRing;
///
/// let ring = KeyRing::parse("2 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\
///                            1 ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")?;
/// assert_eq!(ring.current_id(), 2);
/// assert_eq!(ring.ids().collect::<Vec<_>>(), [2, 1]);
/// assert_eq!(format!("{ring:?}"), "KeyRing { current: 2, ids: [2, 1], keys: <redacted> }");
/// # Ok::<(), satchel_core::Error>(())
/// ```
pub struct KeyRing {
    keys: Vec<Key>,
    nonces: Nonces,
}

struct Key {
    id: u32,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

enum Nonces {
    System(SystemRandom),
    /// Tests only: the same nonce every time, for golden bytes.
    #[cfg(test)]
    Fixed([u8; satchel_core::SEAL_NONCE_LEN]),
}

impl KeyRing {
    /// A ring holding one key, current, under `id`. The ring's copy is wiped on drop; wipe
    /// yours (or pass a temporary).
    pub fn new(id: u32, key: [u8; KEY_LEN]) -> Self {
        Self {
            keys: vec![Key {
                id,
                bytes: Zeroizing::new(key),
            }],
            nonces: Nonces::System(SystemRandom::new()),
        }
    }

    /// A ring with one new random key under `id`, for `satchel keygen` and tests.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`] if the system's random source fails.
    pub fn generate(id: u32) -> Result<Self, Error> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(&mut key[..])
            .map_err(|_| no_randomness())?;
        Ok(Self::new(id, *key))
    }

    /// This ring with `key` under `id` as an older key: values sealed with it still open,
    /// new ones are not sealed with it.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if the ring already has a key `id`.
    pub fn with_old_key(mut self, id: u32, key: [u8; KEY_LEN]) -> Result<Self, Error> {
        self.push(id, Zeroizing::new(key), || format!("key id {id}"))?;
        Ok(self)
    }

    /// This ring with `key` under `id` as its new current key, the current one becoming an
    /// older key: a rotation.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if the ring already has a key `id`.
    pub fn rotate(mut self, id: u32, key: [u8; KEY_LEN]) -> Result<Self, Error> {
        self.push(id, Zeroizing::new(key), || format!("key id {id}"))?;
        self.keys.rotate_right(1);
        Ok(self)
    }

    fn push(
        &mut self,
        id: u32,
        bytes: Zeroizing<[u8; KEY_LEN]>,
        at: impl Fn() -> String,
    ) -> Result<(), Error> {
        if self.keys.iter().any(|k| k.id == id) {
            return Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "{}: the key ring already has a key with id {id}; every key needs its \
                     own id (values name the key they were sealed with by it)",
                    at()
                ),
            ));
        }
        self.keys.push(Key { id, bytes });
        Ok(())
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> u32 {
        self.keys[0].id
    }

    /// The ids of every key, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// Whether the ring holds a key `id`.
    pub fn contains(&self, id: u32) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// The ring in the text form [`KeyRing::parse`] reads (`id base64` per line, current
    /// first): what to write to a key file. It holds the keys: write it somewhere only the
    /// service can read, never to a log.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::new());
        for key in &self.keys {
            let encoded = Zeroizing::new(STANDARD.encode(&key.bytes[..]));
            text.push_str(&key.id.to_string());
            text.push(' ');
            text.push_str(&encoded);
            text.push('\n');
        }
        text
    }

    pub(crate) fn from_keys(
        keys: Vec<(u32, Zeroizing<[u8; KEY_LEN]>)>,
        what: &str,
    ) -> Result<Self, Error> {
        let mut ring = Self {
            keys: Vec::with_capacity(keys.len()),
            nonces: Nonces::System(SystemRandom::new()),
        };
        for (n, (id, bytes)) in keys.into_iter().enumerate() {
            ring.push(id, bytes, || format!("{what}, entry {}", n + 1))?;
        }
        if ring.keys.is_empty() {
            return Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "{what} holds no key: write one `<id> <base64 of 32 bytes>` per line, \
                     the current key first (`satchel keygen` makes one)"
                ),
            ));
        }
        Ok(ring)
    }

    /// Tests only: every value sealed with the same nonce, so its bytes are fixed.
    #[cfg(test)]
    pub(crate) fn with_fixed_nonce(mut self, nonce: [u8; satchel_core::SEAL_NONCE_LEN]) -> Self {
        self.nonces = Nonces::Fixed(nonce);
        self
    }

    fn key(&self, id: u32) -> Result<LessSafeKey, Error> {
        let Some(key) = self.keys.iter().find(|k| k.id == id) else {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                format!(
                    "value is sealed with key id {id}, which is not in the key ring (it holds \
                     {}): add that key to the ring as an older key (after the current one) to \
                     read it",
                    self.describe_ids()
                ),
            ));
        };
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key.bytes[..]).map_err(|_| {
            Error::new(
                ErrorKind::Spec,
                format!("key id {id} is not a ChaCha20-Poly1305 key"),
            )
        })?;
        Ok(LessSafeKey::new(unbound))
    }

    fn describe_ids(&self) -> String {
        let ids: Vec<String> = self.ids().map(|id| id.to_string()).collect();
        format!("ids {}", ids.join(", "))
    }
}

/// Nonces drawn from the system's random source in batches: one `getrandom` call per 64
/// nonces instead of one per value (measured 0.76 µs each, more than sealing itself). Each
/// thread has its own batch; a batch is refilled when the process id changes, so a forked
/// child never reuses its parent's nonces.
mod pool {
    use std::cell::RefCell;

    use ring::rand::{SecureRandom, SystemRandom};
    use satchel_core::{Error, SEAL_NONCE_LEN};

    const BATCH: usize = 64 * SEAL_NONCE_LEN;

    struct Pool {
        pid: u32,
        at: usize,
        bytes: [u8; BATCH],
    }

    thread_local! {
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool { pid: 0, at: BATCH, bytes: [0; BATCH] })
        };
    }

    /// A nonce no other call, thread or process has been handed.
    pub(super) fn nonce(rng: &SystemRandom) -> Result<[u8; SEAL_NONCE_LEN], Error> {
        POOL.with_borrow_mut(|pool| {
            let pid = std::process::id();
            if pool.pid != pid || pool.at + SEAL_NONCE_LEN > BATCH {
                rng.fill(&mut pool.bytes)
                    .map_err(|_| super::no_randomness())?;
                pool.pid = pid;
                pool.at = 0;
            }
            let mut nonce = [0u8; SEAL_NONCE_LEN];
            nonce.copy_from_slice(&pool.bytes[pool.at..pool.at + SEAL_NONCE_LEN]);
            // Handed out once: cleared so the batch never holds a used nonce.
            pool.bytes[pool.at..pool.at + SEAL_NONCE_LEN].fill(0);
            pool.at += SEAL_NONCE_LEN;
            Ok(nonce)
        })
    }
}

fn no_randomness() -> Error {
    Error::new(
        ErrorKind::Encode,
        "the system's random source failed, so no nonce (or key) could be drawn: nothing \
         was sealed; check the host's /dev/urandom or getrandom",
    )
}

impl Seal for KeyRing {
    fn begin(&self) -> Result<SealInfo, Error> {
        let nonce = match &self.nonces {
            Nonces::System(rng) => pool::nonce(rng)?,
            #[cfg(test)]
            Nonces::Fixed(fixed) => *fixed,
        };
        Ok(SealInfo {
            key_id: self.current_id(),
            nonce,
        })
    }

    fn seal(
        &self,
        info: &SealInfo,
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), Error> {
        let key = self.key(info.key_id)?;
        let nonce = Nonce::assume_unique_for_key(info.nonce);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf[from..])
            .map_err(|_| {
                Error::new(
                    ErrorKind::Encode,
                    format!(
                        "the value is too large to seal ({} bytes)",
                        buf.len() - from
                    ),
                )
            })?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    fn open(&self, info: &SealInfo, aad: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        let key = self.key(info.key_id)?;
        if buf.len() < SEAL_TAG_LEN {
            return Err(Error::new(
                ErrorKind::Unauthentic,
                format!(
                    "sealed value is cut short: {} bytes after its header, fewer than its \
                     {SEAL_TAG_LEN}-byte tag; restore it from where it was written",
                    buf.len()
                ),
            ));
        }
        let nonce = Nonce::assume_unique_for_key(info.nonce);
        match key.open_in_place(nonce, Aad::from(aad), buf) {
            Ok(plain) => Ok(plain.len()),
            Err(_) => Err(Error::new(
                ErrorKind::Unauthentic,
                format!(
                    "sealed value does not open with key id {}: a byte was changed or it was \
                     cut short, it was sealed under another store key (copied from \
                     elsewhere), or the ring's key {} is not the key it was sealed with; \
                     nothing of it is returned",
                    info.key_id, info.key_id
                ),
            )),
        }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.ids().collect();
        write!(
            f,
            "KeyRing {{ current: {}, ids: {ids:?}, keys: <redacted> }}",
            self.current_id()
        )
    }
}

/// Rings are equal when they hold the same keys under the same ids in the same order
/// (compared without an early exit on the key bytes).
impl PartialEq for KeyRing {
    fn eq(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(&other.keys)
                .fold(true, |same, (a, b)| {
                    let diff = a
                        .bytes
                        .iter()
                        .zip(b.bytes.iter())
                        .fold(0u8, |d, (x, y)| d | (x ^ y));
                    same & (a.id == b.id) & (diff == 0)
                })
    }
}

impl Eq for KeyRing {}

/// Hashes the ids only (never the keys); equal rings have equal ids.
impl std::hash::Hash for KeyRing {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for key in &self.keys {
            key.id.hash(state);
        }
    }
}
