//! `satchel convert`: re-encode every value of a store to a new pipeline.
//!
//! Each value is read, decoded (into the JSON data model, as every command does),
//! encoded with the target pipeline, decoded again from the new bytes and compared with
//! what was read, and written back only if both agree and it has not changed since it was
//! read (`Condition::IfVersion`), keeping its remaining time to live. Values already in the
//! target pipeline are skipped, so an interrupted run is finished by running the same
//! command again. A value that cannot be decoded, that the JSON data model cannot hold
//! exactly (integers wider than 64 bits, NaN, ±Inf), or whose new bytes would not read back
//! the same (over a limit, say) is left untouched and listed; so is a key the store cannot
//! read. Converting to bincode is refused: the tool writes bincode in its own tagged form,
//! which programs reading their own Rust types cannot decode.
//! Ctrl-C stops after the key in progress and prints the counts (a second Ctrl-C quits at
//! once).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use satchel::{DynCodec, FormatId, sniff};
use satchel_store::{Condition, DynStore, StoreError, StoreErrorKind};
use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::store::{StoreArg, remaining};
use crate::util::{Progress, print_json, println};
use crate::value;

/// Arguments of `satchel convert`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    #[arg(
        long,
        value_name = "SPEC",
        help = "Target pipeline: format[+compression[:level]][+seal], e.g. msgpack+zstd; \
                +seal seals under the key ring's current key (values sealed under an older \
                key are re-sealed)"
    )]
    to: String,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    prefix: String,
    /// At most this many keys per second, to spare a busy database (0: no limit).
    #[arg(long, default_value_t = 0, value_name = "KEYS")]
    rate: u32,
}

/// What happened to one key.
enum Outcome {
    Converted,
    Skipped,
    Failed(String),
}

/// How many times a key changed by someone else is read again before it is listed as failed.
const ATTEMPTS: usize = 5;

/// Converts the store.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let (target, store) = crate::dicts::parse_spec(&args.to, &args.store, true, global).await?;
    let current_key = match target.is_sealed() {
        true => crate::seal::keys(global)?.map(|k| k.current_id()),
        false => None,
    };
    if target.format().header_id() == Some(FormatId::BINCODE) {
        return Err(CliError::new(
            code::USAGE,
            format!(
                "--to {target}: bincode is not self-describing, so satchel can only write it in \
                 its own tagged form, which programs reading their own Rust types cannot \
                 decode; convert to json or msgpack"
            ),
        ));
    }
    let interrupted = watch_interrupt();
    let mut keys = store
        .scan(&args.prefix, usize::MAX)
        .await
        .map_err(|e| args.store.error(&e))?;
    // Every key: `scan` pages through the whole listing (over gRPC too); a store whose
    // pages may repeat a key (Redis) is deduplicated here.
    keys.sort();
    keys.dedup();
    // Dictionaries are kept beside the values, not converted.
    keys.retain(|k| !crate::dicts::is_dict_key(k));

    let mut progress = Progress::new("convert", keys.len() as u64, global.json);
    let mut ticker = (args.rate > 0).then(|| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let (mut converted, mut skipped) = (0u64, 0u64);
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut stopped = None;
    for key in &keys {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        progress.message(key);
        match convert_one(&store, key, &target, current_key, global).await {
            Ok(Outcome::Converted) => converted += 1,
            Ok(Outcome::Skipped) => skipped += 1,
            Ok(Outcome::Failed(why)) => failed.push((key.clone(), why)),
            // A key the store cannot read or write (foreign, too large, …) is listed and
            // the run goes on; a store that is down or slow stops it.
            Err(e) if is_per_key(&e) => failed.push((key.clone(), chain(&e))),
            Err(e) => {
                stopped = Some(args.store.error(&e));
                break;
            }
        }
        progress.inc();
    }
    progress.finish();
    let was_interrupted = interrupted.load(Ordering::SeqCst);
    let done = converted + skipped + failed.len() as u64;
    report(
        global,
        &target,
        keys.len(),
        converted,
        skipped,
        &failed,
        was_interrupted,
    )?;
    if let Some(err) = stopped {
        return Err(CliError::new(
            err.code(),
            format!("{err}; stopped after {done} of {} keys", keys.len()),
        ));
    }
    if was_interrupted {
        return Err(CliError::new(
            code::INTERRUPTED,
            format!(
                "interrupted after {done} of {} keys; run the same command again to finish",
                keys.len()
            ),
        ));
    }
    if !failed.is_empty() {
        return Err(CliError::new(
            code::PARTIAL,
            format!(
                "{} value(s) could not be converted and were left as they were",
                failed.len()
            ),
        ));
    }
    Ok(())
}

