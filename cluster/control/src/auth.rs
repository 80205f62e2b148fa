//! Which commands a session may run: a `system` session runs anything the
//! node's config allows; a tenant's session sees and acts only within its
//! tenant (its agents and its events), never the node's machinery.

use swarmd_messages::{SYSTEM_TENANT, limits};

use super::{Command, ControlArgs, ControlError, ControlRequest};

pub fn authorize(args: &ControlArgs, request: &ControlRequest) -> Result<(), ControlError> {
    let tenant = request.tenant.as_str();
    if !limits::is_name(tenant, limits::MAX_NAME_BYTES) {
        return Err(ControlError::Refused(format!(
            "{tenant:?} is not a tenant name"
        )));
    }
    // A kill aimed at another node is that node's to allow.
    let here = request.command.target_node().is_none_or(|n| n == args.node);
    if let Command::Kill { .. } = request.command
        && here
        && !args.allow_fault_injection
    {
        return Err(ControlError::Refused(
            "fault injection is off on this node ([control] allow_fault_injection = false)".into(),
        ));
    }
    if tenant == SYSTEM_TENANT {
        return Ok(());
    }
    if !args.tenants.iter().any(|t| t == tenant) {
        return Err(ControlError::Refused(format!(
            "this node does not serve tenant {tenant:?}"
        )));
    }
    match &request.command {
        Command::Nodes
        | Command::Agents { .. }
        | Command::World
        | Command::Estop { .. }
        | Command::Resume { .. } => Ok(()),
        Command::Send { .. }
        | Command::Spawn { .. }
        | Command::Stop { .. }
        | Command::Replay { .. } => Ok(()),
        Command::Events(filter) => match &filter.tenant {
            Some(other) if other != tenant => Err(ControlError::Refused(format!(
                "a session of tenant {tenant:?} cannot read tenant {other:?}'s events"
            ))),
            _ => Ok(()),
        },
        Command::Tree { .. }
        | Command::Kill { .. }
        | Command::Stats { .. }
        | Command::Call { .. }
        | Command::Mission { .. }
        | Command::Recipe { .. }
        | Command::Dlq(_)
        | Command::Board
        | Command::Missions => Err(ControlError::Refused(format!(
            "only a system session may inspect the node's machinery, inject faults or plan missions; this one is bound to tenant {tenant:?}"
        ))),
    }
}
