//! The actor's transcript: every turn it runs, condensed into records and appended to the
//! native session's file when the turn ends.
//!
//! The actor sees every event of its session (they all go through [`Actor::emit`]), so it is
//! the one place that can write a complete transcript. Records are written per turn, in one
//! append, when the turn ends: a daemon that dies mid-turn loses only that turn, never the
//! earlier ones. A write that fails never fails the turn; the caller hears of it once per
//! session in a `transcript` status event (and the daemon log never sees the conversation).

use super::actor::{Actor, Queued};
use crate::transcript;
use cap_proto::transcript::{Entry, Record};
use cap_proto::{Envelope, Event, StatusKind};
use std::path::PathBuf;
use tokio::sync::broadcast;

/// The most text one `text` or `thought` record holds: a longer message goes on in the next
/// record, so no record line comes near the protocol's 16 MiB limit when `log` sends it.
const MAX_RECORD_TEXT: usize = 4 * 1024 * 1024;

/// The most text and thought one turn records, as much as a `result` repeats: the records wait
/// in memory until the turn ends, so an agent streaming 100 MB must not cost the daemon
/// 100 MB here (and as much again to write them). The rest is counted, and the turn's records
/// say how much was left out.
const MAX_TURN_TEXT: usize = super::events::MAX_RESULT_OUTPUT;

/// The actor's recording state.
pub(super) struct Recorder {
    /// The transcripts directory; `None` when `transcripts = false`.
    dir: Option<PathBuf>,
    /// The running turn's request id and its records so far.
    turn: Option<(String, Vec<Record>)>,
    /// Text and thought recorded for the running turn, and what was left out past
    /// [`MAX_TURN_TEXT`], in bytes.
    text: usize,
    left_out: u64,
    /// A write failed and the caller was told; said once per session.
    failed: bool,
    /// Every record written, for `cap log --follow`. Made when the first follower subscribes:
    /// a broadcast channel allocates all its slots up front (about 350 KB for these 1024
    /// records), and most sessions are never followed, so an eager one was half of what an
    /// idle session cost the daemon.
    written: Option<broadcast::Sender<Record>>,
}

/// Records a follower may fall behind by before it misses some.
const FOLLOW_BACKLOG: usize = 1024;

impl Recorder {
    pub fn new(dir: Option<PathBuf>) -> Recorder {
        Recorder {
            dir,
            turn: None,
            text: 0,
            left_out: 0,
            failed: false,
            written: None,
        }
    }
}

/// What `cap log --follow` gets from the actor in one step: the file, how much of it was
/// written when it subscribed, and every record written after. Nothing is in both, nothing in
/// neither.
pub struct Following {
    pub path: Option<PathBuf>,
    pub len: u64,
    pub rx: broadcast::Receiver<Record>,
}

impl Actor {
    /// The file of this session's current native id, when recording is on and it is known.
    fn transcript_path(&self) -> Option<PathBuf> {
        let dir = self.record.dir.as_ref()?;
        transcript::path(dir, &self.spec.name, &self.native_id()?)
    }

    /// Starts recording a turn with its prompt (and the preamble the actor puts before it).
    pub(super) fn record_begin(&mut self, q: &Queued) {
        if self.record.dir.is_none() {
            return;
        }
        let prompt = Entry::Prompt {
            text: q.turn.text.clone(),
            preamble: self.preamble.clone(),
            key: q.turn.key.clone(),
        };
        let first = self.new_record(&q.turn.request, prompt);
        self.record.turn = Some((q.turn.request.clone(), vec![first]));
        self.record.text = 0;
        self.record.left_out = 0;
    }

    fn new_record(&self, request: &str, entry: Entry) -> Record {
        Record::now(&self.id, request, &self.spec.name, entry)
    }

