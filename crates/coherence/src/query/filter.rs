//! Filters: which entries a query, a conditional processor or a listener picks.
//!
//! Comparisons extract a value and compare it ([`super::equal`], [`super::compare`]): an
//! ordering filter matches nothing it cannot order (null, a string against a number, …).
//! `LikeFilter` (`%` any run, `_` any one character, its `escapeChar`, `ignoreCase`) and
//! `RegexFilter` (the whole string must match, as Java's `Pattern.matches`; Rust `regex`
//! syntax, which has no look-around or back-references) compile to the `regex` crate's
//! automata, linear in the text, under a size limit.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::extract::Extractor;
use super::{
    Budget, EntryRef, MAX_PATTERN, Result, class_of, compare, describe, equal, field, invalid,
    list, needs_java,
};

/// The most memory one compiled pattern may take.
const PATTERN_SIZE_LIMIT: usize = 256 << 10;

/// A parsed filter.
#[derive(Debug, Clone)]
pub(crate) enum Filter {
    Always,
    Never,
    /// The entry exists (`filter.PresentFilter`).
    Present,
    Not(Box<Filter>),
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Xor(Box<Filter>, Box<Filter>),
    Compare(Extractor, Op, Value),
    In(Extractor, Vec<Value>),
    Contains(Extractor, Value),
    ContainsAny(Extractor, Vec<Value>),
    ContainsAll(Extractor, Vec<Value>),
    /// `LikeFilter` or `RegexFilter` (the class's short name, and the pattern as sent).
    Pattern(Extractor, Regex, &'static str, String),
    /// A listener's filter (`filter.MapEventFilter`): which changes, and of which entries.
    Event(i64, Box<Filter>),
}

/// The comparison of a comparison filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `MapEventFilter` mask bits.
const INSERTED: i64 = 1;
const UPDATED: i64 = 2;
const DELETED: i64 = 4;
const UPDATED_ENTERED: i64 = 8;
const UPDATED_LEFT: i64 = 16;
const UPDATED_WITHIN: i64 = 32;

impl Filter {
    /// Parses the filter of a request field; an empty field or JSON `null` is "always".
    pub(crate) fn parse_field(field: &str, bytes: &[u8]) -> Result<Self> {
        match super::parse_json(field, bytes)? {
            None | Some(Value::Null) => Ok(Self::Always),
            Some(v) => Self::parse(&v, &mut Budget::default()),
        }
    }

