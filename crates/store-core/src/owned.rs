//! [`OwnedKeys`]: the optional capability of keeping, with each key, the owner it belongs
//! to, so that all keys of one owner can be listed and deleted in one operation of the
//! backend.

use std::sync::Arc;
use std::time::Duration;

use crate::{BoxFuture, Condition, Result, Store, StoreError, StoreErrorKind, Version};

/// The longest owner tag, in bytes, that every store holding [`OwnedKeys`] takes (MySQL's
/// owner column is `VARBINARY(1020)`, like its key column).
pub const MAX_OWNER_LEN: usize = 1020;

/// Stores that tag keys with an owner (a user id, say) written atomically with the value,
/// and can list and delete all keys of an owner as one operation of the backend: SQL
/// tables (an indexed `owner` column; [`OwnedKeys::delete_owner`] is one `DELETE`) and
/// Redis on one server (a set per owner, kept by the write's script; one script deletes).
///
/// A key's tag is part of its value: [`OwnedKeys::set_owned`] sets it, and
/// [`Store::set`] writes the key untagged (as `set_owned` with `None`). [`Store::touch`]
/// keeps it; [`Store::delete`] and [`Store::delete_if`] remove it with the key. An owner
/// tag is not a key: it is never listed by a scan and never read by [`Store::get`].
///
/// The guarantee: once [`OwnedKeys::delete_owner`] returns, no key that was tagged with
/// the owner when it was called is live; a key tagged meanwhile may or may not be.
pub trait OwnedKeys: Store {
    /// Writes `value` under `key` as [`Store::set`] does (same condition, time to live and
    /// errors), tagged with `owner` (`None`: untagged), in one atomic write: no reader
    /// ever sees the value without its tag, or the tag without the value.
    ///
    /// # Errors
    /// As [`Store::set`]; also [`StoreErrorKind::InvalidInput`] for an owner that
    /// [`check_owner`] refuses.
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>>;

    /// The live keys tagged with `owner`, in no particular order, each once.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for an owner that [`check_owner`] refuses; the
    /// store's errors otherwise.
    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>>;

    /// Deletes every key tagged with `owner` in one atomic operation of the backend.
    /// Returns how many live keys were removed.
    ///
    /// # Errors
    /// As [`OwnedKeys::keys_of`].
    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>>;
}

/// Refuses what no store takes as an owner tag: an empty one, one with a NUL character,
/// one longer than [`MAX_OWNER_LEN`] bytes.
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`] saying which.
pub fn check_owner(owner: &str) -> Result<()> {
    let problem = if owner.is_empty() {
        "the owner is empty"
    } else if owner.contains('\0') {
        "the owner contains a NUL character, which not every store can hold"
    } else if owner.len() > MAX_OWNER_LEN {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            format!(
                "the owner is {} bytes long; stores take owners of at most {MAX_OWNER_LEN} bytes",
                owner.len()
            ),
        ));
    } else {
        return Ok(());
    };
    Err(StoreError::new(StoreErrorKind::InvalidInput, problem))
}

macro_rules! forward_owned {
    ($($ty:ty),*) => {$(
        impl<S: OwnedKeys + ?Sized> OwnedKeys for $ty {
            fn set_owned<'a>(
                &'a self,
                key: &'a str,
                value: &'a [u8],
                ttl: Option<Duration>,
                condition: Condition,
                owner: Option<&'a str>,
            ) -> BoxFuture<'a, Result<Version>> {
                (**self).set_owned(key, value, ttl, condition, owner)
            }
            fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
                (**self).keys_of(owner)
            }
            fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
                (**self).delete_owner(owner)
            }
        }
    )*};
}

forward_owned!(Arc<S>, Box<S>, &S);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_checked() {
        assert!(check_owner("user-42").is_ok());
        assert!(check_owner(&"x".repeat(MAX_OWNER_LEN)).is_ok());
        for bad in [
            String::new(),
            "a\0b".to_string(),
            "x".repeat(MAX_OWNER_LEN + 1),
        ] {
            let e = check_owner(&bad).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e}");
        }
    }
}
