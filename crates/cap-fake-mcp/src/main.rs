//! `cap-fake-mcp`: a stdio MCP server with one tool, `cap_fake_ping`, built on the official
//! Rust SDK (`rmcp`). cap's genuine-agent tests give it to each agent with `--mcp-config` and
//! check, in the fake LLM's request log, that the agent offered the tool to the model.
//!
//! The tool's name is unusual on purpose: no agent has a tool of that name of its own, so
//! seeing it in a request proves the server was started and listed.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};

/// What the tool answers, so a test that has the model call it can recognise the result.
const PONG: &str = "PONG from cap-fake-mcp";

#[derive(Debug, Clone)]
struct FakeServer {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl FakeServer {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// The one tool.
    #[tool(
        name = "cap_fake_ping",
        description = "Answers with a fixed pong; used by cap's tests"
    )]
    fn ping(&self) -> String {
        PONG.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for FakeServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions("cap's fake MCP server: one tool, cap_fake_ping")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let service = FakeServer::new().serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
