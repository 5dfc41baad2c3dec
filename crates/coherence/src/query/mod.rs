//! The Coherence query language over JSON values: the extractors, filters, entry processors
//! and aggregators Coherence clients send (as `0x15` + JSON with standard Coherence class
//! names, `filter.EqualsFilter`, `processor.NumberIncrementor`, …), parsed into a bounded
//! tree and evaluated on the JSON values the endpoint stores.
//!
//! - `extract.rs`: extractors (`extractor.UniversalExtractor`, `ChainedExtractor`,
//!   `MultiExtractor`, `IdentityExtractor`), the methods of JSON's own types they may call
//!   (`length()`, `size()`, `get(k)`, …), and updaters (`UniversalUpdater`,
//!   `CompositeUpdater`, `processor.PropertyManipulator`);
//! - `filter.rs`: filters (comparisons, `like`, `regex`, `in`, `contains*`, `present`,
//!   null checks, `between`, the logical ones, `always`/`never`, `MapEventFilter`);
//! - `process.rs`: entry processors, applied to one entry at a time;
//! - `aggregate.rs`: aggregators, and the comparators `TopNAggregator` and sorted queries
//!   use;
//! - `number.rs`: the numbers of JSON and Coherence (`math.BigInt`, `math.BigDec`), their
//!   order and arithmetic.
//!
//! Parsing is bounded ([`Budget`]): at most [`MAX_DEPTH`] nested query objects,
//! [`MAX_NODES`] of them and [`MAX_LIST`] values in one list, at most [`MAX_PATTERNS`]
//! patterns of at most [`MAX_PATTERN`] characters each, compiled under a size limit, and
//! extractors that copy a value at most `extract::MAX_FAN_OUT` times. A class satchel does
//! not know is refused naming it ([`QueryError::Invalid`]); one that needs Java code on the
//! server (scripts, method calls on Java types, query plans) answers
//! [`QueryError::Unsupported`]. Filters cannot fail once parsed; processors and aggregators
//! answer [`QueryError::Invalid`] for a value they cannot work on; nothing panics.

mod aggregate;
mod extract;
mod filter;
mod number;
mod process;

pub(crate) use aggregate::{Aggregator, Comparator};
pub(crate) use extract::Extractor;
pub(crate) use filter::Filter;
pub(crate) use process::{Outcome, Processor, Work};

use serde_json::{Map, Value};

/// The deepest nesting of query objects (a filter in a filter in …).
pub(crate) const MAX_DEPTH: usize = 32;
/// The most query objects (filters, extractors, processors, aggregators) in one request.
pub(crate) const MAX_NODES: usize = 4_096;
/// The most values in one list of a query (`InFilter`, `ContainsAnyFilter`, the entries of
/// `ConditionalPutAll`, …).
pub(crate) const MAX_LIST: usize = 10_000;
/// The longest `LikeFilter` or `RegexFilter` pattern, in characters.
pub(crate) const MAX_PATTERN: usize = 1_000;
/// The most `LikeFilter`s and `RegexFilter`s in one request (each compiles to an automaton
/// of up to 256 KiB).
pub(crate) const MAX_PATTERNS: usize = 16;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueryError {
    /// Malformed, unknown or over a limit: the client's to fix (`INVALID_ARGUMENT`).
    Invalid(String),
    /// A known Coherence class that needs Java code on the server (`UNIMPLEMENTED`).
    Unsupported(String),
}

impl QueryError {
    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Invalid(m) | Self::Unsupported(m) => m,
        }
    }
}

pub(crate) type Result<T> = std::result::Result<T, QueryError>;

fn invalid(message: impl Into<String>) -> QueryError {
    QueryError::Invalid(message.into())
}

/// A class that satchel knows but cannot run: it needs Java on the server.
fn needs_java(class: &str, why: &str) -> QueryError {
    QueryError::Unsupported(format!(
        "{class} is not supported by satchel's Coherence endpoint: {why}"
    ))
}

