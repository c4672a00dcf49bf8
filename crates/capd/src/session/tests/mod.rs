//! The actor's state machine against a scripted in-memory driver: no processes, and a paused
//! clock wherever a timer matters, so every test is exact and instant.

mod permissions;
mod record;
mod structured;
mod turns;

use super::*;
use crate::agents::Protocol;
use crate::drivers::{BoxFuture, Driver, DriverError, DriverEvent, StartSpec, TurnEnd};
use cap_proto::policy::Policy;
use cap_proto::request::Asker;
use cap_proto::{Event, StopReason};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the actor did to a scripted driver.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Call {
    Send(String),
    Cancel,
    Answer(String, bool),
    Shutdown,
}

/// The test's end of one started driver.
pub(super) struct Remote {
    pub(super) spec: StartSpec,
    events: mpsc::UnboundedSender<DriverEvent>,
    pub(super) calls: mpsc::UnboundedReceiver<Call>,
    alive: Arc<AtomicBool>,
}

impl Remote {
    pub(super) async fn call(&mut self) -> Call {
        self.calls.recv().await.expect("the driver was dropped")
    }

    pub(super) fn say(&self, ev: DriverEvent) {
        let _ = self.events.send(ev);
    }

    pub(super) fn reply(&self, text: &str) {
        self.say(DriverEvent::Text(text.into()));
        self.end(StopReason::EndTurn);
    }

    pub(super) fn end(&self, stop_reason: StopReason) {
        self.say(DriverEvent::TurnEnd(TurnEnd {
            ok: true,
            output: None,
            stop_reason,
            error: None,
        }));
    }

    /// The agent dies: output ends and the process is gone.
    pub(super) fn die(&self) {
        self.alive.store(false, Ordering::SeqCst);
        self.say(DriverEvent::Exited);
    }
}

pub(super) struct Scripted {
    native: String,
    events: mpsc::UnboundedReceiver<DriverEvent>,
    calls: mpsc::UnboundedSender<Call>,
    alive: Arc<AtomicBool>,
}

impl Driver for Scripted {
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError> {
        let _ = self.calls.send(Call::Send(text.into()));
        Ok(())
    }
    fn cancel(&mut self) -> Result<(), DriverError> {
        let _ = self.calls.send(Call::Cancel);
        Ok(())
    }
    fn answer(&mut self, id: &str, allow: bool) -> Result<(), DriverError> {
        let _ = self.calls.send(Call::Answer(id.into(), allow));
        Ok(())
    }
    fn native_id(&self) -> Option<String> {
        Some(self.native.clone())
    }
    fn events(&mut self) -> &mut mpsc::UnboundedReceiver<DriverEvent> {
        &mut self.events
    }
    fn pid(&self) -> Option<u32> {
        Some(4242)
    }
    fn is_alive(&mut self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }
    fn stderr_tail(&self) -> String {
        String::new()
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<()> {
        let _ = self.calls.send(Call::Shutdown);
        Box::pin(async {})
    }
}

/// How the next start goes.
pub(super) enum Start {
    Ok,
    Fail(DriverError),
    /// Held until the sender fires (or is dropped, which fails it).
    Held(oneshot::Receiver<()>),
}

/// Hands each started driver's remote to the test, in order.
pub(super) struct Factory {
    plan: Mutex<VecDeque<Start>>,
    remotes: mpsc::UnboundedSender<Remote>,
    starts: std::sync::atomic::AtomicUsize,
}

impl crate::drivers::Factory for Factory {
    fn start(&self, spec: StartSpec) -> BoxFuture<Result<Box<dyn Driver>, DriverError>> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst);
        let how = self.plan.lock().unwrap().pop_front().unwrap_or(Start::Ok);
        let remotes = self.remotes.clone();
        Box::pin(async move {
            match how {
                Start::Ok => {}
                Start::Fail(e) => return Err(e),
                Start::Held(rx) => {
                    if rx.await.is_err() {
                        return Err(DriverError::Unsupported("a held start"));
                    }
                }
            }
            let native = match &spec.mode {
                OpenMode::Resume(id) => id.clone(),
                _ => format!("native-{n}"),
            };
            let (ev_tx, ev_rx) = mpsc::unbounded_channel();
            let (call_tx, call_rx) = mpsc::unbounded_channel();
            let alive = Arc::new(AtomicBool::new(true));
            let _ = remotes.send(Remote {
                spec,
                events: ev_tx,
                calls: call_rx,
                alive: alive.clone(),
            });
            Ok(Box::new(Scripted {
                native,
                events: ev_rx,
                calls: call_tx,
                alive,
            }) as Box<dyn Driver>)
        })
    }
}

