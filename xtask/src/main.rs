//! `cargo run -p xtask -- gen`: regenerates `completions/` and `man/` from the clap grammar.
//! `cargo test -p xtask` fails when the checked-in copies are stale.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Every generated file: its path relative to the workspace root and its contents.
fn generate() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cap::cli::Cli::command(), "cap", &mut buf);
        let name = match shell {
            Shell::Bash => "cap.bash",
            Shell::Zsh => "_cap",
            Shell::Fish => "cap.fish",
            Shell::Elvish => "cap.elv",
            _ => "_cap.ps1",
        };
        files.push((Path::new("completions").join(name), buf));
    }
    let cap = cap::cli::Cli::command();
    files.push((Path::new("man").join("cap.1"), man(&cap, "1")));
    for sub in cap.get_subcommands() {
        let name = format!("cap-{}", sub.get_name());
        let page = sub.clone().name(&name);
        files.push((Path::new("man").join(format!("{name}.1")), man(&page, "1")));
    }
    let capd = capd::cli::Args::command();
    files.push((Path::new("man").join("capd.8"), man(&capd, "8")));
    files
}

fn man(cmd: &clap::Command, section: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(cmd.clone())
        .section(section)
        .render(&mut buf);
    buf
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("gen") => {
            for (path, body) in generate() {
                let full = root().join(&path);
                if let Some(dir) = full.parent()
                    && let Err(e) = std::fs::create_dir_all(dir)
                {
                    eprintln!("xtask: cannot create {}: {e}", dir.display());
                    return std::process::ExitCode::FAILURE;
                }
                if let Err(e) = std::fs::write(&full, body) {
                    eprintln!("xtask: cannot write {}: {e}", full.display());
                    return std::process::ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            std::process::ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: cargo run -p xtask -- gen");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checked_in_completions_and_man_pages_are_current() {
        let mut stale = Vec::new();
        for (path, body) in super::generate() {
            let on_disk = std::fs::read(super::root().join(&path)).unwrap_or_default();
            if on_disk != body {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated files {stale:?}; run `cargo run -p xtask -- gen` and commit them"
        );
    }
}
