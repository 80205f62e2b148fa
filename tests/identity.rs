//! A node is who its session says, not who its frames claim: a cookie holder
//! (this test process, as a bare ractor_cluster node) that writes frames as
//! another member is refused, and the real member is unaffected.

mod support;

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::{NodeServer, NodeServerMessage};
use serde_json::Value;
use support::{Node, STARTUP};
use swarmd_cluster::gateway::{GatewayMsg, gateway_name};
use swarmd_cluster::transport::DialedStream;
use swarmd_cluster::transport::hello::{self, Purpose};
use swarmd_messages::{
    Envelope, MemberInfo, NO_TICKET, Role, SYSTEM_TENANT, Ticket, TraceContext, WireFrame, WireMsg,
    decode, encode,
};
use tokio::sync::mpsc;

const COOKIE: &str = "IDENTITYTESTCOOKIEXQZJVKWPMBRTYH";

/// Stands in for the rogue's gateway: hands every frame it gets to the test.
struct Inbox;

impl Actor for Inbox {
    type Msg = GatewayMsg;
    type State = mpsc::UnboundedSender<WireFrame>;
    type Arguments = mpsc::UnboundedSender<WireFrame>;

    async fn pre_start(
        &self,
        _: ActorRef<GatewayMsg>,
        tx: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle(
        &self,
        _: ActorRef<GatewayMsg>,
        msg: GatewayMsg,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let GatewayMsg::Frame(bytes) = msg {
            let _ = tx.send(decode::<WireFrame>(&bytes)?.payload);
        }
        Ok(())
    }
}

fn frame(from: &str, ticket: Ticket, msgs: Vec<WireMsg>) -> GatewayMsg {
    let frame = WireFrame {
        from: from.into(),
        incarnation: 999,
        ticket,
        msgs,
    };
    GatewayMsg::Frame(
        encode(&Envelope::new(
            SYSTEM_TENANT,
            TraceContext::default(),
            frame,
        ))
        .unwrap(),
    )
}

fn member(name: &str) -> MemberInfo {
    MemberInfo {
        name: name.into(),
        role: Role::Edge,
        cluster_addr: "127.0.0.1:9".into(),
        incarnation: 999,
    }
}

fn refused(reason: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("frame refused"))
            && v["message"].as_str().unwrap().contains(reason)
    }
}

/// The first offer the cloud's gateway makes the rogue's session.
async fn ticket_offer(frames: &mut mpsc::UnboundedReceiver<WireFrame>) -> Ticket {
    loop {
        let frame = tokio::time::timeout(STARTUP, frames.recv())
            .await
            .expect("a ticket offer from the cloud within the startup limit")
            .expect("inbox open");
        assert_eq!(frame.from, "cloud");
        if let Some(WireMsg::Ticket { ticket, .. }) = frame.msgs.first() {
            assert_eq!(frame.ticket, NO_TICKET, "offers travel unticketed");
            return *ticket;
        }
    }
}

