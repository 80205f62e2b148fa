//! A body that is an external process: percepts arrive over the mesh, the
//! reflex's commands leave over it. To the reflex it is a body like any:
//! `sense` gives the newest percept heard within the silence window, or
//! nothing (the agent halts in its safe state until the body speaks again).

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use swarmd_messages::DomainAct;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

use super::link::Link;
use super::protocol::{Channel, CommandMsg, PROTOCOL_VERSION, PerceptMsg, Refused, decode, encode};
use super::rejections::Rejections;
use crate::domain::{Body, Domain};

struct Heard<P> {
    percept: P,
    seq: u64,
    at: Instant,
}

struct Shared<P> {
    link: Link,
    latest: Mutex<Option<Heard<P>>>,
    /// Who the body said it is, last.
    from: Mutex<Option<String>>,
    /// The newest command not yet published: the body wants the latest,
    /// so an unsent one is replaced (the outbox's overflow policy).
    outbox: Mutex<Option<Vec<u8>>>,
    ready: Notify,
    rejections: Rejections,
}

pub struct RemoteBody<D: Domain> {
    shared: Arc<Shared<D::Percept>>,
    silent_after: Duration,
    seq: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl<D: Domain> Drop for RemoteBody<D> {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl<D: Domain> RemoteBody<D> {
    /// Listens for the body's percepts and starts publishing commands.
    pub fn start(link: Link, silent_after: Duration) -> Self {
        let shared = Arc::new(Shared {
            link: link.clone(),
            latest: Mutex::new(None),
            from: Mutex::new(None),
            outbox: Mutex::new(None),
            ready: Notify::new(),
            rejections: Rejections::new(link.clone(), Channel::Percept),
        });
        let weak = Arc::downgrade(&shared);
        let tasks = vec![
            tokio::spawn(listen::<D>(weak.clone(), silent_after)),
            tokio::spawn(publish(weak)),
        ];
        Self {
            shared,
            silent_after,
            seq: 0,
            tasks,
        }
    }
}

impl<D: Domain> Body<D> for RemoteBody<D> {
    fn sense(&mut self) -> Option<D::Percept> {
        let latest = lock(&self.shared.latest);
        let heard = latest.as_ref()?;
        (heard.at.elapsed() <= self.silent_after).then(|| heard.percept.clone())
    }

    fn act(&mut self, command: &D::Command) {
        self.seq += 1;
        let after = lock(&self.shared.latest).as_ref().map_or(0, |h| h.seq);
        let message = CommandMsg {
            v: PROTOCOL_VERSION,
            agent: self.shared.link.agent.clone(),
            seq: self.seq,
            after,
            command: command.clone(),
        };
        if let Some(bytes) = encode(&message) {
            *lock(&self.shared.outbox) = Some(bytes);
            self.shared.ready.notify_one();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn listen<D: Domain>(shared: Weak<Shared<D::Percept>>, silent_after: Duration) {
    let Some(key) = shared.upgrade().map(|s| s.link.key(Channel::Percept)) else {
        return;
    };
    let mesh = match shared.upgrade() {
        Some(s) => s.link.mesh.clone(),
        None => return,
    };
    let mut percepts = match mesh.subscribe(&key).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%key, error = %e, "no mesh: the external body cannot be heard");
            return;
        }
    };
    while let Some(sample) = percepts.recv().await {
        let Some(s) = shared.upgrade() else { return };
        let decoded: Result<PerceptMsg<D::Percept>, Refused> =
            decode(&sample.payload, &s.link.agent);
        match decoded {
            Ok(m) => s.heard_from(m, silent_after),
            Err(why) => s.rejections.refuse(&why, &sample.payload),
        }
    }
}

impl<P> Shared<P> {
    fn heard_from(&self, m: PerceptMsg<P>, silent_after: Duration) {
        let now = Instant::now();
        let mut latest = lock(&self.latest);
        let was_silent = latest
            .as_ref()
            .is_none_or(|h| now.duration_since(h.at) > silent_after);
        let from = m.from.unwrap_or_else(|| "an unnamed body".into());
        let mut known = lock(&self.from);
        if was_silent || known.as_deref() != Some(from.as_str()) {
            let act = DomainAct::Connected {
                channel: Channel::Percept.name().into(),
                from: from.clone(),
            };
            self.link.record(act, String::new());
            *known = Some(from);
        }
        *latest = Some(Heard {
            percept: m.percept,
            seq: m.seq,
            at: now,
        });
    }
}

async fn publish<P>(shared: Weak<Shared<P>>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let next = lock(&s.outbox).take();
        match next {
            Some(bytes) => {
                let (mesh, key) = (s.link.mesh.clone(), s.link.key(Channel::Command));
                drop(s);
                if let Err(e) = mesh.publish(&key, bytes).await {
                    debug!(%key, error = %e, "command not published");
                }
            }
            None => {
                let notified = s.ready.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let pending = lock(&s.outbox).is_some();
                if !pending {
                    // Holding `s` keeps the body's shared state alive while
                    // waiting; a body dropped aborts this task.
                    notified.await;
                }
            }
        }
    }
}
