//! Aggregators, and the comparators that order entries (`TopNAggregator`, sorted queries).
//!
//! Results are JSON as the Python client reads them: counts and `Long`/`Double` sums as
//! numbers, `BigDecimal` sums and averages as `math.BigDec` (averages rounded half up to at
//! least 8 digits after the point, trailing zeros dropped), maps (`GroupAggregator`,
//! `ReducerAggregator`) as `{"entries": [{"key": …, "value": …}, …]}`, lists as arrays.
//! Null extracted values are skipped by sums, averages, minimums, maximums and distinct
//! values; a value that is not a number refuses a sum or an average, naming the aggregator.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::extract::Extractor;
use super::filter::Filter;
use super::number::{Decimal, Num, big_dec};
use super::{
    Budget, EntryRef, Result, class_of, describe, field, invalid, list, map_result, needs_java,
    total_order,
};

/// How a comparator orders values.
#[derive(Debug, Clone)]
pub(crate) enum Comparator {
    /// The values themselves ([`total_order`]).
    Natural,
    /// By what an extractor takes from them (`comparator.ExtractorComparator`).
    Extracted(Extractor),
    /// The reverse (`comparator.InverseComparator`).
    Inverse(Box<Comparator>),
}

impl Comparator {
    /// Parses the comparator of a request field; empty is `None`.
    pub(crate) fn parse_field(bytes: &[u8]) -> Result<Option<Self>> {
        match super::parse_json("comparator", bytes)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Self::parse(&v, &mut Budget::default()).map(Some),
        }
    }

    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            if v.is_null() {
                return Ok(Self::Natural);
            }
            let (class, o) = class_of("comparator", v)?;
            match class {
                // Satchel's order already puts null first, as SafeComparator does.
                "comparator.SafeComparator" => match o.get("comparator") {
                    None => Ok(Self::Natural),
                    Some(c) => Self::parse(c, budget),
                },
                "comparator.InverseComparator" => {
                    Ok(Self::Inverse(Box::new(match o.get("comparator") {
                        None => Self::Natural,
                        Some(c) => Self::parse(c, budget)?,
                    })))
                }
                "comparator.ExtractorComparator" => Ok(Self::Extracted(Extractor::parse(
                    field(class, o, "extractor")?,
                    budget,
                )?)),
                other => Err(invalid(format!(
                    "unknown comparator class {other:?}: satchel's Coherence endpoint knows \
                     comparator.SafeComparator, InverseComparator and ExtractorComparator"
                ))),
            }
        })
    }

    /// The order of `a` and `b`.
    pub(crate) fn compare(&self, a: &Value, b: &Value) -> Ordering {
        match self {
            Self::Natural => total_order(a, b),
            Self::Extracted(e) => total_order(&e.extract(a), &e.extract(b)),
            Self::Inverse(c) => c.compare(a, b).reverse(),
        }
    }
}

/// Which numbers a sum or an average works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Long,
    Double,
    Decimal,
}

/// A parsed aggregator.
#[derive(Debug, Clone)]
pub(crate) enum Aggregator {
    Count,
    Sum(Kind, Extractor),
    Average(Kind, Extractor),
    Min(Extractor),
    Max(Extractor),
    Distinct(Extractor),
    Top {
        n: usize,
        extractor: Extractor,
        comparator: Comparator,
    },
    Group {
        extractor: Extractor,
        aggregator: Box<Aggregator>,
        filter: Filter,
    },
    Composite(Vec<Aggregator>),
    Reducer(Extractor),
    /// `QueryRecorder`: the query's trace (`true`) or plan; the service answers it
    /// (`service/plan.rs`), it aggregates no values.
    Record(bool),
}

impl Aggregator {
    /// Parses the aggregator of a request field.
    pub(crate) fn parse_field(bytes: &[u8]) -> Result<Self> {
        match super::parse_json("aggregator", bytes)? {
            None => Err(invalid("the request has no aggregator")),
            Some(v) => Self::parse(&v, &mut Budget::default()),
        }
    }

