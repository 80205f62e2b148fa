//! Messages refused on one channel: each kind of reason
//! journaled once (a body stuck sending a bad frame at 50 Hz must not fill
//! the ledger), the node's log told every time at debug.

use std::collections::BTreeSet;
use std::sync::Mutex;

use swarmd_messages::DomainAct;
use tracing::debug;

use super::link::Link;
use super::protocol::{Channel, Refused, bounded};

/// How much of a refused message the journal keeps, in bytes.
const DETAIL_BYTES: usize = 256;

pub struct Rejections {
    link: Link,
    channel: Channel,
    journaled: Mutex<BTreeSet<&'static str>>,
}

impl Rejections {
    pub fn new(link: Link, channel: Channel) -> Self {
        Self {
            link,
            channel,
            journaled: Mutex::default(),
        }
    }

    pub fn refuse(&self, why: &Refused, bytes: &[u8]) {
        debug!(agent = %self.link.agent, channel = self.channel.name(), %why, "refused");
        let first = {
            let mut journaled = self.journaled.lock().unwrap_or_else(|p| p.into_inner());
            journaled.insert(reason(why))
        };
        if first {
            let text = String::from_utf8_lossy(bytes);
            let act = DomainAct::Rejected {
                channel: self.channel.name().into(),
                why: why.to_string(),
            };
            self.link.record(act, bounded(&text, DETAIL_BYTES));
        }
    }
}

fn reason(why: &Refused) -> &'static str {
    match why {
        Refused::TooBig(_) => "too big",
        Refused::Malformed(_) => "malformed",
        Refused::Version(_) => "version",
        Refused::WrongAgent { .. } => "wrong agent",
        Refused::Domain(_) => "domain",
    }
}