    /// Parses a filter.
    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            if v.is_null() {
                return Ok(Self::Always);
            }
            let (class, o) = class_of("filter", v)?;
            let extractor =
                |budget: &mut Budget| Extractor::parse(field(class, o, "extractor")?, budget);
            let value = || o.get("value").cloned().unwrap_or(Value::Null);
            let values = || list(class, "value", field(class, o, "value")?).map(<[Value]>::to_vec);
            let comparison = |budget: &mut Budget, op: Op| -> Result<Self> {
                Ok(Self::Compare(extractor(budget)?, op, value()))
            };
            match class {
                "filter.AlwaysFilter" => Ok(Self::Always),
                "filter.NeverFilter" => Ok(Self::Never),
                "filter.PresentFilter" => Ok(Self::Present),
                "filter.NotFilter" => Ok(Self::Not(Box::new(Self::parse(
                    field(class, o, "filter")?,
                    budget,
                )?))),
                "filter.AllFilter" | "filter.AndFilter" | "filter.BetweenFilter" => {
                    Ok(Self::All(filters(class, o, budget)?))
                }
                "filter.AnyFilter" | "filter.OrFilter" => Ok(Self::Any(filters(class, o, budget)?)),
                "filter.XorFilter" => {
                    let mut fs = filters(class, o, budget)?;
                    if fs.len() != 2 {
                        return Err(invalid(format!(
                            "filter.XorFilter takes 2 filters, got {}",
                            fs.len()
                        )));
                    }
                    let right = fs.pop().unwrap_or(Self::Never);
                    let left = fs.pop().unwrap_or(Self::Never);
                    Ok(Self::Xor(Box::new(left), Box::new(right)))
                }
                "filter.EqualsFilter" => comparison(budget, Op::Eq),
                "filter.NotEqualsFilter" => comparison(budget, Op::Ne),
                "filter.GreaterFilter" => comparison(budget, Op::Gt),
                "filter.GreaterEqualsFilter" => comparison(budget, Op::Ge),
                "filter.LessFilter" => comparison(budget, Op::Lt),
                "filter.LessEqualsFilter" => comparison(budget, Op::Le),
                "filter.IsNullFilter" => Ok(Self::Compare(extractor(budget)?, Op::Eq, Value::Null)),
                "filter.IsNotNullFilter" => {
                    Ok(Self::Compare(extractor(budget)?, Op::Ne, Value::Null))
                }
                "filter.InFilter" => Ok(Self::In(extractor(budget)?, values()?)),
                "filter.ContainsFilter" => Ok(Self::Contains(extractor(budget)?, value())),
                "filter.ContainsAnyFilter" => Ok(Self::ContainsAny(extractor(budget)?, values()?)),
                "filter.ContainsAllFilter" => Ok(Self::ContainsAll(extractor(budget)?, values()?)),
                "filter.LikeFilter" => {
                    let e = extractor(budget)?;
                    budget.pattern()?;
                    let text = pattern_text(class, o)?.to_string();
                    Ok(Self::Pattern(e, like(o)?, "LikeFilter", text))
                }
                "filter.RegexFilter" => {
                    let e = extractor(budget)?;
                    budget.pattern()?;
                    let text = pattern_text(class, o)?.to_string();
                    Ok(Self::Pattern(e, regex(o)?, "RegexFilter", text))
                }
                "filter.MapEventFilter" => {
                    let mask = match o.get("mask") {
                        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
                        None | Some(Value::Null) => INSERTED | UPDATED | DELETED,
                        Some(v) => {
                            return Err(invalid(format!(
                                "filter.MapEventFilter.mask must be a number, found {}",
                                describe(v)
                            )));
                        }
                    };
                    let inner = match o.get("filter") {
                        None => Self::Always,
                        Some(f) => Self::parse(f, budget)?,
                    };
                    Ok(Self::Event(mask, Box::new(inner)))
                }
                "filter.PredicateFilter" | "filter.ScriptFilter" => Err(needs_java(
                    class,
                    "it runs Java code (a predicate, a script) on the server",
                )),
                other => Err(invalid(format!(
                    "unknown filter class {other:?}: satchel's Coherence endpoint knows the \
                     filters of the Python client's Filters (filter.EqualsFilter, LikeFilter, \
                     InFilter, AndFilter, …)"
                ))),
            }
        })
    }

    /// How many compiled patterns (`LikeFilter`, `RegexFilter`) this filter holds.
    pub(crate) fn patterns(&self) -> usize {
        match self {
            Self::Pattern(..) => 1,
            Self::Not(f) | Self::Event(_, f) => f.patterns(),
            Self::All(fs) | Self::Any(fs) => fs.iter().map(Self::patterns).sum(),
            Self::Xor(a, b) => a.patterns() + b.patterns(),
            _ => 0,
        }
    }

    /// Whether `entry` matches.
    pub(crate) fn matches(&self, entry: EntryRef<'_>) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Present => entry.value.is_some(),
            Self::Not(f) => !f.matches(entry),
            Self::All(fs) => fs.iter().all(|f| f.matches(entry)),
            Self::Any(fs) => fs.iter().any(|f| f.matches(entry)),
            Self::Xor(a, b) => a.matches(entry) != b.matches(entry),
            Self::Event(_, f) => f.matches(entry),
            Self::Compare(e, ..)
            | Self::In(e, _)
            | Self::Contains(e, _)
            | Self::ContainsAny(e, _)
            | Self::ContainsAll(e, _)
            | Self::Pattern(e, ..) => {
                let got = entry.value.map_or(Value::Null, |v| e.extract(v));
                self.matches_extracted(&got)
            }
        }
    }

    /// The extractor of a filter that tests one extracted value (a comparison, `in`,
    /// `contains*`, `like`, `regex`): what an index on that extractor can answer.
    pub(crate) fn leaf_extractor(&self) -> Option<&Extractor> {
        match self {
            Self::Compare(e, ..)
            | Self::In(e, _)
            | Self::Contains(e, _)
            | Self::ContainsAny(e, _)
            | Self::ContainsAll(e, _)
            | Self::Pattern(e, ..) => Some(e),
            _ => None,
        }
    }

    /// Whether a value its extractor took from an entry matches this one-value filter
    /// ([`Filter::leaf_extractor`]); `false` for any other filter.
    pub(crate) fn matches_extracted(&self, got: &Value) -> bool {
        match self {
            Self::Compare(_, op, value) => match op {
                Op::Eq => equal(got, value),
                Op::Ne => !equal(got, value),
                Op::Gt => compare(got, value).is_some_and(std::cmp::Ordering::is_gt),
                Op::Ge => compare(got, value).is_some_and(std::cmp::Ordering::is_ge),
                Op::Lt => compare(got, value).is_some_and(std::cmp::Ordering::is_lt),
                Op::Le => compare(got, value).is_some_and(std::cmp::Ordering::is_le),
            },
            Self::In(_, values) => values.iter().any(|v| equal(got, v)),
            Self::Contains(_, value) => {
                items(got).is_some_and(|items| items.iter().any(|i| equal(i, value)))
            }
            Self::ContainsAny(_, values) => items(got)
                .is_some_and(|items| values.iter().any(|v| items.iter().any(|i| equal(i, v)))),
            Self::ContainsAll(_, values) => items(got)
                .is_some_and(|items| values.iter().all(|v| items.iter().any(|i| equal(i, v)))),
            Self::Pattern(_, re, ..) => match got {
                Value::String(s) => re.is_match(s),
                _ => false,
            },
            _ => false,
        }
    }

    /// The filter as Coherence prints it in query plans: `GreaterFilter(.age, 25)`,
    /// `AndFilter(EqualsFilter(.a, 1), LikeFilter(.b, x%))`.
    pub(crate) fn describe(&self) -> String {
        let list = |fs: &[Filter]| fs.iter().map(Self::describe).collect::<Vec<_>>().join(", ");
        let values = |vs: &[Value]| vs.iter().map(shown).collect::<Vec<_>>().join(", ");
        match self {
            Self::Always => "AlwaysFilter".to_string(),
            Self::Never => "NeverFilter".to_string(),
            Self::Present => "PresentFilter".to_string(),
            Self::Not(f) => format!("NotFilter({})", f.describe()),
            Self::All(fs) => format!("AndFilter({})", list(fs)),
            Self::Any(fs) => format!("OrFilter({})", list(fs)),
            Self::Xor(a, b) => format!("XorFilter({}, {})", a.describe(), b.describe()),
            Self::Compare(e, op, Value::Null) if matches!(op, Op::Eq | Op::Ne) => {
                let name = if *op == Op::Eq {
                    "IsNullFilter"
                } else {
                    "IsNotNullFilter"
                };
                format!("{name}({})", e.describe())
            }
            Self::Compare(e, op, v) => {
                let name = match op {
                    Op::Eq => "EqualsFilter",
                    Op::Ne => "NotEqualsFilter",
                    Op::Gt => "GreaterFilter",
                    Op::Ge => "GreaterEqualsFilter",
                    Op::Lt => "LessFilter",
                    Op::Le => "LessEqualsFilter",
                };
                format!("{name}({}, {})", e.describe(), shown(v))
            }
            Self::In(e, vs) => format!("InFilter({}, [{}])", e.describe(), values(vs)),
            Self::Contains(e, v) => format!("ContainsFilter({}, {})", e.describe(), shown(v)),
            Self::ContainsAny(e, vs) => {
                format!("ContainsAnyFilter({}, [{}])", e.describe(), values(vs))
            }
            Self::ContainsAll(e, vs) => {
                format!("ContainsAllFilter({}, [{}])", e.describe(), values(vs))
            }
            Self::Pattern(e, _, class, text) => format!("{class}({}, {text})", e.describe()),
            Self::Event(mask, f) => format!("MapEventFilter(mask={mask}, {})", f.describe()),
        }
    }

    /// Whether a change matches this listener filter: `change` is 1 (inserted), 2 (updated)
    /// or 3 (deleted); `old` and `new` the values before and after. A plain filter listens
    /// as a `MapEventFilter` with mask ALL: an insert whose new value matches, an update
    /// whose old or new value matches, a delete whose old value matches. An old value that
    /// is not known (a change another client made, seen on the store's change feed) does
    /// not match in an update, and matches in a deletion: a listener hears of every
    /// deletion it might care about rather than miss one.
    pub(crate) fn matches_change(
        &self,
        change: i32,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> bool {
        let (mask, filter) = match self {
            Self::Event(mask, f) => (*mask, &**f),
            f => (INSERTED | UPDATED | DELETED, f),
        };
        let old_ok = || old.is_some() && filter.matches(EntryRef { value: old });
        let new_ok = || new.is_some() && filter.matches(EntryRef { value: new });
        match change {
            1 => mask & INSERTED != 0 && new_ok(),
            3 => mask & DELETED != 0 && (old.is_none() || old_ok()),
            2 => {
                let (o, n) = (old_ok(), new_ok());
                (mask & UPDATED != 0 && (o || n))
                    || (mask & UPDATED_ENTERED != 0 && !o && n)
                    || (mask & UPDATED_LEFT != 0 && o && !n)
                    || (mask & UPDATED_WITHIN != 0 && o && n)
            }
            _ => false,
        }
    }
}

