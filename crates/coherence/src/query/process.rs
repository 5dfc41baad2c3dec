//! Entry processors, applied to one entry at a time.
//!
//! A processor works on a copy of the entry ([`Work`]); the service writes the copy back
//! with a compare-and-set (or deletes it at the version read) when the processor changed
//! it, and runs the processor again on the fresh entry when a concurrent writer won, so
//! each entry is processed atomically.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::extract::{Extractor, Manipulator, Updater, universal};
use super::filter::Filter;
use super::number::Num;
use super::{
    Budget, EntryRef, Result, bool_field, class_of, describe, field, invalid, list, map_entries,
    needs_java, string_field,
};

/// What a processor answers for one entry: `None` for no result (the entry is left out of
/// an `invokeAll` reply; `invoke` answers `null`).
pub(crate) type Outcome = Option<Value>;

/// A parsed entry processor.
#[derive(Debug, Clone)]
pub(crate) enum Processor {
    Extract(Extractor),
    Composite(Vec<Processor>),
    Conditional(Filter, Box<Processor>),
    /// `util.NullEntryProcessor`: answers `true`.
    Null,
    /// `processor.TouchProcessor`, `processor.PreloadRequest`: nothing to do here.
    Nothing,
    ConditionalPut {
        filter: Filter,
        value: Value,
        ret: bool,
    },
    ConditionalPutAll {
        filter: Filter,
        /// By the key's JSON text.
        entries: HashMap<String, Value>,
    },
    ConditionalRemove {
        filter: Filter,
        ret: bool,
    },
    VersionedPut {
        /// `None`: the value for the entry is looked up in `all` (`VersionedPutAll`).
        value: Option<Value>,
        all: HashMap<String, Value>,
        allow_insert: bool,
        ret: bool,
    },
    Number {
        manipulator: Manipulator,
        operand: Num,
        multiply: bool,
        post: bool,
    },
    Update(Updater, Value),
    Mutate(Mutator),
}

/// The mutators of JSON's types `processor.MethodInvocationProcessor` may call.
#[derive(Debug, Clone)]
pub(crate) enum Mutator {
    /// `Map.remove(key)`: answers the removed value.
    Remove(String),
    /// `Map.put(key, value)`: answers the value replaced.
    Put(String, Value),
    /// `List.add(value)`: answers `true`.
    Add(Value),
    /// `Map.clear()`, `List.clear()`.
    Clear,
}

/// One entry being processed: its key, and its value (`None`: absent), changed in place.
#[derive(Debug)]
pub(crate) struct Work<'a> {
    pub(crate) key: &'a Value,
    pub(crate) value: Option<Value>,
    /// Set once the processor changed the value (or removed the entry).
    pub(crate) changed: bool,
}

impl Work<'_> {
    fn entry(&self) -> EntryRef<'_> {
        EntryRef {
            value: self.value.as_ref(),
        }
    }

    fn set(&mut self, v: Option<Value>) {
        self.value = v;
        self.changed = true;
    }
}

fn key_text(k: &Value) -> String {
    k.to_string()
}

