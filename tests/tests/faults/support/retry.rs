//! The caller's retry policy, the checks on every error it sees while a fault lasts, and
//! the check that every acknowledged write survived.

use std::time::{Duration, Instant};

use satchel_store::{Condition, Store, StoreError, StoreErrorKind, Version};

use super::process::Server;
use crate::{ERROR_WITHIN, RECOVER_WITHIN, WRITES};

/// The errors a caller saw while a fault lasted, each checked as it came.
#[derive(Default)]
pub(crate) struct Errors {
    pub(crate) count: usize,
    pub(crate) slowest: Duration,
    /// The first few distinct messages, for the log.
    pub(crate) samples: Vec<String>,
}

impl Errors {
    /// Checks one error of a call that took `took`: transient, naming the backend, within
    /// the bound.
    pub(crate) fn saw(&mut self, e: &StoreError, took: Duration, context: &str) {
        assert!(
            e.is_transient(),
            "{context}: not a transient error: {e} ({e:?})"
        );
        assert!(
            e.backend().is_some() && !e.message().is_empty(),
            "{context}: the error names no backend or says nothing: {e:?}"
        );
        assert!(
            took <= ERROR_WITHIN,
            "{context}: the error took {took:?} to come (over {ERROR_WITHIN:?}): {e}"
        );
        self.count += 1;
        self.slowest = self.slowest.max(took);
        let text = format!("[{}] {e}", e.kind());
        if self.samples.len() < 4 && !self.samples.contains(&text) {
            self.samples.push(text);
        }
    }

    pub(crate) fn report(&self, label: &str) {
        eprintln!(
            "{label}: {} transient errors, slowest {:?}; e.g. {:#?}",
            self.count, self.slowest, self.samples
        );
    }
}

/// The caller's retry policy for an unconditional write: try again on transient errors
/// (each one checked) until acknowledged.
pub(crate) async fn write_until_acked<S: Store + ?Sized>(
    s: &S,
    key: &str,
    value: &[u8],
    errors: &mut Errors,
    label: &str,
) -> Version {
    let started = Instant::now();
    loop {
        let t = Instant::now();
        match s.set(key, value, None, Condition::Always).await {
            Ok(v) => return v,
            Err(e) => {
                errors.saw(&e, t.elapsed(), &format!("{label}: set {key}"));
                assert!(
                    started.elapsed() < RECOVER_WITHIN,
                    "{label}: set {key} still failing after {RECOVER_WITHIN:?}: no recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads `key` with the same retry policy.
pub(crate) async fn read_until_answered<S: Store + ?Sized>(
    s: &S,
    key: &str,
    errors: &mut Errors,
    label: &str,
) -> Option<satchel_store::Entry> {
    let started = Instant::now();
    loop {
        let t = Instant::now();
        match s.get(key).await {
            Ok(entry) => return entry,
            Err(e) => {
                errors.saw(&e, t.elapsed(), &format!("{label}: get {key}"));
                assert!(
                    started.elapsed() < RECOVER_WITHIN,
                    "{label}: get {key} still failing after {RECOVER_WITHIN:?}: no recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Asserts that every key of `acked` reads back as its value through `s`.
pub(crate) async fn assert_all_readable<S: Store + ?Sized>(
    s: &S,
    acked: &[(String, Vec<u8>)],
    label: &str,
) {
    let mut errors = Errors::default();
    for (key, value) in acked {
        let entry = read_until_answered(s, key, &mut errors, label)
            .await
            .unwrap_or_else(|| panic!("{label}: acknowledged write of `{key}` lost"));
        assert_eq!(&entry.value, value, "{label}: `{key}` reads another value");
    }
    assert_eq!(
        errors.count, 0,
        "{label}: reads failed after recovery: {:?}",
        errors.samples
    );
}

/// A run of `WRITES` unconditional writes (with the caller's retries), calling `crash` once
/// a third of the way through; `crash` kills the server and returns a thread that restarts
/// it. Also checks across the crash that versions keep growing and an old version stays
/// stale. Returns the acknowledged writes, the errors seen and the restarted server.
pub(crate) async fn writes_across_a_crash<S: Store + ?Sized>(
    s: &S,
    prefix: &str,
    label: &str,
    crash: impl FnOnce() -> std::thread::JoinHandle<Server>,
) -> (Vec<(String, Vec<u8>)>, Errors, Server) {
    let mut errors = Errors::default();
    let mut acked = Vec::new();
    let cas = format!("{prefix}cas");
    let mut crash = Some(crash);
    let mut restart = None;
    let mut stale = None;
    let started = Instant::now();
    for i in 0..WRITES {
        if i == WRITES / 3 {
            // Two versions of one key before the crash: the older must stay stale after.
            let v1 = write_until_acked(s, &cas, b"one", &mut errors, label).await;
            let v2 = s
                .set(&cas, b"two", None, Condition::IfVersion(v1))
                .await
                .unwrap_or_else(|e| panic!("{label}: compare-and-set before the crash: {e}"));
            assert!(v2 > v1, "{label}: {v2} after {v1}");
            stale = Some((v1, v2));
            restart = Some(crash.take().expect("one crash")());
        }
        let key = format!("{prefix}k{i}");
        let value = format!("value {i}").into_bytes();
        write_until_acked(s, &key, &value, &mut errors, label).await;
        acked.push((key, value));
    }
    let server = restart
        .expect("the crash happened")
        .join()
        .expect("the server restarted");
    eprintln!(
        "{label}: {WRITES} writes acknowledged in {:?} across a crash",
        started.elapsed()
    );

    // Versions survive the crash: the old one is refused, the last one accepted, and the
    // new version is above both.
    let (v1, v2) = stale.expect("versions taken before the crash");
    let entry = read_until_answered(s, &cas, &mut errors, label)
        .await
        .unwrap_or_else(|| panic!("{label}: `{cas}` lost in the crash"));
    assert_eq!(
        (entry.value.as_slice(), entry.version),
        (&b"two"[..], v2),
        "{label}: `{cas}` after the crash"
    );
    let err = s
        .set(&cas, b"stale", None, Condition::IfVersion(v1))
        .await
        .expect_err("a compare-and-set with a version from before the last write");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Conflict,
        "{label}: stale version after the crash: {err}"
    );
    let v3 = s
        .set(&cas, b"three", None, Condition::IfVersion(v2))
        .await
        .unwrap_or_else(|e| panic!("{label}: compare-and-set after the crash: {e}"));
    assert!(
        v3 > v2,
        "{label}: version {v3} after the crash, {v2} before"
    );
    acked.push((cas, b"three".to_vec()));
    (acked, errors, server)
}
