//! A stored session record of arbitrary bytes (behind a valid header, so the fuzzer spends
//! its time in the record decoder): `Sessions::connect` and reading every value give
//! errors only, never a panic.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use satchel::DynCodec;
use satchel_session::{SessionConfig, SessionId, Sessions};
use satchel_store::{Condition, MemoryStore, Store};

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
});
static ID: LazyLock<SessionId> = LazyLock::new(|| SessionId::generate().expect("random id"));

const SPECS: [&str; 3] = ["json", "msgpack", "bincode"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let codec: DynCodec = SPECS[usize::from(which) % 3].parse().expect("compiled in");
    // The codec's own header (first two bytes of any value it writes), then the fuzz data.
    let mut stored = codec.encode(&()).expect("encodes")[..2].to_vec();
    stored.extend_from_slice(rest);
    RUNTIME.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let sessions = Sessions::new(store.clone(), codec, SessionConfig::default());
        let key = format!("session:{}", ID.as_str());
        store
            .set(&key, &stored, None, Condition::Always)
            .await
            .expect("memory store");
        if let Ok(session) = sessions.connect(ID.as_str()).await {
            for k in session.keys().collect::<Vec<_>>() {
                let _ = session.get::<serde_json::Value>(k);
                let _ = session.get::<String>(k);
                let _ = session.get::<u64>(k);
            }
        }
    });
});