impl Processor {
    /// Parses the processor of a request field.
    pub(crate) fn parse_field(bytes: &[u8]) -> Result<Self> {
        match super::parse_json("processor", bytes)? {
            None => Err(invalid("the request has no processor")),
            Some(v) => Self::parse(&v, &mut Budget::default()),
        }
    }

    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            let (class, o) = class_of("entry processor", v)?;
            let filter = |budget: &mut Budget| Filter::parse(field(class, o, "filter")?, budget);
            let keyed = |name: &str| -> Result<HashMap<String, Value>> {
                Ok(map_entries(class, name, field(class, o, name)?)?
                    .into_iter()
                    .map(|(k, v)| (key_text(&k), v))
                    .collect())
            };
            Ok(match class {
                "processor.ExtractorProcessor" => {
                    Self::Extract(Extractor::parse(field(class, o, "extractor")?, budget)?)
                }
                "processor.CompositeProcessor" => Self::Composite(
                    list(class, "processors", field(class, o, "processors")?)?
                        .iter()
                        .map(|p| Self::parse(p, budget))
                        .collect::<Result<_>>()?,
                ),
                "processor.ConditionalProcessor" => Self::Conditional(
                    filter(budget)?,
                    Box::new(Self::parse(field(class, o, "processor")?, budget)?),
                ),
                "util.NullEntryProcessor" | "processor.NullEntryProcessor" => Self::Null,
                "processor.TouchProcessor" | "processor.PreloadRequest" => Self::Nothing,
                "processor.ConditionalPut" => Self::ConditionalPut {
                    filter: filter(budget)?,
                    value: field(class, o, "value")?.clone(),
                    ret: bool_field(class, o, "return")?,
                },
                "processor.ConditionalPutAll" => Self::ConditionalPutAll {
                    filter: filter(budget)?,
                    entries: keyed("entries")?,
                },
                "processor.ConditionalRemove" => Self::ConditionalRemove {
                    filter: filter(budget)?,
                    ret: bool_field(class, o, "return")?,
                },
                "processor.VersionedPut" | "processor.VersionedPutAll" => {
                    let single = class == "processor.VersionedPut";
                    Self::VersionedPut {
                        value: single
                            .then(|| field(class, o, "value").cloned())
                            .transpose()?,
                        all: if single {
                            HashMap::new()
                        } else {
                            keyed("entries")?
                        },
                        allow_insert: bool_field(class, o, "allowInsert")?,
                        ret: bool_field(class, o, "return")?,
                    }
                }
                "processor.NumberIncrementor" | "processor.NumberMultiplier" => {
                    let multiply = class == "processor.NumberMultiplier";
                    let (name, post) = if multiply {
                        ("multiplier", "postMultiplication")
                    } else {
                        ("increment", "postInc")
                    };
                    let operand = field(class, o, name)?;
                    Self::Number {
                        manipulator: Manipulator::parse(field(class, o, "manipulator")?, budget)?,
                        operand: Num::of(operand).ok_or_else(|| {
                            invalid(format!(
                                "{class}.{name} must be a number, found {}",
                                describe(operand)
                            ))
                        })?,
                        multiply,
                        post: bool_field(class, o, post)?,
                    }
                }
                "processor.UpdaterProcessor" => Self::Update(
                    Updater::parse(field(class, o, "updater")?, budget)?,
                    o.get("value").cloned().unwrap_or(Value::Null),
                ),
                "processor.MethodInvocationProcessor" => method(class, o)?,
                "processor.ScriptProcessor" => {
                    return Err(needs_java(class, "it runs a script on the server"));
                }
                other => {
                    return Err(invalid(format!(
                        "unknown entry processor class {other:?}: satchel's Coherence endpoint \
                         knows the processors of the Python client's Processors \
                         (processor.ConditionalPut, NumberIncrementor, ExtractorProcessor, …)"
                    )));
                }
            })
        })
    }

    /// Applies the processor to `w`.
    pub(crate) fn apply(&self, w: &mut Work<'_>) -> Result<Outcome> {
        Ok(match self {
            Self::Extract(e) => Some(w.value.as_ref().map_or(Value::Null, |v| e.extract(v))),
            Self::Composite(ps) => {
                let mut results = Vec::with_capacity(ps.len());
                for p in ps {
                    results.push(p.apply(w)?.unwrap_or(Value::Null));
                }
                Some(Value::Array(results))
            }
            Self::Conditional(f, p) => {
                if f.matches(w.entry()) {
                    p.apply(w)?
                } else {
                    None
                }
            }
            Self::Null => Some(Value::Bool(true)),
            Self::Nothing => Some(Value::Null),
            Self::ConditionalPut { filter, value, ret } => {
                if filter.matches(w.entry()) {
                    w.set(Some(value.clone()));
                    None
                } else {
                    ret.then(|| w.value.clone().unwrap_or(Value::Null))
                }
            }
            Self::ConditionalPutAll { filter, entries } => {
                if let Some(v) = entries.get(&key_text(w.key))
                    && filter.matches(w.entry())
                {
                    w.set(Some(v.clone()));
                }
                None
            }
            Self::ConditionalRemove { filter, ret } => {
                if filter.matches(w.entry()) {
                    if w.value.is_some() {
                        w.set(None);
                    }
                    None
                } else {
                    ret.then(|| w.value.clone().unwrap_or(Value::Null))
                }
            }
            Self::VersionedPut {
                value,
                all,
                allow_insert,
                ret,
            } => {
                let Some(new) = value.as_ref().or_else(|| all.get(&key_text(w.key))) else {
                    return Ok(None);
                };
                let fits = match &w.value {
                    None => *allow_insert,
                    Some(current) => match (version(current), version(new)) {
                        (Some(a), Some(b)) => a.order(&b).is_eq(),
                        _ => false,
                    },
                };
                if fits {
                    let mut new = new.clone();
                    bump_version(&mut new)?;
                    w.set(Some(new));
                    None
                } else {
                    ret.then(|| w.value.clone().unwrap_or(Value::Null))
                }
            }
            Self::Number {
                manipulator,
                operand,
                multiply,
                post,
            } => number(w, manipulator, *operand, *multiply, *post)?,
            Self::Update(updater, new) => Some(Value::Bool(match w.value.as_mut() {
                Some(v) => {
                    let done = updater.update(v, new.clone());
                    w.changed |= done;
                    done
                }
                None => false,
            })),
            Self::Mutate(m) => Some(mutate(w, m)),
        })
    }
}

/// A value's `@version`, the version Coherence's versioned processors compare.
fn version(v: &Value) -> Option<Num> {
    v.get("@version").and_then(Num::of)
}

