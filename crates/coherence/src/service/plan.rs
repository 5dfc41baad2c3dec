//! `aggregator.QueryRecorder`: the plan of a query (`EXPLAIN`) or its trace (`TRACE`), as
//! Coherence's `util.SimpleQueryRecord`, which clients read as JSON.
//!
//! The record has one partial result (satchel's cache is not partitioned: its
//! `partitionSet` is one partition) with one step for the filter, and a sub-step for each
//! filter inside an `AndFilter`, `OrFilter`, `NotFilter` or `XorFilter`. Each step names
//! its filter as Coherence prints it, the keys that enter it (`keySetSizePre`) and, in a
//! trace, those that leave it (`keySetSizePost`) and the time it took (`millis`); an
//! explanation evaluates nothing, so its `keySetSizePost` is 0, as on Coherence. A filter
//! on one extracted value has an index lookup record for its extractor: with `index` (its
//! footprint and distinct values) when an index answered it, without when the filter read
//! every entry. Parts of an `AndFilter` that an index answers come first and narrow the
//! keys the others see, as on Coherence.
//!
//! `efficiency` is the cost Coherence estimates: the distinct values an index lookup
//! tested, or 1,000 per key for a filter that evaluates each entry.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tonic::Status;

use super::Inner;
use super::query::{MAX_HELD_BYTES, json_of};
use crate::keys::key_suffix;
use crate::query::{EntryRef, Filter};

/// Coherence's cost of evaluating a filter on one entry, without an index.
const EVAL_COST: usize = 1_000;

/// The record of `filter` over the entries of `namespace` (or of `keys`): a trace when
/// `trace`, else an explanation.
pub(super) async fn record(
    inner: &Inner,
    op: &str,
    namespace: &str,
    filter: &Filter,
    keys: Option<Vec<Vec<u8>>>,
    trace: bool,
) -> Result<Value, Status> {
    let suffixes: Vec<String> = match keys {
        None => inner.list(op, namespace).await?,
        Some(keys) => keys.iter().map(|k| key_suffix(k)).collect(),
    };
    let mut values = std::collections::HashMap::new();
    let mut present = HashSet::new();
    if trace {
        let mut held = 0usize;
        for suffix in &suffixes {
            let Some(entry) = inner.get(op, &format!("{namespace}{suffix}")).await? else {
                continue;
            };
            held += entry.value.len();
            if held > MAX_HELD_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "coherence {op}: tracing the query would hold more than {MAX_HELD_BYTES} \
                     bytes of values; narrow it with keys, or ask for EXPLAIN"
                )));
            }
            values.insert(suffix.clone(), json_of(op, "value", &entry.value)?);
            present.insert(suffix.clone());
        }
    } else {
        present.extend(suffixes);
    }
    let planner = Planner {
        inner,
        namespace,
        values: trace.then_some(&values),
    };
    let (step, _) = planner.step(filter, present);
    let kind = if trace { "TRACE" } else { "EXPLAIN" };
    Ok(json!({
        "@class": "util.SimpleQueryRecord",
        "type": {"@class": "aggregator.QueryRecorder.RecordType", "enum": kind},
        "results": [{
            "@class": "util.SimpleQueryRecord.PartialResult",
            "partitionSet": {
                "@class": "net.partition.PartitionSet",
                "bits": [1],
                "markedCount": -1,
                "partitionCount": 1,
                "tailMask": 1,
            },
            "steps": [step],
        }],
    }))
}

struct Planner<'a> {
    inner: &'a Inner,
    namespace: &'a str,
    /// The entries' values, in a trace.
    values: Option<&'a std::collections::HashMap<String, Value>>,
}

