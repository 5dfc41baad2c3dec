//! Extractors, the methods of JSON's types they may call, and updaters.
//!
//! A property (`extractor.UniversalExtractor` with `"name": "age"`) is the field of a JSON
//! object (`null` when missing, or when the value is not an object); `ChainedExtractor`
//! extracts each from the result of the one before. A name ending in `()` calls a method:
//! Coherence calls it on the Java object, satchel has JSON values and knows the methods of
//! their Java types (strings, lists, maps) listed in [`Method`]; `getX()` and `isX()` read the
//! property `x`, as a Java bean's getters do. Any other method answers `UNIMPLEMENTED`
//! naming it.

use serde_json::Value;

use super::{Budget, Result, class_of, field, invalid, list, needs_java, string_field};

/// The most copies of a value one extractor may build (see `Extractor::fan_out`): without a
/// bound, a chain of 30 two-way `MultiExtractor`s — 91 query objects — builds 2^30.
pub(crate) const MAX_FAN_OUT: u64 = 1_024;

/// What an extractor takes from an entry's value.
#[derive(Debug, Clone)]
pub(crate) enum Extractor {
    /// The value itself (`extractor.IdentityExtractor`).
    Identity,
    /// A field of an object.
    Property(String),
    /// A method of the value's JSON type.
    Method(Method),
    /// Each from the result of the one before (`extractor.ChainedExtractor`).
    Chain(Vec<Extractor>),
    /// All of them, as a list (`extractor.MultiExtractor`).
    Multi(Vec<Extractor>),
}

/// The methods of JSON's Java types an extractor may call (a name ending in `()`).
#[derive(Debug, Clone)]
pub(crate) enum Method {
    /// `String.length()`, in UTF-16 units as Java counts.
    Length,
    /// `isEmpty()` of a string, list or map.
    IsEmpty,
    /// `size()` of a list or map.
    Size,
    /// `String.toUpperCase()`.
    ToUpperCase,
    /// `String.toLowerCase()`.
    ToLowerCase,
    /// `String.trim()`.
    Trim,
    /// `Map.get(key)`, `List.get(index)`.
    Get(Value),
    /// `Map.containsKey(key)`.
    ContainsKey(Value),
    /// `String.contains(text)`, `List.contains(value)`.
    Contains(Value),
}

/// The methods [`Method`] knows, for error messages.
const METHODS: &str = "length(), isEmpty(), size(), toUpperCase(), toLowerCase(), trim(), \
                       get(key), containsKey(key), contains(value), and getX()/isX() for the property x";

