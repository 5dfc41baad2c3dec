//! Faults against real servers, beyond the dropped connections of `store_faults.rs`:
//!
//! - a Redis this test starts itself (own port, own temp dir, `--appendonly yes
//!   --appendfsync always`), SIGKILLed and restarted during a run of writes;
//! - PostgreSQL backends terminated *inside* a statement (blocked on a row lock held by
//!   the test), and terminated at random under concurrent compare-and-set increments;
//! - the real `satchel serve` binary over an SQLite file, SIGKILLed and restarted on the
//!   same port;
//! - network stalls and cuts, through a TCP proxy in front of Redis, PostgreSQL and an
//!   in-process gRPC server.
//!
//! For each: while the fault lasts the client reports errors that are transient
//! (`Unavailable`/`Timeout`), name the backend and come back within a bound; it recovers by
//! itself afterwards; and every acknowledged write is readable afterwards (also through a
//! fresh connection, and in the stall tests directly, not through the proxy).
//!
//! Bounded in time, 127.0.0.1 only. The test stops only the processes it started (by their
//! `Child` handle, also when it panics) and removes its temp dirs. The shared services
//! (`SATCHEL_TEST_{REDIS,POSTGRES}_URL`) are never restarted; tests needing them say
//! `skipped:` when their variable is unset. The gRPC test runs the `satchel` binary next
//! to this test's (`target/debug/satchel`), building it with `cargo build -p satchel-cli`
//! if it is missing.
//!
//! One file per scenario family: `redis_restart.rs`, `postgres_kills.rs`,
//! `serve_restart.rs`, `network.rs`; `support/` holds what they share: the processes this
//! test starts (`process.rs`), the caller's retry policy and the checks on the errors it
//! sees (`retry.rs`), the `satchel` binary (`binary.rs`) and the TCP proxy (`proxy.rs`).

mod network;
mod postgres_kills;
mod redis_restart;
mod serve_restart;
mod support;

use std::time::Duration;

/// Writes per restart run.
const WRITES: u32 = 300;
/// How long a killed server stays down before it is restarted.
const DOWN_FOR: Duration = Duration::from_secs(2);
/// The longest one failing call may take to report its error while a server is down.
const ERROR_WITHIN: Duration = Duration::from_secs(10);
/// The longest the caller's retries of one operation may take (outage included).
const RECOVER_WITHIN: Duration = Duration::from_secs(20);
/// The PostgreSQL table of these tests (not the shared `satchel_kv`, so the row locks they
/// take touch nothing else).
const PG_TABLE: &str = "satchel_faults";
