//! A message sealed with a session's key (see `hello.rs`): the name of the
//! session it claims to come on, an HMAC-SHA256 by that session's key, and
//! the message. The receiver finds the key by the proven name and checks
//! the seal, so what a message says about its sender is the session's
//! proof, not the sender's word.
//!
//! ```text
//! "SWSL" len session  mac[32]  message...
//! mac = HMAC-SHA256(key, "swarmd-sealed/1" ‖ len session ‖ session ‖ message)
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;
use swarmd_messages::limits::{MAX_NAME_BYTES, is_name};

use super::hello::SessionKey;

const MAGIC: &[u8; 4] = b"SWSL";
const DOMAIN: &[u8] = b"swarmd-sealed/1";
const MAC_BYTES: usize = 32;

/// `message` sealed by `key` as sent on `session` (the sender's own name).
pub fn seal(key: &SessionKey, session: &str, message: &[u8]) -> Vec<u8> {
    assert!(is_name(session, MAX_NAME_BYTES), "a session name is a name");
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + session.len() + MAC_BYTES + message.len());
    out.extend_from_slice(MAGIC);
    out.push(session.len() as u8);
    out.extend_from_slice(session.as_bytes());
    out.extend_from_slice(&mac(key, session, message).finalize().into_bytes());
    out.extend_from_slice(message);
    out
}

/// A sealed message, read but not yet checked.
pub struct Sealed<'a> {
    pub session: &'a str,
    tag: &'a [u8],
    pub message: &'a [u8],
}

impl<'a> Sealed<'a> {
    pub fn read(bytes: &'a [u8]) -> Result<Self, String> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or("not a sealed message: the sender did not prove its session")?;
        let (&len, rest) = rest.split_first().ok_or("a sealed message cut short")?;
        let len = usize::from(len);
        if rest.len() < len + MAC_BYTES {
            return Err("a sealed message cut short".into());
        }
        let (session, rest) = rest.split_at(len);
        let session = std::str::from_utf8(session)
            .ok()
            .filter(|s| is_name(s, MAX_NAME_BYTES))
            .ok_or("a sealed message names no valid session")?;
        let (tag, message) = rest.split_at(MAC_BYTES);
        Ok(Self {
            session,
            tag,
            message,
        })
    }

    /// Whether `key` sealed it (constant-time).
    pub fn sealed_by(&self, key: &SessionKey) -> bool {
        mac(key, self.session, self.message)
            .verify_slice(self.tag)
            .is_ok()
    }
}

fn mac(key: &SessionKey, session: &str, message: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    mac.update(DOMAIN);
    mac.update(&[session.len() as u8]);
    mac.update(session.as_bytes());
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_holds_only_for_its_key_session_and_message() {
        let key = SessionKey([7; 32]);
        let sealed = seal(&key, "swarmd-console.42", b"{\"x\":1}");
        let read = Sealed::read(&sealed).unwrap();
        assert_eq!(read.session, "swarmd-console.42");
        assert_eq!(read.message, b"{\"x\":1}");
        assert!(read.sealed_by(&key));
        assert!(!read.sealed_by(&SessionKey([8; 32])));

        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() = b'2';
        assert!(!Sealed::read(&changed).unwrap().sealed_by(&key));
        // Another session's name over the same tag does not hold.
        let mut renamed = sealed.clone();
        renamed[5] = b'S';
        assert!(!Sealed::read(&renamed).unwrap().sealed_by(&key));

        assert!(Sealed::read(b"{\"tenant\":\"system\"}").is_err());
        assert!(Sealed::read(b"SWSL\x05ab").is_err());
        assert!(Sealed::read(b"SWSL\x02a\xff").is_err());
    }
}
