use ractor_cluster::{BoxRead, BoxWrite, ClusterBidiStream};
use swarmd_actors::ctx::Connection;

/// A connection from the NodeCtx dialer, handed to ractor_cluster as an external stream.
pub struct DialedStream {
    pub connection: Connection,
    pub peer: String,
}

impl ClusterBidiStream for DialedStream {
    fn split(self: Box<Self>) -> (BoxRead, BoxWrite) {
        let (read, write) = tokio::io::split(self.connection);
        (Box::new(read), Box::new(write))
    }

    fn peer_label(&self) -> Option<String> {
        Some(self.peer.clone())
    }
}
