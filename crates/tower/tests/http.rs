//! The example counter app over real HTTP on 127.0.0.1: cookies, restarts on SQLite,
//! damaged records.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use satchel::{Codec, Zstd};
use satchel_store::{Condition, DynStore};
use satchel_tower::SatchelSessionStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tower_sessions::session::Id;

#[path = "../examples/support/counter_app.rs"]
mod counter_app;

/// Every network step of a test is bounded by this.
const STEP: Duration = Duration::from_secs(10);

/// The counter app serving on an ephemeral loopback port.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    async fn start(store: DynStore) -> Self {
        let sessions = SatchelSessionStore::new(store, Codec::msgpack().compress(Zstd));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(counter_app::serve(listener, sessions, async {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    /// Shuts down gracefully and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(());
        timeout(STEP, self.task)
            .await
            .expect("server did not stop in time")
            .expect("server task panicked")
            .expect("server failed");
    }

    /// `GET /`, with `cookie` (`name=value`) if given.
    async fn get(&self, cookie: Option<&str>) -> Response {
        let mut request = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(cookie) = cookie {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        request.push_str("\r\n");
        let exchange = async {
            let mut stream = TcpStream::connect(self.addr).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await?;
            Ok::<_, io::Error>(raw)
        };
        let raw = timeout(STEP, exchange)
            .await
            .expect("request timed out")
            .expect("request failed");
        Response::parse(&raw)
    }
}

/// What the minimal HTTP/1.1 client reads back.
#[derive(Debug)]
struct Response {
    status: u16,
    /// The `name=value` part of the first `Set-Cookie`, if any.
    cookie: Option<String>,
    body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Self {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no end of headers");
        let head = std::str::from_utf8(&raw[..split]).expect("headers are not UTF-8");
        let mut body = raw[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut cookie = None;
        let mut chunked = false;
        for line in lines {
            let (name, value) = line.split_once(':').expect("bad header line");
            let value = value.trim();
            if name.eq_ignore_ascii_case("set-cookie") && cookie.is_none() {
                cookie = Some(value.split(';').next().unwrap().trim().to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                body.truncate(value.parse().unwrap());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        if chunked {
            body = dechunk(&body);
        }
        Self {
            status,
            cookie,
            body: String::from_utf8(body).expect("body is not UTF-8"),
        }
    }

    /// The count the app answered (asserting a 200).
    fn count(&self) -> u64 {
        assert_eq!(self.status, 200, "{self:?}");
        self.body.parse().unwrap_or_else(|_| panic!("{self:?}"))
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("bad chunk");
        let size = std::str::from_utf8(&raw[..eol])
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let size = usize::from_str_radix(size.trim(), 16).expect("bad chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 4 + size..];
    }
}

/// The session id in a `id=…` cookie.
fn session_id(cookie: &str) -> Id {
    let (name, value) = cookie.split_once('=').unwrap();
    assert_eq!(name, "id");
    value.parse().expect("cookie is not a session id")
}

#[tokio::test]
async fn the_cookie_carries_the_count() {
    let server = Server::start(satchel_store::open("memory://").await.unwrap()).await;

    let first = server.get(None).await;
    assert_eq!(first.count(), 1);
    let cookie = first
        .cookie
        .expect("the first answer sets a session cookie");
    assert_eq!(server.get(Some(&cookie)).await.count(), 2);
    assert_eq!(server.get(Some(&cookie)).await.count(), 3);

    let stranger = server.get(None).await;
    assert_eq!(stranger.count(), 1);
    assert_ne!(stranger.cookie.as_deref(), Some(cookie.as_str()));
    assert_eq!(server.get(Some(&cookie)).await.count(), 4);

    server.stop().await;
}

#[tokio::test]
async fn the_session_survives_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sessions.db").display());

    let server = Server::start(satchel_store::open(&url).await.unwrap()).await;
    let first = server.get(None).await;
    assert_eq!(first.count(), 1);
    let cookie = first.cookie.unwrap();
    assert_eq!(server.get(Some(&cookie)).await.count(), 2);
    server.stop().await;

    let server = Server::start(satchel_store::open(&url).await.unwrap()).await;
    assert_eq!(server.get(Some(&cookie)).await.count(), 3);
    assert_eq!(server.get(None).await.count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_corrupt_record_gives_a_fresh_session_and_stays_in_place() {
    let store = satchel_store::open("memory://").await.unwrap();
    let server = Server::start(store.clone()).await;
    let first = server.get(None).await;
    let cookie = first.cookie.clone().unwrap();
    assert_eq!(first.count(), 1);
    assert_eq!(server.get(Some(&cookie)).await.count(), 2);

    // Where the session is kept (under a hash of its id).
    let key = SatchelSessionStore::new(store.clone(), Codec::json()).key(&session_id(&cookie));
    let corrupt = b"\xC1\x21 not a record at all".to_vec();
    store
        .set(&key, &corrupt, None, Condition::Always)
        .await
        .unwrap();

    let fresh = server.get(Some(&cookie)).await;
    assert_eq!(fresh.count(), 1);
    let new_cookie = fresh
        .cookie
        .clone()
        .expect("a fresh session gets a new cookie");
    assert_ne!(session_id(&new_cookie), session_id(&cookie));
    assert_eq!(store.get(&key).await.unwrap().unwrap().value, corrupt);

    assert_eq!(server.get(Some(&new_cookie)).await.count(), 2);
    server.stop().await;
}
