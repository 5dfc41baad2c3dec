//! [`Classes`]: which Python class names map onto which Rust types.

use std::collections::HashMap;

use satchel_core::{Error, ErrorKind};

/// The Python classes (`module.Name`, as kvdb-py writes in `__class__`) a reader accepts,
/// each mapped onto the Rust type that stands for it.
///
/// kvdb-py imports and calls whatever class a stored value names. satchel never constructs
/// anything a stored value names: a `__class__` is only accepted if it is registered here,
/// and then the caller's own target type is deserialized from the object's fields. An
/// unregistered class is an [`ErrorKind::Decode`] error naming it; a registered class read
/// as a different registered Rust type is an [`ErrorKind::Mismatch`].
///
/// Registering a type also makes the writer tag it: a value of that type at the top level
/// is written as `{"__type__": "pydantic", "__class__": …, "value": …}` (JSON) or as
/// kvdb-py's msgpack extension 2, so Python reads back an instance of the model.
///
/// Codecs are `Copy`, so they hold a `&'static Classes`: build it once, in a `static`.
///
/// ```
/// use std::sync::LazyLock;
/// use satchel_kvdb::Classes;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct User { name: String }
///
/// static CLASSES: LazyLock<Classes> =
///     LazyLock::new(|| Classes::new().register::<User>("app.models.User"));
/// assert_eq!(CLASSES.class_of::<User>(), Some("app.models.User"));
/// assert!(CLASSES.is_registered("app.models.User"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Classes {
    by_class: HashMap<String, &'static str>,
    by_type: HashMap<&'static str, String>,
    keep_unregistered: bool,
}

/// The registry used when none is given: no classes, strict.
pub(crate) static EMPTY: std::sync::LazyLock<Classes> = std::sync::LazyLock::new(Classes::new);

impl Classes {
    /// No classes: any `__class__` in stored data is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps the Python class `class` (`module.Name`) onto the Rust type `T`, both ways.
    #[must_use]
    pub fn register<T: ?Sized>(mut self, class: impl Into<String>) -> Self {
        let class = class.into();
        let rust = std::any::type_name::<T>();
        self.by_class.insert(class.clone(), rust);
        self.by_type.insert(rust, class);
        self
    }

    /// Accepts every class name as plain data instead of refusing unregistered ones: a
    /// classed object is read as its fields plus a `"__class__"` field holding the name.
    ///
    /// Still nothing is constructed from the name. Meant for migrating a keyspace into a
    /// generic value (`serde_json::Value`) without losing the class names; typed readers
    /// should register their classes instead.
    #[must_use]
    pub fn keep_unregistered(mut self) -> Self {
        self.keep_unregistered = true;
        self
    }

    /// True if `class` is registered.
    pub fn is_registered(&self, class: &str) -> bool {
        self.by_class.contains_key(class)
    }

    /// The Python class registered for the Rust type `T`.
    pub fn class_of<T: ?Sized>(&self) -> Option<&str> {
        self.by_type
            .get(std::any::type_name::<T>())
            .map(String::as_str)
    }

    /// Whether an unregistered class is read as data (see [`Classes::keep_unregistered`]).
    pub fn keeps_unregistered(&self) -> bool {
        self.keep_unregistered
    }

    /// Checks a stored `class`, read as the Rust type named `target` at the top level (or
    /// nested, `target = None`). `Ok(true)`: keep the name as data.
    pub(crate) fn check(&self, class: &str, target: Option<&'static str>) -> Result<bool, Error> {
        match self.by_class.get(class) {
            Some(rust) => {
                if let Some(target) = target
                    && let Some(expected) = self.by_type.get(target)
                    && *rust != target
                {
                    return Err(Error::new(
                        ErrorKind::Mismatch,
                        format!(
                            "stored value is Python class `{class}` (Rust `{rust}`), but it \
                             is being read as `{target}`, registered for `{expected}`"
                        ),
                    ));
                }
                Ok(false)
            }
            None if self.keep_unregistered => Ok(true),
            None => Err(Error::new(
                ErrorKind::Decode,
                format!(
                    "stored value names Python class `{}`, which is not registered: \
                     nothing is constructed from a name in stored data. If the class is \
                     expected, register the Rust type that stands for it with \
                     `Classes::register::<T>(\"{}\")`",
                    shorten(class),
                    shorten(class)
                ),
            )),
        }
    }
}

/// At most 100 characters of untrusted text, for messages.
pub(crate) fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(100).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// The constructor, the class registry and the identity (`PartialEq`, `Hash`: by registry)
/// of a serializer that maps Python classes (`KvdbJson`, `KvdbMsgPack`).
macro_rules! class_aware {
    ($t:ident) => {
        impl $t {
            /// The serializer, with no classes registered.
            pub const fn new() -> Self {
                Self { classes: None }
            }

            /// The serializer, mapping the classes of `classes`.
            #[must_use]
            pub const fn classes(mut self, classes: &'static Classes) -> Self {
                self.classes = Some(classes);
                self
            }

            /// The classes in use.
            pub fn registry(&self) -> &'static Classes {
                match self.classes {
                    Some(c) => c,
                    None => &$crate::classes::EMPTY,
                }
            }
        }

        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                std::ptr::eq(self.registry(), other.registry())
            }
        }

        impl Eq for $t {}

        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                std::ptr::hash(self.registry(), state);
            }
        }
    };
}

pub(crate) use class_aware;