/// What a request may still spend on parsing.
#[derive(Debug)]
pub(crate) struct Budget {
    nodes: usize,
    depth: usize,
    patterns: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            nodes: MAX_NODES,
            depth: 0,
            patterns: MAX_PATTERNS,
        }
    }
}

impl Budget {
    /// Counts one pattern to compile.
    fn pattern(&mut self) -> Result<()> {
        if self.patterns == 0 {
            return Err(invalid(format!(
                "the query holds more than {MAX_PATTERNS} LikeFilters and RegexFilters, \
                 satchel's limit"
            )));
        }
        self.patterns -= 1;
        Ok(())
    }

    /// Counts one query object, one level deeper; `f` parses what it holds.
    fn enter<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.nodes == 0 {
            return Err(invalid(format!(
                "the query holds more than {MAX_NODES} filters, extractors, processors and \
                 aggregators, satchel's limit"
            )));
        }
        if self.depth >= MAX_DEPTH {
            return Err(invalid(format!(
                "the query nests more than {MAX_DEPTH} levels deep, satchel's limit"
            )));
        }
        self.nodes -= 1;
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }
}

/// The JSON of a query field (`0x15` + JSON), or `None` for an empty field.
pub(crate) fn parse_json(field: &str, bytes: &[u8]) -> Result<Option<Value>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let Some((&crate::value::MAGIC, json)) = bytes.split_first() else {
        return Err(invalid(format!(
            "malformed {field}: it does not start with 0x15, the marker of format json"
        )));
    };
    serde_json::from_slice(json).map(Some).map_err(|e| {
        invalid(format!(
            "malformed {field}: not valid JSON after 0x15 ({e})"
        ))
    })
}

/// A query object's class, `@class`.
fn class_of<'a>(kind: &str, v: &'a Value) -> Result<(&'a str, &'a Map<String, Value>)> {
    let Some(object) = v.as_object() else {
        return Err(invalid(format!(
            "expected a {kind} (a JSON object with an @class), found {}",
            describe(v)
        )));
    };
    match object.get("@class") {
        Some(Value::String(class)) => Ok((class, object)),
        _ => Err(invalid(format!(
            "expected a {kind}: this JSON object has no @class naming its class"
        ))),
    }
}

/// A short description of a JSON value for error messages.
fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field<'a>(class: &str, o: &'a Map<String, Value>, name: &str) -> Result<&'a Value> {
    o.get(name)
        .ok_or_else(|| invalid(format!("{class} has no field {name:?}")))
}

fn bool_field(class: &str, o: &Map<String, Value>, name: &str) -> Result<bool> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(invalid(format!(
            "{class}.{name} must be a boolean, found {}",
            describe(v)
        ))),
    }
}

fn string_field<'a>(class: &str, o: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    match field(class, o, name)? {
        Value::String(s) => Ok(s),
        v => Err(invalid(format!(
            "{class}.{name} must be a string, found {}",
            describe(v)
        ))),
    }
}

/// A list of values, bounded by [`MAX_LIST`] (a JSON array; a set arrives as one).
fn list<'a>(class: &str, name: &str, v: &'a Value) -> Result<&'a [Value]> {
    let Value::Array(items) = v else {
        return Err(invalid(format!(
            "{class}.{name} must be an array, found {}",
            describe(v)
        )));
    };
    if items.len() > MAX_LIST {
        return Err(invalid(format!(
            "{class}.{name} holds {} values, more than satchel's limit of {MAX_LIST}",
            items.len()
        )));
    }
    Ok(items)
}