/// A value as a plan shows it: strings without quotes, as Java prints them.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The elements of a list (`ContainsFilter` and its kin look inside lists only).
fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) => Some(a),
        _ => None,
    }
}

fn filters(class: &str, o: &Map<String, Value>, budget: &mut Budget) -> Result<Vec<Filter>> {
    list(class, "filters", field(class, o, "filters")?)?
        .iter()
        .map(|f| Filter::parse(f, budget))
        .collect()
}

fn pattern_text<'a>(class: &str, o: &'a Map<String, Value>) -> Result<&'a str> {
    let Some(Value::String(p)) = o.get("value") else {
        return Err(invalid(format!(
            "{class}.value must be the pattern, a string"
        )));
    };
    if p.chars().count() > MAX_PATTERN {
        return Err(invalid(format!(
            "{class}: the pattern is longer than {MAX_PATTERN} characters, satchel's limit"
        )));
    }
    Ok(p)
}

fn compile(class: &str, pattern: &str, ignore_case: bool) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .dot_matches_new_line(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| invalid(format!("{class}: the pattern cannot be compiled ({e})")))
}

/// `LikeFilter`'s pattern as an anchored regular expression.
fn like(o: &Map<String, Value>) -> Result<Regex> {
    let class = "filter.LikeFilter";
    let pattern = pattern_text(class, o)?;
    // The escape character as sent (the Python client's default is the character '0', as
    // Coherence reads it); none when empty or NUL.
    let escape = match o.get("escapeChar") {
        Some(Value::String(s)) => s.chars().next().filter(|c| *c != '\0'),
        _ => None,
    };
    let ignore_case = super::bool_field(class, o, "ignoreCase")?;
    let mut re = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            c if Some(c) == escape => {
                if let Some(next) = chars.next() {
                    re.push_str(&regex::escape(&next.to_string()));
                }
            }
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    compile(class, &re, ignore_case)
}

