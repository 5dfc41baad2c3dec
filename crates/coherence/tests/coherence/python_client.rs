//! End to end: the real Python `coherence-client` (`tests/py/coherence_e2e.py`) against
//! SQLite, Redis and mutual TLS, with what it wrote read back through satchel's store API;
//! the README's example.

#[allow(unused_imports)]
use super::*;

async fn e2e_against(test: &str, store: Arc<dyn StoreObject>, python: PathBuf, scope: &str) {
    let server = serve(store.clone()).await;
    let readback = unique("readback");
    let env = vec![
        ("SATCHEL_E2E_CACHE".to_string(), unique("e2e")),
        ("SATCHEL_E2E_READBACK_CACHE".to_string(), readback.clone()),
        ("SATCHEL_E2E_SCOPE".to_string(), scope.to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("\nOK all checks passed"), "{test}:\n{out}");
    check_readback(&*store, &out).await;
    // Leave nothing behind in shared stores.
    for k in store
        .scan(&cache_prefix(scope, &readback), 1000)
        .await
        .unwrap()
    {
        store.delete(&k).await.unwrap();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_on_sqlite() {
    const TEST: &str = "python_client_end_to_end_on_sqlite";
    let Some(python) = python(TEST) else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coherence.db").display());
    let store = satchel_store::open(&url).await.unwrap();
    e2e_against(TEST, store, python, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_on_redis() {
    const TEST: &str = "python_client_end_to_end_on_redis";
    let Some(url) = satchel_testkit::store::service_url("SATCHEL_TEST_REDIS_URL", TEST) else {
        return;
    };
    let Some(python) = python(TEST) else { return };
    let store = satchel_store::open(&url).await.unwrap();
    // A scope of its own, so parallel runs never share a namespace.
    e2e_against(TEST, store, python, &unique("scope:redis")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_over_mutual_tls() {
    const TEST: &str = "python_client_end_to_end_over_mutual_tls";
    let Some(python) = python(TEST) else { return };
    let pki = pki();
    let tls = satchel_grpc::ServerTls::from_files(pki.path("server.pem"), pki.path("server.key"))
        .unwrap()
        .with_client_ca_file(pki.path("ca.pem"))
        .unwrap();
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_tls(tls),
    )
    .await;
    let path = |n: &str| pki.path(n).display().to_string();
    let env = vec![
        ("COHERENCE_TLS_CERTS_PATH".to_string(), path("ca.pem")),
        ("COHERENCE_TLS_CLIENT_CERT".to_string(), path("client.pem")),
        ("COHERENCE_TLS_CLIENT_KEY".to_string(), path("client.key")),
        ("SATCHEL_E2E_CACHE".to_string(), unique("tls")),
        // The paging checks are covered in plaintext; keep the TLS run short.
        ("SATCHEL_E2E_PAGING_ENTRIES".to_string(), "450".to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("tls=True"), "{out}");
    check_readback(&*store, &out).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_example_runs() {
    const TEST: &str = "readme_example_runs";
    let Some(python) = python(TEST) else { return };
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve(store.clone()).await;
    let out = run_script(
        python,
        "readme_example.py",
        server.addr.to_string(),
        Vec::new(),
    )
    .await;
    assert_eq!(out.trim(), "{'items': [1, 2], 'note': 'hello'}");
    // What the README ("Using Coherence clients") says satchel keeps.
    let entry = store
        .get("coherence::carts:\"ann\"")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.value,
        b"\x15{\"items\": [1, 2], \"note\": \"hello\"}".to_vec()
    );
    server.stop().await;
}