/// A map as the Python client writes one inside a query object, `{"entries": [{"key": k,
/// "value": v}, …]}`, or a plain JSON object (string keys), bounded by [`MAX_LIST`].
fn map_entries(class: &str, name: &str, v: &Value) -> Result<Vec<(Value, Value)>> {
    let Some(object) = v.as_object() else {
        return Err(invalid(format!(
            "{class}.{name} must be a map, found {}",
            describe(v)
        )));
    };
    if let Some(entries) = object.get("entries")
        && object.keys().all(|k| k == "entries" || k == "@class")
    {
        let entries = list(class, name, entries)?;
        return entries
            .iter()
            .map(|e| match (e.get("key"), e.get("value")) {
                (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
                _ => Err(invalid(format!(
                    "{class}.{name}: each entry must have a key and a value"
                ))),
            })
            .collect();
    }
    if object.len() > MAX_LIST {
        return Err(invalid(format!(
            "{class}.{name} holds {} entries, more than satchel's limit of {MAX_LIST}",
            object.len()
        )));
    }
    Ok(object
        .iter()
        .map(|(k, v)| (Value::String(k.clone()), v.clone()))
        .collect())
}

/// A map as a result, the way the Python client reads one back whatever its keys:
/// `{"entries": [{"key": k, "value": v}, …]}`.
pub(crate) fn map_result(entries: Vec<(Value, Value)>) -> Value {
    let entries = entries
        .into_iter()
        .map(|(k, v)| {
            let mut e = Map::new();
            e.insert("key".into(), k);
            e.insert("value".into(), v);
            Value::Object(e)
        })
        .collect();
    let mut m = Map::new();
    m.insert("entries".into(), Value::Array(entries));
    Value::Object(m)
}

/// One entry as filters see it: its value (`None`: absent).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    pub(crate) value: Option<&'a Value>,
}

/// Equality as queries use it: JSON equality, except that numbers of any representation
/// (`1`, `1.0`, `{"@class": "math.BigDec", "value": "1.00"}`) are equal when their values are.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (number::Num::of(a), number::Num::of(b)) {
        (Some(x), Some(y)) => x.order(&y) == std::cmp::Ordering::Equal,
        _ => a == b,
    }
}

/// The order of comparison filters: numbers by value, strings by their characters, booleans
/// `false` first; `None` for anything else (null, arrays, objects, or values of different
/// kinds), which no comparison filter matches.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (number::Num::of(a), number::Num::of(b)) {
        return Some(x.order(&y));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A total order for sorting (`TopNAggregator`, `ComparableMin`, sorted queries): null
/// first, then booleans, numbers (as 64-bit floats), strings, arrays and objects (by their
/// JSON text).
pub(crate) fn total_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    fn rank(v: &Value) -> u8 {
        if number::Num::of(v).is_some() {
            return 2;
        }
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| {
        match (number::Num::of(a), number::Num::of(b)) {
            // As floats: a total order, where mixing exact integers and floats would not
            // be transitive (sorting needs one).
            (Some(x), Some(y)) => x.to_f64().total_cmp(&y.to_f64()),
            _ => match (a, b) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                _ => a.to_string().cmp(&b.to_string()),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_across_representations() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(
            &json!(2),
            &json!({"@class": "math.BigDec", "value": "2.000"})
        ));
        assert!(!equal(&json!("1"), &json!(1)));
        assert_eq!(
            compare(&json!(3), &json!(2.5)),
            Some(std::cmp::Ordering::Greater)
        );
        assert_eq!(compare(&json!(null), &json!(2)), None);
        assert_eq!(
            total_order(&json!(null), &json!(0)),
            std::cmp::Ordering::Less
        );
    }

    #[test]
    fn budgets_bound_depth_and_size() {
        let mut b = Budget::default();
        fn nest(b: &mut Budget, n: usize) -> Result<()> {
            if n == 0 {
                return Ok(());
            }
            b.enter(|b| nest(b, n - 1))
        }
        assert!(nest(&mut b, MAX_DEPTH).is_ok());
        assert!(matches!(
            nest(&mut b, MAX_DEPTH + 1),
            Err(QueryError::Invalid(_))
        ));
    }
}
