//! The shapes Coherence adds on top of JSON: [`Classed`] objects with an `@class` field,
//! [`BigInt`], and [`Entries`] maps.

#[allow(unused_imports)]
use super::*;

// ----- @class objects ---------------------------------------------------------------------

/// A type that Coherence clients know by a class name, written in the `@class` field.
///
/// The name is the alias the client registered for the type (Python: `@proxy("alias")`),
/// often a Java class name. Keep it stable once data is stored.
pub trait CoherenceClass {
    /// The value of the `@class` field.
    const CLASS: &'static str;
}

impl<T: CoherenceClass + ?Sized> CoherenceClass for &T {
    const CLASS: &'static str = T::CLASS;
}

/// A struct (or map) written as a JSON object with `"@class": T::CLASS` as its first field,
/// and read back only from an object of that class.
///
/// `T` must serialize as a struct or a map. Reading goes through a `serde_json::Value`, so
/// `T` must be deserializable from one (any derived struct is).
///
/// ```
/// use satchel_coherence::{Classed, CoherenceClass, from_slice, to_vec};
/// #[derive(serde::Serialize, serde::Deserialize, Debug)]
/// struct Order { id: u64 }
/// impl CoherenceClass for Order { const CLASS: &'static str = "shop.Order"; }
/// #[derive(serde::Serialize, serde::Deserialize, Debug)]
/// struct User { name: String }
/// impl CoherenceClass for User { const CLASS: &'static str = "shop.User"; }
///
/// let bytes = to_vec(&Classed(Order { id: 7 }))?;
/// assert_eq!(bytes, b"\x15{\"@class\": \"shop.Order\", \"id\": 7}");
/// let err = from_slice::<Classed<User>>(&bytes).unwrap_err();
/// let report = satchel_core::Report(&err).to_string();
/// assert!(report.contains("expected an object of class `shop.User`, found `shop.Order`"), "{report}");
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Classed<T>(pub T);

impl<T> Classed<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[derive(Serialize)]
struct ClassedRef<'a, T: ?Sized> {
    #[serde(rename = "@class")]
    class: &'static str,
    #[serde(flatten)]
    value: &'a T,
}

impl<T: CoherenceClass + Serialize> Serialize for Classed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ClassedRef {
            class: T::CLASS,
            value: &self.0,
        }
        .serialize(s)
    }
}

impl<'de, T: CoherenceClass + DeserializeOwned> Deserialize<'de> for Classed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match object.remove(CLASS_FIELD) {
            Some(serde_json::Value::String(class)) if class == T::CLASS => {}
            Some(serde_json::Value::String(class)) => {
                return Err(de::Error::custom(format_args!(
                    "expected an object of class `{}`, found `{class}`",
                    T::CLASS
                )));
            }
            Some(_) => return Err(de::Error::custom("the `@class` field is not a string")),
            None => {
                return Err(de::Error::custom(format_args!(
                    "expected an object of class `{}`, found one without `@class`",
                    T::CLASS
                )));
            }
        }
        T::deserialize(serde_json::Value::Object(object))
            .map(Classed)
            .map_err(de::Error::custom)
    }
}

// ----- math.BigInt --------------------------------------------------------------------------

/// An integer that the Python client writes as a plain number inside its 64-bit range and as
/// `{"@class": "math.BigInt", "value": "<decimal>"}` outside it; reads either form.
///
/// (The range is Python's: `-(2**63) - 1 ..= 2**63 - 1`.)
///
/// ```
/// use satchel_coherence::{BigInt, from_slice, to_vec};
/// let big = BigInt(1 << 64);
/// assert_eq!(
///     to_vec(&big)?,
///     b"\x15{\"@class\": \"math.BigInt\", \"value\": \"18446744073709551616\"}"
/// );
/// assert_eq!(to_vec(&BigInt(42))?, b"\x1542");
/// assert_eq!(from_slice::<BigInt>(b"\x1542")?, BigInt(42));
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BigInt(pub i128);

impl BigInt {
    const PLAIN_MIN: i128 = i64::MIN as i128 - 1;
    const PLAIN_MAX: i128 = i64::MAX as i128;
}

impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if (Self::PLAIN_MIN..=Self::PLAIN_MAX).contains(&self.0) {
            return s.serialize_i128(self.0);
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(CLASS_FIELD, BIG_INT_CLASS)?;
        map.serialize_entry("value", &self.0.to_string())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BigInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a math.BigInt object")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BigInt, E> {
                Ok(BigInt(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BigInt, E> {
                Ok(BigInt(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<BigInt, E> {
                Ok(BigInt(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<BigInt, E> {
                i128::try_from(v)
                    .map(BigInt)
                    .map_err(|_| E::custom("integer does not fit in 128 bits"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BigInt, A::Error> {
                let mut class: Option<String> = None;
                let mut value: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        CLASS_FIELD => class = Some(map.next_value()?),
                        "value" => value = Some(map.next_value()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                match class.as_deref() {
                    Some(BIG_INT_CLASS) => {}
                    Some(other) => {
                        return Err(de::Error::custom(format_args!(
                            "expected an object of class `{BIG_INT_CLASS}`, found `{other}`"
                        )));
                    }
                    None => return Err(de::Error::missing_field(CLASS_FIELD)),
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                value.parse::<i128>().map(BigInt).map_err(|_| {
                    de::Error::custom(format_args!(
                        "math.BigInt value `{value}` is not an integer that fits in 128 bits"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

// ----- {"entries": [...]} maps ---------------------------------------------------------------

/// A map written as `{"entries": [{"key": k, "value": v}, …]}`, the form the Python client
/// uses for `dict` attributes of `@class` objects (and Java maps use on the wire). Keeps the
/// order of its pairs. Reads that form or a plain JSON object (whose keys are strings).
///
/// ```
/// use satchel_coherence::{Entries, to_vec};
/// let m = Entries(vec![("eur".to_string(), 10), ("usd".to_string(), 5)]);
/// assert_eq!(
///     to_vec(&m)?,
///     &b"\x15{\"entries\": [{\"key\": \"eur\", \"value\": 10}, {\"key\": \"usd\", \"value\": 5}]}"[..]
/// );
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entries<K, V>(pub Vec<(K, V)>);

#[derive(Serialize, Deserialize)]
struct EntryRef<K, V> {
    key: K,
    value: V,
}

struct EntriesSeq<'a, K, V>(&'a [(K, V)]);

impl<K: Serialize, V: Serialize> Serialize for EntriesSeq<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&EntryRef { key, value })?;
        }
        seq.end()
    }
}

impl<K: Serialize, V: Serialize> Serialize for Entries<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("entries", &EntriesSeq(&self.0))?;
        map.end()
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(std::marker::PhantomData<(K, V)>);
        struct PairsSeed<K, V>(std::marker::PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> de::DeserializeSeed<'de> for PairsSeed<K, V> {
            type Value = Vec<(K, V)>;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                struct SeqV<K, V>(std::marker::PhantomData<(K, V)>);
                impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for SeqV<K, V> {
                    type Value = Vec<(K, V)>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a list of {\"key\", \"value\"} objects")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                        while let Some(EntryRef { key, value }) =
                            seq.next_element::<EntryRef<K, V>>()?
                        {
                            out.push((key, value));
                        }
                        Ok(out)
                    }
                }
                d.deserialize_seq(SeqV(std::marker::PhantomData))
            }
        }

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an {\"entries\": [...]} object or a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Either {"entries": [...]} (other keys such as "@class" ignored) or a plain
                // object whose keys are the map's keys. Decide on the first key.
                let mut pairs: Vec<(K, V)> = Vec::new();
                let mut entries: Option<Vec<(K, V)>> = None;
                let mut plain = false;
                while let Some(key) = map.next_key::<String>()? {
                    if !plain && key == "entries" {
                        entries = Some(map.next_value_seed(PairsSeed(std::marker::PhantomData))?);
                    } else if !plain && (key == CLASS_FIELD || key == "@ordered") {
                        map.next_value::<de::IgnoredAny>()?;
                    } else {
                        if entries.is_some() {
                            return Err(de::Error::custom(format_args!(
                                "unexpected field `{key}` next to `entries`"
                            )));
                        }
                        plain = true;
                        let k =
                            K::deserialize(de::value::StringDeserializer::<A::Error>::new(key))?;
                        pairs.push((k, map.next_value()?));
                    }
                }
                Ok(Entries(entries.unwrap_or(pairs)))
            }
        }
        d.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}
