use super::*;
use clap::CommandFactory;
use clap::error::ErrorKind;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("cap").chain(args.iter().copied()))
}

#[test]
fn grammar_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn format_parses_each_value_and_defaults_to_text() {
    for (s, f) in [
        ("text", Format::Text),
        ("json", Format::Json),
        ("quiet", Format::Quiet),
    ] {
        let cli = parse(&["--format", s, "sessions"]).unwrap();
        assert_eq!(cli.global.format, f);
        // Global options go after the subcommand too.
        let cli = parse(&["sessions", "--format", s]).unwrap();
        assert_eq!(cli.global.format, f);
    }
    let bad = parse(&["--format", "yaml", "sessions"]).unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidValue);
    assert_eq!(bad.exit_code(), 2);
}

#[test]
fn format_env_default_is_text_when_unset() {
    // CAP_FORMAT is not set in the test environment unless a developer exports it.
    if std::env::var_os("CAP_FORMAT").is_none() {
        assert_eq!(parse(&["ls"]).unwrap().global.format, Format::Text);
    }
}

#[test]
fn modes_conflict() {
    for args in [
        &["prompt", "--new", "--continue", "x"][..],
        &["prompt", "--new", "--resume", "n", "x"],
        &["prompt", "--resume", "n", "--continue", "x"],
        &["prompt", "-s", "abc", "--new", "x"],
        &["open", "--session", "abc", "--continue"],
        &["prompt", "--file", "f", "some", "text"],
        &["end", "abc", "--key", "k"],
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{args:?}");
        assert_eq!(err.exit_code(), 2);
    }
}

#[test]
fn prompt_collects_words_and_routing() {
    let cli = parse(&[
        "prompt",
        "-a",
        "codex",
        "-k",
        "rev",
        "-C",
        "/tmp",
        "--timeout",
        "5",
        "fix",
        "it",
    ])
    .unwrap();
    let Command::Prompt(p) = cli.command else {
        panic!("not a prompt")
    };
    assert_eq!(p.text, ["fix", "it"]);
    assert_eq!(p.route.agent.as_deref(), Some("codex"));
    assert_eq!(p.route.key.as_deref(), Some("rev"));
    assert_eq!(p.timeout, Some(5));
    assert!(!p.route.continue_last && !p.no_wait);
}

/// Every subcommand's `--help` lists the global options under their own heading, after
/// the subcommand's own options, instead of mixing them in.
#[test]
fn global_options_have_their_own_heading() {
    let mut paths: Vec<Vec<String>> = Vec::new();
    for sub in Cli::command().get_subcommands() {
        paths.push(vec![sub.get_name().to_string()]);
        for nested in sub.get_subcommands() {
            paths.push(vec![
                sub.get_name().to_string(),
                nested.get_name().to_string(),
            ]);
        }
    }
    assert!(paths.len() > 15, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let err = parse(&args).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
        let help = err.render().to_string();
        let (own, global) = help
            .split_once("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{args:?}: no Global options heading:\n{help}"));
        for flag in [
            "--socket",
            "--format",
            "--no-autostart",
            "--verbose",
            "--config",
            "--host",
        ] {
            assert!(
                global.contains(flag),
                "{args:?}: {flag} not under the heading"
            );
            assert!(
                !own.contains(flag),
                "{args:?}: {flag} among the own options"
            );
        }
    }
}

#[test]
fn no_autostart_flag() {
    assert!(
        parse(&["--no-autostart", "ls"])
            .unwrap()
            .global
            .no_autostart
    );
    assert!(parse(&["-vv", "ls"]).unwrap().global.verbose == 2);
}
