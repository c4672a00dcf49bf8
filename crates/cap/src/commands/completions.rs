//! `cap completions SHELL`: shell completions on stdout, generated from the clap grammar (no
//! daemon needed).

use crate::cli::Cli;
use crate::failure::stdout_error;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

pub fn run(shell: Shell) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cap", &mut buf);
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}
