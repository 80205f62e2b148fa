//! With `[cloud] ha`, the planner's commands run on the cloud that leads
//! (DESIGN §18): a standby cloud forwards them there, or says that no
//! cloud leads right now. A command forwarded to a cloud that no longer
//! leads is refused rather than forwarded again, so a command never loops.

use super::protocol::Command;
use super::{ControlArgs, ControlError};

/// The leading cloud a command must run on instead of here, if any.
pub fn elsewhere(
    args: &ControlArgs,
    forwarded: bool,
    command: &Command,
) -> Result<Option<String>, ControlError> {
    let Some(leadership) = &args.leadership else {
        return Ok(None);
    };
    if !command.uses_planner() {
        return Ok(None);
    }
    let lead = leadership.borrow().clone();
    if lead.mine {
        return Ok(None);
    }
    match lead.leader {
        Some(leader) if leader == args.node => Err(ControlError::Unavailable(format!(
            "{leader} stepped down and frees its lease: try again within the lease's TTL"
        ))),
        Some(leader) if !forwarded => Ok(Some(leader)),
        Some(leader) => Err(ControlError::Unavailable(format!(
            "{} stands by: {leader} leads the cloud tier",
            args.node
        ))),
        None => Err(ControlError::Unavailable(
            "no cloud leads right now: try again within the lease's TTL (cloud.lease_ttl_ms)"
                .into(),
        )),
    }
}
