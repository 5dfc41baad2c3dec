//! An in-process satchel gRPC server on an ephemeral loopback port, for tests.
//!
//! The server runs on a runtime of its own, in its own thread, so that
//! [`TestServer::kill`] can drop it the way a crash would: every connection cut at once,
//! nothing flushed, no goodbye to the clients.

use std::net::SocketAddr;
use std::sync::Arc;

use satchel_grpc::{ServeError, Server, ServerConfig};
use satchel_store::StoreObject;
use tokio::sync::oneshot;

/// A running server; dropping it shuts it down gracefully without waiting.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens (`127.0.0.1:<ephemeral>`).
    pub addr: SocketAddr,
    /// `grpc://127.0.0.1:<port>`, for `satchel_store::open`.
    pub url: String,
    /// `true`: stop gracefully; `false`: crash.
    control: Option<oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

/// Serves `store` with the default config on `127.0.0.1:0`.
///
/// # Panics
/// If no loopback port can be bound.
pub async fn serve(store: Arc<dyn StoreObject>) -> TestServer {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    serve_on(store, ServerConfig::new(any), any).await
}

/// Serves `store` with `config` on `127.0.0.1:0` (the config's address is replaced).
///
/// # Panics
/// If no loopback port can be bound.
pub async fn serve_with(store: Arc<dyn StoreObject>, config: ServerConfig) -> TestServer {
    serve_on(
        store,
        config,
        "127.0.0.1:0".parse().expect("loopback address"),
    )
    .await
}

/// Serves `store` on `listen` (port 0: any), e.g. to restart where a killed server was.
///
/// # Panics
/// If the address cannot be bound.
pub async fn serve_on(
    store: Arc<dyn StoreObject>,
    config: ServerConfig,
    listen: SocketAddr,
) -> TestServer {
    let config = config.with_listen(listen);
    let (ready_tx, ready_rx) = oneshot::channel::<Result<SocketAddr, ServeError>>();
    let (control_tx, control_rx) = oneshot::channel::<bool>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the test server");
        let result = runtime.block_on(async move {
            let bound = match Server::new(store, config).bind().await {
                Ok(bound) => bound,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return Ok(());
                }
            };
            let _ = ready_tx.send(Ok(bound.local_addr()));
            let (graceful_tx, graceful_rx) = oneshot::channel::<()>();
            let serving = tokio::spawn(bound.serve_with_shutdown(async move {
                let _ = graceful_rx.await;
            }));
            match control_rx.await {
                // A crash: leave everything running for shutdown_background to drop.
                Ok(false) => Ok(()),
                _ => {
                    let _ = graceful_tx.send(());
                    serving.await.expect("server task")
                }
            }
        });
        runtime.shutdown_background();
        result
    });
    let addr = ready_rx
        .await
        .expect("server thread")
        .unwrap_or_else(|e| panic!("test server cannot bind {listen}: {e}"));
    TestServer {
        addr,
        url: format!("grpc://{addr}"),
        control: Some(control_tx),
        thread: Some(thread),
    }
}

impl TestServer {
    /// Shuts the server down gracefully (requests in flight finish) and waits for it.
    ///
    /// # Panics
    /// If the server failed while running.
    pub async fn stop(mut self) {
        self.finish(true).await;
    }

    /// Drops the server at once, connections and requests in flight with it (a crash),
    /// and waits until its port is free.
    ///
    /// # Panics
    /// If the server failed while running.
    pub async fn kill(mut self) {
        self.finish(false).await;
    }

    async fn finish(&mut self, graceful: bool) {
        if let Some(control) = self.control.take() {
            let _ = control.send(graceful);
        }
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("join task")
                .expect("server thread")
                .expect("server ran cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(control) = self.control.take() {
            let _ = control.send(true);
        }
    }
}