impl Planner<'_> {
    /// The step of `filter` over the keys `keys`, and the keys that leave it (in an
    /// explanation: those an index lookup kept, else all of them).
    fn step(&self, filter: &Filter, keys: HashSet<String>) -> (Value, HashSet<String>) {
        let started = Instant::now();
        let pre = keys.len();
        let mut records = Vec::new();
        let mut sub_steps = Vec::new();
        let mut efficiency = 0usize;
        let out = match filter {
            Filter::Event(_, f) => return self.step(f, keys),
            Filter::All(parts) => {
                // The parts an index answers first, as Coherence applies them.
                let mut ordered: Vec<&Filter> = parts.iter().collect();
                ordered.sort_by_key(|p| !self.indexed(p));
                let mut keys = keys;
                for part in ordered {
                    let (step, out) = self.step(part, keys);
                    efficiency += step["efficiency"].as_u64().unwrap_or(0) as usize;
                    sub_steps.push(step);
                    keys = out;
                }
                keys
            }
            Filter::Any(parts) => {
                let mut union = HashSet::new();
                for part in parts {
                    let (step, out) = self.step(part, keys.clone());
                    efficiency += step["efficiency"].as_u64().unwrap_or(0) as usize;
                    sub_steps.push(step);
                    union.extend(out);
                }
                union
            }
            Filter::Not(_) | Filter::Xor(..) => {
                let parts: Vec<&Filter> = match filter {
                    Filter::Not(f) => vec![f],
                    Filter::Xor(a, b) => vec![a, b],
                    _ => Vec::new(),
                };
                for part in parts {
                    let (step, _) = self.step(part, keys.clone());
                    efficiency += step["efficiency"].as_u64().unwrap_or(0) as usize;
                    sub_steps.push(step);
                }
                self.evaluated(filter, keys)
            }
            Filter::Always | Filter::Never => {
                efficiency = 1;
                if matches!(filter, Filter::Never) {
                    HashSet::new()
                } else {
                    keys
                }
            }
            leaf => {
                let lookup = self.inner.indexes.lookup(self.namespace, leaf);
                let candidates = match lookup {
                    Some(l) => {
                        efficiency = l.tested;
                        keys.into_iter().filter(|k| l.keys.contains(k)).collect()
                    }
                    None => {
                        efficiency = pre.saturating_mul(EVAL_COST);
                        keys
                    }
                };
                if let Some(extractor) = leaf.leaf_extractor() {
                    records.push(self.lookup_record(extractor));
                }
                self.evaluated(leaf, candidates)
            }
        };
        let post = if self.values.is_some() { out.len() } else { 0 };
        let millis = if self.values.is_some() {
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
        } else {
            0
        };
        let step = json!({
            "@class": "util.SimpleQueryRecord.PartialResult.Step",
            "filter": filter.describe(),
            "efficiency": efficiency,
            "keySetSizePre": pre,
            "keySetSizePost": post,
            "millis": millis,
            "indexLookupRecords": records,
            "subSteps": sub_steps,
        });
        (step, out)
    }

    /// Whether an index answers `filter` (an `AndFilter` puts such parts first).
    fn indexed(&self, filter: &Filter) -> bool {
        self.inner.indexes.lookup(self.namespace, filter).is_some()
    }

    /// In a trace, the keys whose entries match `filter`; in an explanation, all of them.
    fn evaluated(&self, filter: &Filter, keys: HashSet<String>) -> HashSet<String> {
        let Some(values) = self.values else {
            return keys;
        };
        keys.into_iter()
            .filter(|k| {
                filter.matches(EntryRef {
                    value: values.get(k),
                })
            })
            .collect()
    }

    /// The index lookup record of `extractor`: with `index` when a ready index answered.
    fn lookup_record(&self, extractor: &crate::query::Extractor) -> Value {
        let mut record = Map::new();
        record.insert(
            "@class".into(),
            "util.SimpleQueryRecord.PartialResult.IndexLookupRecord".into(),
        );
        record.insert("extractor".into(), extractor.describe().into());
        record.insert("ordered".into(), false.into());
        match self.inner.indexes.info(self.namespace, extractor) {
            Some(info) if info.used => {
                record.insert("bytes".into(), info.bytes.into());
                record.insert("distinctValues".into(), info.distinct.into());
                record.insert(
                    "index".into(),
                    format!(
                        "In-process: Footprint={}, Size={}",
                        footprint(info.bytes),
                        info.distinct
                    )
                    .into(),
                );
                let desc = if info.asked_sorted {
                    "In-process (asked sorted, kept unsorted): "
                } else {
                    "In-process: "
                };
                record.insert("indexDesc".into(), desc.into());
            }
            _ => {
                record.insert("bytes".into(), (-1).into());
                record.insert("distinctValues".into(), (-1).into());
            }
        }
        Value::Object(record)
    }
}

/// A size as Coherence prints a footprint: `812B`, `6.67KB`, `1.20MB`.
fn footprint(bytes: usize) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes}B")
    } else if b < KB * KB {
        format!("{:.2}KB", b / KB)
    } else {
        format!("{:.2}MB", b / KB / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprints_read_as_coherence_prints_them() {
        assert_eq!(footprint(812), "812B");
        assert_eq!(footprint(6839), "6.68KB");
        assert_eq!(footprint(3 << 20), "3.00MB");
    }
}
