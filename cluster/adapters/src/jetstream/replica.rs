//! The cloud tier's state log on JetStream (DESIGN §18): one message per
//! key and write, on `<subject>.<tree>.<key as hex>`, stamped with the
//! writer's fencing token (header `Swarmd-Token`; a removal has header
//! `Swarmd-Op: del`). The stream keeps the last few messages of each
//! subject, enough to survive a deposed leader's late writes.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{Context, consumer, stream};
use futures::StreamExt;
use futures::future::BoxFuture;

use crate::cloud_tier::{StateLog, StateWrite};

/// Messages kept per key: enough to survive a deposed leader's late writes.
const HISTORY_PER_KEY: i64 = 4;
const TOKEN: &str = "Swarmd-Token";
const OP: &str = "Swarmd-Op";

#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    pub stream: String,
    /// Subjects are `<subject>.<tree>.<key as hex>`.
    pub subject: String,
    pub replicas: usize,
    /// One write to JetStream may take this long.
    pub timeout: Duration,
}

/// The state stream, made if missing.
pub async fn state_stream(js: &Context, config: &ReplicaConfig) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject)],
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        max_messages_per_subject: HISTORY_PER_KEY,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {}: {e}", config.stream))
}

/// The planner's writes as messages of the state stream.
pub struct JetStreamStateLog {
    pub js: Context,
    pub config: ReplicaConfig,
}

impl StateLog for JetStreamStateLog {
    fn append(&self, writes: Vec<StateWrite>) -> BoxFuture<'static, Result<(), String>> {
        let (js, config) = (self.js.clone(), self.config.clone());
        Box::pin(async move {
            let mut acks = Vec::with_capacity(writes.len());
            for write in writes {
                let subject = format!("{}.{}.{}", config.subject, write.tree, hex(&write.key));
                let mut headers = HeaderMap::new();
                headers.insert(TOKEN, write.token.to_string().as_str());
                if write.value.is_none() {
                    headers.insert(OP, "del");
                }
                let body = write.value.unwrap_or_default().into();
                let ack = js.publish_with_headers(subject, headers, body).await;
                acks.push(ack.map_err(|e| format!("JetStream: {e}"))?);
            }
            let all = futures::future::try_join_all(acks.into_iter().map(|a| a.into_future()));
            match tokio::time::timeout(config.timeout, all).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("JetStream did not store it: {e}")),
                Err(_) => Err(format!("JetStream did not ack within {:?}", config.timeout)),
            }
        })
    }

    fn read(&self) -> BoxFuture<'_, Result<Vec<StateWrite>, String>> {
        Box::pin(read_all(&self.js, &self.config))
    }
}

/// Every message the stream holds, in stream order.
async fn read_all(js: &Context, config: &ReplicaConfig) -> Result<Vec<StateWrite>, String> {
    let mut stream = state_stream(js, config).await?;
    let stored = stream
        .info()
        .await
        .map_err(|e| e.to_string())?
        .state
        .messages;
    let mut writes = Vec::new();
    if stored == 0 {
        return Ok(writes);
    }
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let prefix = format!("{}.", config.subject);
    for _ in 0..=stored {
        let next = tokio::time::timeout(config.timeout, messages.next()).await;
        let message = match next {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => break,
            Err(_) => return Err(format!("no message within {:?}", config.timeout)),
        };
        let pending = message.info().map(|i| i.pending).unwrap_or(0);
        if let Some((tree, key)) = parse_subject(&message.subject, &prefix) {
            let headers = message.headers.as_ref();
            let token = header(headers, TOKEN)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let removed = header(headers, OP) == Some("del");
            let value = (!removed).then(|| message.payload.to_vec());
            writes.push(StateWrite {
                tree,
                key,
                value,
                token,
            });
        }
        if pending == 0 {
            break;
        }
    }
    Ok(writes)
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|v| v.as_str())
}

fn parse_subject(subject: &str, prefix: &str) -> Option<(String, Vec<u8>)> {
    let (tree, key) = subject.strip_prefix(prefix)?.split_once('.')?;
    Some((tree.to_string(), unhex(key)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_subjects() {
        let key = vec![0, 1, 0xab, 0xff];
        let subject = format!("swarmd.cloud.state.board.{}", hex(&key));
        let parsed = parse_subject(&subject, "swarmd.cloud.state.");
        assert_eq!(parsed, Some(("board".to_string(), key)));
        assert_eq!(
            parse_subject("swarmd.cloud.state.board.abc", "swarmd.cloud.state."),
            None
        );
        assert_eq!(parse_subject("other.board.00", "swarmd.cloud.state."), None);
    }
}
