//! A test worker that reports its lifecycle, and helpers to drive supervisors.

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_supervisor::{
    ChildInfo, ChildSpec, Strategy, Supervisor, SupervisorMsg, SupervisorSpec,
};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(5);

/// A child that reports its lifecycle and fails or exits on command.
pub struct Worker;

pub enum Cmd {
    Fail,
    Exit,
}
impl ractor::Message for Cmd {}

#[derive(Clone)]
pub struct WorkerArgs {
    pub id: &'static str,
    pub events: mpsc::Sender<String>,
    pub fail_start: bool,
    pub slow_stop: bool,
}

impl Actor for Worker {
    type Msg = Cmd;
    type State = WorkerArgs;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<Cmd>,
        args: WorkerArgs,
    ) -> Result<WorkerArgs, ActorProcessingErr> {
        if args.fail_start {
            args.events.send(format!("refuse:{}", args.id)).await?;
            return Err("refusing to start".into());
        }
        args.events.send(format!("start:{}", args.id)).await?;
        Ok(args)
    }

    async fn handle(
        &self,
        me: ActorRef<Cmd>,
        cmd: Cmd,
        _s: &mut WorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        match cmd {
            Cmd::Fail => Err("told to fail".into()),
            Cmd::Exit => {
                me.stop(None);
                Ok(())
            }
        }
    }

    async fn post_stop(
        &self,
        _me: ActorRef<Cmd>,
        s: &mut WorkerArgs,
    ) -> Result<(), ActorProcessingErr> {
        if s.slow_stop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        s.events.send(format!("stop:{}", s.id)).await?;
        Ok(())
    }
}

pub struct Harness {
    events: mpsc::Sender<String>,
    seen: mpsc::Receiver<String>,
}

impl Harness {
    pub fn new() -> Self {
        let (events, seen) = mpsc::channel(1024);
        Self { events, seen }
    }

    pub fn args(&self, id: &'static str) -> WorkerArgs {
        WorkerArgs {
            id,
            events: self.events.clone(),
            fail_start: false,
            slow_stop: false,
        }
    }

    pub fn child(&self, id: &'static str) -> ChildSpec {
        child_from(self.args(id))
    }

    /// The next `n` lifecycle events, each within `WAIT`.
    pub async fn next(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let ev = tokio::time::timeout(WAIT, self.seen.recv()).await;
            out.push(ev.expect("lifecycle event in time").expect("channel open"));
        }
        out
    }

    pub fn quiet(&mut self) -> bool {
        self.seen.try_recv().is_err()
    }
}

pub fn child_from(args: WorkerArgs) -> ChildSpec {
    ChildSpec::new(args.id, move |sup| {
        let args = args.clone();
        async move {
            let (w, _) = Actor::spawn_linked(None, Worker, args, sup).await?;
            Ok(w.get_cell())
        }
    })
}

pub async fn children(sup: &ActorRef<SupervisorMsg>) -> Vec<ChildInfo> {
    ractor::call_t!(sup, SupervisorMsg::WhichChildren, 5000).unwrap()
}

pub async fn worker(sup: &ActorRef<SupervisorMsg>, id: &str) -> ActorRef<Cmd> {
    let info = children(sup)
        .await
        .into_iter()
        .find(|c| c.id == id)
        .unwrap();
    ractor::registry::where_is_pid(info.actor.unwrap())
        .expect("registered pid")
        .into()
}

pub async fn start(spec: SupervisorSpec) -> ActorRef<SupervisorMsg> {
    Actor::spawn(None, Supervisor, spec).await.unwrap().0
}

pub fn spec(h: &Harness, strategy: Strategy, ids: &[&'static str]) -> SupervisorSpec {
    ids.iter().fold(
        SupervisorSpec::new("sup", strategy).intensity(10, Duration::from_secs(60)),
        |s, id| s.child(h.child(id)),
    )
}