impl Extractor {
    /// Parses an extractor; a string is a property name, or a dotted chain of them (what the
    /// client's `Extractors.extract("a.b")` means).
    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            if let Value::String(name) = v {
                return Ok(chain_of(name));
            }
            let (class, o) = class_of("extractor", v)?;
            match class {
                "extractor.IdentityExtractor" => Ok(Self::Identity),
                "extractor.UniversalExtractor" => {
                    let name = string_field(class, o, "name")?;
                    let params = match o.get("params") {
                        None | Some(Value::Null) => &[][..],
                        Some(p) => list(class, "params", p)?,
                    };
                    universal(name, params)
                }
                "extractor.ChainedExtractor" | "extractor.MultiExtractor" => {
                    let items = list(class, "extractors", field(class, o, "extractors")?)?;
                    let parts = items
                        .iter()
                        .map(|e| Self::parse(e, budget))
                        .collect::<Result<Vec<_>>>()?;
                    let e = if class == "extractor.ChainedExtractor" {
                        Self::Chain(parts)
                    } else {
                        Self::Multi(parts)
                    };
                    if e.fan_out() > MAX_FAN_OUT {
                        return Err(invalid(format!(
                            "the extractor would copy a value more than {MAX_FAN_OUT} times \
                             (MultiExtractors inside a ChainedExtractor multiply), satchel's \
                             limit"
                        )));
                    }
                    Ok(e)
                }
                "extractor.ReflectionExtractor"
                | "extractor.PofExtractor"
                | "extractor.ScriptValueExtractor" => Err(needs_java(
                    class,
                    "it runs Java code on the server; satchel stores JSON (use \
                     extractor.UniversalExtractor with a property name)",
                )),
                other => Err(invalid(format!(
                    "unknown extractor class {other:?}: satchel's Coherence endpoint knows \
                     extractor.UniversalExtractor, ChainedExtractor, MultiExtractor and \
                     IdentityExtractor"
                ))),
            }
        })
    }

    /// How many copies of a value this extractor's result may hold at most: one for a
    /// property or method, the sum of its parts for a `MultiExtractor`, the product of its
    /// steps for a `ChainedExtractor` (a chain of multis grows exponentially), saturating.
    fn fan_out(&self) -> u64 {
        match self {
            Self::Identity | Self::Property(_) | Self::Method(_) => 1,
            Self::Multi(parts) => parts
                .iter()
                .fold(0u64, |n, p| n.saturating_add(p.fan_out())),
            Self::Chain(parts) => parts
                .iter()
                .fold(1u64, |n, p| n.saturating_mul(p.fan_out())),
        }
    }

    /// What this extracts from `value` (`null` for what is not there).
    pub(crate) fn extract(&self, value: &Value) -> Value {
        match self {
            Self::Identity => value.clone(),
            Self::Property(name) => value.get(name).cloned().unwrap_or(Value::Null),
            Self::Method(m) => m.call(value),
            Self::Chain(parts) => {
                // The first step reads `value` itself: no copy of the whole value first.
                let Some((first, rest)) = parts.split_first() else {
                    return value.clone();
                };
                let mut current = first.extract(value);
                for p in rest {
                    current = p.extract(&current);
                }
                current
            }
            Self::Multi(parts) => Value::Array(parts.iter().map(|p| p.extract(value)).collect()),
        }
    }

    /// The extractor as Coherence prints it in query plans: `.age` for a property, `.a.b`
    /// for a chain of them, `.length()` for a method; also what tells two indexes apart.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Identity => "IdentityExtractor".to_string(),
            Self::Property(name) => format!(".{name}"),
            Self::Method(m) => format!(".{}", m.describe()),
            Self::Chain(parts) => parts.iter().map(Self::describe).collect(),
            Self::Multi(parts) => format!(
                "MultiExtractor({})",
                parts
                    .iter()
                    .map(Self::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The path of properties this extractor follows, if it is only that (what an updater
    /// can write through).
    pub(crate) fn path(&self) -> Option<Vec<String>> {
        match self {
            Self::Identity => Some(Vec::new()),
            Self::Property(name) => Some(vec![name.clone()]),
            Self::Chain(parts) => {
                let mut path = Vec::new();
                for p in parts {
                    path.extend(p.path()?);
                }
                Some(path)
            }
            Self::Method(_) | Self::Multi(_) => None,
        }
    }
}

/// `a.b.c` as a chain of properties (one property without a dot).
fn chain_of(name: &str) -> Extractor {
    if name.contains('.') {
        Extractor::Chain(
            name.split('.')
                .map(|n| Extractor::Property(n.to_string()))
                .collect(),
        )
    } else {
        Extractor::Property(name.to_string())
    }
}

pub(crate) fn universal(name: &str, params: &[Value]) -> Result<Extractor> {
    let Some(method) = name.strip_suffix("()") else {
        if !params.is_empty() {
            return Err(invalid(format!(
                "extractor.UniversalExtractor {name:?} has parameters but is not a method \
                 (a method's name ends in \"()\")"
            )));
        }
        return Ok(Extractor::Property(name.to_string()));
    };
    let arg = |n: usize| -> Result<Value> {
        match params {
            [one] if n == 1 => Ok(one.clone()),
            [] if n == 0 => Ok(Value::Null),
            _ => Err(invalid(format!(
                "extractor.UniversalExtractor {name}: takes {n} parameter(s), got {}",
                params.len()
            ))),
        }
    };
    let m = match method {
        "length" => arg(0).map(|_| Method::Length)?,
        "isEmpty" => arg(0).map(|_| Method::IsEmpty)?,
        "size" => arg(0).map(|_| Method::Size)?,
        "toUpperCase" => arg(0).map(|_| Method::ToUpperCase)?,
        "toLowerCase" => arg(0).map(|_| Method::ToLowerCase)?,
        "trim" => arg(0).map(|_| Method::Trim)?,
        "get" => Method::Get(arg(1)?),
        "containsKey" => Method::ContainsKey(arg(1)?),
        "contains" => Method::Contains(arg(1)?),
        getter if params.is_empty() => match bean_property(getter) {
            Some(p) => return Ok(Extractor::Property(p)),
            None => return Err(unknown_method(name)),
        },
        _ => return Err(unknown_method(name)),
    };
    Ok(Extractor::Method(m))
}

fn unknown_method(name: &str) -> super::QueryError {
    needs_java(
        &format!("extractor.UniversalExtractor method {name}"),
        &format!(
            "it calls a Java method of the value's class; satchel stores JSON and calls only \
             the methods of JSON's types: {METHODS}"
        ),
    )
}

/// `getAge` / `isActive` → `age` / `active`, as a Java bean names its properties.
fn bean_property(method: &str) -> Option<String> {
    let rest = method
        .strip_prefix("get")
        .or_else(|| method.strip_prefix("is"))?;
    let mut chars = rest.chars();
    let first = chars.next().filter(char::is_ascii_uppercase)?;
    Some(first.to_ascii_lowercase().to_string() + chars.as_str())
}

impl Method {
    /// The call as written: `length()`, `get("k")`.
    fn describe(&self) -> String {
        match self {
            Self::Length => "length()".to_string(),
            Self::IsEmpty => "isEmpty()".to_string(),
            Self::Size => "size()".to_string(),
            Self::ToUpperCase => "toUpperCase()".to_string(),
            Self::ToLowerCase => "toLowerCase()".to_string(),
            Self::Trim => "trim()".to_string(),
            Self::Get(v) => format!("get({v})"),
            Self::ContainsKey(v) => format!("containsKey({v})"),
            Self::Contains(v) => format!("contains({v})"),
        }
    }

    /// The method's result on `v`; `null` when `v`'s type has no such method.
    pub(crate) fn call(&self, v: &Value) -> Value {
        match (self, v) {
            (Self::Length, Value::String(s)) => s.encode_utf16().count().into(),
            (Self::IsEmpty, Value::String(s)) => s.is_empty().into(),
            (Self::IsEmpty, Value::Array(a)) => a.is_empty().into(),
            (Self::IsEmpty, Value::Object(o)) => o.is_empty().into(),
            (Self::Size, Value::Array(a)) => a.len().into(),
            (Self::Size, Value::Object(o)) => o.len().into(),
            (Self::ToUpperCase, Value::String(s)) => s.to_uppercase().into(),
            (Self::ToLowerCase, Value::String(s)) => s.to_lowercase().into(),
            (Self::Trim, Value::String(s)) => s.trim_matches(|c: char| c <= ' ').into(),
            (Self::Get(Value::String(k)), Value::Object(o)) => {
                o.get(k).cloned().unwrap_or(Value::Null)
            }
            (Self::Get(i), Value::Array(a)) => i
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| a.get(i))
                .cloned()
                .unwrap_or(Value::Null),
            (Self::ContainsKey(Value::String(k)), Value::Object(o)) => o.contains_key(k).into(),
            (Self::Contains(Value::String(t)), Value::String(s)) => s.contains(t.as_str()).into(),
            (Self::Contains(x), Value::Array(a)) => a.iter().any(|e| super::equal(e, x)).into(),
            _ => Value::Null,
        }
    }
}

/// Where an updater writes: a path of properties from the entry's value (empty: the value
/// itself).
#[derive(Debug, Clone)]
pub(crate) struct Updater {
    pub(crate) path: Vec<String>,
}

impl Updater {
    /// Parses an updater (`extractor.UniversalUpdater`, `extractor.CompositeUpdater`).
    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            if let Value::String(name) = v {
                return Ok(Self {
                    path: name.split('.').map(str::to_string).collect(),
                });
            }
            let (class, o) = class_of("updater", v)?;
            match class {
                "extractor.UniversalUpdater" => {
                    let name = string_field(class, o, "name")?;
                    if name.ends_with(')') {
                        return Err(needs_java(
                            &format!("extractor.UniversalUpdater method {name}"),
                            "it calls a Java setter; satchel updates JSON properties by name",
                        ));
                    }
                    Ok(Self {
                        path: vec![name.to_string()],
                    })
                }
                "extractor.CompositeUpdater" => {
                    let extractor = Extractor::parse(field(class, o, "extractor")?, budget)?;
                    let Some(mut path) = extractor.path() else {
                        return Err(invalid(
                            "extractor.CompositeUpdater: its extractor must be a property or a \
                             chain of properties to update through",
                        ));
                    };
                    path.extend(Self::parse(field(class, o, "updater")?, budget)?.path);
                    Ok(Self { path })
                }
                other => Err(invalid(format!(
                    "unknown updater class {other:?}: satchel's Coherence endpoint knows \
                     extractor.UniversalUpdater and extractor.CompositeUpdater"
                ))),
            }
        })
    }

    /// Writes `new` at the path; `false` (nothing written) when a step is not an object.
    pub(crate) fn update(&self, value: &mut Value, new: Value) -> bool {
        let Some((last, parents)) = self.path.split_last() else {
            *value = new;
            return true;
        };
        let mut target = value;
        for p in parents {
            match target.get_mut(p) {
                Some(next) => target = next,
                None => return false,
            }
        }
        match target {
            Value::Object(o) => {
                o.insert(last.clone(), new);
                true
            }
            _ => false,
        }
    }
}

