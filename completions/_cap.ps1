
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'cap' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'cap'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'cap' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('prompt', 'prompt', [CompletionResultType]::ParameterValue, 'Send one prompt and stream the turn')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Open a session without prompting and bind it to the key')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List live sessions')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List live sessions')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one session in full, with a resume hint')
            [CompletionResult]::new('end', 'end', [CompletionResultType]::ParameterValue, 'End a session (by id, by key, or the one bound to this directory''s key)')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind a key to a live session')
            [CompletionResult]::new('unbind', 'unbind', [CompletionResultType]::ParameterValue, 'Remove a key''s binding')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'List bindings, the suspended pool and remembered records')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel the running turn ("nothing to cancel" is success)')
            [CompletionResult]::new('fork', 'fork', [CompletionResultType]::ParameterValue, 'Copy a session''s conversation into a new session bound to another key')
            [CompletionResult]::new('decide', 'decide', [CompletionResultType]::ParameterValue, 'Answer a permission question (a `permission` event whose decision is `ask`)')
            [CompletionResult]::new('attach', 'attach', [CompletionResultType]::ParameterValue, 'Follow a session''s events live, including the turn in progress')
            [CompletionResult]::new('result', 'result', [CompletionResultType]::ParameterValue, 'Print the last finished turn''s result')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show a conversation''s transcript: prompts, replies, tool calls, decisions, results')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a conversation''s transcript as one document to stdout')
            [CompletionResult]::new('agents', 'agents', [CompletionResultType]::ParameterValue, 'List built-in and configured agents')
            [CompletionResult]::new('daemon', 'daemon', [CompletionResultType]::ParameterValue, 'Manage the daemon')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Run the idle sweep now')
            [CompletionResult]::new('budget', 'budget', [CompletionResultType]::ParameterValue, 'Spending caps: forget what a key has spent')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the resolved configuration or where it lives')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve MCP on stdio: lets an agent hold warm conversations with other agents')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;prompt' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Use this daemon session, bypassing keys')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Use this daemon session, bypassing keys')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Resume the agent''s own session with this id')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Working directory of the session [default: the current directory]')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Working directory of the session [default: the current directory]')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)')
            [CompletionResult]::new('--preamble', '--preamble', [CompletionResultType]::ParameterName, 'File whose text is prepended to the first prompt of a fresh session')
            [CompletionResult]::new('--mcp-config', '--mcp-config', [CompletionResultType]::ParameterName, 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent''s configured `mcp_servers`; kept with the key''s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them')
            [CompletionResult]::new('--permissions', '--permissions', [CompletionResultType]::ParameterName, 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. ''execute(cargo test*)'' (kinds: read, edit, execute, fetch). Repeatable')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse a tool use, whatever else allows it, e.g. ''edit(/etc/**)''. Repeatable')
            [CompletionResult]::new('--ask', '--ask', [CompletionResultType]::ParameterName, 'Ask before a tool use the mode would allow, e.g. ''fetch''. Repeatable')
            [CompletionResult]::new('--non-interactive', '--non-interactive', [CompletionResultType]::ParameterName, 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Read the prompt from a file (`-` = stdin)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds before the turn is cancelled (0 = no limit) [default: the daemon''s]')
            [CompletionResult]::new('--budget', '--budget', [CompletionResultType]::ParameterName, 'Refuse the prompt (exit 7) when its key has already spent this many US dollars')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Answer with JSON valid against this JSON Schema (a file, or the schema itself): stdout is then that JSON alone. A wrong answer is asked for again twice, then the prompt fails (exit 1) naming the failing path')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--new', '--new', [CompletionResultType]::ParameterName, 'Always open a fresh session (and rebind the key to it)')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Continue the agent''s most recent session in the working directory')
            [CompletionResult]::new('--approve-all', '--approve-all', [CompletionResultType]::ParameterName, 'Short for --permissions approve-all')
            [CompletionResult]::new('--deny-all', '--deny-all', [CompletionResultType]::ParameterName, 'Short for --permissions deny-all')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return as soon as the prompt is queued; fetch the answer with `cap result`')
            [CompletionResult]::new('--handoff', '--handoff', [CompletionResultType]::ParameterName, 'Switching the key to --agent: start with its recorded turns with the previous agent (the last few, cut to a size limit), saying which agent did what')
            [CompletionResult]::new('--steer', '--steer', [CompletionResultType]::ParameterName, 'Add the text to the turn running on the session (Codex), instead of queueing it as a prompt of its own; where the agent cannot take input mid-turn, or no turn runs, it is queued as usual and a status line says so')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;open' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Use this daemon session, bypassing keys')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Use this daemon session, bypassing keys')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Resume the agent''s own session with this id')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Working directory of the session [default: the current directory]')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Working directory of the session [default: the current directory]')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)')
            [CompletionResult]::new('--preamble', '--preamble', [CompletionResultType]::ParameterName, 'File whose text is prepended to the first prompt of a fresh session')
            [CompletionResult]::new('--mcp-config', '--mcp-config', [CompletionResultType]::ParameterName, 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent''s configured `mcp_servers`; kept with the key''s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them')
            [CompletionResult]::new('--permissions', '--permissions', [CompletionResultType]::ParameterName, 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. ''execute(cargo test*)'' (kinds: read, edit, execute, fetch). Repeatable')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Refuse a tool use, whatever else allows it, e.g. ''edit(/etc/**)''. Repeatable')
            [CompletionResult]::new('--ask', '--ask', [CompletionResultType]::ParameterName, 'Ask before a tool use the mode would allow, e.g. ''fetch''. Repeatable')
            [CompletionResult]::new('--non-interactive', '--non-interactive', [CompletionResultType]::ParameterName, 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--new', '--new', [CompletionResultType]::ParameterName, 'Always open a fresh session (and rebind the key to it)')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Continue the agent''s most recent session in the working directory')
            [CompletionResult]::new('--approve-all', '--approve-all', [CompletionResultType]::ParameterName, 'Short for --permissions approve-all')
            [CompletionResult]::new('--deny-all', '--deny-all', [CompletionResultType]::ParameterName, 'Short for --permissions deny-all')
            [CompletionResult]::new('--no-bind', '--no-bind', [CompletionResultType]::ParameterName, 'Only open the session; leave the key''s binding alone')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;sessions' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;ls' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;show' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;end' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The session bound to this key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The session bound to this key')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;bind' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;unbind' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;keys' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;cancel' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The session bound to this key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The session bound to this key')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;fork' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Copy the conversation of this key instead')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key the new session is bound to')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key the new session is bound to')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;decide' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--always', '--always', [CompletionResultType]::ParameterName, 'With allow: allow the same use for the rest of the session')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;attach' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;result' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;log' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The conversation of this key''s current agent, live or not')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The conversation of this key''s current agent, live or not')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Only the last TURNS turns')
            [CompletionResult]::new('--turns', '--turns', [CompletionResultType]::ParameterName, 'Only the last TURNS turns')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing the records of new turns until the session ends')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing the records of new turns until the session ends')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;export' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The conversation of this key''s current agent, live or not')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The conversation of this key''s current agent, live or not')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Directory whose default key is meant when neither ID nor --key is given')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The document''s format')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;agents' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start capd in the background unless one already answers')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Ask capd to shut down and wait until it is gone')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Stop capd (if running), then start it again')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show pid, version, uptime, socket, sessions and limits')
            [CompletionResult]::new('dial-stdio', 'dial-stdio', [CompletionResultType]::ParameterValue, 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh')
            [CompletionResult]::new('install-service', 'install-service', [CompletionResultType]::ParameterValue, 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;daemon;start' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;stop' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;restart' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;status' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;dial-stdio' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;install-service' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the files and commands instead of writing and running them')
            [CompletionResult]::new('--no-enable', '--no-enable', [CompletionResultType]::ParameterName, 'Write the files but do not enable or start the service')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;daemon;help' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start capd in the background unless one already answers')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Ask capd to shut down and wait until it is gone')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Stop capd (if running), then start it again')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show pid, version, uptime, socket, sessions and limits')
            [CompletionResult]::new('dial-stdio', 'dial-stdio', [CompletionResultType]::ParameterValue, 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh')
            [CompletionResult]::new('install-service', 'install-service', [CompletionResultType]::ParameterValue, 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;daemon;help;start' {
            break
        }
        'cap;daemon;help;stop' {
            break
        }
        'cap;daemon;help;restart' {
            break
        }
        'cap;daemon;help;status' {
            break
        }
        'cap;daemon;help;dial-stdio' {
            break
        }
        'cap;daemon;help;install-service' {
            break
        }
        'cap;daemon;help;help' {
            break
        }
        'cap;gc' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;budget' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Forget what a key has spent, so its budget allows prompts again')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;budget;reset' {
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key [default: this directory''s key]')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The key [default: this directory''s key]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;budget;help' {
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Forget what a key has spent, so its budget allows prompts again')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;budget;help;reset' {
            break
        }
        'cap;budget;help;help' {
            break
        }
        'cap;config' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'The configuration capd resolved (defaults included)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Where the config file is looked for (no daemon needed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;config;show' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;config;path' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;config;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'The configuration capd resolved (defaults included)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Where the config file is looked for (no daemon needed)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;config;help;show' {
            break
        }
        'cap;config;help;path' {
            break
        }
        'cap;config;help;help' {
            break
        }
        'cap;mcp' {
            [CompletionResult]::new('--key-prefix', '--key-prefix', [CompletionResultType]::ParameterName, 'Put this server''s conversations under their own keys (`mcp:NAME:...`), apart from other callers''')
            [CompletionResult]::new('--print-config', '--print-config', [CompletionResultType]::ParameterName, 'Print the snippet that adds cap to AGENT''s MCP servers, and exit')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Directory the delegated sessions work in (default: the current one)')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Directory the delegated sessions work in (default: the current one)')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;completions' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: streamed text, NDJSON events, or only the final answer')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there')
            [CompletionResult]::new('--no-autostart', '--no-autostart', [CompletionResultType]::ParameterName, 'Never start capd; fail with exit code 6 when none is running')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more on stderr (repeat for raw agent updates)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cap;help' {
            [CompletionResult]::new('prompt', 'prompt', [CompletionResultType]::ParameterValue, 'Send one prompt and stream the turn')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Open a session without prompting and bind it to the key')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'List live sessions')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one session in full, with a resume hint')
            [CompletionResult]::new('end', 'end', [CompletionResultType]::ParameterValue, 'End a session (by id, by key, or the one bound to this directory''s key)')
            [CompletionResult]::new('bind', 'bind', [CompletionResultType]::ParameterValue, 'Bind a key to a live session')
            [CompletionResult]::new('unbind', 'unbind', [CompletionResultType]::ParameterValue, 'Remove a key''s binding')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'List bindings, the suspended pool and remembered records')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel the running turn ("nothing to cancel" is success)')
            [CompletionResult]::new('fork', 'fork', [CompletionResultType]::ParameterValue, 'Copy a session''s conversation into a new session bound to another key')
            [CompletionResult]::new('decide', 'decide', [CompletionResultType]::ParameterValue, 'Answer a permission question (a `permission` event whose decision is `ask`)')
            [CompletionResult]::new('attach', 'attach', [CompletionResultType]::ParameterValue, 'Follow a session''s events live, including the turn in progress')
            [CompletionResult]::new('result', 'result', [CompletionResultType]::ParameterValue, 'Print the last finished turn''s result')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show a conversation''s transcript: prompts, replies, tool calls, decisions, results')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a conversation''s transcript as one document to stdout')
            [CompletionResult]::new('agents', 'agents', [CompletionResultType]::ParameterValue, 'List built-in and configured agents')
            [CompletionResult]::new('daemon', 'daemon', [CompletionResultType]::ParameterValue, 'Manage the daemon')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Run the idle sweep now')
            [CompletionResult]::new('budget', 'budget', [CompletionResultType]::ParameterValue, 'Spending caps: forget what a key has spent')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the resolved configuration or where it lives')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve MCP on stdio: lets an agent hold warm conversations with other agents')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cap;help;prompt' {
            break
        }
        'cap;help;open' {
            break
        }
        'cap;help;sessions' {
            break
        }
        'cap;help;show' {
            break
        }
        'cap;help;end' {
            break
        }
        'cap;help;bind' {
            break
        }
        'cap;help;unbind' {
            break
        }
        'cap;help;keys' {
            break
        }
        'cap;help;cancel' {
            break
        }
        'cap;help;fork' {
            break
        }
        'cap;help;decide' {
            break
        }
        'cap;help;attach' {
            break
        }
        'cap;help;result' {
            break
        }
        'cap;help;log' {
            break
        }
        'cap;help;export' {
            break
        }
        'cap;help;agents' {
            break
        }
        'cap;help;daemon' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start capd in the background unless one already answers')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Ask capd to shut down and wait until it is gone')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Stop capd (if running), then start it again')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show pid, version, uptime, socket, sessions and limits')
            [CompletionResult]::new('dial-stdio', 'dial-stdio', [CompletionResultType]::ParameterValue, 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh')
            [CompletionResult]::new('install-service', 'install-service', [CompletionResultType]::ParameterValue, 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS')
            break
        }
        'cap;help;daemon;start' {
            break
        }
        'cap;help;daemon;stop' {
            break
        }
        'cap;help;daemon;restart' {
            break
        }
        'cap;help;daemon;status' {
            break
        }
        'cap;help;daemon;dial-stdio' {
            break
        }
        'cap;help;daemon;install-service' {
            break
        }
        'cap;help;gc' {
            break
        }
        'cap;help;budget' {
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Forget what a key has spent, so its budget allows prompts again')
            break
        }
        'cap;help;budget;reset' {
            break
        }
        'cap;help;config' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'The configuration capd resolved (defaults included)')
            [CompletionResult]::new('path', 'path', [CompletionResultType]::ParameterValue, 'Where the config file is looked for (no daemon needed)')
            break
        }
        'cap;help;config;show' {
            break
        }
        'cap;help;config;path' {
            break
        }
        'cap;help;mcp' {
            break
        }
        'cap;help;completions' {
            break
        }
        'cap;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