    pub(crate) fn parse(v: &Value, budget: &mut Budget) -> Result<Self> {
        budget.enter(|budget| {
            let (class, o) = class_of("aggregator", v)?;
            let extractor = |budget: &mut Budget| match o.get("extractor") {
                None | Some(Value::Null) => Ok(Extractor::Identity),
                Some(e) => Extractor::parse(e, budget),
            };
            let name = class.strip_prefix("aggregator.").unwrap_or(class);
            Ok(match name {
                "Count" => Self::Count,
                "LongSum" => Self::Sum(Kind::Long, extractor(budget)?),
                "DoubleSum" => Self::Sum(Kind::Double, extractor(budget)?),
                "BigDecimalSum" => Self::Sum(Kind::Decimal, extractor(budget)?),
                "DoubleAverage" => Self::Average(Kind::Double, extractor(budget)?),
                "BigDecimalAverage" => Self::Average(Kind::Decimal, extractor(budget)?),
                "ComparableMin" | "LongMin" | "DoubleMin" | "BigDecimalMin" => {
                    Self::Min(extractor(budget)?)
                }
                "ComparableMax" | "LongMax" | "DoubleMax" | "BigDecimalMax" => {
                    Self::Max(extractor(budget)?)
                }
                "DistinctValues" => Self::Distinct(extractor(budget)?),
                "TopNAggregator" => {
                    let n = match o.get("results") {
                        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                        _ => 0,
                    };
                    let comparator = match o.get("comparator") {
                        None | Some(Value::Null) => {
                            // No comparator: the values' own order, largest first unless
                            // `inverse`.
                            if super::bool_field(class, o, "inverse")? {
                                Comparator::Inverse(Box::new(Comparator::Natural))
                            } else {
                                Comparator::Natural
                            }
                        }
                        Some(c) => Comparator::parse(c, budget)?,
                    };
                    Self::Top {
                        n: usize::try_from(n).unwrap_or(usize::MAX),
                        extractor: extractor(budget)?,
                        comparator,
                    }
                }
                "GroupAggregator" => Self::Group {
                    extractor: extractor(budget)?,
                    aggregator: Box::new(Self::parse(field(class, o, "aggregator")?, budget)?),
                    filter: match o.get("filter") {
                        None => Filter::Always,
                        Some(f) => Filter::parse(f, budget)?,
                    },
                },
                "PriorityAggregator" => Self::parse(field(class, o, "aggregator")?, budget)?,
                "CompositeAggregator" => Self::Composite(
                    list(class, "aggregators", field(class, o, "aggregators")?)?
                        .iter()
                        .map(|a| Self::parse(a, budget))
                        .collect::<Result<_>>()?,
                ),
                "ReducerAggregator" => Self::Reducer(extractor(budget)?),
                "ScriptAggregator" => {
                    return Err(needs_java(class, "it runs a script on the server"));
                }
                "QueryRecorder" => {
                    let trace = match o.get("type").and_then(|t| t.get("enum")) {
                        None | Some(Value::Null) => false,
                        Some(Value::String(t)) if t == "EXPLAIN" => false,
                        Some(Value::String(t)) if t == "TRACE" => true,
                        Some(other) => {
                            return Err(invalid(format!(
                                "aggregator.QueryRecorder.type must be EXPLAIN or TRACE, found \
                                 {other}"
                            )));
                        }
                    };
                    Self::Record(trace)
                }
                _ => {
                    return Err(invalid(format!(
                        "unknown aggregator class {class:?}: satchel's Coherence endpoint knows \
                         the aggregators of the Python client's Aggregators (aggregator.Count, \
                         BigDecimalSum, ComparableMin, GroupAggregator, …)"
                    )));
                }
            })
        })
    }

    /// `Some(trace)` for a `QueryRecorder` (a trace, or a plan).
    pub(crate) fn recorder(&self) -> Option<bool> {
        match self {
            Self::Record(trace) => Some(*trace),
            _ => None,
        }
    }

    /// The aggregate of `entries` (key, value).
    pub(crate) fn aggregate(&self, entries: &[(Value, Value)]) -> Result<Value> {
        let extracted = |e: &Extractor| -> Vec<Value> {
            entries
                .iter()
                .map(|(_, v)| e.extract(v))
                .filter(|v| !v.is_null())
                .collect()
        };
        Ok(match self {
            Self::Record(_) => {
                return Err(invalid(
                    "aggregator.QueryRecorder records a query: it is the aggregator of an \
                     aggregate call, never inside another aggregator",
                ));
            }
            Self::Count => Value::from(entries.len()),
            Self::Sum(kind, e) => match sum(*kind, &extracted(e), "a sum")? {
                None => Value::Null,
                Some((total, _)) => total,
            },
            Self::Average(kind, e) => average(*kind, &extracted(e))?,
            Self::Min(e) => extracted(e)
                .into_iter()
                .min_by(total_order)
                .unwrap_or(Value::Null),
            Self::Max(e) => extracted(e)
                .into_iter()
                .max_by(total_order)
                .unwrap_or(Value::Null),
            Self::Distinct(e) => {
                let mut seen = HashSet::new();
                Value::Array(
                    extracted(e)
                        .into_iter()
                        .filter(|v| seen.insert(v.to_string()))
                        .collect(),
                )
            }
            Self::Top {
                n,
                extractor,
                comparator,
            } => {
                // Nulls are skipped, as Coherence's TopNAggregator skips them.
                let mut values: Vec<Value> = entries
                    .iter()
                    .map(|(_, v)| extractor.extract(v))
                    .filter(|v| !v.is_null())
                    .collect();
                values.sort_by(|a, b| comparator.compare(b, a));
                values.truncate(*n);
                Value::Array(values)
            }
            Self::Group {
                extractor,
                aggregator,
                filter,
            } => {
                let mut order: Vec<Value> = Vec::new();
                let mut groups: HashMap<String, Vec<(Value, Value)>> = HashMap::new();
                for (k, v) in entries {
                    let g = extractor.extract(v);
                    let members = groups.entry(g.to_string()).or_insert_with(|| {
                        order.push(g.clone());
                        Vec::new()
                    });
                    members.push((k.clone(), v.clone()));
                }
                let mut results = Vec::with_capacity(order.len());
                for g in order {
                    let members = groups.remove(&g.to_string()).unwrap_or_default();
                    let result = aggregator.aggregate(&members)?;
                    // The filter picks groups by their result (a HAVING, as Coherence's
                    // GroupAggregator applies it), not the entries that go in.
                    if filter.matches(EntryRef {
                        value: Some(&result),
                    }) {
                        results.push((g, result));
                    }
                }
                map_result(results)
            }
            Self::Composite(aggs) => Value::Array(
                aggs.iter()
                    .map(|a| a.aggregate(entries))
                    .collect::<Result<_>>()?,
            ),
            Self::Reducer(e) => map_result(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), e.extract(v)))
                    .collect(),
            ),
        })
    }
}

