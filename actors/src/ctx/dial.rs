use std::io;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream, whatever carries it (TCP, TLS, or the simulator's links).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type Connection = Box<dyn Stream>;

/// Outbound connections. Nothing in actor code opens a socket itself.
pub trait Dialer: Send + Sync + 'static {
    /// Connects to `host:port`, giving up after `timeout`.
    fn dial(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> BoxFuture<'static, io::Result<Connection>>;
}
