//! The editor integrations in `contrib/`, run headless against the fake agent. Neovim is the
//! one tested here (installed from the distribution when missing): a prompt streamed into
//! its buffer, the warm session reused by the next one, and a permission question answered
//! in the editor and sent back with `cap decide`.

use cap_tests::*;
use std::process::Command;

/// The test script: two prompts through `:Cap`, with `vim.ui.select` answering the
/// permission question as a person picking "allow" would. Each buffer goes to a file.
const SCRIPT: &str = r#"
local cap = require("cap")
cap.setup({})
local asked = {}
vim.ui.select = function(items, opts, choose)
  table.insert(asked, opts.prompt)
  choose("allow")
end
local function run(text, out)
  vim.cmd("Cap " .. text)
  local r = cap.last
  if not cap.wait(r, 30000) or r.code ~= 0 then
    vim.cmd("cq")
  end
  vim.fn.writefile(vim.api.nvim_buf_get_lines(r.buf, 0, -1, false), out)
end
run("hello from neovim", os.getenv("OUT") .. ".1")
run("PERMISSION please", os.getenv("OUT") .. ".2")
vim.fn.writefile(asked, os.getenv("OUT") .. ".asked")
vim.cmd("qa!")
"#;

#[test]
fn the_neovim_command_streams_prompts_and_answers_questions() {
    let nvim = ensure_program("nvim", "neovim");
    let env = Env::with_config("default_permissions = \"approve-reads\"");
    let script = env.dir.path().join("test.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out_base = env.dir.path().join("buffer");
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("contrib/nvim");
    let test_env = env.command("cap");
    let mut cmd = Command::new(nvim);
    for (k, v) in test_env.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let bin_dir = bin("cap").parent().unwrap().to_path_buf();
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{}:{path}", bin_dir.display()))
        .env("OUT", &out_base)
        .current_dir(&env.work)
        .args(["--headless", "-u", "NONE", "-i", "NONE", "--cmd"])
        .arg(format!("set rtp^={}", plugin.display()))
        .arg("-c")
        .arg(format!("luafile {}", script.display()));
    let out = output_within_deadline(&mut cmd);
    assert_eq!(
        code(&out),
        0,
        "nvim: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let read = |suffix: &str| {
        std::fs::read_to_string(format!("{}.{suffix}", out_base.display()))
            .unwrap_or_else(|e| panic!("buffer {suffix}: {e}"))
    };
    let first = read("1");
    assert!(
        first.contains(&format!("key {} -->", env.key())),
        "session header: {first}"
    );
    assert!(
        first.contains("ECHO[turns=1]: hello from neovim"),
        "{first}"
    );
    assert!(first.contains("<!-- end_turn -->"), "{first}");
    // The same warm session, and the question answered from the editor.
    let second = read("2");
    assert!(
        second.contains("ECHO[turns=2]: PERMISSION please"),
        "{second}"
    );
    assert!(second.contains("[permission granted"), "{second}");
    let asked = read("asked");
    assert!(asked.starts_with("cap: allow "), "{asked}");
}
