use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::backoff_delay;
use swarmd_config::HostPort;
use tracing::{info, warn};

use super::ServerSlot;
use super::bidi::DialedStream;

/// Dials one seed through the NodeCtx dialer and hands the connection to the
/// node server. Retries forever, each attempt bounded by `dial_timeout`, with
/// exponential backoff and full jitter between attempts.
pub struct Dialer;

#[derive(Clone)]
pub struct DialerArgs {
    pub ctx: NodeCtx,
    pub seed: HostPort,
    pub server: ServerSlot,
    pub dial_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

pub struct DialerState {
    args: DialerArgs,
    failed_attempts: u32,
}

pub enum DialerMsg {
    Dial,
}

impl ractor::Message for DialerMsg {}

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
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        DialerMsg::Dial: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let args = &state.args;
        let seed = &args.seed;
        match args
            .ctx
            .dialer
            .dial(&seed.host, seed.port, args.dial_timeout)
            .await
        {
            Ok(connection) => {
                let server = args.server.get().ok_or("the node server is not running")?;
                let stream = DialedStream {
                    connection,
                    peer: seed.to_string(),
                };
                ractor_cluster::client_connect_external(&server, Box::new(stream)).await?;
                info!(%seed, after_failures = state.failed_attempts, "connected to seed");
                state.failed_attempts = 0;
            }
            Err(e) => {
                let delay = backoff_delay(
                    &*args.ctx.entropy,
                    state.failed_attempts,
                    args.backoff_min,
                    args.backoff_max,
                );
                state.failed_attempts = state.failed_attempts.saturating_add(1);
                warn!(%seed, error = %e, retry_in = ?delay, "seed unreachable");
                myself.send_after(delay, || DialerMsg::Dial);
            }
        }
        Ok(())
    }
}
