//! The cloud's end: a durable pull consumer of the stream, applying each
//! fetched batch to this node's ledger, acking after the flush.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ctx::{LedgerHandle, Storage};
use swarmd_config::hub::JetStreamSection;
use swarmd_messages::{Event, EventDraft, EventKind, SYSTEM_TENANT, TraceContext};
use swarmd_storage::ledger::{Hub, HubError, LedgerHub, decode_event};
use swarmd_supervisor::ChildSpec;
use tracing::{info, warn};

use super::{IngestStats, JetStreamError, connect};

/// How long a fetch waits for messages on an idle stream.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// How long one fetch may take, its wait on an idle stream included.
const FETCH_LIMIT: Duration = Duration::from_secs(3);
/// Longest wait between retries of a failing round.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Unacked messages JetStream redelivers after this long (a cloud that
/// fetched and then crashed before its flush).
const ACK_WAIT: Duration = Duration::from_secs(30);

pub struct IngestArgs {
    pub node: String,
    pub section: JetStreamSection,
    pub storage: Arc<dyn Storage>,
    pub stats: IngestStats,
    /// Where this node records its alarms (a misattributed message).
    pub alarms: LedgerHandle,
}

pub fn ingest_child(args: IngestArgs) -> ChildSpec {
    ChildSpec::for_actor("hub_ingest", JetStreamIngest, Arc::new(args))
}

pub enum IngestMsg {
    Pump,
}

impl ractor::Message for IngestMsg {}

#[derive(Clone)]
pub struct JetStreamIngest;

pub struct IngestState {
    args: Arc<IngestArgs>,
    ledger: LedgerHub,
    consumer: Option<PullConsumer>,
    failures: u32,
}

impl Actor for JetStreamIngest {
    type Msg = IngestMsg;
    type State = IngestState;
    type Arguments = Arc<IngestArgs>;