/// `RegexFilter`'s pattern, matched against the whole string.
fn regex(o: &Map<String, Value>) -> Result<Regex> {
    let class = "filter.RegexFilter";
    let pattern = pattern_text(class, o)?;
    // Compiled alone first: a pattern that compiles has balanced groups, so wrapping it
    // cannot change what it means.
    compile(class, pattern, false)?;
    compile(class, &format!("^(?:{pattern})$"), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(v: Value) -> Filter {
        Filter::parse(&v, &mut Budget::default()).unwrap()
    }

    fn on(filter: &Filter, v: &Value) -> bool {
        filter.matches(EntryRef { value: Some(v) })
    }

    fn u(name: &str) -> Value {
        json!({"@class": "extractor.UniversalExtractor", "name": name, "params": null})
    }

    #[test]
    fn like_and_regex_match_whole_strings() {
        let v = json!({"s": "123-my-test-string"});
        let like = |p: &str, ic: bool| {
            f(
                json!({"@class": "filter.LikeFilter", "extractor": u("s"), "value": p, "escapeChar": "0", "ignoreCase": ic}),
            )
        };
        assert!(on(&like("123-my-test%", false), &v));
        assert!(on(&like("123-MY-TEST%", true), &v));
        assert!(!on(&like("123-MY-TEST%", false), &v));
        assert!(on(&like("123-my-test-s_r_ng", false), &v));
        assert!(!on(&like("my%", false), &v));
        assert!(on(&like("12_-my-test-string", false), &v));
        let re =
            |p: &str| f(json!({"@class": "filter.RegexFilter", "extractor": u("s"), "value": p}));
        let t = json!({"s": "test"});
        assert!(on(&re("..st"), &t));
        assert!(on(&re("[ets]+"), &t));
        assert!(!on(&re("[^abc]"), &t));
        let unbalanced =
            json!({"@class": "filter.RegexFilter", "extractor": u("s"), "value": "a)|(b"});
        assert!(Filter::parse(&unbalanced, &mut Budget::default()).is_err());
    }

    #[test]
    fn events_follow_the_mask() {
        let less = json!({"@class": "filter.LessFilter", "extractor": u("age"), "value": 30});
        let plain = f(less.clone());
        let (young, old) = (json!({"age": 29}), json!({"age": 58}));
        assert!(plain.matches_change(1, None, Some(&young)));
        assert!(!plain.matches_change(1, None, Some(&old)));
        let entered = f(json!({"@class": "filter.MapEventFilter", "mask": 8, "filter": less}));
        assert!(entered.matches_change(2, Some(&old), Some(&young)));
        assert!(!entered.matches_change(2, Some(&young), Some(&old)));
    }
}
