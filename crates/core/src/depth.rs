//! [`DepthLimit`]: bounds the nesting depth of any serde deserializer.
//!
//! Some formats (bincode) have no depth limit of their own, so a recursive type such as
//! `enum Tree { Leaf, Node(Box<Tree>) }` decoded from 100,000 hostile bytes recurses
//! 100,000 times and overflows the stack. Wrapping the deserializer counts nesting and
//! fails cleanly instead.
//!
//! # What counts as a level
//!
//! One level is counted each time the data hands a compound to a visitor: `visit_seq`,
//! `visit_map`, `visit_enum`, `visit_some` and `visit_newtype_struct`. These five are the
//! only ways a format can give control back to nested `Deserialize` code, so every
//! data-driven recursion passes through them; counting there (rather than at
//! `deserialize_seq`, `deserialize_option`, `deserialize_any`, ...) counts what the data
//! actually contains, the same way in every format. A scalar, a unit or a `None` costs
//! nothing, even when read through `deserialize_any`; a struct is one level whether the
//! format hands it over as a map (JSON) or as a sequence (bincode); an enum is one level
//! for the variant plus whatever its payload opens (a unit or newtype variant is one, a
//! tuple or struct variant two), so each `Node(Box<Tree>)` above is one level. The
//! top-level value starts at depth 0, so a limit of `n` admits exactly `n` nested
//! compounds and refuses the `n + 1`-th; a limit of 0 admits scalars only.
//!
//! The wrappers hold one reference to the [`DepthLimit`] and forward every call, so data
//! that does not nest pays for nothing but a pointer; a compound pays one compare and two
//! `Cell` writes.
//!
//! # Declared lengths
//!
//! A length-prefixed format (bincode) hands out lengths the data only claims. Three options
//! keep such claims from costing what the input does not hold, without counting every read
//! the way bincode's own byte limit does:
//! [`DepthLimit::owned_reads_borrowed`] reads owned strings and byte buffers through the
//! borrowing calls, which check the length against the input before anything is copied;
//! [`DepthLimit::size_hint_budget`] caps the element counts sequences and maps announce,
//! which serde's collections pre-allocate from; and [`DepthLimit::element_budget`] bounds
//! the elements they hand out, for elements that take no input at all.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// Tracks nesting while one value is deserialized and refuses to go deeper than a maximum.
///
/// The counters live in `Cell`s, so one `DepthLimit` serves one
/// [`deserialize`](DepthLimit::deserialize) call at a time (it is not `Sync`); each call
/// starts from depth 0, so a limit can be reused. See the [module docs](self) for what
/// counts as a level.
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
    owned_reads_borrowed: bool,
    hint_budget: usize,
    hints_left: Cell<usize>,
    element_budget: usize,
    elements_left: Cell<usize>,
    elements_exceeded: Cell<bool>,
}

impl DepthLimit {
    /// A limit of `max_depth` nested compounds (0 admits scalars only).
    #[must_use]
    pub fn new(max_depth: usize) -> Self {
        Self {
            max: max_depth,
            depth: Cell::new(0),
            exceeded: Cell::new(false),
            owned_reads_borrowed: false,
            hint_budget: usize::MAX,
            hints_left: Cell::new(usize::MAX),
            element_budget: usize::MAX,
            elements_left: Cell::new(usize::MAX),
            elements_exceeded: Cell::new(false),
        }
    }

    /// Reads owned strings and byte buffers (`deserialize_string`, `deserialize_byte_buf`)
    /// through the borrowing calls (`deserialize_str`, `deserialize_bytes`), which serde
    /// allows: the owned calls are only a hint, and every visitor accepts the borrowed
    /// forms. For a format reading from a slice whose owned reads allocate a declared length
    /// before reading it (bincode 2 allocates whatever a string's length prefix claims), the
    /// borrowed reads check the length against the input first, and the visitor copies only
    /// bytes that are there.
    ///
    /// ```
    /// use satchel_core::depth::DepthLimit;
    /// use serde::Deserialize;
    ///
    /// // A string whose length prefix claims 2^60 bytes (bincode's varint: 0xFD + u64).
    /// let mut hostile = vec![0xFD];
    /// hostile.extend_from_slice(&(1u64 << 60).to_le_bytes());
    /// let config = bincode::config::standard();
    /// let limit = DepthLimit::new(128).owned_reads_borrowed();
    /// let mut de = bincode::serde::BorrowedSerdeDecoder::from_slice(&hostile, config, ());
    /// // Without the option bincode would try to allocate 2^60 bytes here.
    /// assert!(limit.deserialize::<String, _>(de.as_deserializer()).is_err());
    /// ```
    #[must_use]
    pub fn owned_reads_borrowed(mut self) -> Self {
        self.owned_reads_borrowed = true;
        self
    }