    async fn pre_start(
        &self,
        me: ActorRef<IngestMsg>,
        args: Arc<IngestArgs>,
    ) -> Result<IngestState, ActorProcessingErr> {
        me.cast(IngestMsg::Pump)?;
        Ok(IngestState {
            ledger: LedgerHub::new(args.storage.clone()),
            args,
            consumer: None,
            failures: 0,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<IngestMsg>,
        IngestMsg::Pump: IngestMsg,
        state: &mut IngestState,
    ) -> Result<(), ActorProcessingErr> {
        match state.round().await {
            Ok(()) => me.cast(IngestMsg::Pump)?,
            Err(e) => {
                let delay = state.failed(&e);
                me.send_after(delay, || IngestMsg::Pump);
            }
        }
        Ok(())
    }
}

impl IngestState {
    async fn consumer(&mut self) -> Result<PullConsumer, JetStreamError> {
        if let Some(consumer) = &self.consumer {
            return Ok(consumer.clone());
        }
        let section = &self.args.section;
        let context = connect(section, &self.args.node).await?;
        let name = section.consumer.clone().unwrap_or_else(|| {
            swarmd_config::hub::subject_token(&self.args.node).replace(['/', '\\'], "_")
        });
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: (section.fetch_batch * 4) as i64,
            ..Default::default()
        };
        let other = |e: String| JetStreamError::Other(e);
        let stream = context
            .get_stream(&section.stream)
            .await
            .map_err(|e| other(e.to_string()))?;
        let consumer: PullConsumer = stream
            .get_or_create_consumer(&name, config)
            .await
            .map_err(|e| other(format!("consumer {name}: {e}")))?;
        info!(url = %super::redacted(&section.url), stream = %section.stream, consumer = %name, "reading the edges' flight recorders from JetStream");
        self.consumer = Some(consumer.clone());
        Ok(consumer)
    }

    /// Fetches one batch, applies it, acks it.
    async fn round(&mut self) -> Result<(), JetStreamError> {
        let consumer = self.consumer().await?;
        // A pull request that no server answers (the consumer's leader
        // died with its server and no other was elected yet) would wait
        // for ever: bounded, it fails and the consumer is looked up again.
        let fetched = tokio::time::timeout(FETCH_LIMIT, self.fetch(&consumer))
            .await
            .unwrap_or_else(|_| {
                let why = format!("fetch: no answer within {FETCH_LIMIT:?}");
                Err(JetStreamError::Other(why))
            });
        let messages = match fetched {
            Ok(messages) => messages,
            Err(e) => {
                // A consumer deleted or a server gone: look it up again.
                self.consumer = None;
                return Err(e);
            }
        };
        let (events, held) = self.decode(messages).await;
        self.apply(events, held).await?;
        if self.failures > 0 {
            info!(after = self.failures, "JetStream ingestion recovered");
            self.failures = 0;
        }
        self.note_pending(consumer).await;
        Ok(())
    }

    /// What the stream has for this consumer now, up to a batch; when it
    /// has nothing, waits (at most `FETCH_WAIT`) for the next message, so an
    /// idle cloud neither spins nor adds more than a round trip of lag.
    async fn fetch(&self, consumer: &PullConsumer) -> Result<Vec<Message>, JetStreamError> {
        let failed = |e: String| JetStreamError::Other(format!("fetch: {e}"));
        let now = consumer
            .fetch()
            .max_messages(self.args.section.fetch_batch)
            .messages()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let messages = collect(now).await.map_err(failed)?;
        if !messages.is_empty() {
            return Ok(messages);
        }
        let next = consumer
            .batch()
            .max_messages(1)
            .expires(FETCH_WAIT)
            .messages()
            .await
            .map_err(|e| failed(e.to_string()))?;
        collect(next).await.map_err(failed)
    }

    /// Events to apply, each with its message; what can never decode, and
    /// what was published on a subject other than its event's tenant and
    /// node, is terminated here (it stays in the stream for an operator).
    async fn decode(&self, messages: Vec<Message>) -> (Vec<Event>, Vec<Message>) {
        let mut events = Vec::with_capacity(messages.len());
        let mut held = Vec::with_capacity(messages.len());
        for message in messages {
            match decode_event(&message.payload) {
                Ok(event) => {
                    let subject = self.args.section.subject(&event.tenant, &event.id.node);
                    if message.subject.as_str() != subject {
                        self.misattributed(&message, &event, &subject).await;
                        continue;
                    }
                    events.push(event);
                    held.push(message);
                }
                Err(e) => {
                    warn!(subject = %message.subject, error = %e, "an undecodable message in the stream; terminated");
                    self.refuse(&message).await;
                }
            }
        }
        (events, held)
    }

    /// Writes `events` (skipping those held already) and flushes, then acks
    /// their messages; an event refused for good is terminated and the rest
    /// of the batch comes again at once.
    async fn apply(
        &mut self,
        events: Vec<Event>,
        held: Vec<Message>,
    ) -> Result<(), JetStreamError> {
        if events.is_empty() {
            return Ok(());
        }
        let refused = match self.ledger.deliver(events.clone()).await {
            Ok(()) => {
                for message in &held {
                    if let Err(e) = message.ack().await {
                        warn!(error = %e, "an ack was lost; the message comes again and is skipped");
                    }
                }
                self.args.stats.applied(held.len());
                return Ok(());
            }
            Err(HubError::Conflict { node, seq }) => {
                warn!(%node, seq, "the stream holds a different event than this ledger under one id; terminated, kept in the stream");
                (node, seq)
            }
            Err(HubError::Invalid { seq, why }) => {
                let node = events
                    .iter()
                    .find(|e| e.id.seq == seq)
                    .map(|e| e.id.node.clone())
                    .unwrap_or_default();
                warn!(%node, seq, %why, "an event out of bounds in the stream; terminated");
                (node, seq)
            }
            Err(e) => {
                for message in &held {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
                return Err(JetStreamError::Other(format!("this ledger: {e}")));
            }
        };
        for (event, message) in events.iter().zip(&held) {
            if (event.id.node.as_str(), event.id.seq) == (refused.0.as_str(), refused.1) {
                self.refuse(message).await;
            } else {
                let _ = message.ack_with(AckKind::Nak(None)).await;
            }
        }
        Ok(())
    }

    /// A message whose event claims a node (or tenant) its subject does not:
    /// whoever published it had no right to write as that node. Terminated,
    /// counted, alarmed; the node's own event under that id still comes in.
    async fn misattributed(&self, message: &Message, event: &Event, expected: &str) {
        self.args.stats.misattributed();
        let id = format!("{}/{}", event.id.node, event.id.seq);
        warn!(subject = %message.subject, %expected, %id, "a message in the stream claims another node's event; terminated");
        let draft = EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: "hub_misattributed".into(),
                detail: format!("{id} published on {}", message.subject),
            },
        };
        if let Err(e) = self.args.alarms.submit(draft).await {
            warn!(error = %e, "the alarm was not recorded");
        }
        self.refuse(message).await;
    }

    async fn refuse(&self, message: &Message) {
        self.args.stats.refused();
        if let Err(e) = message.ack_with(AckKind::Term).await {
            warn!(error = %e, "a message could not be terminated; it comes again");
        }
    }

    async fn note_pending(&self, mut consumer: PullConsumer) {
        if let Ok(info) = consumer.info().await {
            self.args.stats.pending(info.num_pending);
        }
    }

    fn failed(&mut self, e: &JetStreamError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.args.stats.failed();
        if self.failures.is_power_of_two() {
            warn!(error = %e, failures = self.failures, "JetStream ingestion failed; the events wait in the stream");
        }
        Duration::from_millis(100)
            .saturating_mul(1 << self.failures.min(6))
            .min(MAX_BACKOFF)
    }
}

async fn collect(mut batch: pull::Batch) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    while let Some(message) = batch.next().await {
        out.push(message.map_err(|e| e.to_string())?);
    }
    Ok(out)
}
