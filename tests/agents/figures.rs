//! Figures for docs/benchmarks.md ("Shared processes and new-key latency (genuine agents)"),
//! not tests: the genuine agents' memory with one process per session against one shared
//! process, and the first prompt on a new key (cold, onto a shared process, onto a prewarmed
//! spare) beside the agent's own warm turn. Nothing here asserts a timing or a size; it prints
//! a Markdown report, and stays out of the test run (`#[ignore]`):
//!
//! ```sh
//! CAP_E2E_CACHE=… cargo test -p cap-tests --test agents -- --ignored --nocapture figures
//! ```
//!
//! `CAP_FIGURES_AGENTS` (comma-separated) picks the agents, `CAP_FIGURES_SAMPLES` the samples
//! per latency figure (default 5); `CAP_FIGURES_LOGS=DIR` keeps each run's daemon and
//! fake-LLM logs.
//!
//! Two figures are split to show where the time goes: a new key onto the shared process in a
//! new folder and in a folder another session already has (OpenCode sets up each folder), and
//! a new key onto a spare on a daemon that refills it (after the session's first turn) and
//! alone (a fresh daemon with `max_sessions = 1`, so no refill at all).
//!
//! It lives in the agents tier rather than in cap-bench because it needs exactly that tier's
//! environment (`real_env`: the pinned CLIs, their offline configs, capd and the fake LLM in
//! a private network namespace); cap-bench would have to depend on cap-tests for it and gain
//! nothing. Agents run one at a time, so at most one agent's sessions are alive (16 OpenCode
//! processes are about 8 GB).

use cap_tests::real::{RealEnv, real_env};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The numbers of live sessions whose memory is measured.
const SIZES: [usize; 3] = [1, 4, 16];
/// How long a prewarmed spare may take to be ready (capd's own ready_timeout is 90 s here).
const SPARE_WAIT: Duration = Duration::from_secs(150);

/// How the sessions of one run get their agent process.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `[share] AGENT = false`: every session starts its own process.
    Own,
    /// `[share] AGENT = true`: every session opens on one process.
    Shared,
    /// `[share] AGENT = false` with `[prewarm] AGENT = 1`: a session takes the spare.
    Prewarmed,
}

/// One daemon with the genuine agents, configured for one [`Mode`] of one agent.
struct Run<'a> {
    env: RealEnv,
    agent: &'a str,
    opened: usize,
}

impl<'a> Run<'a> {
    /// A daemon for `mode` of `agent`, allowing `max_sessions` sessions and spares together.
    fn start(agent: &'a str, mode: Mode, max_sessions: usize) -> Run<'a> {
        let mut env = real_env();
        let config = std::fs::read_to_string(&env.config).expect("config");
        let share = mode == Mode::Shared;
        let prewarm = if mode == Mode::Prewarmed {
            format!("[prewarm]\n\"{agent}\" = 1\n")
        } else {
            String::new()
        };
        std::fs::write(
            &env.config,
            format!(
                "max_sessions = {max_sessions}\nmax_agent_memory = \"off\"\ndefault_permissions = \"approve-all\"\n{config}\n[share]\n\"{agent}\" = {share}\n{prewarm}"
            ),
        )
        .expect("write config");
        env.start_daemon();
        Run {
            env,
            agent,
            opened: 0,
        }
    }

    /// The cwd of the `i`th key: each key has its own.
    fn cwd(&self, i: usize) -> String {
        self.env
            .dir
            .path()
            .join(format!("w{i}"))
            .display()
            .to_string()
    }

    /// One prompt on key `i` in the cwd of key `dir`, timed from before `cap` starts to
    /// after it exits.
    fn prompt(&self, i: usize, dir: usize, text: &str) -> Duration {
        let cwd = self.cwd(dir);
        let key = format!("k{i}");
        let started = Instant::now();
        let r = self
            .env
            .prompt_ok(&["-a", self.agent, "-C", &cwd, "--key", &key, text]);
        let took = started.elapsed();
        let out = r["output"].as_str().unwrap_or_default();
        assert!(out.contains(text), "{}: reply {r:#}", self.agent);
        took
    }

    /// Opens the next key, in a new cwd, with its first prompt; returns that prompt's time.
    fn open(&mut self) -> Duration {
        let i = self.opened;
        std::fs::create_dir_all(self.cwd(i)).expect("cwd");
        self.opened += 1;
        self.prompt(i, i, &format!("FIRST key {i}"))
    }

    /// Opens the next key in the cwd of key `dir`, already open: a folder the agent knows.
    fn open_in(&mut self, dir: usize) -> Duration {
        let i = self.opened;
        self.opened += 1;
        self.prompt(i, dir, &format!("FIRST key {i}"))
    }

    /// A second prompt on the already open key `i`: the agent's warm turn.
    fn again(&self, i: usize) -> Duration {
        self.prompt(i, i, &format!("AGAIN key {i}"))
    }

    /// The resident memory of the live sessions' agents, each process group counted once,
    /// and how many groups that is. Read from /proc the way capd does (every process's RSS
    /// summed by process group), but at once rather than at capd's next 2 s sample.
    fn memory(&self) -> (u64, usize) {
        let groups: HashSet<u64> = self
            .env
            .sessions_doc()
            .iter()
            .filter_map(|s| s["pid"].as_u64())
            .collect();
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(4096);
        let mut total = 0;
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the command name's last `)`: state, ppid, pgrp (2), … rss (21).
            let Some(rest) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let pgrp = fields.get(2).and_then(|f| f.parse::<u64>().ok());
            let rss = fields.get(21).and_then(|f| f.parse::<u64>().ok());
            if let (Some(pgrp), Some(rss)) = (pgrp, rss)
                && groups.contains(&pgrp)
            {
                total += rss * page;
            }
        }
        (total, groups.len())
    }

