//! Which program runs for `codex`.

use std::path::{Path, PathBuf};

/// The native Codex binary for a `codex` program. npm's `codex` is a Node wrapper that stays
/// a parent process (and costs ~40 MB); the real binary sits in the platform package next to
/// it: `@openai/codex-<platform>/vendor/<target triple>/bin/codex` (or `…/codex/codex`).
pub fn native_binary(program: &Path) -> PathBuf {
    let resolved = crate::agents::find_program(program).unwrap_or_else(|| program.to_path_buf());
    let Ok(real) = resolved.canonicalize() else {
        return resolved;
    };
    let is_script = std::fs::read(&real)
        .map(|b| b.starts_with(b"#!"))
        .unwrap_or(false);
    if !is_script {
        return resolved;
    }
    // real = …/node_modules/@openai/codex/bin/codex.js
    let Some(pkg) = real.parent().and_then(Path::parent) else {
        return resolved;
    };
    let scopes = [
        pkg.join("node_modules").join("@openai"),
        pkg.parent().map(Path::to_path_buf).unwrap_or_default(),
    ];
    for scope in scopes {
        let Ok(entries) = std::fs::read_dir(&scope) else {
            continue;
        };
        for platform in entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("codex-"))
        {
            let Ok(triples) = std::fs::read_dir(platform.path().join("vendor")) else {
                continue;
            };
            for triple in triples.flatten() {
                for candidate in [
                    triple.path().join("bin").join("codex"),
                    triple.path().join("codex").join("codex"),
                ] {
                    if crate::agents::find_program(&candidate).is_some() {
                        return candidate;
                    }
                }
            }
        }
    }
    resolved
}
