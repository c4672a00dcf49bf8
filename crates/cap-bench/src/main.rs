//! `cap-bench`: measures the release `cap` and `capd` against the instant fake agent, and acpx
//! on the same fake ACP agent, then prints a Markdown results table (docs/benchmarks.md).
//!
//! It builds nothing, so the numbers are always those of optimised binaries:
//!
//! ```sh
//! cargo build --release -p cap -p capd -p cap-fake-agent -p cap-bench && cargo run --release -p cap-bench
//! ```
//!
//! `--only GROUP[,GROUP…]` runs only those groups, e.g. `--only load` (64 clients × 100
//! prompts, the figures in docs/reliability.md), `--only state` (300,000 remembered keys:
//! new-key prompts and `status` while capd saves), or `--only many,stream,exec,first` (the
//! scale figures of docs/benchmarks.md).
//!
//! Everything runs on this machine over local sockets, every daemon lives in its own temporary
//! directory, and every measurement is bounded in count (`--n`, …) and in time (`--budget`).
//! A measurement that fails is reported in the table as failed, never filled in.

mod acpx;
mod env;
mod machine;
mod measure;
mod proc;
mod procfs;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::report::Row;

/// Command-line options. The defaults are the ones the committed table was made with.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "cap-bench",
    about = "Benchmark cap/capd (release builds) and acpx on the instant fake agent"
)]
pub struct Opts {
    /// Directory holding the release `cap`, `capd` and `cap-fake-agent`.
    #[arg(long, default_value_os_t = workspace_root().join("target").join("release"))]
    pub bins: PathBuf,
    /// Cache directory acpx is installed into with npm (gitignored).
    #[arg(long, default_value_os_t = workspace_root().join(".bench-cache"))]
    pub cache: PathBuf,
    /// Samples for the sequential cap measurements (round trip, warm prompts).
    #[arg(long, default_value_t = 200)]
    pub n: usize,
    /// Samples of warm acpx prompts (each costs over a second).
    #[arg(long, default_value_t = 20)]
    pub acpx_n: usize,
    /// Bursts per concurrency measurement.
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Samples per format of the ~4 MiB streamed reply.
    #[arg(long, default_value_t = 10)]
    pub huge_n: usize,
    /// Wall-clock budget of one measurement loop in seconds: past it the loop stops and the
    /// table shows the N it reached.
    #[arg(long, default_value_t = 120)]
    pub budget: u64,
    /// Leave acpx out (no npm install).
    #[arg(long)]
    pub skip_acpx: bool,
    /// Clients of the load measurement, all at once.
    #[arg(long, default_value_t = 64)]
    pub load_clients: usize,
    /// Prompts each load client sends, one after another.
    #[arg(long, default_value_t = 100)]
    pub load_prompts: usize,
    /// Keys the load clients share.
    #[arg(long, default_value_t = 8)]
    pub load_keys: usize,
    /// Remembered keys in the state file of the large-state measurement.
    #[arg(long, default_value_t = 300_000)]
    pub state_keys: usize,
    /// New-key prompts (and quiet `status` samples) of the large-state measurement.
    #[arg(long, default_value_t = 20)]
    pub state_n: usize,
    /// Live sessions of the `many` measurement; a list (`100,250,500`) runs each size.
    #[arg(long, value_delimiter = ',', default_value = "500")]
    pub many_sessions: Vec<usize>,
    /// Clients of the `many` measurement, all at once; a list runs each count at every size.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    pub many_clients: Vec<usize>,
    /// Prompts each `many` client sends, one after another.
    #[arg(long, default_value_t = 20)]
    pub many_prompts: usize,
    /// Agent output of the `stream` measurement in MB (10^6 bytes); a list runs each size.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub stream_mb: Vec<usize>,
    /// Samples per format and size of the `stream` measurement.
    #[arg(long, default_value_t = 3)]
    pub stream_n: usize,
    /// First prompts on new keys per variant of the `first` measurement.
    #[arg(long, default_value_t = 20)]
    pub first_n: usize,
    /// How long the fake agent takes to start in the `first` measurement, in ms; a list runs
    /// each (0: the instant fake).
    #[arg(long, value_delimiter = ',', default_value = "0,500")]
    pub first_start_ms: Vec<u64>,
    /// Run only these measurement groups (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Group>,
}

