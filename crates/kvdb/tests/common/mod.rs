//! Rust mirrors of tests/py/kvdb_models.py, shared by the golden and end-to-end tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use satchel_kvdb::{Bytes, Classes, DateTime, Set};

/// `kvdb_models.User` (a pydantic model).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct User {
    pub name: String,
    pub visits: u64,
    pub roles: Vec<String>,
    /// pydantic dumps datetimes inside a model as ISO text.
    pub last_seen: String,
}

/// `kvdb_models.Point` (a dataclass).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Dict {
    pub user: String,
    pub items: Vec<u32>,
    pub ok: bool,
    pub ratio: f64,
    pub none: Option<u32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct At {
    pub at: DateTime,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Blob {
    pub blob: Bytes,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Tags {
    pub tags: Set<String>,
}

pub static CLASSES: LazyLock<Classes> = LazyLock::new(|| {
    Classes::new()
        .register::<User>("kvdb_models.User")
        .register::<Point>("kvdb_models.Point")
});

pub const WHEN: &str = "2026-11-22T23:50:33.123456";

pub fn user() -> User {
    User {
        name: "ann".into(),
        visits: 3,
        roles: vec!["admin".into(), "user".into()],
        last_seen: WHEN.into(),
    }
}

pub fn dict() -> Dict {
    Dict {
        user: "ann".into(),
        items: vec![7, 9],
        ok: true,
        ratio: 0.5,
        none: None,
    }
}

pub fn at() -> At {
    At {
        at: DateTime::new(WHEN),
    }
}

pub fn blob() -> Blob {
    Blob {
        blob: Bytes(b"\x00\xc1\xffkvdb".to_vec()),
    }
}

pub fn tags() -> Tags {
    Tags {
        tags: ["a".to_string()].into_iter().collect(),
    }
}

/// Checks that `bytes`, stored under sample `name`, decode with `decode` into the sample.
/// `decode` is a codec's typed decode, passed per type through the macro below.
#[macro_export]
macro_rules! check_sample {
    ($codec:expr, $name:expr, $bytes:expr) => {{
        use $crate::common::*;
        let codec = &$codec;
        let bytes: &[u8] = $bytes;
        let name: &str = $name;
        match name {
            "dict" => assert_eq!(codec.decode::<Dict>(bytes).unwrap(), dict(), "{name}"),
            "model" => assert_eq!(codec.decode::<User>(bytes).unwrap(), user(), "{name}"),
            "datetime" => assert_eq!(codec.decode::<At>(bytes).unwrap(), at(), "{name}"),
            "bytes" => assert_eq!(codec.decode::<Blob>(bytes).unwrap(), blob(), "{name}"),
            "set" => assert_eq!(codec.decode::<Tags>(bytes).unwrap(), tags(), "{name}"),
            "dataclass" => assert_eq!(
                codec.decode::<Point>(bytes).unwrap(),
                Point { x: 1, y: -2 },
                "{name}"
            ),
            "str" => assert_eq!(codec.decode::<String>(bytes).unwrap(), "plain text"),
            "int" => assert_eq!(codec.decode::<u32>(bytes).unwrap(), 42),
            "raw_bytes" => assert_eq!(codec.decode::<Vec<u8>>(bytes).unwrap(), b"\x00\x01raw"),
            other => panic!("unknown sample {other}"),
        }
    }};
}
