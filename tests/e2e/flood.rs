//! The flood: hundreds of idle and half-line connections held open while a few connections
//! send ten thousand bad messages (malformed, truncated, invalid UTF-8, 100,000-deep nesting,
//! over the 16 MiB line limit, wrong types), and real prompts are served all the while.
//!
//! Every bad message that the protocol answers gets its error, in order; every real prompt
//! gets its own answer; capd's descriptors and memory stay bounded during and after; and capd
//! still answers `cap daemon status` at the end. Nothing here waits on time: replies are
//! read as they come, and the only figures (latency, descriptors, memory) are printed for
//! docs/reliability.md, never asserted against a clock.

use cap_tests::*;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Idle and half-line connections held through the flood.
const HELD: usize = 500;
/// Bad messages in all, over [`FLOODERS`] connections.
const BAD: usize = 10_000;
const FLOODERS: usize = 4;
/// Real prompts: at least this many, and more while the flood lasts.
const MIN_PROMPTS: usize = 10;
/// Generous bounds: capd holds one descriptor per connection plus a few per agent.
const FD_SLACK: usize = 150;
const RSS_BOUND_KIB: u64 = 256 * 1024;

/// One bad message and what the protocol answers: `Some((id, needle))` for an error reply
/// with that id whose message contains `needle`, `None` when no reply is due (a blank line).
struct Bad {
    bytes: Vec<u8>,
    reply: Option<(u64, &'static str)>,
}

/// The `i`th bad message of connection `c`: the kinds take turns, and every 250th is nested
/// 100,000 deep; one per connection is over the line limit.
fn bad(c: usize, i: usize) -> Bad {
    let id = (c * BAD + i) as u64 + 1_000;
    let line = |s: String, reply| Bad {
        bytes: format!("{s}\n").into_bytes(),
        reply,
    };
    if i == 17 {
        let mut bytes = br#"{"id":1,"op":"status","pad":""#.to_vec();
        bytes.resize(cap_proto::MAX_LINE + 1024, b'x');
        bytes.extend_from_slice(b"\"}\n");
        return Bad {
            bytes,
            reply: Some((0, "16 MiB")),
        };
    }
    if i % 250 == 3 {
        let depth = 100_000;
        let mut s = "[".repeat(depth);
        s.push_str(&"]".repeat(depth));
        return line(s, Some((0, "recursion limit")));
    }
    match i % 10 {
        0 => line(format!(r#"{{"id":{id},"op":"#), Some((0, "malformed JSON"))),
        1 => Bad {
            bytes: [&b"{\"id\":1,\"op\":\"st\xff\xfeatus\"}"[..], b"\n"].concat(),
            reply: Some((0, "malformed JSON")),
        },
        2 => line(
            format!(r#"{{"id":{id},"op":"prompt","text":"hi","route":{{"cwd":"/tm"#),
            Some((0, "malformed JSON")),
        ),
        3 => line(
            format!(
                r#"{{"id":{id},"op":"status","x":{}1{}}}"#,
                "[".repeat(1_000),
                "]".repeat(1_000)
            ),
            Some((0, "recursion limit")),
        ),
        4 => line(
            format!(r#"{{"id":{id},"op":"bind","key":5,"session":"x"}}"#),
            Some((id, "invalid request")),
        ),
        5 => line(
            format!(r#"{{"id":{id},"op":"frobnicate"}}"#),
            Some((id, "unknown op")),
        ),
        6 => line("[1,2,3]".into(), Some((0, "JSON object"))),
        7 => line(r#"{"op":"status"}"#.into(), Some((0, "\"id\""))),
        8 => line("   ".into(), None),
        _ => line(
            format!(r#"{{"id":{id},"op":7}}"#),
            Some((id, "must be a string")),
        ),
    }
}

/// Descriptors capd has open.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The highest descriptor count and RSS seen, sampled at checkpoints (no timer).
#[derive(Default)]
struct Peaks {
    fds: usize,
    rss_kib: u64,
}

impl Peaks {
    fn sample(&mut self, pid: u32) {
        self.fds = self.fds.max(fds(pid));
        self.rss_kib = self.rss_kib.max(rss_kib(pid));
    }
}

/// Raises this process's soft descriptor limit so it can hold `want` connections (its
/// children, capd included, inherit it); returns how many it can hold: fewer when the hard
/// limit is lower, which the test then says.
fn raise_fd_limit(want: usize) -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // Room for the test's own files, the cap processes and capd's agents.
    const MARGIN: u64 = 200;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let needed = want as u64 + MARGIN;
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, needed.min(hard), hard).expect("setrlimit");
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let can = soft.saturating_sub(MARGIN) as usize;
    if can < want {
        eprintln!("flood: the hard descriptor limit is {hard}, so only {can} connections are held");
    }
    can.min(want)
}

/// Sends connection `c`'s share of the bad messages and checks each reply, in order; the
/// last request (`status`) proves nothing was skipped. Returns how many errors came back.
fn flood(
    socket: &std::path::Path,
    c: usize,
    count: usize,
    pid: u32,
    peaks: &Mutex<Peaks>,
) -> usize {
    let mut conn = Raw::hello(socket);
    let mut writer = conn.writer_clone();
    let sender = std::thread::spawn(move || {
        let mut expected = Vec::with_capacity(count);
        for i in 0..count {
            let b = bad(c, i);
            writer.write_all(&b.bytes).expect("send a bad message");
            expected.extend(b.reply);
        }
        writer
            .write_all(b"{\"id\":999999,\"op\":\"status\"}\n")
            .expect("send the last request");
        expected
    });
    let mut replies = Vec::new();
    loop {
        let reply = conn.recv();
        assert!(!reply.is_null(), "capd closed flood connection {c}");
        if reply["id"] == 999_999 {
            assert!(reply["status"].is_object(), "{reply}");
            break;
        }
        replies.push(reply);
        if replies.len() % 500 == 0 {
            peaks.lock().unwrap().sample(pid);
        }
    }
    let expected = sender.join().expect("sender thread");
    assert_eq!(
        replies.len(),
        expected.len(),
        "connection {c}: one error per bad message"
    );
    for (n, (reply, (id, needle))) in replies.iter().zip(&expected).enumerate() {
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(
            reply["id"] == *id && reply["error"]["code"] == "protocol" && message.contains(needle),
            "connection {c}, error {n}: expected id {id} and {needle:?}, got {reply}"
        );
    }
    replies.len()
}

#[test]
fn a_flood_of_bad_messages_and_held_connections_leaves_real_prompts_served() {
    let held_wanted = raise_fd_limit(HELD + FLOODERS + 16);
    let held_count = held_wanted.min(HELD);
    let mut env = Env::new();
    env.set_var("CAP_MAX_CONNECTIONS", &(held_count + 100).to_string());
    // Held connections must stay for the whole flood, however slow the machine is.
    env.set_var("CAP_HANDSHAKE_TIMEOUT_MS", "0");
    env.set_var("CAP_LINE_TIMEOUT_MS", "0");
    env.start_daemon();
    let pid = env.daemon_pid().expect("capd pid");
    for k in 0..3 {
        env.prompt_ok(&["--key", &format!("flood-{k}"), "warm up"]);
    }
    let (fds_before, rss_before) = (fds(pid), rss_kib(pid));

    // Half never say hello; half say it and then start a line they never end.
    let held: Vec<Raw> = (0..held_count)
        .map(|i| {
            if i % 2 == 0 {
                Raw::connect(&env.socket)
            } else {
                let mut r = Raw::hello(&env.socket);
                r.send_bytes(br#"{"id":2,"op":"sta"#);
                r
            }
        })
        .collect();
    // The last one is in: capd has accepted them all (it answered its hello).
    let _ = Raw::hello(&env.socket);
    let peaks = Mutex::new(Peaks::default());
    peaks.lock().unwrap().sample(pid);
    let fds_held = fds(pid);

    let flooding = AtomicBool::new(true);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = std::thread::scope(|s| {
        let (env, peaks, flooding) = (&env, &peaks, &flooding);
        let floods: Vec<_> = (0..FLOODERS)
            .map(|c| s.spawn(move || flood(&env.socket, c, BAD / FLOODERS, pid, peaks)))
            .collect();
        let lat = latencies.clone();
        let prompts = s.spawn(move || {
            let mut i = 0;
            while i < MIN_PROMPTS || flooding.load(Ordering::SeqCst) {
                let key = format!("flood-{}", i % 3);
                let text = format!("real prompt {i}");
                let start = Instant::now();
                let result = env.prompt_ok(&["--key", &key, &text]);
                lat.lock().unwrap().push(start.elapsed());
                let out = result["output"].as_str().unwrap_or_default();
                assert!(
                    out.ends_with(&format!("]: {text}")),
                    "prompt {i} got {out:?}"
                );
                peaks.lock().unwrap().sample(pid);
                i += 1;
            }
        });
        let errors: usize = floods
            .into_iter()
            .map(|f| f.join().expect("flood thread"))
            .sum();
        flooding.store(false, Ordering::SeqCst);
        prompts.join().expect("prompt thread");
        errors
    });
    let peaks = peaks.into_inner().unwrap();

    // Still serving, and the held connections were all still there.
    let out = env.cap(&["daemon", "status"]);
    assert_eq!(
        code(&out),
        0,
        "status after the flood: {}",
        text(&out.stderr)
    );
    let fds_flood_end = fds(pid);
    drop(held);
    wait_until("capd to close the held connections", || {
        fds(pid) <= fds_before + 8
    });
    let out = env.cap(&["daemon", "status"]);
    assert_eq!(code(&out), 0, "status at the end: {}", text(&out.stderr));
    let (fds_after, rss_after) = (fds(pid), rss_kib(pid));

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p).div_ceil(100).max(1) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "flood: {held_count} held connections, {BAD} bad messages over {FLOODERS} connections, \
         {errors} error replies; {} real prompts, latency p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        lat.len(),
        ms(pct(50)),
        ms(pct(90)),
        ms(lat[lat.len() - 1])
    );
    eprintln!(
        "flood: capd fds {fds_before} before, {fds_held} holding, peak {}, {fds_flood_end} at the \
         end of the flood, {fds_after} after; VmRSS {rss_before} KiB before, peak {} KiB, \
         {rss_after} KiB after",
        peaks.fds, peaks.rss_kib
    );
    assert!(
        fds_held >= held_count,
        "capd did not hold the connections: {fds_held} fds"
    );
    assert!(
        peaks.fds <= fds_before + held_count + FD_SLACK,
        "capd's descriptors reached {}",
        peaks.fds
    );
    assert!(
        peaks.rss_kib < RSS_BOUND_KIB,
        "capd's RSS reached {} KiB",
        peaks.rss_kib
    );
    assert!(
        rss_after < RSS_BOUND_KIB,
        "capd's RSS stayed at {rss_after} KiB"
    );
}
