//! swarmd's own session handshake, run on every cluster stream (plain TCP
//! or inside TLS) before ractor_cluster sees a byte of it.
//!
//! ractor_cluster 0.16 answers a challenge with `SHA256(challenge ‖ cookie)`:
//! the answer binds neither side's name, nor the other side's nonce, nor who
//! dialed, and the dialing side answers whatever challenge it is sent. A
//! stranger who can make a node dial it relays the node's own answer into a
//! session of its own and is a member. Here each side proves the cookie with
//! an HMAC-SHA256 over the whole transcript — both names, both nonces, the
//! purpose and the proving side's role — so an answer is good for exactly
//! one direction of one session and relaying or reflecting it is useless.
//!
//! ```text
//! client → server  "SWMD" v purpose len name  client_nonce[32]
//! server → client  "SWMD" v         len name  server_nonce[32]  mac("server")
//! client → server                                               mac("client")
//! mac(role) = HMAC-SHA256(cookie, "swarmd-hello/1" ‖ role ‖ purpose
//!                         ‖ len client ‖ client ‖ len server ‖ server
//!                         ‖ client_nonce ‖ server_nonce)
//! ```
//!
//! Both sides then hold a session key, `HMAC-SHA256(cookie,
//! "swarmd-session/1" ‖ purpose ‖ names ‖ nonces)`, that no one without the
//! cookie can compute: commands to `control` are sealed with it, so the
//! control actor knows which proven session a command came on.
//!
//! Every field has a fixed bound, so an unauthenticated peer can make a node
//! read at most [`MAX_HELLO_BYTES`]. A client with the wrong cookie finds out
//! from the server's first answer: one round trip.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use swarmd_messages::limits::{MAX_NAME_BYTES, is_name};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAGIC: &[u8; 4] = b"SWMD";
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"swarmd-hello/1";
const KEY_DOMAIN: &[u8] = b"swarmd-session/1";
const NONCE_BYTES: usize = 32;
const MAC_BYTES: usize = 32;
/// The most an unauthenticated peer can make either side read.
pub const MAX_HELLO_BYTES: usize = 4 + 1 + 1 + 1 + MAX_NAME_BYTES + NONCE_BYTES + MAC_BYTES;

/// What the session is for: a member node, or an operator's console (a
/// hidden client that only talks to `control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Member,
    Console,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Self::Member => 0,
            Self::Console => 1,
        }
    }

    fn from_byte(b: u8) -> Result<Self, HelloError> {
        match b {
            0 => Ok(Self::Member),
            1 => Ok(Self::Console),
            other => Err(HelloError::Malformed(format!("unknown purpose {other}"))),
        }
    }
}

/// What a finished handshake proved about the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The name the peer proved it holds the cookie under.
    pub name: String,
    pub purpose: Purpose,
    /// The key both sides derived for this session (see the module's doc).
    pub key: SessionKey,
}

/// A session's key: 32 bytes only the two ends of one handshake know.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey(pub [u8; MAC_BYTES]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    #[error("the peer does not speak swarmd's handshake: {0}")]
    Malformed(String),
    #[error("wrong cookie: the peer's proof shows it does not hold this cluster's cookie")]
    WrongCookie,
    #[error("refused: {0}")]
    Refused(String),
    #[error("connection lost during the handshake: {0}")]
    Io(#[from] std::io::Error),
}

/// The dialing side: proves `me` to whoever answers and learns its name.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    cookie: &str,
    me: &str,
    purpose: Purpose,
    nonce: [u8; NONCE_BYTES],
) -> Result<Proven, HelloError> {
    let mut hello = Vec::with_capacity(MAX_HELLO_BYTES);
    hello.extend_from_slice(MAGIC);
    hello.extend_from_slice(&[VERSION, purpose.byte()]);
    push_name(&mut hello, me)?;
    hello.extend_from_slice(&nonce);
    stream.write_all(&hello).await?;
    stream.flush().await?;

    read_preamble(stream).await?;
    let server = read_name(stream).await?;
    if server == me {
        return Err(HelloError::Refused(format!(
            "the peer claims this node's own name {me:?}"
        )));
    }
    let server_nonce = read_array::<_, NONCE_BYTES>(stream).await?;
    let transcript = Transcript {
        purpose,
        client: me,
        server: &server,
        client_nonce: &nonce,
        server_nonce: &server_nonce,
    };
    let server_mac = read_array::<_, MAC_BYTES>(stream).await?;
    transcript.verify(cookie, Role::Server, &server_mac)?;
    stream
        .write_all(&transcript.mac(cookie, Role::Client))
        .await?;
    stream.flush().await?;
    Ok(Proven {
        key: transcript.session_key(cookie),
        name: server,
        purpose: Purpose::Member,
    })
}

