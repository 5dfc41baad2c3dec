//! The `satchel` binary, run as a user runs it. One file per group of commands: `codec.rs`,
//! `store_commands.rs`, `convert.rs`, `advise.rs`, `grpc.rs`; the samples they share here.

mod advise;
mod codec;
mod convert;
mod grpc;
mod store_commands;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use satchel::{Codec, DynCodec, sniff};
use satchel_store::Condition;
use serde_json::{Value, json};

#[path = "../common/mod.rs"]
mod common;
use common::*;

fn sample() -> Value {
    json!({
        "user": "ann",
        "items": [1, -2, 18446744073709551615u64, 2.5, null, true, "x"],
        "nested": {"empty": {}, "list": [], "text": "héllo \"quoted\""},
    })
}

const FORMATS: &[&str] = &["json", "msgpack", "bincode"];
const COMPRESSIONS: &[&str] = &["", "+zstd", "+zstd:19", "+lz4", "+gzip", "+gzip:9", "+zlib"];