async fn cloud_gateway_proxy(server: &ActorRef<NodeServerMessage>) -> ActorRef<GatewayMsg> {
    let name = gateway_name("cloud");
    let found = tokio::time::timeout(STARTUP, async {
        loop {
            let sessions = ractor::call!(server, NodeServerMessage::GetSessions).unwrap();
            let proxy = sessions
                .values()
                .flat_map(|s| s.actor.get_children())
                .find(|c| c.get_name().as_deref() == Some(name.as_str()));
            if let Some(proxy) = proxy {
                return ActorRef::<GatewayMsg>::from(proxy);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    found
        .await
        .expect("the cloud's gateway proxy within the startup limit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_claiming_another_member_are_refused_and_the_member_is_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWARMD_COOKIE", COOKIE)];
    let mut cloud = Node::start(
        &dir.path().join("cloud"),
        &["--name", "cloud", "--role", "cloud"],
        &env,
    );
    cloud.ready().await;
    let edge_args = [
        "--name",
        "edge-1",
        "--role",
        "edge",
        "--join",
        &cloud.listen,
    ];
    let mut edge = Node::start(&dir.path().join("edge"), &edge_args, &env);
    edge.ready().await;
    let up = |m: &'static str| {
        move |v: &Value| v["message"] == "membership changed" && v["member"] == m && v["to"] == "up"
    };
    cloud.wait_for("edge-1 up", STARTUP, up("edge-1")).await;

    // The rogue: a real ractor_cluster node with the cookie, under its own name.
    let (tx, mut frames) = mpsc::unbounded_channel();
    let (_inbox, _) = Actor::spawn(Some(gateway_name("rogue")), Inbox, tx)
        .await
        .unwrap();
    let server = NodeServer::new(
        0,
        COOKIE.into(),
        "rogue".into(),
        "127.0.0.1".into(),
        None,
        None,
    );
    let (server, _) = Actor::spawn(None, server, ()).await.unwrap();
    // It passes swarmd's handshake (it holds the cookie) under its own name.
    let mut tcp: swarmd_actors::ctx::Connection =
        Box::new(tokio::net::TcpStream::connect(&cloud.listen).await.unwrap());
    let proven = hello::client(&mut tcp, COOKIE, "rogue", Purpose::Member, [5; 32])
        .await
        .unwrap();
    assert_eq!(proven.name, "cloud");
    let stream = DialedStream {
        connection: tcp,
        peer: "rogue".into(),
    };
    ractor_cluster::client_connect_external(&server, Box::new(stream))
        .await
        .unwrap();
    let gateway = cloud_gateway_proxy(&server).await;
    let rogues_ticket = ticket_offer(&mut frames).await;

    // 1. Its own, valid ticket on a frame claiming edge-1.
    let forged = vec![
        WireMsg::Hello(member("edge-1")),
        WireMsg::Members(vec![member("edge-1")]),
    ];
    gateway
        .cast(frame("edge-1", rogues_ticket, forged.clone()))
        .unwrap();
    cloud
        .wait_for("forged frame refused", STARTUP, refused("another node"))
        .await;
    // 2. A made-up ticket.
    gateway.cast(frame("edge-1", 42, forged.clone())).unwrap();
    cloud
        .wait_for(
            "unknown ticket refused",
            STARTUP,
            refused("stale or was never issued"),
        )
        .await;
    // 3. No ticket: only the handshake may travel so; the rest is refused.
    let offer = WireMsg::Ticket {
        ticket: 7,
        ask: true,
    };
    gateway
        .cast(frame("edge-1", NO_TICKET, vec![offer, WireMsg::Heartbeat]))
        .unwrap();
    // 4. Then, as itself, with its ticket: accepted, and processed after the forgeries.
    gateway
        .cast(frame(
            "rogue",
            rogues_ticket,
            vec![WireMsg::Hello(member("rogue"))],
        ))
        .unwrap();
    cloud
        .wait_for("the rogue up as itself", STARTUP, up("rogue"))
        .await;

    let counts = cloud.events();
    let refusals = counts.iter().filter(|v| refused("")(v)).count();
    assert!(refusals >= 2, "every forged frame refused: {refusals}");
    let impersonated = counts.iter().any(|v| {
        v["message"] == "membership changed" && v["member"] == "edge-1" && v["incarnation"] == 999
    });
    assert!(
        !impersonated,
        "a forged hello changed edge-1's membership:\n{}",
        cloud.log.join("\n")
    );
    let disturbed = counts.iter().any(|v| {
        v["message"] == "membership changed" && v["member"] == "edge-1" && v["to"] != "up"
    });
    assert!(
        !disturbed,
        "edge-1 was disturbed:\n{}",
        cloud.log.join("\n")
    );
    // The cloud and the real edge still talk: the edge sees the rogue by gossip.
    edge.wait_for("gossip from the cloud", STARTUP, |v| {
        v["message"] == "dialing member" && v["learned_by"] == "gossip" && v["member"] == "rogue"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_under_a_taken_name_is_refused_and_the_first_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWARMD_COOKIE", COOKIE)];
    let cloud_args = ["--name", "cloud", "--role", "cloud"];
    let mut cloud = Node::start(&dir.path().join("cloud"), &cloud_args, &env);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let edge_args = ["--name", "edge-1", "--role", "edge", "--join", &seed];
    let mut edge = Node::start(&dir.path().join("edge"), &edge_args, &env);
    edge.ready().await;
    let up = |v: &Value| {
        v["message"] == "membership changed" && v["member"] == "edge-1" && v["to"] == "up"
    };
    let first = cloud.wait_for("edge-1 up", STARTUP, up).await;
    // Another process, another data dir, the same name.
    let mut twin = Node::start(&dir.path().join("twin"), &edge_args, &env);
    twin.ready().await;
    cloud
        .wait_for("the twin refused", STARTUP, |v| {
            v["message"] == "cluster session refused: another node already holds this name"
        })
        .await;
    // It keeps trying; the cloud keeps refusing, and edge-1 stays the first.
    cloud
        .wait_count("refused again", STARTUP, 2, |v| {
            v["message"] == "cluster session refused: another node already holds this name"
        })
        .await;
    let changes: Vec<Value> = cloud
        .events()
        .into_iter()
        .filter(|v| v["message"] == "membership changed" && v["member"] == "edge-1")
        .collect();
    assert_eq!(
        changes.len(),
        1,
        "edge-1 changed only once, to up: {changes:?}"
    );
    assert_eq!(changes[0]["incarnation"], first["incarnation"]);
    twin.signal(libc::SIGTERM);
    assert_eq!(twin.exit().await.code(), Some(0));
    edge.signal(libc::SIGTERM);
    assert_eq!(edge.exit().await.code(), Some(0));
}
