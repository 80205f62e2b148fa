//! SimNet: the network between simulated nodes, in memory and in virtual
//! time. Each link is a pair of byte pipes; every write is delivered after a
//! seeded latency plus jitter, in order (TCP keeps FIFO per direction).
//! Faults: a seeded reset rate per write, partitions between node pairs
//! (links across the cut reset, dials refused until healed), and crashes
//! (a node's links reset and its listener gone until it listens again).
//!
//! Nodes dial through [`SimDialer`], the simulated side of the NodeCtx
//! `Dialer` seam; a listener hands the accepted end to the node server.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_actors::ctx::{Connection, Dialer, Entropy};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use swarmd_sim_node::node_pair;

/// Bytes in flight one way on one link, at most; a writer beyond waits.
const PIPE_CAPACITY: usize = 4 << 20;

/// Hands an accepted connection to the listening node.
pub type Accept = Arc<dyn Fn(Connection) + Send + Sync>;

#[derive(Debug, Clone, Copy)]
pub struct NetFaults {
    pub latency: Duration,
    /// Up to this much more, seeded per write.
    pub jitter: Duration,
    /// Per write, in parts per million: the link resets.
    pub reset_ppm: u64,
}

impl Default for NetFaults {
    fn default() -> Self {
        Self {
            latency: Duration::from_micros(500),
            jitter: Duration::from_millis(5),
            reset_ppm: 0,
        }
    }
}

pub struct SimNet {
    state: Mutex<NetState>,
    entropy: Arc<dyn Entropy>,
    faults: NetFaults,
}

#[derive(Default)]
struct NetState {
    /// `host:port` -> (node, accept).
    listeners: BTreeMap<String, (String, Accept)>,
    links: BTreeMap<u64, Link>,
    next_link: u64,
    /// Node pairs that cannot reach each other, smaller name first.
    cut: BTreeSet<(String, String)>,
    /// Node pairs whose links carry every write this much later.
    slow: BTreeMap<(String, String), Duration>,
    resets: u64,
}

struct Link {
    ends: (String, String),
    /// a -> b and b -> a.
    pipes: (Arc<Mutex<Pipe>>, Arc<Mutex<Pipe>>),
}

#[derive(Default)]
struct Pipe {
    queue: VecDeque<(Instant, Vec<u8>)>,
    queued_bytes: usize,
    /// The front chunk's bytes already read.
    read_offset: usize,
    closed: bool,
    last_due: Option<Instant>,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn close(&mut self) {
        self.closed = true;
        self.queue.clear();
        self.queued_bytes = 0;
        wake(&mut self.reader);
        wake(&mut self.writer);
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(w) = waker.take() {
        w.wake();
    }
}

impl SimNet {
    pub fn new(entropy: Arc<dyn Entropy>, faults: NetFaults) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(NetState::default()),
            entropy,
            faults,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `node` accepts connections to `addr` from now on.
    pub fn listen(&self, addr: &str, node: &str, accept: Accept) {
        self.state()
            .listeners
            .insert(addr.into(), (node.into(), accept));
    }

    /// `node`'s side of the dialer seam.
    pub fn dialer(self: &Arc<Self>, node: &str) -> SimDialer {
        SimDialer {
            net: self.clone(),
            node: node.into(),
        }
    }

    /// `a` and `b` can no longer reach each other; their links reset.
    pub fn partition(&self, a: &str, b: &str) {
        let mut state = self.state();
        state.cut.insert(node_pair(a, b));
        let crossing: Vec<u64> = state
            .links
            .iter()
            .filter(|(_, l)| node_pair(&l.ends.0, &l.ends.1) == node_pair(a, b))
            .map(|(id, _)| *id)
            .collect();
        for id in crossing {
            state.reset(id);
        }
    }

    /// Every write between `a` and `b` arrives `extra` later than it would
    /// (FIFO still holds); `Duration::ZERO` ends it. A link this slow
    /// carries messages a node sent before it was deposed past its
    /// successor's.
    pub fn slow(&self, a: &str, b: &str, extra: Duration) {
        let mut state = self.state();
        if extra.is_zero() {
            state.slow.remove(&node_pair(a, b));
        } else {
            state.slow.insert(node_pair(a, b), extra);
        }
    }

    /// Every link at its usual speed again.
    pub fn slow_none(&self) {
        self.state().slow.clear();
    }

    /// How much later than usual a write on `link` arrives.
    fn extra_delay(&self, link: u64) -> Duration {
        let state = self.state();
        if state.slow.is_empty() {
            return Duration::ZERO;
        }
        let Some(ends) = state.links.get(&link).map(|l| &l.ends) else {
            return Duration::ZERO;
        };
        let pair = node_pair(&ends.0, &ends.1);
        state.slow.get(&pair).copied().unwrap_or_default()
    }

    pub fn heal(&self, a: &str, b: &str) {
        self.state().cut.remove(&node_pair(a, b));
    }