/// Converts one key, retrying when someone else wrote it in between.
async fn convert_one(
    store: &DynStore,
    key: &str,
    target: &DynCodec,
    current_key: Option<u32>,
    global: &Global,
) -> Result<Outcome, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(entry) = store.get(key).await? else {
            return Ok(Outcome::Skipped); // deleted or expired since the scan
        };
        // Already in the target pipeline: the target's dictionary (or none), sealed under
        // the current key if the target seals, not sealed if it does not. (A sealed value's
        // frame is encrypted: its dictionary is checked once opened, below.)
        let header = sniff(&entry.value).ok();
        let same_pipeline = header.is_some_and(|h| Some(h.pipeline) == target.pipeline());
        let same_seal = header.is_some_and(|h| h.seal.map(|s| s.key_id) == current_key);
        let opened = match crate::seal::open(&entry.value, key, global) {
            Ok(o) => o,
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        if same_pipeline && same_seal && satchel::dict_id(&opened) == target.compression().dict_id()
        {
            return Ok(Outcome::Skipped);
        }
        let decoded = match crate::tree::strictly(|| value::decode(&opened, "")) {
            Ok(d) => d,
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        if let Some(why) = decoded.inexact {
            return Ok(Outcome::Failed(format!("{why}; left as it was")));
        }
        if is_session_record(&decoded.value) {
            return Ok(Outcome::Failed(
                "a satchel session record: its values are kept in the session's own format \
                 inside it, so re-encoding the record alone would strand them; sessions read \
                 any pipeline and rewrite the record in their configured one on the next \
                 save. Left as it was"
                    .to_string(),
            ));
        }
        let bytes = match value::encode(target, &decoded.value, key) {
            Ok(b) => b,
            Err(e) => return Ok(Outcome::Failed(format!("cannot encode: {}", chain(&e)))),
        };
        // Never replace a value with bytes that do not read back as the same value.
        match value::decode_with(target, &bytes, key) {
            Ok(back) if back == decoded.value => {}
            Ok(_) => {
                return Ok(Outcome::Failed(format!(
                    "as {target} it would not read back as the same value; left as it was"
                )));
            }
            Err(e) => {
                return Ok(Outcome::Failed(format!(
                    "as {target} it would not read back ({}); left as it was",
                    chain(&e)
                )));
            }
        }
        let ttl = remaining(entry.expires_at);
        if ttl == Some(Duration::ZERO) {
            return Ok(Outcome::Skipped); // expired while we worked
        }
        match store
            .set(key, &bytes, ttl, Condition::IfVersion(entry.version))
            .await
        {
            Ok(_) => return Ok(Outcome::Converted),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome::Failed(format!(
        "changed by another writer {ATTEMPTS} times while converting; run again"
    )))
}

/// Whether `value` has the shape satchel-session stores a session in: exactly
/// `created_ms`, `owner` and a `data` object of encoded values.
fn is_session_record(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(|o| {
        o.len() == 3
            && o.get("created_ms").is_some_and(serde_json::Value::is_i64)
            && o.contains_key("owner")
            && o.get("data").is_some_and(serde_json::Value::is_object)
    })
}

/// Whether a store error concerns one key only (so the run can go on): the store refused
/// or could not read that key's value, as opposed to being unreachable.
pub(crate) fn is_per_key(e: &StoreError) -> bool {
    matches!(
        e.kind(),
        StoreErrorKind::InvalidInput
            | StoreErrorKind::Corrupt
            | StoreErrorKind::Codec
            | StoreErrorKind::NotFound
    )
}

fn report(
    global: &Global,
    target: &DynCodec,
    total: usize,
    converted: u64,
    skipped: u64,
    failed: &[(String, String)],
    interrupted: bool,
) -> CliResult {
    if global.json {
        return print_json(&json!({
            "to": target.to_string(),
            "keys": total,
            "converted": converted,
            "skipped": skipped,
            "failed": failed
                .iter()
                .map(|(k, why)| json!({ "key": k, "error": why }))
                .collect::<Vec<_>>(),
            "interrupted": interrupted,
        }));
    }
    println(format_args!(
        "{total} keys: {converted} converted to {target}, {skipped} skipped (already {target} \
         or gone), {} failed",
        failed.len()
    ))?;
    for (key, why) in failed {
        println(format_args!("failed: {key}: {why}"))?;
    }
    Ok(())
}

/// A flag set by the first Ctrl-C; a second one quits at once.
fn watch_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, before any work, so an early Ctrl-C is never lost.
        if let Ok(mut sigint) = signal(SignalKind::interrupt()) {
            tokio::spawn(async move {
                sigint.recv().await;
                set.store(true, Ordering::SeqCst);
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"\ninterrupted: stopping after the current key (Ctrl-C again to quit now)\n",
                );
                sigint.recv().await;
                std::process::exit(i32::from(code::INTERRUPTED));
            });
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            set.store(true, Ordering::SeqCst);
        }
    });
    flag
}
