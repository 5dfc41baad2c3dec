//! Who gets in: the endpoint behind the bearer token (or the client certificate under
//! mutual TLS), open only when the operator allows it; extensions mounted guarded.

#[allow(unused_imports)]
use super::*;

fn with_token(request: impl tonic::IntoRequest<cp::PutRequest>) -> tonic::Request<cp::PutRequest> {
    let mut request = request.into_request();
    request
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    request
}

fn protection_of(server: &satchel_grpc::BoundServer, name: &str) -> Protection {
    server
        .services()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is not served"))
        .protection
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_the_coherence_endpoint_is_no_side_door_when_a_token_is_set() {
    // It used to be mounted open: a client without the token could put, read, clear and
    // destroy caches. Now it is behind the token unless mutual TLS or the operator says
    // otherwise.
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_token("s3cret");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::Token
    );
    assert_eq!(
        protection_of(&bound, "satchel.store.v1.Store"),
        Protection::Token
    );
    drop(bound);

    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(store.clone(), config).await;
    let mut c = client(&server).await;
    let r = c.put(put("k", "v", 0)).await;
    expect_code("a put without the token", r, Code::Unauthenticated, "token").await;
    let r = c
        .clear(cp::ClearRequest {
            scope: String::new(),
            cache: CACHE.into(),
        })
        .await;
    expect_code(
        "a clear without the token",
        r,
        Code::Unauthenticated,
        "token",
    )
    .await;
    assert!(
        store.scan("coherence:", 10).await.unwrap().is_empty(),
        "nothing was written"
    );
    // With the token, it works.
    c.put(with_token(put("k", "v", 0))).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coherence_endpoint_is_open_with_a_token_only_when_the_operator_allows_it() {
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
        .with_token("s3cret")
        .allow_open_service("coherence.NamedCacheService");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::OpenByChoice
    );
    drop(bound);
    let server = serve_with(Arc::new(MemoryStore::new()), config).await;
    let mut c = client(&server).await;
    c.put(put("k", "v", 0)).await.unwrap();
    assert_eq!(get_value(&mut c, "k").await, Some("v".into()));
    // satchel's own service still requires the token.
    let mut own =
        satchel_grpc::proto::store_client::StoreClient::connect(format!("http://{}", server.addr))
            .await
            .unwrap();
    let r = own
        .get(satchel_grpc::proto::GetRequest { key: "k".into() })
        .await;
    assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_the_python_client_without_the_token_is_refused() {
    const TEST: &str = "regression_the_python_client_without_the_token_is_refused";
    let Some(python) = python(TEST) else { return };
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_token("s3cret"),
    )
    .await;
    let (status, out, err) = run_script_status(
        python,
        "readme_example.py",
        server.addr.to_string(),
        Vec::new(),
    )
    .await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "the client without the token was let in ({status:?}):\n{out}\n{err}"
    );
    // The refusal is UNAUTHENTICATED. The client opens its events stream first and writes
    // to it at once; when the refusal (a trailers-only response) arrives before that write
    // leaves, grpc-core fails the write and reports the call as INTERNAL "Internal error
    // from Core" instead: a race inside the client, seen about once in fifty runs.
    let refused = err.contains("UNAUTHENTICATED")
        || (err.contains("_ensure_stream") && err.contains("Internal error from Core"));
    assert!(refused, "not refused for want of credentials:\n{err}");
    assert!(
        store.scan("coherence:", 10).await.unwrap().is_empty(),
        "nothing was written"
    );
    // The same call without the race: the server's answer is UNAUTHENTICATED.
    let refusal = client(&server)
        .await
        .size(cp::SizeRequest {
            cache: "carts".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refusal.code(), Code::Unauthenticated, "{refusal:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_with_a_token_set_gets_in_by_its_client_certificate() {
    const TEST: &str = "python_client_with_a_token_set_gets_in_by_its_client_certificate";
    let Some(python) = python(TEST) else { return };
    let pki = pki();
    let tls = satchel_grpc::ServerTls::from_files(pki.path("server.pem"), pki.path("server.key"))
        .unwrap()
        .with_client_ca_file(pki.path("ca.pem"))
        .unwrap();
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
        .with_tls(tls)
        .with_token("s3cret");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::ClientCertificate
    );
    drop(bound);
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(store.clone(), config).await;
    let path = |n: &str| pki.path(n).display().to_string();
    let env = vec![
        ("COHERENCE_TLS_CERTS_PATH".to_string(), path("ca.pem")),
        ("COHERENCE_TLS_CLIENT_CERT".to_string(), path("client.pem")),
        ("COHERENCE_TLS_CLIENT_KEY".to_string(), path("client.key")),
        ("SATCHEL_E2E_CACHE".to_string(), unique("tls-token")),
        ("SATCHEL_E2E_PAGING_ENTRIES".to_string(), "450".to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("tls=True"), "{out}");
    check_readback(&*store, &out).await;
    server.stop().await;
}

/// The same service mounted with `Mount::add_service` instead: behind the server's token,
/// like `satchel.store.v1.Store`.
struct GuardedCoherence;

impl satchel_grpc::Extension for GuardedCoherence {
    fn name(&self) -> &str {
        "guarded-coherence"
    }

    fn mount(&self, mount: &mut satchel_grpc::Mount<'_>) {
        let service = satchel_coherence::CoherenceService::new(mount.store().clone());
        mount.add_service(service.into_server());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_mounted_guarded_needs_the_bearer_token() {
    let server = satchel_testkit::grpc::serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_token("s3cret")
            .with_extension(GuardedCoherence),
    )
    .await;
    let mut c = client(&server).await;
    let r = c.put(put("k", "v", 0)).await;
    expect_code(
        "a call without the token",
        r,
        Code::Unauthenticated,
        "token",
    )
    .await;
    let mut with_token = tonic::Request::new(put("k", "v", 0));
    with_token
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert_eq!(c.put(with_token).await.unwrap().into_inner(), none());
    let mut read = tonic::Request::new(get("k"));
    read.metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(c.get(read).await.unwrap().into_inner().present);
    server.stop().await;
}
