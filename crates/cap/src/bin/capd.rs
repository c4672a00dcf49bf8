//! The `capd` binary: parse arguments, set up logging, run the daemon. It lives in the `cap`
//! package so that one `cargo install` gives both programs; the daemon is the `capd` library.

use anyhow::Context;
use capd::cli::Args;
use clap::Parser;

fn main() -> std::process::ExitCode {
    // Before anything else, while this is the only thread: the activation variables are
    // read and removed from the environment.
    let inherited = capd::server::activation::take();
    let args = Args::parse();
    if let Err(e) = init_logging(&args) {
        eprintln!("capd: cannot set up logging: {e:#}");
        return std::process::ExitCode::from(1);
    }
    let inherited = match inherited {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("capd: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.detach {
        // A new session: closing the terminal that ran `cap` must not take the daemon down.
        let _ = nix::unistd::setsid();
    }
    let opts = capd::Options {
        socket: cap_proto::paths::socket_path(args.socket.as_deref()),
        config_file: cap_proto::paths::config_file(args.config.as_deref()),
        state_file: cap_proto::paths::state_file(),
        handle_signals: true,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("capd: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(capd::run_with(opts, inherited)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("capd: {e:#}");
            let code = if e.downcast_ref::<capd::config::ConfigError>().is_some() {
                2
            } else {
                1
            };
            std::process::ExitCode::from(code)
        }
    }
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let default = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("CAP_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .map(EnvFilter::new)
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if args.detach {
        // The log is private (it names sessions, keys and paths) and never opened through a
        // symlink, which could make capd append to any file the user can write.
        let path = cap_proto::paths::log_file();
        if let Some(dir) = path.parent() {
            capd::persist::files::create_private_dir(dir)
                .with_context(|| format!("cannot create log directory {}", dir.display()))?;
        }
        let file = capd::persist::files::open_append(&path, "log file")
            .with_context(|| format!("cannot open log file {}", path.display()))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    } else {
        builder.with_writer(std::io::stderr).init();
    }
    Ok(())
}