    /// The agent pid of key `i`'s session.
    fn pid_of(&self, i: usize) -> Option<u64> {
        let key = format!("k{i}");
        self.env
            .sessions_doc()
            .iter()
            .find(|s| {
                s["keys"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == &key))
            })
            .and_then(|s| s["pid"].as_u64())
    }

    /// Waits until capd holds one prewarmed spare, and returns its pid.
    fn wait_spare(&self) -> Option<u64> {
        let started = Instant::now();
        loop {
            let status = self.env.cap_doc(&["daemon", "status"]);
            if status["spares"].as_u64() == Some(1) {
                return status["spare_pids"][0].as_u64();
            }
            assert!(
                started.elapsed() < SPARE_WAIT,
                "{}: no spare; daemon log:\n{}",
                self.agent,
                self.env.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Keeps the daemon's log and the fake LLM's request log in `CAP_FIGURES_LOGS`, if set,
    /// as `AGENT-MODE.capd.log` and `AGENT-MODE.llm.jsonl`: where a figure's time went.
    fn keep_logs(&self, mode: &str) {
        let Some(dir) = std::env::var_os("CAP_FIGURES_LOGS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let name = format!("{}-{mode}", self.agent);
        let _ = std::fs::write(dir.join(format!("{name}.capd.log")), self.env.daemon_log());
        let _ = std::fs::copy(&self.env.llm_log, dir.join(format!("{name}.llm.jsonl")));
    }
}

/// What one agent measured.
#[derive(Default)]
struct Figures {
    /// (bytes, processes) at each of [`SIZES`], one process per session.
    own: Vec<(u64, usize)>,
    /// The same, shared.
    shared: Vec<(u64, usize)>,
    cold: Vec<Duration>,
    onto_shared: Vec<Duration>,
    /// Onto the shared process, in a folder one of its sessions already has.
    onto_shared_known: Vec<Duration>,
    onto_spare: Vec<Duration>,
    /// How many of the `onto_spare` samples opened on the spare (capd may start afresh).
    on_spare: usize,
    /// Onto a spare with nothing else starting: a fresh daemon per sample, and no room for
    /// the refill that otherwise starts as the spare is taken.
    onto_spare_alone: Vec<Duration>,
    warm: Vec<Duration>,
    warm_shared: Vec<Duration>,
}

/// Opens 16 sessions, measuring memory at each of [`SIZES`]; the first prompts of keys
/// `skip..skip + samples` are latency samples, and so are second prompts on the first keys.
fn sessions(
    run: &mut Run<'_>,
    skip: usize,
    samples: usize,
) -> (Vec<(u64, usize)>, Vec<Duration>, Vec<Duration>) {
    let (mut memory, mut first) = (Vec::new(), Vec::new());
    for n in 1..=SIZES[SIZES.len() - 1] {
        let took = run.open();
        if (skip..skip + samples).contains(&(n - 1)) {
            first.push(took);
        }
        if SIZES.contains(&n) {
            memory.push(run.memory());
        }
        eprintln!("figures {}: {n} sessions open", run.agent);
    }
    let warm = (0..samples).map(|i| run.again(i)).collect();
    (memory, first, warm)
}

fn measure(agent: &str, samples: usize) -> Figures {
    let mut f = Figures::default();
    {
        let mut run = Run::start(agent, Mode::Own, 40);
        (f.own, f.cold, f.warm) = sessions(&mut run, 0, samples);
        run.keep_logs("own");
    }
    {
        let mut run = Run::start(agent, Mode::Shared, 40);
        // The first key starts the shared process; the next ones open onto it.
        (f.shared, f.onto_shared, f.warm_shared) = sessions(&mut run, 1, samples);
        f.onto_shared_known = (0..samples).map(|dir| run.open_in(dir)).collect();
        run.keep_logs("shared");
    }
    {
        let mut run = Run::start(agent, Mode::Prewarmed, 40);
        for i in 0..samples {
            let spare = run.wait_spare();
            f.onto_spare.push(run.open());
            f.on_spare += usize::from(spare.is_some() && run.pid_of(i) == spare);
        }
        run.keep_logs("prewarmed");
    }
    for _ in 0..samples {
        let mut run = Run::start(agent, Mode::Prewarmed, 1);
        let spare = run.wait_spare();
        f.onto_spare_alone.push(run.open());
        f.on_spare += usize::from(spare.is_some() && run.pid_of(0) == spare);
    }
    f
}

/// The median of the samples, with their range: "812 ms (640–1210)".
fn spread(samples: &[Duration]) -> String {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    match (ms.first(), ms.get(ms.len() / 2), ms.last()) {
        (Some(lo), Some(mid), Some(hi)) => format!("{mid:.0} ms ({lo:.0}–{hi:.0})"),
        _ => "—".into(),
    }
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, {} GiB", mem / (1024 * 1024))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[test]
#[ignore = "a benchmark with the genuine agents; run it with --ignored"]
fn figures() {
    let agents: Vec<String> = std::env::var("CAP_FIGURES_AGENTS")
        .unwrap_or_else(|_| "opencode,gemini,codex,claude-acp".into())
        .split(',')
        .map(|a| a.trim().to_string())
        .collect();
    let samples = std::env::var("CAP_FIGURES_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let (started, load_before) = (Instant::now(), load());
    // An agent that fails (a hang, a wrong reply: the panic carries the daemon's log) is
    // reported as such, and the others are still measured.
    let all: Vec<(&str, Option<Figures>)> = agents
        .iter()
        .map(|a| {
            let f = std::panic::catch_unwind(|| measure(a, samples)).ok();
            if let Some(f) = &f {
                // Progress, and the raw figures should a later agent take the run down.
                eprintln!(
                    "figures {a}: memory own {:?} shared {:?}; cold {:?} shared {:?} shared, known folder {:?} spare {:?} spare alone {:?} warm {:?} warm shared {:?}",
                    f.own,
                    f.shared,
                    f.cold,
                    f.onto_shared,
                    f.onto_shared_known,
                    f.onto_spare,
                    f.onto_spare_alone,
                    f.warm,
                    f.warm_shared
                );
            }
            (a.as_str(), f)
        })
        .collect();

    let mut out = format!(
        "Machine: {}; load average (1, 5, 15 min) {load_before} before, {} after; {samples} samples per latency figure; {:.0} s in all.\n\n",
        machine(),
        load(),
        started.elapsed().as_secs_f64()
    );
    out += "| agent | 1 session, own / shared | 4 sessions, own / shared | 16 sessions, own / shared | 16 shared ÷ 1 session | process groups at 16, own / shared |\n|---|---|---|---|---|---|\n";
    for (agent, f) in &all {
        let Some(f) = f else {
            out += &format!("| {agent} | failed (see stderr) | | | | |\n");
            continue;
        };
        let one = f.own[0].0;
        let pair = |i: usize| format!("{} / {} MiB", mib(f.own[i].0), mib(f.shared[i].0));
        out += &format!(
            "| {agent} | {} | {} | {} | {:.2}× | {} / {} |\n",
            pair(0),
            pair(1),
            pair(2),
            f.shared[2].0 as f64 / one.max(1) as f64,
            f.own[2].1,
            f.shared[2].1
        );
    }
    out += "\n| agent | cold | onto a shared process | … in a folder it has open | onto a prewarmed spare, back to back | … alone | warm turn (own process) | warm turn (shared, 16 sessions) |\n|---|---|---|---|---|---|---|---|\n";
    for (agent, f) in &all {
        let Some(f) = f else {
            out += &format!("| {agent} | failed (see stderr) | | | | | | |\n");
            continue;
        };
        let tries = f.onto_spare.len() + f.onto_spare_alone.len();
        let missed = if f.on_spare == tries {
            String::new()
        } else {
            format!(" ({} of {tries} opened on the spare)", f.on_spare)
        };
        out += &format!(
            "| {agent} | {} | {} | {} | {} | {}{missed} | {} | {} |\n",
            spread(&f.cold),
            spread(&f.onto_shared),
            spread(&f.onto_shared_known),
            spread(&f.onto_spare),
            spread(&f.onto_spare_alone),
            spread(&f.warm),
            spread(&f.warm_shared)
        );
    }
    println!("\n{out}");
}
