use super::*;
use tokio::io::duplex;

const COOKIE: &str = "QWERTYUIOPASDFGHJKLZXCVBNMQWERTY";

fn admit_all(_: &str, _: Purpose) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn both_sides_learn_the_other_s_proven_name() {
    let (mut a, mut b) = duplex(4096);
    let (client, server) = tokio::join!(
        client(&mut a, COOKIE, "edge-1", Purpose::Member, [1; 32]),
        server(&mut b, COOKIE, "cloud", [2; 32], admit_all),
    );
    let dialer = client.unwrap();
    assert_eq!(dialer.name, "cloud");
    let server = server.unwrap();
    assert_eq!(server.name, "edge-1");
    assert_eq!(server.purpose, Purpose::Member);
    assert_eq!(dialer.key, server.key, "both ends derive one session key");

    let (mut a, mut b) = duplex(4096);
    let (again, _) = tokio::join!(
        super::client(&mut a, COOKIE, "edge-1", Purpose::Member, [3; 32]),
        super::server(&mut b, COOKIE, "cloud", [2; 32], admit_all),
    );
    assert_ne!(
        again.unwrap().key,
        dialer.key,
        "another session, another key"
    );
}

#[tokio::test]
async fn a_wrong_cookie_fails_on_the_first_answer() {
    let (mut a, mut b) = duplex(4096);
    let server_side =
        tokio::spawn(async move { server(&mut b, COOKIE, "cloud", [2; 32], admit_all).await });
    let wrong = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
    let err = client(&mut a, wrong, "edge-1", Purpose::Member, [1; 32])
        .await
        .unwrap_err();
    assert!(matches!(err, HelloError::WrongCookie), "{err}");
    drop(a);
    // The server never saw a proof it could accept.
    assert!(server_side.await.unwrap().is_err());
}

/// The attack ractor_cluster's own handshake falls to: a stranger opens a
/// session to the node (leg 1), makes the node dial it (leg 2), and shuttles
/// what the node says on one leg to the other. Here nothing the node says
/// on either leg completes the other.
#[tokio::test]
async fn a_relaying_stranger_completes_neither_leg() {
    // Leg 1: the stranger dials the node.
    let (mut leg1, mut node_accepting) = duplex(4096);
    let node_server = tokio::spawn(async move {
        server(&mut node_accepting, COOKIE, "cloud", [7; 32], admit_all).await
    });
    let mut hello = Vec::new();
    hello.extend_from_slice(MAGIC);
    hello.extend_from_slice(&[VERSION, Purpose::Member.byte()]);
    push_name(&mut hello, "mallory").unwrap();
    hello.extend_from_slice(&[9; 32]);
    leg1.write_all(&hello).await.unwrap();
    let mut answer = vec![0u8; 5 + 1 + "cloud".len() + 32 + 32];
    leg1.read_exact(&mut answer).await.unwrap();
    let (server_nonce, server_mac) = answer[answer.len() - 64..].split_at(32);

    // Leg 2: the node dials the stranger, which answers with leg 1's nonce
    // and proof, hoping the node signs something leg 1 can use.
    let (mut node_dialing, mut leg2) = duplex(4096);
    let node_client = tokio::spawn(async move {
        client(&mut node_dialing, COOKIE, "cloud", Purpose::Member, [3; 32]).await
    });
    let mut their_hello = vec![0u8; 4 + 2 + 1 + "cloud".len() + 32];
    leg2.read_exact(&mut their_hello).await.unwrap();
    let mut reply = Vec::new();
    reply.extend_from_slice(MAGIC);
    reply.push(VERSION);
    push_name(&mut reply, "mallory").unwrap();
    reply.extend_from_slice(server_nonce);
    reply.extend_from_slice(server_mac);
    leg2.write_all(&reply).await.unwrap();
    let err = node_client.await.unwrap().unwrap_err();
    assert!(matches!(err, HelloError::WrongCookie), "{err}");
    // The node signed nothing on leg 2; whatever the stranger sends on leg 1 fails.
    let mut nothing = Vec::new();
    let _ = leg2.read_to_end(&mut nothing).await;
    assert!(nothing.is_empty(), "the node answered a forged proof");
    leg1.write_all(server_mac).await.unwrap();
    let err = node_server.await.unwrap().unwrap_err();
    assert!(matches!(err, HelloError::WrongCookie), "{err}");
}

#[tokio::test]
async fn a_peer_claiming_the_node_s_own_name_is_refused_before_any_proof() {
    let (mut a, mut b) = duplex(4096);
    // The server owns its end: refusing drops it, which ends the client's wait.
    let server_side =
        tokio::spawn(async move { server(&mut b, COOKIE, "cloud", [2; 32], admit_all).await });
    let client = client(&mut a, COOKIE, "cloud", Purpose::Member, [1; 32]).await;
    let server = server_side.await.unwrap();
    assert!(matches!(server, Err(HelloError::Refused(_))), "{server:?}");
    assert!(matches!(client, Err(HelloError::Io(_))), "{client:?}");
}

#[tokio::test]
async fn garbage_is_refused_after_a_bounded_read() {
    let (mut a, mut b) = duplex(1 << 20);
    a.write_all(&[0xff; 1 << 16]).await.unwrap();
    let err = server(&mut b, COOKIE, "cloud", [2; 32], admit_all)
        .await
        .unwrap_err();
    assert!(matches!(err, HelloError::Malformed(_)), "{err}");
}

#[test]
fn the_bound_covers_the_longest_hello() {
    const { assert!(MAX_HELLO_BYTES >= 4 + 2 + 1 + MAX_NAME_BYTES + NONCE_BYTES) };
    const { assert!(MAX_HELLO_BYTES >= 4 + 1 + 1 + MAX_NAME_BYTES + NONCE_BYTES + MAC_BYTES) };
}
