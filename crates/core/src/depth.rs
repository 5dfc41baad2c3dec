//! [`DepthLimit`]: bounds the nesting depth of any serde deserializer.
//!
//! Some formats (bincode) have no depth limit of their own, so a recursive type such as
//! `enum Tree { Leaf, Node(Box<Tree>) }` decoded from 100,000 hostile bytes recurses
//! 100,000 times and overflows the stack. Wrapping the deserializer counts nesting and
//! fails cleanly instead.
//!
//! One level is counted each time the data hands a compound to a visitor: a sequence, a
//! map, an enum, a `Some` or a newtype struct.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// Tracks nesting while one value is deserialized and refuses to go deeper than a maximum.
///
/// ```
/// use satchel_core::depth::DepthLimit;
///
/// let limit = DepthLimit::new(3);
/// let mut de = serde_json::Deserializer::from_str("[[[[1]]]]");
/// let err = limit.deserialize::<serde_json::Value, _>(&mut de).unwrap_err();
/// assert!(limit.exceeded());
/// assert!(err.to_string().contains("nesting deeper than 3 levels"));
/// ```
#[derive(Debug)]
pub struct DepthLimit {
    max: usize,
    depth: Cell<usize>,
    exceeded: Cell<bool>,
}

impl DepthLimit {
    /// A limit of `max_depth` levels.
    pub fn new(max_depth: usize) -> Self {
        Self {
            max: max_depth,
            depth: Cell::new(0),
            exceeded: Cell::new(false),
        }
    }

    /// Deserializes a `T` from `de`, failing with `D::Error::custom("nesting deeper than
    /// N levels")` if the data nests deeper than the limit.
    ///
    /// # Errors
    /// Whatever `de` reports, plus the depth error above.
    pub fn deserialize<'de, T, D>(&self, de: D) -> Result<T, D::Error>
    where
        T: de::Deserialize<'de>,
        D: Deserializer<'de>,
    {
        self.depth.set(0);
        self.exceeded.set(false);
        T::deserialize(Wrap {
            inner: de,
            limit: self,
        })
    }

    /// True if the last [`DepthLimit::deserialize`] failed because of the depth limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    #[inline]
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        let depth = self.depth.get() + 1;
        if depth > self.max {
            self.exceeded.set(true);
            return Err(E::custom(format_args!(
                "nesting deeper than {} levels",
                self.max
            )));
        }
        self.depth.set(depth);
        Ok(())
    }

    #[inline]
    fn leave(&self) {
        self.depth.set(self.depth.get() - 1);
    }
}

/// Wraps a deserializer, a visitor, an access or a seed, carrying the limit along.
struct Wrap<'a, X> {
    inner: X,
    limit: &'a DepthLimit,
}

impl<'a, X> Wrap<'a, X> {
    #[inline]
    fn new(inner: X, limit: &'a DepthLimit) -> Self {
        Self { inner, limit }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[inline]
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.inner.$method($($arg,)* Wrap::new(visitor, self.limit))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Wrap<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            #[inline]
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.limit.enter::<D::Error>()?;
        let r = self.inner.visit_some(Wrap::new(d, self.limit));
        self.limit.leave();
        r
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.limit.enter::<D::Error>()?;
        let r = self.inner.visit_newtype_struct(Wrap::new(d, self.limit));
        self.limit.leave();
        r
    }

    #[inline]
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.limit.enter::<A::Error>()?;
        let r = self.inner.visit_seq(Wrap::new(seq, self.limit));
        self.limit.leave();
        r
    }

    #[inline]
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.limit.enter::<A::Error>()?;
        let r = self.inner.visit_map(Wrap::new(map, self.limit));
        self.limit.leave();
        r
    }

    #[inline]
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.limit.enter::<A::Error>()?;
        let r = self.inner.visit_enum(Wrap::new(data, self.limit));
        self.limit.leave();
        r
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Wrap::new(d, self.limit))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Wrap::new(seed, self.limit))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(Wrap::new(seed, self.limit))
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(Wrap::new(seed, self.limit))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'a, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<'a, A> {
    type Error = A::Error;
    type Variant = Wrap<'a, A::Variant>;

    #[inline]
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let limit = self.limit;
        let (value, variant) = self.inner.variant_seed(Wrap::new(seed, limit))?;
        Ok((value, Wrap::new(variant, limit)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(Wrap::new(seed, self.limit))
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner
            .tuple_variant(len, Wrap::new(visitor, self.limit))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, Wrap::new(visitor, self.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize, Debug, PartialEq)]
    enum Tree {
        Leaf,
        Node(Box<Tree>),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Record {
        a: Option<Vec<(u8, String)>>,
        b: BTreeMap<String, Tree>,
    }

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn limits_sequences() {
        let limit = DepthLimit::new(10);
        let ok = nested(10);
        let mut de = serde_json::Deserializer::from_str(&ok);
        limit.deserialize::<serde_json::Value, _>(&mut de).unwrap();
        assert!(!limit.exceeded());
        let deep = nested(11);
        let mut de = serde_json::Deserializer::from_str(&deep);
        limit
            .deserialize::<serde_json::Value, _>(&mut de)
            .unwrap_err();
        assert!(limit.exceeded());
    }

    #[test]
    fn limits_recursive_enums() {
        let json = r#"{"Node":{"Node":{"Node":"Leaf"}}}"#;
        // Three `Node`s and the `Leaf`: each enum is one level.
        let limit = DepthLimit::new(4);
        let mut de = serde_json::Deserializer::from_str(json);
        limit.deserialize::<Tree, _>(&mut de).unwrap();
        let limit = DepthLimit::new(3);
        let mut de = serde_json::Deserializer::from_str(json);
        limit.deserialize::<Tree, _>(&mut de).unwrap_err();
        assert!(limit.exceeded());
    }

    #[test]
    fn values_are_unchanged() {
        let json = r#"{"a":[[1,"x"],[2,"y"]],"b":{"k":{"Node":"Leaf"}}}"#;
        let direct: Record = serde_json::from_str(json).unwrap();
        let limit = DepthLimit::new(128);
        let mut de = serde_json::Deserializer::from_str(json);
        let wrapped: Record = limit.deserialize(&mut de).unwrap();
        assert_eq!(direct, wrapped);
        // The counter is back at zero after a success, so it can be reused.
        assert_eq!(limit.depth.get(), 0);
        let mut de = serde_json::Deserializer::from_str(json);
        let again: Record = limit.deserialize(&mut de).unwrap();
        assert_eq!(direct, again);
    }
}