    /// `node` is gone: its links reset and nothing reaches its listeners.
    pub fn crash(&self, node: &str) {
        let mut state = self.state();
        state.listeners.retain(|_, (n, _)| n != node);
        let its: Vec<u64> = state
            .links
            .iter()
            .filter(|(_, l)| l.ends.0 == node || l.ends.1 == node)
            .map(|(id, _)| *id)
            .collect();
        for id in its {
            state.reset(id);
        }
    }

    /// Links reset so far, by faults of any kind.
    pub fn resets(&self) -> u64 {
        self.state().resets
    }

    fn connect(self: &Arc<Self>, from: &str, addr: &str) -> io::Result<Connection> {
        let mut state = self.state();
        let Some((to, accept)) = state.listeners.get(addr).cloned() else {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("nothing listens on {addr}"),
            ));
        };
        if state.cut.contains(&node_pair(from, &to)) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("{from} is cut off from {to}"),
            ));
        }
        let id = state.next_link;
        state.next_link += 1;
        let pipes = (Arc::default(), Arc::default());
        let end = |read: &Arc<Mutex<Pipe>>, write: &Arc<Mutex<Pipe>>| SimStream {
            net: self.clone(),
            link: id,
            read: read.clone(),
            write: write.clone(),
            sleep: None,
        };
        let client = end(&pipes.1, &pipes.0);
        let server = end(&pipes.0, &pipes.1);
        state.links.insert(
            id,
            Link {
                ends: (from.into(), to),
                pipes,
            },
        );
        drop(state);
        accept(Box::new(server));
        Ok(Box::new(client))
    }

    /// When a write of now is due at the other end.
    fn due(&self, pipe: &Pipe, extra: Duration) -> Instant {
        let jitter_us = self.faults.jitter.as_micros() as u64;
        let jitter = Duration::from_micros(self.entropy.next_u64() % (jitter_us + 1));
        let due = Instant::now() + self.faults.latency + jitter + extra;
        pipe.last_due.map_or(due, |last| due.max(last))
    }

    fn roll_reset(&self) -> bool {
        self.faults.reset_ppm > 0 && self.entropy.next_u64() % 1_000_000 < self.faults.reset_ppm
    }

    fn reset(&self, link: u64) {
        self.state().reset(link);
    }
}

impl NetState {
    fn reset(&mut self, id: u64) {
        if let Some(link) = self.links.remove(&id) {
            self.resets += 1;
            for pipe in [&link.pipes.0, &link.pipes.1] {
                pipe.lock().unwrap_or_else(PoisonError::into_inner).close();
            }
        }
    }
}

pub struct SimDialer {
    net: Arc<SimNet>,
    node: String,
}

impl Dialer for SimDialer {
    fn dial(
        &self,
        host: &str,
        port: u16,
        _: Duration,
    ) -> BoxFuture<'static, io::Result<Connection>> {
        let connected = self.net.connect(&self.node, &format!("{host}:{port}"));
        let latency = self.net.faults.latency;
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            connected
        })
    }
}

/// One end of a link.
struct SimStream {
    net: Arc<SimNet>,
    link: u64,
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

fn lock(pipe: &Mutex<Pipe>) -> std::sync::MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AsyncRead for SimStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let due = {
                let mut pipe = lock(&self.read);
                match pipe.queue.front().map(|(due, _)| *due) {
                    Some(due) if due <= Instant::now() => {
                        take_front(&mut pipe, buf);
                        return Poll::Ready(Ok(()));
                    }
                    Some(due) => due,
                    None if pipe.closed => return Poll::Ready(Ok(())),
                    None => {
                        pipe.reader = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            sleep.as_mut().reset(due);
            if sleep.as_mut().poll(cx).is_pending() {
                lock(&self.read).reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
    }
}

/// Copies what fits of the front chunk into `buf`.
fn take_front(pipe: &mut Pipe, buf: &mut ReadBuf<'_>) {
    let offset = pipe.read_offset;
    let (_, chunk) = pipe.queue.front().expect("a front chunk");
    let n = buf.remaining().min(chunk.len() - offset);
    buf.put_slice(&chunk[offset..offset + n]);
    if offset + n == chunk.len() {
        let (_, chunk) = pipe.queue.pop_front().expect("a front chunk");
        pipe.queued_bytes -= chunk.len();
        pipe.read_offset = 0;
        wake(&mut pipe.writer);
    } else {
        pipe.read_offset += n;
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.net.roll_reset() {
            self.net.reset(self.link);
        }
        // Read before the pipe's lock: the net's lock is never taken under it.
        let extra = self.net.extra_delay(self.link);
        let mut pipe = lock(&self.write);
        if pipe.closed {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if pipe.queued_bytes >= PIPE_CAPACITY {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let due = self.net.due(&pipe, extra);
        pipe.last_due = Some(due);
        pipe.queued_bytes += data.len();
        pipe.queue.push_back((due, data.to_vec()));
        wake(&mut pipe.reader);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// A shutdown resets the link: what is still in flight is lost, as with a
    /// TCP reset. ractor_cluster shuts a session down only when it is done.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.net.reset(self.link);
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.net.reset(self.link);
    }
}
