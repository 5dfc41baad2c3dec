//! Connections that go quiet are closed: [`IdleIo`] wraps each accepted TCP stream and fails
//! its reads once the peer has sent nothing for the idle timeout. A live HTTP/2 client
//! answers the server's keepalive pings (every 30 seconds), so only silent or dead peers
//! reach it; a TCP connection that never sends the HTTP/2 preface is one of them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// A TCP stream whose reads fail with `TimedOut` after `idle` without a byte from the peer.
pub(crate) struct IdleIo {
    inner: TcpStream,
    idle: Duration,
    /// When the peer last sent a byte.
    last_read: Instant,
    /// Fires no earlier than `last_read + idle`; moved forward only when it fires early,
    /// not on every read (which would update the timer wheel once a read; the saving was
    /// not measured apart from the other changes of the same run).
    deadline: Pin<Box<Sleep>>,
}

impl IdleIo {
    fn new(inner: TcpStream, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            last_read: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.last_read = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => loop {
                if self.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Fired, but the peer sent something since it was set: wait the rest.
                let due = self.last_read + self.idle;
                if due > Instant::now() {
                    self.deadline.as_mut().reset(due);
                    continue;
                }
                tracing::debug!(
                    peer = ?self.inner.peer_addr().ok(),
                    idle = ?self.idle,
                    "closing a connection that sent nothing for the idle timeout"
                );
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing for the idle timeout",
                )));
            },
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for IdleIo {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// The accepted connections, each wrapped in an [`IdleIo`].
pub(crate) struct IdleIncoming {
    inner: TcpIncoming,
    idle: Duration,
}

impl IdleIncoming {
    pub(crate) fn new(inner: TcpIncoming, idle: Duration) -> Self {
        Self { inner, idle }
    }
}

impl Stream for IdleIncoming {
    type Item = io::Result<IdleIo>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let idle = self.idle;
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|next| next.map(|accepted| accepted.map(|tcp| IdleIo::new(tcp, idle))))
    }
}
