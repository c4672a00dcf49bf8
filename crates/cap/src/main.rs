//! The `cap` binary: parse, run, exit with the code the outcome maps to (SPEC §3).

use clap::Parser;

fn main() {
    let cli = cap::cli::Cli::parse();
    let code = match cap::run(cli) {
        Ok(()) => 0,
        Err(err) => cap::report(&err),
    };
    std::process::exit(code);
}
