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
        tracing::info!(url = %self.section.url, stream = %self.section.stream, "publishing the flight recorder to JetStream");
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
                .payload(payload.into())
                .message_id(message_id(event));
            let ack = context
                .send_publish(subject, message)
                .await
                .map_err(|e| match e.kind() {
                    PublishErrorKind::MaxPayloadExceeded => HubError::Invalid {
                        seq,
                        why: e.to_string(),
                    },
                    _ => HubError::Unreachable(e.to_string()),
                })?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .map_err(|e| HubError::Unreachable(format!("no JetStream ack: {e}")))?;
        }
        Ok(())
    }
}
