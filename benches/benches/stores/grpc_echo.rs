//! The transport's own limit: a bare tonic unary echo of the satchel protocol's `Get` and
//! `Set` messages, served and called the way satchel's server and `GrpcStore` are (a server
//! on a two-worker runtime of its own in its own thread, one client channel with
//! `TCP_NODELAY`, the same value size), so `grpc/*` rows read as a ratio to it.
//!
//! The echo keeps one value: `Set` answers a version, `Get` answers the value. Nothing
//! else runs on either side: no store, no token check, no deadlines, no logging layer.
//! `GrpcStore` is measured against it too (rows `grpc/echo`, `satchel bytes`): satchel's
//! client with a bare server, so the gRPC rows split into the client's cost and the
//! server's.

#[allow(unused_imports)]
use super::*;

use std::net::SocketAddr;

use satchel_grpc::proto::store_client::StoreClient;
use satchel_grpc::proto::store_server::{Store as StoreService, StoreServer};
use satchel_grpc::proto::{self, GetRequest, GetResponse, SetRequest, SetResponse};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// Answers `Get` with the one value and `Set` with a version; every other call
/// `UNIMPLEMENTED`.
struct Echo {
    value: Vec<u8>,
}

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The service: `Get` and `Set` written out, every other call `UNIMPLEMENTED` (generated
/// with the impl, so `async_trait` sees every method).
macro_rules! echo_service {
    ($($name:ident($req:ident) -> $resp:ident;)*) => {
        #[tonic::async_trait]
        impl StoreService for Echo {
            async fn get(&self, _: Request<GetRequest>) -> Reply<GetResponse> {
                Ok(Response::new(GetResponse {
                    entry: Some(proto::Entry {
                        value: self.value.clone(),
                        version: 1,
                        expires_at_ms: None,
                    }),
                }))
            }

            async fn set(&self, request: Request<SetRequest>) -> Reply<SetResponse> {
                Ok(Response::new(SetResponse {
                    version: request.into_inner().value.len() as u64,
                }))
            }

            $(
                async fn $name(&self, _: Request<proto::$req>) -> Reply<proto::$resp> {
                    Err(Status::unimplemented("the echo answers Get and Set only"))
                }
            )*
        }
    };
}

echo_service! {
    delete(DeleteRequest) -> DeleteResponse;
    delete_if(DeleteIfRequest) -> DeleteIfResponse;
    touch(TouchRequest) -> TouchResponse;
    scan(ScanRequest) -> ScanResponse;
    purge_expired(PurgeExpiredRequest) -> PurgeExpiredResponse;
    delete_prefix(DeletePrefixRequest) -> DeletePrefixResponse;
    create_session(CreateSessionRequest) -> CreateSessionResponse;
    open_session(OpenSessionRequest) -> OpenSessionResponse;
    extend_session(ExtendSessionRequest) -> ExtendSessionResponse;
    close_session(CloseSessionRequest) -> CloseSessionResponse;
}

/// The echo server on `127.0.0.1:0`, on a two-worker runtime in a thread of its own (as
/// `satchel_testkit::grpc::serve` runs satchel's); stops when the sender is dropped.
fn serve_echo(bytes: usize) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the echo server");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("loopback port");
            addr_tx
                .send(listener.local_addr().expect("bound address"))
                .expect("bench waits");
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .add_service(StoreServer::new(Echo {
                    value: vec![b'x'; bytes],
                }))
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop_rx.await;
                })
                .await
                .expect("echo server");
        });
        runtime.shutdown_background();
    });
    (addr_rx.recv().expect("echo server started"), stop_tx)
}

/// Bare tonic get/set of `bytes`-byte values at c = 1 and 50, rows with client `tonic echo`.
pub(crate) async fn bench_grpc_echo(settings: &Settings, out: &mut Vec<String>, bytes: usize) {
    let (addr, stop) = serve_echo(bytes);
    let channel: Channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("address")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("echo server reachable");
    let client = StoreClient::new(channel);
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; bytes]);
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("k{i}")).collect());
    for concurrency in [1, 50] {
        let (c, k, v) = (client.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (mut c, k, v) = (c.clone(), k.clone(), v.clone());
            async move {
                let reply = c
                    .set(SetRequest {
                        key: k[i].clone(),
                        value: (*v).clone(),
                        ..Default::default()
                    })
                    .await
                    .expect("echo set");
                assert_eq!(reply.into_inner().version as usize, v.len());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "grpc/echo", "client": "tonic echo", "op": "set", "c": concurrency, "bytes": bytes}),
            &set,
        );
        let (c, k) = (client.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (mut c, k) = (c.clone(), k.clone());
            async move {
                let reply = c
                    .get(GetRequest { key: k[i].clone() })
                    .await
                    .expect("echo get");
                assert_eq!(reply.into_inner().entry.expect("entry").value.len(), bytes);
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "grpc/echo", "client": "tonic echo", "op": "get", "c": concurrency, "bytes": bytes}),
            &get,
        );
    }
    // satchel's client against the bare server: what `GrpcStore` itself costs, apart from
    // satchel's server (the echo ignores keys and deletes, which the bytes bench tolerates).
    let config = satchel_grpc::GrpcConfig::new(addr.to_string());
    match satchel_grpc::GrpcStore::connect(config).await {
        Ok(store) => bench_store_bytes(settings, out, "grpc/echo", Arc::new(store), bytes).await,
        Err(e) => println!(
            "skipped GrpcStore against the echo: {}",
            satchel::Report(&e)
        ),
    }
    drop(stop);
}
