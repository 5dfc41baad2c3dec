//! TLS, mutual TLS and tokens: who reaches the server, and what it never echoes.

#[allow(unused_imports)]
use super::*;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// CA 1 signs the server's certificate (for `localhost` and 127.0.0.1) and a client
/// certificate; CA 2, which the server does not trust, signs another client certificate.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let (ca1, issuer1) = new_ca("satchel test CA 1");
    let (ca2, issuer2) = new_ca("satchel test CA 2");
    let (server_cert, server_key) = leaf(&issuer1, &["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&issuer1, &["client.test"]);
    let (rogue_cert, rogue_key) = leaf(&issuer2, &["rogue.test"]);
    for (name, pem) in [
        ("ca1.pem", ca1),
        ("ca2.pem", ca2),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
        ("rogue.pem", rogue_cert),
        ("rogue.key", rogue_key),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    Pki { dir }
}

fn server_tls(pki: &Pki, mutual: bool) -> ServerTls {
    let tls = ServerTls::from_files(pki.path("server.pem"), pki.path("server.key")).unwrap();
    if mutual {
        tls.with_client_ca_file(pki.path("ca1.pem")).unwrap()
    } else {
        tls
    }
}

async fn write_read(store: &GrpcStore) -> Result<()> {
    store.set("tls-k", b"v", None, Condition::Always).await?;
    assert_eq!(store.get("tls-k").await?.unwrap().value, b"v");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_is_reached_with_its_ca_and_only_over_tls() {
    let pki = pki();
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_tls(server_tls(&pki, false)),
    )
    .await;
    let tls = client_config(&server).with_tls(ClientTls::new(pki.path("ca1.pem")));
    write_read(&GrpcStore::connect(tls).await.unwrap())
        .await
        .unwrap();

    // The same through a URL.
    let url = format!(
        "grpcs://{}?ca={}&timeout=5s",
        server.addr,
        pki.path("ca1.pem").display()
    );
    write_read(&GrpcStore::open(&url).await.unwrap())
        .await
        .unwrap();

    // A CA that did not sign the server's certificate: refused.
    let wrong = client_config(&server).with_tls(ClientTls::new(pki.path("ca2.pem")));
    assert_refused(GrpcStore::connect(wrong).await).await;

    // Plain text to a TLS port: refused.
    assert_refused(GrpcStore::connect(client_config(&server)).await).await;
    server.stop().await;
}

/// A refused TLS handshake shows up at connect, or at the first call for a lazily
/// established connection: either way as `Unavailable`, never as success.
async fn assert_refused(connected: Result<GrpcStore>) {
    match connected {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}"),
        Ok(store) => {
            let e = write_read(&store).await.unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    StoreErrorKind::Unavailable | StoreErrorKind::Backend
                ),
                "{e:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_clients_without_a_certificate_from_its_ca() {
    let pki = pki();
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_tls(server_tls(&pki, true)),
    )
    .await;
    let ca = || ClientTls::new(pki.path("ca1.pem"));

    let good = client_config(&server)
        .with_tls(ca().with_identity(pki.path("client.pem"), pki.path("client.key")));
    write_read(&GrpcStore::connect(good).await.unwrap())
        .await
        .unwrap();

    let no_cert = client_config(&server).with_tls(ca());
    assert_refused(GrpcStore::connect(no_cert).await).await;

    let rogue = client_config(&server)
        .with_tls(ca().with_identity(pki.path("rogue.pem"), pki.path("rogue.key")));
    assert_refused(GrpcStore::connect(rogue).await).await;

    // The environment's way: TLS on when all three SATCHEL_TLS_* are set. (Checked
    // through the URL form here so the test does not change the process environment.)
    let url = format!(
        "grpcs://{}?ca={}&cert={}&key={}",
        server.addr,
        pki.path("ca1.pem").display(),
        pki.path("client.pem").display(),
        pki.path("client.key").display()
    );
    write_read(&GrpcStore::open(&url).await.unwrap())
        .await
        .unwrap();

    // A missing certificate file is named.
    let missing = client_config(&server).with_tls(ClientTls::new(pki.path("nope.pem")));
    let e = GrpcStore::connect(missing).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidInput);
    assert!(e.to_string().contains("nope.pem"), "{e}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Tokens

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured_and_never_echoed() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_token("open-sesame"),
    )
    .await;
    let anonymous = GrpcStore::connect(client_config(&server)).await.unwrap();
    let e = anonymous.get("k").await.unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");
    let wrong = GrpcStore::connect(client_config(&server).with_token("guess"))
        .await
        .unwrap();
    let e = wrong.get("k").await.unwrap_err();
    assert!(!format!("{e} {e:?}").contains("open-sesame"), "{e:?}");

    let good = GrpcStore::connect(client_config(&server).with_token("open-sesame"))
        .await
        .unwrap();
    good.set("k", b"v", None, Condition::Always).await.unwrap();
    assert!(!format!("{good:?}").contains("open-sesame"));

    // The URL form: grpc://:token@host:port.
    let by_url = GrpcStore::open(&format!("grpc://:open-sesame@{}", server.addr))
        .await
        .unwrap();
    assert_eq!(by_url.get("k").await.unwrap().unwrap().value, b"v");
    server.stop().await;
}
