//! `cap mcp [--key-prefix NAME] [--print-config AGENT]`: serve MCP on stdio (the server is
//! in [`crate::mcp`]), or print how to configure an agent to start it.

use crate::Ctx;
use crate::cli::McpArgs;
use crate::failure::Failure;
use crate::mcp::setup;

pub fn run(ctx: &Ctx, args: McpArgs) -> anyhow::Result<()> {
    if let Some(prefix) = &args.key_prefix
        && (prefix.trim().is_empty() || prefix.chars().any(char::is_whitespace))
    {
        return Err(Failure::usage(format!(
            "--key-prefix {prefix:?} must be a non-empty name without spaces, e.g. --key-prefix alice"
        ))
        .into());
    }
    if let Some(client) = args.print_config {
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
            .unwrap_or_else(|| "cap".into());
        let mut words = vec!["mcp".to_string()];
        if let Some(prefix) = &args.key_prefix {
            words.extend(["--key-prefix".to_string(), prefix.clone()]);
        }
        return crate::output::print(&setup::snippet(client, &program, &words));
    }
    let cwd = crate::route::cwd(args.cwd.as_deref())?;
    crate::mcp::serve(ctx, args.key_prefix.as_deref(), cwd)
}
