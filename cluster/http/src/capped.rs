//! Mission Control's listener with a cap on open connections: beyond the
//! cap a new connection is closed as soon as it is accepted (counted, and
//! logged at powers of two), so a flood of sockets cannot take the node's
//! descriptors. Each accepted connection holds a permit until it closes,
//! and one that sends nothing within [`FIRST_BYTE_WITHIN`] is closed, so
//! silent sockets cannot hold the cap for ever.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Duration, Sleep};
use tracing::warn;

/// How long a new connection may stay silent before it is closed.
pub const FIRST_BYTE_WITHIN: Duration = Duration::from_secs(10);

pub struct CappedListener {
    inner: TcpListener,
    open: Arc<Semaphore>,
    cap: usize,
    refused: u64,
}

impl CappedListener {
    pub fn new(inner: TcpListener, cap: usize) -> Self {
        Self {
            inner,
            open: Arc::new(Semaphore::new(cap)),
            cap,
            refused: 0,
        }
    }
}

/// The client's address, as handlers see it (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, CappedListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, CappedListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Listener for CappedListener {
    type Io = PermittedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (PermittedStream, SocketAddr) {
        loop {
            let (stream, addr) = Listener::accept(&mut self.inner).await;
            match self.open.clone().try_acquire_owned() {
                Ok(permit) => {
                    return (
                        PermittedStream {
                            stream,
                            silent_until: Some(Box::pin(tokio::time::sleep(FIRST_BYTE_WITHIN))),
                            _permit: permit,
                        },
                        addr,
                    );
                }
                Err(_) => {
                    self.refused += 1;
                    if self.refused.is_power_of_two() {
                        warn!(
                            cap = self.cap,
                            refused = self.refused,
                            "Mission Control connection refused: too many open"
                        );
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection and its place under the cap.
pub struct PermittedStream {
    stream: TcpStream,
    /// Until the first bytes arrive: when the connection is closed.
    silent_until: Option<Pin<Box<Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for PermittedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if read.is_ready() {
            if buf.filled().len() > before {
                self.silent_until = None;
            }
            return read;
        }
        match self.silent_until.as_mut().map(|s| s.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no request within the first-byte deadline",
            ))),
            _ => Poll::Pending,
        }
    }
}

impl AsyncWrite for PermittedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
