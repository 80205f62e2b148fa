//! The edge's end: the forwarder's [`Hub`] is a JetStream stream.

use std::sync::Arc;

use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use futures::future::BoxFuture;
use swarmd_config::hub::JetStreamSection;
use swarmd_messages::Event;
use swarmd_storage::ledger::{Hub, HubError, encode_event};
use tokio::sync::Mutex;

use super::{connect, message_id};

/// Publishes each batch, one message per event, and answers `Ok` only once
/// JetStream acked every one of them as stored. A resend (a lost ack, a
/// restart) carries the same message ids, so JetStream drops it within its
/// duplicate window, and the cloud's ledger skips it after.
///
/// A duplicate is checked, not believed: the message the stream holds
/// under the id (its sequence is in the ack) must be this very event on
/// this node's subject. Anyone else's message there (another publisher's
/// forgery under this node's id) is a conflict: the forwarder raises an
/// alarm and keeps the backlog, and the event goes in once the forgery's
/// duplicate window has passed.
#[derive(Clone)]
pub struct JetStreamHub {
    link: Arc<Link>,
}

struct Link {
    node: String,
    section: JetStreamSection,
    /// Connected once, then the client reconnects by itself.
    context: Mutex<Option<Context>>,
}

impl JetStreamHub {
    pub fn new(node: &str, section: JetStreamSection) -> Self {
        Self {
            link: Arc::new(Link {
                node: node.to_string(),
                section,
                context: Mutex::new(None),
            }),
        }
    }
}

impl Hub for JetStreamHub {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>> {
        let link = self.link.clone();
        Box::pin(async move { link.publish(events).await })
    }
}

impl Link {
    async fn context(&self) -> Result<Context, HubError> {
        let mut held = self.context.lock().await;
        if let Some(context) = held.as_ref() {
            return Ok(context.clone());
        }
        let context = connect(&self.section, &self.node)
            .await
            .map_err(|e| HubError::Unreachable(e.to_string()))?;
        tracing::info!(url = %super::redacted(&self.section.url), stream = %self.section.stream, "publishing the flight recorder to JetStream");
        *held = Some(context.clone());
        Ok(context)
    }

    async fn publish(&self, events: Vec<Event>) -> Result<(), HubError> {
        let context = self.context().await?;
        // All published first, then every ack awaited: one round trip per
        // batch, not per event.
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let seq = event.id.seq;
            if let Some(why) = event.bounds_violation() {
                return Err(HubError::Invalid { seq, why });
            }
            let payload = encode_event(event).map_err(|e| HubError::Invalid {
                seq,
                why: e.to_string(),
            })?;
            let subject = self.section.subject(&event.tenant, &event.id.node);
            let message = PublishMessage::build()
                .payload(payload.clone().into())
                .message_id(message_id(event));
            let ack = context
                .send_publish(subject.clone(), message)
                .await
                .map_err(|e| match e.kind() {
                    PublishErrorKind::MaxPayloadExceeded => HubError::Invalid {
                        seq,
                        why: e.to_string(),
                    },
                    _ => HubError::Unreachable(e.to_string()),
                })?;
            acks.push((ack, subject, payload, seq));
        }
        for (ack, subject, payload, seq) in acks {
            let ack = ack
                .await
                .map_err(|e| HubError::Unreachable(format!("no JetStream ack: {e}")))?;
            if ack.duplicate {
                self.check_duplicate(&context, ack.sequence, &subject, &payload, seq)
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the message stored at `stream_seq` is the one sent as `seq`.
    async fn check_duplicate(
        &self,
        context: &Context,
        stream_seq: u64,
        subject: &str,
        payload: &[u8],
        seq: u64,
    ) -> Result<(), HubError> {
        let unreachable = |e: String| HubError::Unreachable(format!("checking a duplicate: {e}"));
        let stream = context
            .get_stream(&self.section.stream)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let held = stream
            .get_raw_message(stream_seq)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if held.subject.as_str() == subject && held.payload.as_ref() == payload {
            return Ok(());
        }
        tracing::error!(node = %self.node, seq, stream_seq, held_subject = %held.subject, "JetStream holds another message under this event's id");
        Err(HubError::Conflict {
            node: self.node.clone(),
            seq,
        })
    }
}
