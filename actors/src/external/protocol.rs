//! The agent protocol's messages and keys (PROTOCOL.md, beside this file,
//! is the reference). Every message is one JSON object carrying the
//! protocol version, the agent, a sequence number and, where there is one,
//! the W3C trace context; the domain's values ride inside as its JSON.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this runtime speaks. A message of another is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest message accepted or sent, in bytes; a larger one is refused.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How much of a brain's answer the journal keeps, in bytes.
pub const MAX_JOURNALED_ANSWER: usize = 1024;

/// The four channels of one agent, under `swarmd/<tenant>/agent/<agent>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Body → runtime: what the body senses.
    Percept,
    /// Runtime → body: what the reflex lets the body do.
    Command,
    /// Runtime → brain: what the agent knows and the task in hand.
    Situation,
    /// Brain → runtime: the decision for one situation.
    Intent,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Percept => "percept",
            Channel::Command => "command",
            Channel::Situation => "situation",
            Channel::Intent => "intent",
        }
    }
}

/// The key of `agent`'s `channel`.
pub fn key(tenant: &str, agent: &str, channel: Channel) -> String {
    format!("swarmd/{tenant}/agent/{agent}/{}", channel.name())
}

/// Body → runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerceptMsg<P> {
    pub v: u32,
    pub agent: String,
    pub seq: u64,
    /// Who the body is (`driver@host`), for the journal.
    #[serde(default)]
    pub from: Option<String>,
    pub percept: P,
}

/// Runtime → body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandMsg<C> {
    pub v: u32,
    pub agent: String,
    pub seq: u64,
    /// The newest percept's `seq` when the command was given: a body
    /// measures its round trip by it.
    pub after: u64,
    pub command: C,
}

/// The task in hand, as the brain sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// `MISSION/TASK`.
    pub id: String,
    pub kind: String,
    pub task: Value,
}

/// Runtime → brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SituationMsg<S> {
    pub v: u32,
    pub agent: String,
    pub seq: u64,
    pub summary: S,
    pub task: Option<TaskView>,
    /// The answer must arrive within this many ms, or the fallback acts.
    pub deadline_ms: u64,
    #[serde(default)]
    pub trace: Option<String>,
}

/// What a brain decided: `{"go": INTENT}`, `{"done": null}` or `{"failed": "why"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision<I> {
    Go(I),
    Done(Option<()>),
    Failed(String),
}

/// Brain → runtime: the answer to the situation of the same `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentMsg<I> {
    pub v: u32,
    pub agent: String,
    pub seq: u64,
    pub plan: I,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub prompt_hash: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("message of {0} bytes, over the limit of {MAX_MESSAGE_BYTES}")]
    TooBig(usize),
    #[error("not a protocol message: {0}")]
    Malformed(String),
    #[error("protocol version {0}, this runtime speaks {PROTOCOL_VERSION}")]
    Version(u32),
    #[error("message for agent {got:?} on agent {want:?}'s key")]
    WrongAgent { got: String, want: String },
    #[error("the domain cannot read it: {0}")]
    Domain(String),
}

/// The fields every message has, read before the rest.
#[derive(Deserialize)]
struct Head {
    v: u32,
    agent: String,
}

/// `bytes` as a `T` addressed to `agent`, checked in order: size, shape,
/// version, agent, then the domain's types.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], agent: &str) -> Result<T, Refused> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Refused::TooBig(bytes.len()));
    }
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| Refused::Malformed(e.to_string()))?;
    if head.v != PROTOCOL_VERSION {
        return Err(Refused::Version(head.v));
    }
    if head.agent != agent {
        return Err(Refused::WrongAgent {
            got: head.agent,
            want: agent.to_string(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| Refused::Domain(e.to_string()))
}

/// `message` as bytes, unless it is over the limit.
pub fn encode<T: Serialize>(message: &T) -> Option<Vec<u8>> {
    let bytes = serde_json::to_vec(message).ok()?;
    (bytes.len() <= MAX_MESSAGE_BYTES).then_some(bytes)
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_size_shape_version_agent_then_type() {
        let ok = br#"{"v":1,"agent":"d1","seq":3,"percept":5}"#;
        let m: PerceptMsg<u32> = decode(ok, "d1").unwrap();
        assert_eq!((m.seq, m.percept, m.from), (3, 5, None));
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            decode::<PerceptMsg<u32>>(&big, "d1"),
            Err(Refused::TooBig(MAX_MESSAGE_BYTES + 1))
        );
        assert!(matches!(
            decode::<PerceptMsg<u32>>(b"{not json", "d1"),
            Err(Refused::Malformed(_))
        ));
        let v2 = br#"{"v":2,"agent":"d1","seq":3,"percept":"anything"}"#;
        assert_eq!(
            decode::<PerceptMsg<u32>>(v2, "d1"),
            Err(Refused::Version(2))
        );
        assert!(matches!(
            decode::<PerceptMsg<u32>>(ok, "d2"),
            Err(Refused::WrongAgent { .. })
        ));
        let wrong = br#"{"v":1,"agent":"d1","seq":3,"percept":"five"}"#;
        assert!(matches!(
            decode::<PerceptMsg<u32>>(wrong, "d1"),
            Err(Refused::Domain(_))
        ));
    }

    #[test]
    fn decisions_read_as_documented() {
        let go: Decision<u8> = serde_json::from_str(r#"{"go": 4}"#).unwrap();
        assert_eq!(go, Decision::Go(4));
        let done: Decision<u8> = serde_json::from_str(r#"{"done": null}"#).unwrap();
        assert_eq!(done, Decision::Done(None));
        let failed: Decision<u8> = serde_json::from_str(r#"{"failed": "no"}"#).unwrap();
        assert_eq!(failed, Decision::Failed("no".into()));
        assert_eq!(bounded("héllo", 2), "h");
        assert_eq!(
            key("acme", "d1", Channel::Intent),
            "swarmd/acme/agent/d1/intent"
        );
    }
}
