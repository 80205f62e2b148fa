use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::backoff_delay;
use swarmd_config::HostPort;
use tokio::sync::broadcast::error::RecvError;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tracing::{info, warn};

use super::SessionGate;
use super::bidi::DialedStream;
use super::events::{SessionEvents, SessionPhase};

/// Keeps one session to `target` alive, forever: dial (bounded by
/// `dial_timeout`), hand the connection to the node server, wait until the
/// session ends, back off with full jitter, dial again. A session that never
/// becomes ready within the dial timeout (a wrong cookie, a peer that is not
/// swarmd) is closed and counts as a failed attempt.
#[derive(Clone)]
pub struct Dialer;

#[derive(Clone)]
pub struct DialerArgs {
    pub ctx: NodeCtx,
    pub target: HostPort,
    /// swarmd's handshake, run on every connection before ractor_cluster's.
    pub gate: SessionGate,
    pub sessions: SessionEvents,
    pub dial_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Set when cluster sessions run over TLS.
    pub tls: Option<super::Tls>,
    /// Stop (normally) after this many failed attempts in a row; `None`
    /// redials for ever (seeds and members learned from members).
    pub give_up_after: Option<u32>,
    /// Told when this dialer gives up.
    pub on_give_up: Option<super::GiveUpHook>,
}

pub struct DialerState {
    args: DialerArgs,
    failed_attempts: u32,
    /// The running attempt; aborted when the dialer stops.
    attempt: Option<tokio::task::JoinHandle<()>>,
}

pub enum DialerMsg {
    Dial,
    Ended(Attempt),
}

impl ractor::Message for DialerMsg {}

/// How an attempt ended.
pub enum Attempt {
    /// The session was ready, then closed.
    WasReady,
    Failed(String),
}

impl Actor for Dialer {
    type Msg = DialerMsg;
    type State = DialerState;
    type Arguments = DialerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: DialerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.cast(DialerMsg::Dial)?;
        Ok(DialerState {
            args,
            failed_attempts: 0,
            attempt: None,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(task) = state.attempt.take() {
            task.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DialerMsg::Dial => {
                let args = state.args.clone();
                state.attempt = Some(tokio::spawn(async move {
                    let ended = attempt(&args).await;
                    let _ = myself.cast(DialerMsg::Ended(ended));
                }));
            }
            DialerMsg::Ended(ended) => {
                state.attempt = None;
                let target = &state.args.target;
                match ended {
                    Attempt::WasReady => {
                        state.failed_attempts = 0;
                        warn!(peer = %target, "session lost; reconnecting");
                    }
                    Attempt::Failed(why) => {
                        state.failed_attempts = state.failed_attempts.saturating_add(1);
                        let attempts = state.failed_attempts;
                        warn!(peer = %target, error = %why, attempts, "cannot connect");
                        if state
                            .args
                            .give_up_after
                            .is_some_and(|limit| attempts >= limit)
                        {
                            warn!(peer = %target, attempts, "giving up on this address");
                            if let Some(hook) = &state.args.on_give_up {
                                hook(target.clone());
                            }
                            myself.stop(Some("gave up".into()));
                            return Ok(());
                        }
                    }
                }
                let args = &state.args;
                let delay = backoff_delay(
                    &*args.ctx.entropy,
                    state.failed_attempts,
                    args.backoff_min,
                    args.backoff_max,
                );
                myself.send_after(delay, || DialerMsg::Dial);
            }
        }
        Ok(())
    }
}

async fn attempt(args: &DialerArgs) -> Attempt {
    let target = &args.target;
    let label = format!("dial:{target}");
    // Subscribe before connecting so no event of this session is missed.
    let mut events = args.sessions.subscribe();
    let connection = match args
        .ctx
        .dialer
        .dial(&target.host, target.port, args.dial_timeout)
        .await
    {
        Ok(c) => c,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let mut connection = match &args.tls {
        None => connection,
        Some(tls) => match handshake(tls, &target.host, connection, args.dial_timeout).await {
            Ok((c, cert)) => {
                tls.peer_certs.record(&label, cert);
                c
            }
            Err(why) => return Attempt::Failed(why),
        },
    };
    if let Err(e) = args.gate.dial(&mut connection, &label).await {
        return Attempt::Failed(e.to_string());
    }
    let Some(server) = args.gate.server.get() else {
        return Attempt::Failed("the node server is not running".into());
    };
    let stream = DialedStream {
        connection,
        peer: label.clone(),
    };
    if let Err(e) = ractor_cluster::client_connect_external(&server, Box::new(stream)).await {
        return Attempt::Failed(e.to_string());
    }
    let mut opened = None;
    let ready = tokio::time::timeout(args.dial_timeout, async {
        loop {
            match events.recv().await {
                Ok(e) if e.label == label && e.phase == SessionPhase::Opened => {
                    opened = Some(e.session);
                }
                Ok(e) if e.label == label && e.phase == SessionPhase::Ready => return Ok(e),
                Ok(e) if e.label == label && e.phase == SessionPhase::Closed => {
                    return Err("session closed during the handshake".to_string());
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Err("node server stopped".to_string()),
            }
        }
    })
    .await;
    let session = match ready {
        Ok(Ok(e)) => e.session,
        Ok(Err(why)) => return Attempt::Failed(why),
        Err(_) => {
            if let Some(session) = opened {
                session.stop(Some("handshake timed out".into()));
            }
            return Attempt::Failed("handshake timed out".into());
        }
    };
    info!(peer = %target, "connected");
    loop {
        match events.recv().await {
            Ok(e) if e.label == label && e.phase == SessionPhase::Closed => {
                return Attempt::WasReady;
            }
            Ok(_) => {}
            // Lost events: the session may have closed unseen; ask it directly.
            Err(RecvError::Lagged(_)) if session.get_status() >= ractor::ActorStatus::Stopping => {
                return Attempt::WasReady;
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return Attempt::WasReady,
        }
    }
}

/// The TLS client handshake; returns the stream and the server's certificate.
async fn handshake(
    tls: &super::Tls,
    host: &str,
    connection: swarmd_actors::ctx::Connection,
    limit: Duration,
) -> Result<(swarmd_actors::ctx::Connection, CertificateDer<'static>), String> {
    let name = super::Tls::server_name(host).map_err(|e| format!("{host:?}: {e}"))?;
    let stream = match tokio::time::timeout(limit, tls.connector.connect(name, connection)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
        Err(_) => return Err("TLS handshake timed out".into()),
    };
    let cert = super::peer_certs::end_entity(stream.get_ref().1.peer_certificates())?;
    Ok((Box::new(stream), cert))
}