/// The measurement groups, in the order they run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Warm,
    Acpx,
    Concurrent,
    Memory,
    Huge,
    Load,
    State,
    /// 500 live sessions, 64 clients × 20 prompts over them.
    Many,
    /// 100 MB of agent output through one turn.
    Stream,
    /// `cap` as multiples of a minimal Rust binary's exec time.
    Exec,
    /// The first prompt on a new key: cold, onto a prewarmed spare.
    First,
}

impl Opts {
    pub fn budget(&self) -> Duration {
        Duration::from_secs(self.budget)
    }
}

/// The workspace root, from where this crate's sources were compiled.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..");
    here.canonicalize().unwrap_or(here)
}

/// The release binaries the benchmark drives.
#[derive(Debug, Clone)]
pub struct Bins {
    pub cap: PathBuf,
    pub capd: PathBuf,
    pub fake: PathBuf,
    /// `cap-bench-noop`, the floor of `exec`; only that group needs it.
    pub noop: PathBuf,
}

impl Bins {
    fn find(dir: &Path) -> anyhow::Result<Bins> {
        // Absolute: every `cap` runs in its installation's work directory.
        let dir = dir
            .canonicalize()
            .with_context(|| format!("no directory {}", dir.display()))?;
        let bins = Bins {
            cap: dir.join("cap"),
            capd: dir.join("capd"),
            fake: dir.join("cap-fake-agent"),
            noop: dir.join("cap-bench-noop"),
        };
        for b in [&bins.cap, &bins.capd, &bins.fake] {
            if !b.is_file() {
                bail!(
                    "{} is missing; build first: cargo build --release -p cap -p capd -p cap-fake-agent -p cap-bench",
                    b.display()
                );
            }
        }
        Ok(bins)
    }
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cap-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every measurement in turn; returns whether all of them succeeded.
fn run(opts: &Opts) -> anyhow::Result<bool> {
    let bins = Bins::find(&opts.bins).context("locating the release binaries")?;
    let machine = machine::describe(&bins);
    let mut rows = Vec::new();
    let mut ok = true;
    let mut section = |name: &str, result: anyhow::Result<Vec<Row>>| match result {
        Ok(r) => rows.extend(r),
        Err(e) => {
            ok = false;
            eprintln!("cap-bench: {name} failed: {e:#}");
            rows.push(Row::failed(name, &e));
        }
    };
    let wanted = |g: Group| opts.only.is_empty() || opts.only.contains(&g);
    if wanted(Group::Warm) {
        progress("cap round trip and warm prompts");
        section(
            "cap round trip / warm prompts",
            measure::warm::run(opts, &bins),
        );
    }
    if wanted(Group::Acpx) {
        if opts.skip_acpx {
            section(
                "acpx",
                Ok(vec![Row::note(
                    "acpx 0.19.1 warm prompt, ACP",
                    "skipped (--skip-acpx)",
                )]),
            );
        } else {
            progress("acpx on the same fake ACP agent");
            section("acpx 0.19.1", acpx::run(opts, &bins));
        }
    }
    if wanted(Group::Concurrent) {
        progress("concurrent clients");
        section("concurrent clients", measure::concurrent::run(opts, &bins));
    }
    if wanted(Group::Memory) {
        progress("memory per session");
        section("memory", measure::memory::run(opts, &bins));
    }
    if wanted(Group::Huge) {
        progress("large streamed output");
        section("large streamed output", measure::huge::run(opts, &bins));
    }
    if wanted(Group::Load) {
        progress("load: many clients, many prompts, shared keys");
        section("load", measure::load::run(opts, &bins));
    }
    if wanted(Group::State) {
        progress("large state: new-key prompts and status with many remembered keys");
        section("large state", measure::state::run(opts, &bins));
    }
    if wanted(Group::Many) {
        progress("many: live sessions and clients spread over them");
        section("many sessions", measure::many::run(opts, &bins));
    }
    if wanted(Group::Stream) {
        progress("stream: very large output through one turn");
        section("stream", measure::stream::run(opts, &bins));
    }
    if wanted(Group::Exec) {
        progress("exec: cap against a minimal Rust binary");
        section("exec", measure::exec::run(opts, &bins));
    }
    if wanted(Group::First) {
        progress("first prompt on a new key");
        section("first prompt", measure::first::run(opts, &bins));
    }
    println!("{}", report::render(&machine, &rows));
    Ok(ok)
}

/// One progress line on stderr, so stdout carries only the Markdown.
pub fn progress(what: &str) {
    eprintln!("cap-bench: {what}…");
}