    /// Caps the element counts that the sequences and maps of one value announce
    /// (`size_hint`), summed, at `total`: each one is told at most what is left of the
    /// budget, in the order they open. serde's collections pre-allocate from that count (up
    /// to 1 MiB each, `serde::de::size_hint::cautious`), so without a budget a recursive type
    /// whose every level claims 2^32 elements allocates 1 MiB per level from 5 bytes of
    /// input each, 128 MiB at the default depth. A format in which every element takes at
    /// least one byte passes its input's length: honest counts, summed, never exceed it,
    /// so only claims are cut (and a cut count only costs a collection some re-allocation,
    /// never a value).
    #[must_use]
    pub fn size_hint_budget(mut self, total: usize) -> Self {
        self.hint_budget = total;
        self
    }

    /// Fails once the sequences and maps of one value have handed out `total` elements
    /// (entries, for maps), summed. A format in which an element can take no input at all
    /// (bincode: `()`, a unit struct, `PhantomData`) would otherwise loop as many times as a
    /// length prefix claims, 2^60 iterations from 10 bytes; a budget of the input's length
    /// plus a margin bounds that work while admitting any honest value of that size.
    ///
    /// ```
    /// use satchel_core::depth::DepthLimit;
    ///
    /// // bincode: a Vec<()> whose length prefix claims 2^60 elements.
    /// let mut hostile = vec![0xFD];
    /// hostile.extend_from_slice(&(1u64 << 60).to_le_bytes());
    /// let config = bincode::config::standard();
    /// let limit = DepthLimit::new(128).element_budget(hostile.len() + 1000);
    /// let mut de = bincode::serde::BorrowedSerdeDecoder::from_slice(&hostile, config, ());
    /// let err = limit.deserialize::<Vec<()>, _>(de.as_deserializer()).unwrap_err();
    /// assert!(err.to_string().contains("more elements than"), "{err}");
    /// ```
    #[must_use]
    pub fn element_budget(mut self, total: usize) -> Self {
        self.element_budget = total;
        self
    }

    /// Deserializes a `T` from `de`, failing with `D::Error::custom("nesting deeper than
    /// N levels")` as soon as the data opens a sequence, map, enum, `Some` or newtype struct
    /// more than `N` levels deep, before the nested value is read.
    ///
    /// # Errors
    /// Whatever `de` reports, plus the depth error above; [`DepthLimit::exceeded`] tells
    /// the two apart.
    pub fn deserialize<'de, T, D>(&self, de: D) -> Result<T, D::Error>
    where
        T: de::Deserialize<'de>,
        D: Deserializer<'de>,
    {
        self.depth.set(0);
        self.exceeded.set(false);
        self.hints_left.set(self.hint_budget);
        self.elements_left.set(self.element_budget);
        self.elements_exceeded.set(false);
        let result = T::deserialize(Wrap::new(de, self));
        if result.is_ok() {
            // A visitor may have caught the depth error and recovered.
            self.exceeded.set(false);
        }
        result
    }

    /// True if the last [`DepthLimit::deserialize`] failed because of the depth limit (so a
    /// caller can report "limit exceeded" rather than a generic decode error); false after a
    /// success or any other failure.
    #[must_use]
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    /// True if the last [`DepthLimit::deserialize`] failed because the value held more
    /// elements than [`DepthLimit::element_budget`] allows.
    #[must_use]
    pub fn elements_exceeded(&self) -> bool {
        self.elements_exceeded.get()
    }

    #[inline]
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        let depth = self.depth.get() + 1;
        if depth > self.max {
            return Err(self.too_deep());
        }
        self.depth.set(depth);
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn too_deep<E: de::Error>(&self) -> E {
        self.exceeded.set(true);
        E::custom(format_args!("nesting deeper than {} levels", self.max))
    }

