//! The production implementations of the NodeCtx seams. This file is the one
//! place allowed to read the OS clock and the OS entropy source; clippy.toml
//! bans those calls everywhere else.

use std::io;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use rand::TryRngCore;
#[allow(clippy::disallowed_types)] // the production entropy seam itself
use rand::rngs::OsRng;
use swarmd_actors::ctx::{Clock, Connection, Dialer, Entropy};

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the production clock seam itself
    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The OS entropy source, read on every call: volumes are small (cookies,
/// backoff jitter), and there is no state to seed or reseed.
pub struct OsEntropy;

#[allow(clippy::disallowed_types)] // the production entropy seam itself
impl Entropy for OsEntropy {
    fn next_u64(&self) -> u64 {
        OsRng.try_next_u64().expect("the OS entropy source failed")
    }

    fn fill_bytes(&self, dest: &mut [u8]) {
        OsRng
            .try_fill_bytes(dest)
            .expect("the OS entropy source failed")
    }
}

/// Plain TCP with `TCP_NODELAY`, as ractor_cluster's own client sets it.
pub struct TcpDialer;

impl Dialer for TcpDialer {
    fn dial(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> BoxFuture<'static, io::Result<Connection>> {
        let target = format!("{host}:{port}");
        Box::pin(async move {
            let connect = tokio::net::TcpStream::connect(&target);
            let stream = tokio::time::timeout(timeout, connect).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {target} timed out after {timeout:?}"),
                )
            })??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Connection)
        })
    }
}