fn bump_version(v: &mut Value) -> Result<()> {
    let Some(o) = v.as_object_mut() else {
        return Err(invalid(
            "processor.VersionedPut: the value must be an object with an @version",
        ));
    };
    let next = match o.get("@version").and_then(Num::of) {
        Some(n) => n
            .combine(Num::Int(1), false)
            .and_then(Num::to_value)
            .ok_or_else(|| invalid("processor.VersionedPut: the @version cannot be incremented"))?,
        None => Value::from(1),
    };
    o.insert("@version".into(), next);
    Ok(())
}

fn number(
    w: &mut Work<'_>,
    m: &Manipulator,
    operand: Num,
    multiply: bool,
    post: bool,
) -> Result<Outcome> {
    let Some(value) = w.value.as_mut() else {
        return Ok(Some(Value::Null));
    };
    let old = m.read.extract(value);
    let current = if old.is_null() {
        Num::Int(0)
    } else {
        Num::of(&old).ok_or_else(|| {
            invalid(format!(
                "the value to {} is not a number but {}",
                if multiply { "multiply" } else { "increment" },
                describe(&old)
            ))
        })?
    };
    let new = current
        .combine(operand, multiply)
        .and_then(Num::to_value)
        .ok_or_else(|| invalid("the result is out of range (overflow, or not a finite number)"))?;
    if !m.write.update(value, new.clone()) {
        return Err(invalid(format!(
            "cannot write the result to {:?}: the value there is not an object",
            m.write.path.join(".")
        )));
    }
    w.changed = true;
    Ok(Some(if post { old } else { new }))
}

fn method(class: &str, o: &Map<String, Value>) -> Result<Processor> {
    let name = string_field(class, o, "methodName")?;
    let args = match o.get("args") {
        None | Some(Value::Null) => &[][..],
        Some(a) => list(class, "args", a)?,
    };
    if !bool_field(class, o, "mutator")? {
        return Ok(Processor::Extract(universal(&format!("{name}()"), args)?));
    }
    let key = |a: &Value| match a {
        Value::String(s) => Ok(s.clone()),
        v => Err(invalid(format!(
            "{class} {name}: a JSON object's keys are strings, found {}",
            describe(v)
        ))),
    };
    Ok(Processor::Mutate(match (name, args) {
        ("remove", [k]) => Mutator::Remove(key(k)?),
        ("put", [k, v]) => Mutator::Put(key(k)?, v.clone()),
        ("add", [v]) => Mutator::Add(v.clone()),
        ("clear", []) => Mutator::Clear,
        _ => {
            return Err(needs_java(
                &format!("{class} mutator {name} ({} arguments)", args.len()),
                "it calls a Java method of the value's class; satchel stores JSON and calls \
                 only remove(key), put(key, value), add(value) and clear()",
            ));
        }
    }))
}

fn mutate(w: &mut Work<'_>, m: &Mutator) -> Value {
    let Some(value) = w.value.as_mut() else {
        return Value::Null;
    };
    let (answer, changed) = match (m, value) {
        (Mutator::Remove(k), Value::Object(o)) => match o.remove(k) {
            Some(old) => (old, true),
            None => (Value::Null, false),
        },
        (Mutator::Put(k, v), Value::Object(o)) => {
            (o.insert(k.clone(), v.clone()).unwrap_or(Value::Null), true)
        }
        (Mutator::Add(v), Value::Array(a)) => {
            a.push(v.clone());
            (Value::Bool(true), true)
        }
        (Mutator::Clear, Value::Object(o)) => {
            o.clear();
            (Value::Null, true)
        }
        (Mutator::Clear, Value::Array(a)) => {
            a.clear();
            (Value::Null, true)
        }
        _ => (Value::Null, false),
    };
    w.changed |= changed;
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(p: Value, value: Option<Value>) -> (Outcome, Option<Value>, bool) {
        let p = Processor::parse(&p, &mut Budget::default()).unwrap();
        let key = json!("k");
        let mut w = Work {
            key: &key,
            value,
            changed: false,
        };
        let out = p.apply(&mut w).unwrap();
        (out, w.value, w.changed)
    }

    #[test]
    fn versioned_put_bumps_the_version() {
        let p = json!({"@class": "processor.VersionedPut", "value": {"@version": 1, "a": 2}, "allowInsert": false, "return": true});
        let (out, v, changed) = run(p.clone(), Some(json!({"@version": 1, "a": 1})));
        assert_eq!((out, changed), (None, true));
        assert_eq!(v, Some(json!({"@version": 2, "a": 2})));
        let (out, _, changed) = run(p, Some(json!({"@version": 5})));
        assert_eq!((out, changed), (Some(json!({"@version": 5})), false));
    }

    #[test]
    fn mutators_change_maps() {
        let p = json!({"@class": "processor.MethodInvocationProcessor", "methodName": "remove", "mutator": true, "args": ["ival"]});
        let (out, v, changed) = run(p, Some(json!({"ival": 123, "x": 1})));
        assert_eq!(
            (out, v, changed),
            (Some(json!(123)), Some(json!({"x": 1})), true)
        );
    }
}