    /// One more element is about to be read: fails once the budget is spent.
    #[inline]
    fn take_element<E: de::Error>(&self) -> Result<(), E> {
        let left = self.elements_left.get();
        if left == 0 {
            return Err(self.too_many());
        }
        self.elements_left.set(left - 1);
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn too_many<E: de::Error>(&self) -> E {
        self.elements_exceeded.set(true);
        E::custom(format_args!(
            "the value holds more elements than the {} it may (a length in it claims more \
             than it holds)",
            self.element_budget
        ))
    }

    /// What a collection announcing `hint` elements is told: no more than the budget left,
    /// which it then uses up.
    #[inline]
    fn take_hint(&self, hint: Option<usize>) -> Option<usize> {
        let left = self.hints_left.get();
        let n = hint?.min(left);
        self.hints_left.set(left - n);
        Some(n)
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
        deserialize_bytes();
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

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.limit.owned_reads_borrowed {
            self.inner.deserialize_str(Wrap::new(visitor, self.limit))
        } else {
            self.inner
                .deserialize_string(Wrap::new(visitor, self.limit))
        }
    }

    #[inline]
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.limit.owned_reads_borrowed {
            self.inner.deserialize_bytes(Wrap::new(visitor, self.limit))
        } else {
            self.inner
                .deserialize_byte_buf(Wrap::new(visitor, self.limit))
        }
    }

    #[inline]
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
        let r = self.inner.visit_seq(Access::seq(seq, self.limit));
        self.limit.leave();
        r
    }

    #[inline]
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.limit.enter::<A::Error>()?;
        let r = self.inner.visit_map(Access::map(map, self.limit));
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

/// Wraps a sequence's or map's access: carries the limit to its elements and announces the
/// element count the budget allowed when it opened.
struct Access<'a, A> {
    inner: A,
    limit: &'a DepthLimit,
    hint: Option<usize>,
}

