//! Whose word a request's tenant and principal are. A request from this
//! process (Mission Control, which set them from the caller's token) is
//! taken as it is. A request from another process arrives sealed with the
//! key of the session it came on (`transport/sealed.rs`): the principal is
//! then that session's proven name, never what the request body says.
//! A console's session holds the cookie, which is `system`; it may narrow
//! itself to a tenant. A member node is `system` too, and may forward a
//! command on behalf of one of its own callers: the principal then names
//! both.

use swarmd_messages::limits;

use super::{ControlArgs, ControlError, ControlRequest};
use swarmd_cluster::transport::hello::Purpose;
use swarmd_cluster::transport::sealed::Sealed;

/// A forwarded principal is cut to this many bytes in the audit.
const MAX_PRINCIPAL_BYTES: usize = 256;

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This process: trusted as it is.
    Local,
    /// Another process, over a cluster session: sealed or refused.
    Remote,
}

/// The request as credited, and whether a member node forwarded it.
pub fn credited(
    args: &ControlArgs,
    origin: Origin,
    bytes: &[u8],
) -> Result<(ControlRequest, bool), ControlError> {
    let (json, session) = match origin {
        Origin::Local => (bytes, None),
        Origin::Remote => {
            let sealed = Sealed::read(bytes).map_err(ControlError::Refused)?;
            let purpose = args.proofs.unseal(&sealed).ok_or_else(|| {
                ControlError::Refused(format!(
                    "the request is not sealed by the key of a live session named {:?}",
                    sealed.session
                ))
            })?;
            (sealed.message, Some((sealed.session.to_string(), purpose)))
        }
    };
    if json.len() > super::MAX_CONTROL_BYTES {
        return Err(ControlError::BadRequest(format!(
            "request of {} bytes is over the {}-byte limit",
            json.len(),
            super::MAX_CONTROL_BYTES
        )));
    }
    let mut request: ControlRequest = serde_json::from_slice(json)
        .map_err(|e| ControlError::BadRequest(format!("undecodable request: {e}")))?;
    let forwarded = match session {
        None => false,
        Some((name, Purpose::Console)) => {
            request.principal = format!("console {name}");
            false
        }
        Some((name, Purpose::Member)) => {
            let claimed = cut(&request.principal, MAX_PRINCIPAL_BYTES);
            request.principal = format!("{claimed} via node {name}");
            true
        }
    };
    if !limits::is_name(&request.tenant, limits::MAX_NAME_BYTES) {
        return Err(ControlError::Refused(format!(
            "{:?} is not a tenant name",
            request.tenant
        )));
    }
    Ok((request, forwarded))
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