/// The accepting side: learns who dials, proves `me`, checks the proof.
/// `admit` may refuse a name and purpose before anything is proven.
pub async fn server<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    cookie: &str,
    me: &str,
    nonce: [u8; NONCE_BYTES],
    admit: impl Fn(&str, Purpose) -> Result<(), String>,
) -> Result<Proven, HelloError> {
    read_preamble(stream).await?;
    let purpose = Purpose::from_byte(read_array::<_, 1>(stream).await?[0])?;
    let client = read_name(stream).await?;
    let client_nonce = read_array::<_, NONCE_BYTES>(stream).await?;
    if client == me {
        return Err(HelloError::Refused(format!(
            "the peer claims this node's own name {me:?}"
        )));
    }
    admit(&client, purpose).map_err(HelloError::Refused)?;
    let transcript = Transcript {
        purpose,
        client: &client,
        server: me,
        client_nonce: &client_nonce,
        server_nonce: &nonce,
    };
    let mut answer = Vec::with_capacity(MAX_HELLO_BYTES);
    answer.extend_from_slice(MAGIC);
    answer.push(VERSION);
    push_name(&mut answer, me)?;
    answer.extend_from_slice(&nonce);
    answer.extend_from_slice(&transcript.mac(cookie, Role::Server));
    stream.write_all(&answer).await?;
    stream.flush().await?;
    let client_mac = read_array::<_, MAC_BYTES>(stream).await?;
    transcript.verify(cookie, Role::Client, &client_mac)?;
    Ok(Proven {
        key: transcript.session_key(cookie),
        name: client,
        purpose,
    })
}

#[derive(Clone, Copy)]
enum Role {
    Client,
    Server,
}

struct Transcript<'a> {
    purpose: Purpose,
    client: &'a str,
    server: &'a str,
    client_nonce: &'a [u8; NONCE_BYTES],
    server_nonce: &'a [u8; NONCE_BYTES],
}

impl Transcript<'_> {
    fn hmac(&self, cookie: &str, role: Role) -> Hmac<Sha256> {
        let role: &[u8] = match role {
            Role::Client => b"client",
            Role::Server => b"server",
        };
        self.keyed(cookie, DOMAIN, role)
    }

    fn session_key(&self, cookie: &str) -> SessionKey {
        let mac = self.keyed(cookie, KEY_DOMAIN, b"");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn keyed(&self, cookie: &str, domain: &[u8], role: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(cookie.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(domain);
        mac.update(role);
        mac.update(&[self.purpose.byte()]);
        for name in [self.client, self.server] {
            // Names are at most MAX_NAME_BYTES (checked before any MAC).
            mac.update(&[name.len() as u8]);
            mac.update(name.as_bytes());
        }
        mac.update(self.client_nonce);
        mac.update(self.server_nonce);
        mac
    }

    fn mac(&self, cookie: &str, role: Role) -> [u8; MAC_BYTES] {
        self.hmac(cookie, role).finalize().into_bytes().into()
    }

    /// Constant-time comparison.
    fn verify(&self, cookie: &str, role: Role, got: &[u8]) -> Result<(), HelloError> {
        self.hmac(cookie, role)
            .verify_slice(got)
            .map_err(|_| HelloError::WrongCookie)
    }
}

fn push_name(out: &mut Vec<u8>, name: &str) -> Result<(), HelloError> {
    if !is_name(name, MAX_NAME_BYTES) {
        return Err(HelloError::Refused(format!(
            "{name:?} is not a node name (1..={MAX_NAME_BYTES} of [A-Za-z0-9_.-])"
        )));
    }
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

async fn read_preamble<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(), HelloError> {
    let [m0, m1, m2, m3, version] = read_array::<_, 5>(stream).await?;
    if &[m0, m1, m2, m3] != MAGIC {
        return Err(HelloError::Malformed("no swarmd greeting".into()));
    }
    if version != VERSION {
        return Err(HelloError::Malformed(format!(
            "handshake version {version}, this node speaks {VERSION}"
        )));
    }
    Ok(())
}

async fn read_name<S: AsyncRead + Unpin>(stream: &mut S) -> Result<String, HelloError> {
    let len = usize::from(read_array::<_, 1>(stream).await?[0]);
    if len == 0 || len > MAX_NAME_BYTES {
        return Err(HelloError::Malformed(format!("a name of {len} bytes")));
    }
    let mut name = vec![0u8; len];
    stream.read_exact(&mut name).await?;
    match String::from_utf8(name) {
        Ok(name) if is_name(&name, MAX_NAME_BYTES) => Ok(name),
        _ => Err(HelloError::Malformed(
            "a name outside [A-Za-z0-9_.-]".into(),
        )),
    }
}

async fn read_array<S: AsyncRead + Unpin, const N: usize>(
    stream: &mut S,
) -> Result<[u8; N], HelloError> {
    let mut bytes = [0u8; N];
    stream.read_exact(&mut bytes).await?;
    Ok(bytes)
}

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;