/// What a number processor reads and writes (a `processor.PropertyManipulator`, or a
/// `extractor.CompositeUpdater` naming both).
#[derive(Debug, Clone)]
pub(crate) struct Manipulator {
    pub(crate) read: Extractor,
    pub(crate) write: Updater,
}

impl Manipulator {
    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            if let Value::String(name) = v {
                return Ok(Self::property(name));
            }
            let (class, o) = class_of("manipulator", v)?;
            match class {
                "processor.PropertyManipulator" => {
                    Ok(Self::property(string_field(class, o, "property_name")?))
                }
                "extractor.CompositeUpdater" => Ok(Self {
                    read: Extractor::parse(field(class, o, "extractor")?, budget)?,
                    write: Updater::parse(field(class, o, "updater")?, budget)?,
                }),
                other => Err(invalid(format!(
                    "unknown manipulator class {other:?}: satchel's Coherence endpoint knows \
                     processor.PropertyManipulator and extractor.CompositeUpdater"
                ))),
            }
        })
    }

    fn property(name: &str) -> Self {
        Self {
            read: chain_of(name),
            write: Updater {
                path: name.split('.').map(str::to_string).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ex(v: Value) -> Result<Extractor> {
        Extractor::parse(&v, &mut Budget::default())
    }

    #[test]
    fn properties_chains_and_methods() {
        let person = json!({"name": "Andy", "address": {"zipcode": 33139}});
        let u =
            |n: &str| json!({"@class": "extractor.UniversalExtractor", "name": n, "params": null});
        assert_eq!(ex(u("name")).unwrap().extract(&person), json!("Andy"));
        let chain = json!({"@class": "extractor.ChainedExtractor", "extractors": [u("address"), u("zipcode")]});
        assert_eq!(ex(chain).unwrap().extract(&person), json!(33139));
        assert_eq!(
            ex(u("length()")).unwrap().extract(&json!("only-two")),
            json!(8)
        );
        assert_eq!(ex(u("getName()")).unwrap().extract(&person), json!("Andy"));
        assert_eq!(ex(u("missing")).unwrap().extract(&person), Value::Null);
        let e = ex(u("hashCode()")).unwrap_err();
        assert!(
            matches!(e, super::super::QueryError::Unsupported(_)),
            "{e:?}"
        );
        assert!(e.message().contains("hashCode()"), "{e:?}");
        let e = ex(json!({"@class": "extractor.Nope"})).unwrap_err();
        assert!(e.message().contains("extractor.Nope"), "{e:?}");
    }

    #[test]
    fn updaters_write_through_paths() {
        let mut v = json!({"a": {"b": 1}});
        let composite = json!({"@class": "extractor.CompositeUpdater",
            "extractor": {"@class": "extractor.ChainedExtractor", "extractors": [
                {"@class": "extractor.UniversalExtractor", "name": "a"}]},
            "updater": {"@class": "extractor.UniversalUpdater", "name": "b"}});
        let u = Updater::parse(&composite, &mut Budget::default()).unwrap();
        assert!(u.update(&mut v, json!(2)));
        assert_eq!(v, json!({"a": {"b": 2}}));
        let mut s = json!("text");
        assert!(!u.update(&mut s, json!(2)));
    }
}
