//! The cloud tier's lease on a real nats-server's JetStream: of two
//! contenders exactly one leads; when the leader stops renewing (its
//! process gone), the other leads within the TTL plus one renewal, with a
//! larger fencing token; a deposed leader's renewal is refused and it steps
//! down; a leader that stops hands over at once.

mod support;

use std::time::Duration;

use std::sync::Arc;
use support::nats::NatsServer;

use swarmd_adapters::cloud_tier::lease::{Leadership, LeaseConfig, contend};
use swarmd_adapters::jetstream::lease::{JetStreamLease, bucket};
use tokio::sync::watch;
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(3);

struct Contender {
    leadership: watch::Receiver<Leadership>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn contender(url: &str, name: &str) -> Contender {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let config = LeaseConfig {
        bucket: "swarmd_lease_test".into(),
        key: "cloud".into(),
        name: name.into(),
        ttl: TTL,
        replicas: 1,
    };
    let store = bucket(&js, &config).await.unwrap();
    let (tx, leadership) = watch::channel(Leadership::default());
    let (stop, stopped) = watch::channel(false);
    let store = Arc::new(JetStreamLease(store));
    let task = tokio::spawn(contend(store, config, tx, stopped));
    Contender {
        leadership,
        stop,
        task,
    }
}

/// Waits (bounded) until `c` sees `ok`; how long it took.
async fn until(
    c: &mut Contender,
    what: &str,
    limit: Duration,
    ok: impl Fn(&Leadership) -> bool,
) -> Duration {
    let start = Instant::now();
    let seen = tokio::time::timeout(limit, c.leadership.wait_for(|l| ok(l)))
        .await
        .is_ok();
    assert!(
        seen,
        "{what} within {limit:?}: {:?}",
        *c.leadership.borrow()
    );
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leads_a_silent_leader_is_replaced_with_a_larger_token() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path()).await;
    let mut a = contender(&nats.url(), "cloud-a").await;
    until(&mut a, "cloud-a leads", TTL * 2, |l| l.mine).await;
    let first = a.leadership.borrow().token;
    assert!(first > 0);
    let mut b = contender(&nats.url(), "cloud-b").await;
    until(&mut b, "cloud-b follows cloud-a", TTL * 2, |l| {
        l.leader.as_deref() == Some("cloud-a") && l.token == first && !l.mine
    })
    .await;
    // Stays so over several renewals: never two leaders.
    for _ in 0..6 {
        tokio::time::sleep(TTL / 3).await;
        assert!(a.leadership.borrow().mine && !b.leadership.borrow().mine);
    }

    // cloud-a's process is gone: no hand-over, its lease runs out.
    a.task.abort();
    let took = until(&mut b, "cloud-b leads", TTL * 3, |l| l.mine).await;
    let second = b.leadership.borrow().token;
    println!("silent leader replaced after {took:?} (TTL {TTL:?})");
    assert!(took <= TTL + TTL / 3 + Duration::from_secs(1), "{took:?}");
    assert!(second > first, "token {second} after {first}");

    // A leader that stops hands over at once.
    let mut c = contender(&nats.url(), "cloud-c").await;
    until(&mut c, "cloud-c follows cloud-b", TTL * 2, |l| {
        l.leader.as_deref() == Some("cloud-b")
    })
    .await;
    b.stop.send_replace(true);
    b.task.await.unwrap();
    let took = until(&mut c, "cloud-c leads", TTL * 2, |l| l.mine).await;
    println!("stopped leader handed over after {took:?}");
    assert!(c.leadership.borrow().token > second);
    c.stop.send_replace(true);
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_key_another_took_steps_down_at_its_next_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path()).await;
    let mut a = contender(&nats.url(), "cloud-a").await;
    until(&mut a, "cloud-a leads", TTL * 2, |l| l.mine).await;
    // As if cloud-a had paused past its TTL and another had taken the key.
    let js = async_nats::jetstream::new(async_nats::connect(&nats.url()).await.unwrap());
    let store = js.get_key_value("swarmd_lease_test").await.unwrap();
    store.purge("cloud").await.unwrap();
    let taken = store
        .create("cloud", r#"{"name":"cloud-z","token":1}"#.into())
        .await
        .unwrap();
    assert!(taken > 0);
    let took = until(&mut a, "cloud-a steps down", TTL, |l| !l.mine).await;
    println!("deposed leader stepped down after {took:?}");
    until(&mut a, "cloud-a follows cloud-z", TTL, |l| {
        l.leader.as_deref() == Some("cloud-z")
    })
    .await;
    a.stop.send_replace(true);
    a.task.await.unwrap();
}

/// The key names a contender that does not hold it: its process restarted
/// at once after a crash, or its renewal timed out but was written. It
/// takes the lease back under a new, larger token well before the key
/// would expire, rather than leave the tier leaderless for a TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contender_named_in_a_key_it_does_not_hold_takes_it_back_with_a_new_token() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path()).await;
    let mut a = contender(&nats.url(), "cloud-a").await;
    until(&mut a, "cloud-a leads", TTL * 2, |l| l.mine).await;
    let first = a.leadership.borrow().token;
    a.task.abort(); // a crash: the key still names cloud-a, for a TTL

    let mut again = contender(&nats.url(), "cloud-a").await;
    let took = until(&mut again, "cloud-a leads again", TTL, |l| l.mine).await;
    let second = again.leadership.borrow().token;
    println!("restarted leader took its lease back after {took:?} (TTL {TTL:?})");
    assert!(second > first, "token {second} after {first}");
    let mut b = contender(&nats.url(), "cloud-b").await;
    until(&mut b, "cloud-b follows the new token", TTL * 2, |l| {
        l.leader.as_deref() == Some("cloud-a") && l.token == second && !l.mine
    })
    .await;
    again.stop.send_replace(true);
    again.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_jetstream_steps_down_before_its_ttl_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(dir.path()).await;
    let mut a = contender(&nats.url(), "cloud-a").await;
    until(&mut a, "cloud-a leads", TTL * 2, |l| l.mine).await;
    // Its last renewal was at most a third of the TTL ago; the key outlives
    // it by the TTL, so stepping down within the TTL of the kill is early enough.
    nats.kill().await;
    let took = until(&mut a, "cloud-a steps down", TTL, |l| !l.mine).await;
    println!("cut-off leader stepped down after {took:?} (TTL {TTL:?})");
    a.stop.send_replace(true);
    a.task.await.unwrap();
}