    /// Condenses one event of the running turn into its records: deltas join the message
    /// they belong to, a tool call keeps its latest status in its first record's place.
    pub(super) fn record_event(&mut self, env: &Envelope) {
        let Some((request, records)) = self.record.turn.as_mut() else {
            return;
        };
        if env.request.as_deref() != Some(request.as_str()) {
            return;
        }
        if let Event::Text { delta } | Event::Thought { delta } = &env.event {
            // Once something is left out, so is the rest: the record keeps a prefix, no gaps.
            if self.record.left_out > 0 || self.record.text + delta.len() > MAX_TURN_TEXT {
                self.record.left_out += delta.len() as u64;
                return;
            }
            self.record.text += delta.len();
        }
        let entry = match &env.event {
            Event::Text { delta } => {
                if let Some(Entry::Text { text }) = records.last_mut().map(|r| &mut r.entry)
                    && text.len() + delta.len() <= MAX_RECORD_TEXT
                {
                    text.push_str(delta);
                    return;
                }
                Entry::Text {
                    text: delta.clone(),
                }
            }
            Event::Thought { delta } => {
                if let Some(Entry::Thought { text }) = records.last_mut().map(|r| &mut r.entry)
                    && text.len() + delta.len() <= MAX_RECORD_TEXT
                {
                    text.push_str(delta);
                    return;
                }
                Entry::Thought {
                    text: delta.clone(),
                }
            }
            Event::ToolCall(call) => {
                let earlier = records.iter_mut().find_map(|r| match &mut r.entry {
                    Entry::ToolCall(c) if c.id == call.id => Some(c),
                    _ => None,
                });
                if let Some(c) = earlier {
                    merge_tool(c, call);
                    return;
                }
                Entry::ToolCall(call.clone())
            }
            Event::Permission(p) => Entry::Permission(p.clone()),
            Event::Status { kind, message } => Entry::Status {
                kind: kind.clone(),
                message: message.clone(),
            },
            Event::Usage { usage } => Entry::Usage {
                usage: usage.clone(),
            },
            Event::Result(r) => Entry::Result(r.clone()),
            Event::Error(e) => Entry::Error(e.clone()),
            Event::Session(_) | Event::Plan { .. } | Event::Raw { .. } | Event::Unknown => return,
        };
        let request = request.clone();
        let record = self.new_record(&request, entry);
        if let Some((_, records)) = self.record.turn.as_mut() {
            records.push(record);
        }
    }

    /// Ends the turn's recording with its last event and writes the turn. Called before that
    /// event goes out, so a failure's status event still comes before the turn's end.
    pub(super) fn record_end(&mut self, q: &mut Queued, last: &Event) {
        let left_out = std::mem::take(&mut self.record.left_out);
        if left_out > 0 {
            let message = format!(
                "the transcript leaves out the last {left_out} bytes of this turn's text: it \
                 keeps the first {} MiB of a turn's text, as a result does",
                MAX_TURN_TEXT / (1024 * 1024)
            );
            let note = Event::Status {
                kind: StatusKind::Transcript,
                message,
            };
            let env = Envelope::new(note, None, Some(q.turn.request.clone()), 0);
            self.record_event(&env);
        }
        let env = Envelope::new(last.clone(), None, Some(q.turn.request.clone()), 0);
        self.record_event(&env);
        let Some((_, records)) = self.record.turn.take() else {
            return;
        };
        // No native id: the agent never started, so there is no conversation to continue.
        let Some(path) = self.transcript_path() else {
            return;
        };
        match transcript::append(&path, &records) {
            Ok(()) => {
                if let Some(written) = &self.record.written {
                    for r in records {
                        let _ = written.send(r);
                    }
                }
            }
            Err(e) if !self.record.failed => {
                self.record.failed = true;
                let message = format!(
                    "could not record this session's transcript in {}: {e}; the turns go on \
                     unrecorded (said once per session)",
                    path.display()
                );
                self.emit(
                    q,
                    Event::Status {
                        kind: StatusKind::Transcript,
                        message,
                    },
                );
            }
            Err(_) => {}
        }
    }

    /// For `cap log --follow`: the file as it stands and the records still to come.
    pub(super) fn following(&mut self) -> Following {
        let rx = self
            .record
            .written
            .get_or_insert_with(|| broadcast::channel(FOLLOW_BACKLOG).0)
            .subscribe();
        let path = self.transcript_path();
        Following {
            len: path.as_deref().map_or(0, transcript::len),
            path,
            rx,
        }
    }
}

/// A later update of a tool call: the newest status, and whatever input or output it adds.
fn merge_tool(into: &mut cap_proto::ToolCall, update: &cap_proto::ToolCall) {
    into.status = update.status.clone();
    if !update.name.is_empty() {
        into.name = update.name.clone();
    }
    if update.input.is_some() {
        into.input = update.input.clone();
    }
    if update.output.is_some() {
        into.output = update.output.clone();
    }
}