/// One actor under test.
pub(super) struct Rig {
    pub(super) handle: SessionHandle,
    remotes: mpsc::UnboundedReceiver<Remote>,
    pub(super) ups: mpsc::UnboundedReceiver<Up>,
}

pub(super) fn rig(mode: OpenMode, plan: Vec<Start>) -> Rig {
    rig_with(mode, plan, None)
}

/// A rig whose actor records its transcripts under `transcripts`.
pub(super) fn rig_with(mode: OpenMode, plan: Vec<Start>, transcripts: Option<PathBuf>) -> Rig {
    let (remotes_tx, remotes) = mpsc::unbounded_channel();
    let factory = Arc::new(Factory {
        plan: Mutex::new(plan.into()),
        remotes: remotes_tx,
        starts: Default::default(),
    });
    let (up, ups) = mpsc::unbounded_channel();
    let open = Open {
        id: "s1".into(),
        agent: AgentSpec {
            name: "fake".into(),
            protocol: Protocol::Acp,
            program: "fake".into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            mode: None,
            mcp_servers: Default::default(),
            share: false,
        },
        home_key: "k".into(),
        cwd: "/".into(),
        model: None,
        mode,
        preamble: None,
        queue_depth: 2,
        ready_timeout: Duration::from_secs(5),
        cancel_grace: Duration::from_secs(2),
        permission_timeout: Duration::from_secs(30),
        transcripts,
        spare: None,
        mcp_servers: Default::default(),
    };
    Rig {
        handle: spawn(open, factory, up),
        remotes,
        ups,
    }
}

/// A submitted turn's event stream.
pub(super) struct Caller {
    pub(super) request: String,
    events: mpsc::UnboundedReceiver<Envelope>,
}

impl Caller {
    pub(super) async fn next(&mut self) -> Envelope {
        self.events
            .recv()
            .await
            .expect("the turn ended without a last event")
    }

    /// Events until the turn's `result` or `error`, which is returned with them.
    pub(super) async fn finish(&mut self) -> Vec<Envelope> {
        let mut all = Vec::new();
        loop {
            let env = self.next().await;
            let end = matches!(env.event, Event::Result(_) | Event::Error(_));
            all.push(env);
            if end {
                return all;
            }
        }
    }
}

impl Rig {
    pub(super) async fn remote(&mut self) -> Remote {
        self.remotes.recv().await.expect("no agent was started")
    }

    pub(super) async fn submit(&self, text: &str, timeout: Option<Duration>) -> Caller {
        self.submit_with(text, timeout, Policy::default(), Asker::Nobody)
            .await
    }

    pub(super) async fn submit_with(
        &self,
        text: &str,
        timeout: Option<Duration>,
        policy: Policy,
        asker: Asker,
    ) -> Caller {
        let (tx, rx) = mpsc::unbounded_channel();
        let request = format!("r-{text}");
        let turn = Turn {
            request: request.clone(),
            text: text.into(),
            timeout,
            policy,
            asker,
            events: tx,
            key: Some("k".into()),
            how: How::Opened,
            notices: Vec::new(),
            context: None,
            schema: None,
            model: None,
            mcp_servers: None,
            steer: false,
        };
        self.handle.submit(turn).await.expect("queued");
        Caller {
            request,
            events: rx,
        }
    }

    /// Answers every change sent up so far, like the daemon does.
    pub(super) fn drain_ups(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        while let Ok(up) = self.ups.try_recv() {
            let _ = up.applied.send(());
            out.push(up.change);
        }
        out
    }
}

pub(super) fn last(events: &[Envelope]) -> &Event {
    &events.last().expect("events").event
}

pub(super) fn result_of(events: &[Envelope]) -> (String, StopReason) {
    match last(events) {
        Event::Result(r) => (r.output.clone(), r.stop_reason.clone()),
        other => panic!("expected a result, got {other:?}"),
    }
}

pub(super) fn statuses(events: &[Envelope]) -> Vec<StatusKind> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Status { kind, .. } => Some(kind.clone()),
            _ => None,
        })
        .collect()
}

/// Answers the daemon's side of the up channel in the background.
pub(super) fn ack_ups(
    mut ups: mpsc::UnboundedReceiver<Up>,
) -> tokio::task::JoinHandle<Vec<Change>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(up) = ups.recv().await {
            let _ = up.applied.send(());
            seen.push(up.change);
        }
        seen
    })
}

pub(super) fn take_ups(rig: &mut Rig) -> tokio::task::JoinHandle<Vec<Change>> {
    let (_, empty) = mpsc::unbounded_channel();
    ack_ups(std::mem::replace(&mut rig.ups, empty))
}
