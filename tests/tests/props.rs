//! Property-based round trips: random values through every pipeline decode equal.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Record {
    id: u64,
    score: i64,
    wide: i128,
    ratio: f64,
    name: String,
    bytes: Vec<u8>,
    tags: Vec<String>,
    attrs: BTreeMap<String, Option<u32>>,
    choice: Choice,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Choice {
    None,
    Count(u32),
    Pair(bool, String),
    Named { at: u64, note: Option<String> },
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        Just(Choice::None),
        any::<u32>().prop_map(Choice::Count),
        (any::<bool>(), ".*").prop_map(|(b, s)| Choice::Pair(b, s)),
        (any::<u64>(), proptest::option::of(".*"))
            .prop_map(|(at, note)| Choice::Named { at, note }),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        any::<i64>(),
        any::<i128>(),
        // Finite floats only: NaN never equals itself.
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        ".*",
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec("[a-z]{0,12}", 0..8),
        proptest::collection::btree_map(".{0,8}", proptest::option::of(any::<u32>()), 0..8),
        choice(),
    )
        .prop_map(
            |(id, score, wide, ratio, name, bytes, tags, attrs, choice)| Record {
                id,
                score,
                wide,
                ratio,
                name,
                bytes,
                tags,
                attrs,
                choice,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_records_round_trip_every_pipeline(records in proptest::collection::vec(record(), 0..6)) {
        for codec in satchel_tests::all_pipelines() {
            for codec in [codec.clone(), codec.checksum().expect("headered")] {
                let bytes = codec.encode(&records).unwrap();
                let back: Vec<Record> = codec.decode(&bytes).unwrap();
                prop_assert_eq!(&back, &records, "{}", codec);
                let any: Vec<Record> = satchel::decode_any(&bytes).unwrap();
                prop_assert_eq!(&any, &records);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = satchel::decode_any::<Vec<Record>>(&bytes);
        let _ = satchel::decode_any::<serde_json::Value>(&bytes);
        let _ = satchel::sniff(&bytes);
    }
}