impl<'a, A> Access<'a, A> {
    #[inline]
    fn seq<'de>(inner: A, limit: &'a DepthLimit) -> Self
    where
        A: de::SeqAccess<'de>,
    {
        let hint = limit.take_hint(inner.size_hint());
        Self { inner, limit, hint }
    }

    #[inline]
    fn map<'de>(inner: A, limit: &'a DepthLimit) -> Self
    where
        A: de::MapAccess<'de>,
    {
        let hint = limit.take_hint(inner.size_hint());
        Self { inner, limit, hint }
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Access<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.limit.take_element::<A::Error>()?;
        self.inner.next_element_seed(Wrap::new(seed, self.limit))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.hint
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Access<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.limit.take_element::<A::Error>()?;
        self.inner.next_key_seed(Wrap::new(seed, self.limit))
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(Wrap::new(seed, self.limit))
    }

    #[inline]
    fn next_entry_seed<K: DeserializeSeed<'de>, V: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: V,
    ) -> Result<Option<(K::Value, V::Value)>, A::Error> {
        self.limit.take_element::<A::Error>()?;
        self.inner
            .next_entry_seed(Wrap::new(kseed, self.limit), Wrap::new(vseed, self.limit))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.hint
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
    use std::collections::{BTreeMap, HashMap};

    #[derive(Deserialize, Debug, PartialEq)]
    enum Tree {
        Leaf,
        Node(Box<Tree>),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Newtype(Vec<u8>);

    #[derive(Deserialize, Debug, PartialEq)]
    struct Unit;

    #[derive(Deserialize, Debug, PartialEq)]
    enum Kinds {
        Unit,
        Newtype(u32),
        Tuple(u8, String),
        Struct { x: i64, y: Option<bool> },
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Record {
        a: Option<Vec<(u8, String)>>,
        b: BTreeMap<String, Tree>,
        c: HashMap<String, Vec<Kinds>>,
        d: (Newtype, Unit, Option<Option<u8>>),
        e: char,
        f: f64,
    }

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    fn run<T: for<'de> Deserialize<'de>>(
        max: usize,
        json: &str,
    ) -> (Result<T, serde_json::Error>, bool) {
        let limit = DepthLimit::new(max);
        let mut de = serde_json::Deserializer::from_str(json);
        let result = limit.deserialize::<T, _>(&mut de);
        (result, limit.exceeded())
    }

    #[test]
    fn limits_sequences() {
        let (ok, exceeded) = run::<serde_json::Value>(10, &nested(10));
        assert!(ok.is_ok() && !exceeded);
        for levels in [11, 20, 100] {
            let (err, exceeded) = run::<serde_json::Value>(10, &nested(levels));
            let err = err.unwrap_err();
            assert!(exceeded, "{levels} levels");
            assert!(
                err.to_string().contains("nesting deeper than 10 levels"),
                "{err}"
            );
        }
        // Typed as well as self-describing.
        let (err, exceeded) = run::<Vec<Vec<Vec<u8>>>>(2, "[[[1]]]");
        assert!(err.is_err() && exceeded);
        let (ok, exceeded) = run::<Vec<Vec<Vec<u8>>>>(3, "[[[1]]]");
        assert_eq!(ok.unwrap(), vec![vec![vec![1]]]);
        assert!(!exceeded);
    }

    #[test]
    fn siblings_do_not_add_up() {
        let json = format!("[{}]", vec![nested(4); 50].join(","));
        let (ok, exceeded) = run::<serde_json::Value>(5, &json);
        assert!(ok.is_ok() && !exceeded);
        let (err, exceeded) = run::<serde_json::Value>(4, &json);
        assert!(err.is_err() && exceeded);
    }

    #[test]
    fn counts_maps_options_and_newtypes() {
        // Scalars and `None` cost nothing.
        assert!(run::<u8>(0, "1").0.is_ok());
        assert!(run::<serde_json::Value>(0, "\"s\"").0.is_ok());
        assert!(run::<Option<u8>>(0, "null").0.is_ok());
        // `Some` is a level.
        assert_eq!(run::<Option<Option<u8>>>(2, "1").0.unwrap(), Some(Some(1)));
        assert!(run::<Option<Option<u8>>>(1, "1").1);
        // A newtype struct and its sequence are two.
        assert_eq!(run::<Newtype>(2, "[7]").0.unwrap(), Newtype(vec![7]));
        assert!(run::<Newtype>(1, "[7]").1);
        // Maps nest like sequences.
        let json = r#"{"a":{"b":{"c":1}}}"#;
        assert!(run::<serde_json::Value>(3, json).0.is_ok());
        assert!(run::<serde_json::Value>(2, json).1);
        assert!(run::<BTreeMap<String, BTreeMap<String, BTreeMap<String, u8>>>>(2, json).1);
        // Zero admits no compound at all.
        assert!(run::<Vec<u8>>(0, "[]").1);
    }

    #[test]
    fn limits_recursive_enums() {
        let json = r#"{"Node":{"Node":{"Node":"Leaf"}}}"#;
        // Three `Node`s and the `Leaf`: each enum is one level.
        let (ok, exceeded) = run::<Tree>(4, json);
        assert_eq!(
            ok.unwrap(),
            Tree::Node(Box::new(Tree::Node(Box::new(Tree::Node(Box::new(
                Tree::Leaf
            ))))))
        );
        assert!(!exceeded);
        let (err, exceeded) = run::<Tree>(3, json);
        assert!(err.is_err() && exceeded);
        // A tuple or struct variant is the enum plus its sequence or map.
        assert!(run::<Kinds>(2, r#"{"Tuple":[1,"x"]}"#).0.is_ok());
        assert!(run::<Kinds>(1, r#"{"Tuple":[1,"x"]}"#).1);
        assert!(run::<Kinds>(2, r#"{"Struct":{"x":1,"y":null}}"#).0.is_ok());
        assert!(run::<Kinds>(1, r#"{"Struct":{"x":1,"y":null}}"#).1);
    }

    #[test]
    fn other_errors_are_not_depth_errors() {
        let (err, exceeded) = run::<Vec<u8>>(10, "[1, \"x\"]");
        assert!(err.is_err() && !exceeded);
        let (err, exceeded) = run::<serde_json::Value>(10, "[[1]");
        assert!(err.is_err() && !exceeded);
    }

    #[test]
    fn values_are_unchanged() {
        let json = r#"{
            "a": [[1, "x"], [2, "y"]],
            "b": {"k": {"Node": {"Node": "Leaf"}}, "l": "Leaf"},
            "c": {"m": ["Unit", {"Newtype": 7}, {"Tuple": [1, "t"]}, {"Struct": {"x": -3, "y": true}}]},
            "d": [[1, 2, 3], null, 5],
            "e": "\u00e9",
            "f": 1.5
        }"#;
        let direct: Record = serde_json::from_str(json).unwrap();
        let limit = DepthLimit::new(128);
        let mut de = serde_json::Deserializer::from_str(json);
        let wrapped: Record = limit.deserialize(&mut de).unwrap();
        assert_eq!(direct, wrapped);
        // The counter is back at zero after a success.
        assert_eq!(limit.depth.get(), 0);

        let direct: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut de = serde_json::Deserializer::from_str(json);
        let wrapped: serde_json::Value = limit.deserialize(&mut de).unwrap();
        assert_eq!(direct, wrapped);
    }

    #[test]
    fn reusable_after_a_failure() {
        let limit = DepthLimit::new(3);
        let mut de = serde_json::Deserializer::from_str("[[[[[1]]]]]");
        limit
            .deserialize::<serde_json::Value, _>(&mut de)
            .unwrap_err();
        assert!(limit.exceeded());
        let mut de = serde_json::Deserializer::from_str("[[[1]]]");
        limit.deserialize::<serde_json::Value, _>(&mut de).unwrap();
        assert!(!limit.exceeded());
        assert_eq!(limit.depth.get(), 0);
    }
}