fn numbers(values: &[Value], what: &str) -> Result<Vec<Num>> {
    values
        .iter()
        .map(|v| {
            Num::of(v).ok_or_else(|| {
                invalid(format!(
                    "{what}: an extracted value is {}, not a number",
                    describe(v)
                ))
            })
        })
        .collect()
}

/// The sum of `values` as JSON, and as a decimal for [`Kind::Decimal`]; `None` for no values.
fn sum(kind: Kind, values: &[Value], what: &str) -> Result<Option<(Value, Option<Decimal>)>> {
    let nums = numbers(values, what)?;
    if nums.is_empty() {
        return Ok(None);
    }
    let overflow = || invalid(format!("{what} is out of range"));
    Ok(Some(match kind {
        Kind::Long => {
            let mut total: i128 = 0;
            for n in nums {
                let i = match n {
                    Num::Int(i) => i,
                    // As Java's Number.longValue(): the integer part.
                    #[allow(clippy::cast_possible_truncation)]
                    other => other.to_f64().trunc() as i128,
                };
                total = total.checked_add(i).ok_or_else(overflow)?;
            }
            (Num::Int(total).to_value().ok_or_else(overflow)?, None)
        }
        Kind::Double => {
            let total: f64 = nums.iter().map(|n| n.to_f64()).sum();
            (Num::Float(total).to_value().ok_or_else(overflow)?, None)
        }
        Kind::Decimal => {
            let mut total = Decimal::ZERO;
            for n in nums {
                total = n
                    .to_decimal()
                    .and_then(|d| total.checked_add(d))
                    .ok_or_else(overflow)?;
            }
            (big_dec(total), Some(total))
        }
    }))
}

fn average(kind: Kind, values: &[Value]) -> Result<Value> {
    let what = "an average";
    let count = i128::try_from(values.len()).unwrap_or(i128::MAX);
    Ok(match sum(kind, values, what)? {
        None => Value::Null,
        Some((_, Some(total))) => big_dec(
            total
                .div_round(count, 8)
                .ok_or_else(|| invalid(format!("{what} is out of range")))?
                .normalized(),
        ),
        Some((total, None)) => {
            #[allow(clippy::cast_precision_loss)]
            let mean = Num::of(&total).map_or(f64::NAN, Num::to_f64) / count as f64;
            Num::Float(mean).to_value().unwrap_or(Value::Null)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agg(v: Value, entries: &[(Value, Value)]) -> Value {
        Aggregator::parse(&v, &mut Budget::default())
            .unwrap()
            .aggregate(entries)
            .unwrap()
    }

    #[test]
    fn sums_averages_and_tops() {
        let ages = [25, 22, 62, 35, 58, 29, 36];
        let entries: Vec<(Value, Value)> = ages
            .iter()
            .enumerate()
            .map(|(i, a)| (json!(i), json!({"age": a})))
            .collect();
        let age = json!({"@class": "extractor.UniversalExtractor", "name": "age"});
        assert_eq!(
            agg(
                json!({"@class": "aggregator.BigDecimalSum", "extractor": age}),
                &entries
            ),
            json!({"@class": "math.BigDec", "value": "267"})
        );
        assert_eq!(
            agg(
                json!({"@class": "aggregator.BigDecimalAverage", "extractor": age}),
                &entries
            ),
            json!({"@class": "math.BigDec", "value": "38.14285714"})
        );
        let top = json!({"@class": "aggregator.TopNAggregator", "results": 2, "extractor": age});
        assert_eq!(agg(top, &entries), json!([62, 58]));
        assert_eq!(agg(json!({"@class": "aggregator.Count"}), &[]), json!(0));
        assert_eq!(
            agg(
                json!({"@class": "aggregator.LongSum", "extractor": age}),
                &[]
            ),
            Value::Null
        );
    }
}
