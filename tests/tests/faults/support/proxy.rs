//! A small TCP proxy for fault tests: listens on `127.0.0.1:<ephemeral>`, forwards every
//! connection to one target, and on command
//!
//! - **stalls**: stops moving bytes in both directions (and holds new connections before
//!   connecting them upstream) without closing anything, like a network that silently
//!   drops packets;
//! - **resumes**: moves the held bytes on, in order;
//! - **cuts**: closes every open connection at once with a TCP reset (`SO_LINGER` 0), on
//!   both sides, like a middlebox that forgot them. New connections are still accepted.
//!
//! Everything stops when the [`Proxy`] is dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the connections are told to do.
#[derive(Clone, Copy, Debug, Default)]
struct Control {
    /// Hold every byte (and every new connection) until resumed.
    stalled: bool,
    /// Bumped by a cut: connections opened under an older epoch close.
    epoch: u64,
}

/// A running proxy; dropping it closes the listener and every connection.
#[derive(Debug)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    accepted: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy on `127.0.0.1:0` to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a loopback port");
        let addr = listener.local_addr().expect("proxy address");
        let (control, _) = watch::channel(Control::default());
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept_task = tokio::spawn({
            let control = control.clone();
            let accepted = accepted.clone();
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection(client, target, control.subscribe()));
                }
            }
        });
        Self {
            addr,
            control,
            accepted,
            accept_task,
        }
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops moving bytes, in both directions and on every connection, without closing any.
    pub(crate) fn stall(&self) {
        self.control.send_modify(|c| c.stalled = true);
    }

    /// Moves bytes again, the held ones first.
    pub(crate) fn resume(&self) {
        self.control.send_modify(|c| c.stalled = false);
    }

    /// Resets every connection open now (both sides). Later connections are unaffected.
    pub(crate) fn cut(&self) {
        self.control.send_modify(|c| c.epoch += 1);
    }

    /// How many connections clients have opened through the proxy so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        // Dropping `control` ends every connection task (their receivers see it closed).
    }
}

/// Waits until the connection may move bytes: `false` if it was cut (or the proxy is gone).
async fn open(control: &mut watch::Receiver<Control>, epoch: u64) -> bool {
    loop {
        let now = *control.borrow_and_update();
        if now.epoch != epoch {
            return false;
        }
        if !now.stalled {
            return true;
        }
        if control.changed().await.is_err() {
            return false;
        }
    }
}

/// Completes when the connection is cut (or the proxy is gone).
async fn cut(mut control: watch::Receiver<Control>, epoch: u64) {
    while control.borrow_and_update().epoch == epoch {
        if control.changed().await.is_err() {
            return;
        }
    }
}

async fn connection(client: TcpStream, target: SocketAddr, mut control: watch::Receiver<Control>) {
    let epoch = control.borrow().epoch;
    // A stalled network holds new connections too: the client's connect succeeds (the
    // kernel accepted it) but nothing reaches the server.
    if !open(&mut control, epoch).await {
        reset(&client);
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else {
        reset(&client);
        return;
    };
    for stream in [&client, &server] {
        let _ = stream.set_nodelay(true);
        // Whenever the proxy closes a socket, it resets it.
        reset(stream);
    }
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let both = async {
        tokio::join!(
            pump(client_read, server_write, control.clone(), epoch),
            pump(server_read, client_write, control.clone(), epoch),
        )
    };
    // A cut drops both pumps, and with them the four halves: both sockets reset.
    tokio::select! {
        _ = both => {}
        () = cut(control.clone(), epoch) => {}
    }
}

/// Copies `from` to `to` while the connection is open, holding bytes while stalled, until
/// `from` ends (then `to` is shut down) or the connection is cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut control: watch::Receiver<Control>,
    epoch: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !open(&mut control, epoch).await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        // Bytes read just before a stall are held too.
        if !open(&mut control, epoch).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Makes the socket send a reset instead of a FIN when it is dropped.
fn reset(stream: &TcpStream) {
    // `SO_LINGER` of zero never blocks on drop (only a positive linger does, which is why
    // tokio deprecates the setter); `set_zero_linger` needs tokio 1.50.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
}
