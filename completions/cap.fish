# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cap_global_optspecs
    string join \n socket= format= no-autostart v/verbose config= host= h/help V/version
end

function __fish_cap_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cap_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cap_using_subcommand
    set -l cmd (__fish_cap_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cap -n "__fish_cap_needs_command" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_needs_command" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_needs_command" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_needs_command" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_needs_command" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_needs_command" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_needs_command" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_needs_command" -f -a "prompt" -d 'Send one prompt and stream the turn'
complete -c cap -n "__fish_cap_needs_command" -f -a "open" -d 'Open a session without prompting and bind it to the key'
complete -c cap -n "__fish_cap_needs_command" -f -a "sessions" -d 'List live sessions'
complete -c cap -n "__fish_cap_needs_command" -f -a "ls" -d 'List live sessions'
complete -c cap -n "__fish_cap_needs_command" -f -a "show" -d 'Show one session in full, with a resume hint'
complete -c cap -n "__fish_cap_needs_command" -f -a "end" -d 'End a session (by id, by key, or the one bound to this directory\'s key)'
complete -c cap -n "__fish_cap_needs_command" -f -a "bind" -d 'Bind a key to a live session'
complete -c cap -n "__fish_cap_needs_command" -f -a "unbind" -d 'Remove a key\'s binding'
complete -c cap -n "__fish_cap_needs_command" -f -a "keys" -d 'List bindings, the suspended pool and remembered records'
complete -c cap -n "__fish_cap_needs_command" -f -a "cancel" -d 'Cancel the running turn ("nothing to cancel" is success)'
complete -c cap -n "__fish_cap_needs_command" -f -a "fork" -d 'Copy a session\'s conversation into a new session bound to another key'
complete -c cap -n "__fish_cap_needs_command" -f -a "decide" -d 'Answer a permission question (a `permission` event whose decision is `ask`)'
complete -c cap -n "__fish_cap_needs_command" -f -a "attach" -d 'Follow a session\'s events live, including the turn in progress'
complete -c cap -n "__fish_cap_needs_command" -f -a "result" -d 'Print the last finished turn\'s result'
complete -c cap -n "__fish_cap_needs_command" -f -a "log" -d 'Show a conversation\'s transcript: prompts, replies, tool calls, decisions, results'
complete -c cap -n "__fish_cap_needs_command" -f -a "export" -d 'Write a conversation\'s transcript as one document to stdout'
complete -c cap -n "__fish_cap_needs_command" -f -a "agents" -d 'List built-in and configured agents'
complete -c cap -n "__fish_cap_needs_command" -f -a "daemon" -d 'Manage the daemon'
complete -c cap -n "__fish_cap_needs_command" -f -a "gc" -d 'Run the idle sweep now'
complete -c cap -n "__fish_cap_needs_command" -f -a "budget" -d 'Spending caps: forget what a key has spent'
complete -c cap -n "__fish_cap_needs_command" -f -a "config" -d 'Show the resolved configuration or where it lives'
complete -c cap -n "__fish_cap_needs_command" -f -a "mcp" -d 'Serve MCP on stdio: lets an agent hold warm conversations with other agents'
complete -c cap -n "__fish_cap_needs_command" -f -a "completions" -d 'Print shell completions to stdout'
complete -c cap -n "__fish_cap_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand prompt" -s a -l agent -d 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:\'CMD ARGS\'`) [default: the key\'s current agent, else config `default_agent`, else claude]' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -s k -l key -d 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -s s -l session -d 'Use this daemon session, bypassing keys' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l resume -d 'Resume the agent\'s own session with this id' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -s C -l cwd -d 'Working directory of the session [default: the current directory]' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l model -d 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l preamble -d 'File whose text is prepended to the first prompt of a fresh session' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l mcp-config -d 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent\'s configured `mcp_servers`; kept with the key\'s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l permissions -d 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l allow -d 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. \'execute(cargo test*)\' (kinds: read, edit, execute, fetch). Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l deny -d 'Refuse a tool use, whatever else allows it, e.g. \'edit(/etc/**)\'. Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l ask -d 'Ask before a tool use the mode would allow, e.g. \'fetch\'. Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l non-interactive -d 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]' -r -f -a "deny\t''
fail\t''"
complete -c cap -n "__fish_cap_using_subcommand prompt" -l file -d 'Read the prompt from a file (`-` = stdin)' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l timeout -d 'Seconds before the turn is cancelled (0 = no limit) [default: the daemon\'s]' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l budget -d 'Refuse the prompt (exit 7) when its key has already spent this many US dollars' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l schema -d 'Answer with JSON valid against this JSON Schema (a file, or the schema itself): stdout is then that JSON alone. A wrong answer is asked for again twice, then the prompt fails (exit 1) naming the failing path' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand prompt" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand prompt" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand prompt" -l new -d 'Always open a fresh session (and rebind the key to it)'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l continue -d 'Continue the agent\'s most recent session in the working directory'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l approve-all -d 'Short for --permissions approve-all'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l deny-all -d 'Short for --permissions deny-all'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l no-wait -d 'Return as soon as the prompt is queued; fetch the answer with `cap result`'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l handoff -d 'Switching the key to --agent: start with its recorded turns with the previous agent (the last few, cut to a size limit), saying which agent did what'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l steer -d 'Add the text to the turn running on the session (Codex), instead of queueing it as a prompt of its own; where the agent cannot take input mid-turn, or no turn runs, it is queued as usual and a status line says so'
complete -c cap -n "__fish_cap_using_subcommand prompt" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand prompt" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand prompt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand prompt" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand open" -s a -l agent -d 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:\'CMD ARGS\'`) [default: the key\'s current agent, else config `default_agent`, else claude]' -r
complete -c cap -n "__fish_cap_using_subcommand open" -s k -l key -d 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]' -r
complete -c cap -n "__fish_cap_using_subcommand open" -s s -l session -d 'Use this daemon session, bypassing keys' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l resume -d 'Resume the agent\'s own session with this id' -r
complete -c cap -n "__fish_cap_using_subcommand open" -s C -l cwd -d 'Working directory of the session [default: the current directory]' -r -F
complete -c cap -n "__fish_cap_using_subcommand open" -l model -d 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l preamble -d 'File whose text is prepended to the first prompt of a fresh session' -r -F
complete -c cap -n "__fish_cap_using_subcommand open" -l mcp-config -d 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent\'s configured `mcp_servers`; kept with the key\'s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them' -r -F
complete -c cap -n "__fish_cap_using_subcommand open" -l permissions -d 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l allow -d 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. \'execute(cargo test*)\' (kinds: read, edit, execute, fetch). Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l deny -d 'Refuse a tool use, whatever else allows it, e.g. \'edit(/etc/**)\'. Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l ask -d 'Ask before a tool use the mode would allow, e.g. \'fetch\'. Repeatable' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l non-interactive -d 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]' -r -f -a "deny\t''
fail\t''"
complete -c cap -n "__fish_cap_using_subcommand open" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand open" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand open" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand open" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand open" -l new -d 'Always open a fresh session (and rebind the key to it)'
complete -c cap -n "__fish_cap_using_subcommand open" -l continue -d 'Continue the agent\'s most recent session in the working directory'
complete -c cap -n "__fish_cap_using_subcommand open" -l approve-all -d 'Short for --permissions approve-all'
complete -c cap -n "__fish_cap_using_subcommand open" -l deny-all -d 'Short for --permissions deny-all'
complete -c cap -n "__fish_cap_using_subcommand open" -l no-bind -d 'Only open the session; leave the key\'s binding alone'
complete -c cap -n "__fish_cap_using_subcommand open" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand open" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand open" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand sessions" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand sessions" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand sessions" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand sessions" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand sessions" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand sessions" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand sessions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand sessions" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand ls" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand ls" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand ls" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand ls" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand ls" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand ls" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand ls" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand show" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand show" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand show" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand show" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand show" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand show" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand show" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand end" -s k -l key -d 'The session bound to this key' -r
complete -c cap -n "__fish_cap_using_subcommand end" -s C -l cwd -d 'Directory whose default key is meant when neither ID nor --key is given' -r -F
complete -c cap -n "__fish_cap_using_subcommand end" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand end" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand end" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand end" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand end" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand end" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand end" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand end" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand bind" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand bind" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand bind" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand bind" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand bind" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand bind" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand bind" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand bind" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand unbind" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand unbind" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand unbind" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand unbind" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand unbind" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand unbind" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand unbind" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand unbind" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand keys" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand keys" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand keys" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand keys" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand keys" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand keys" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand keys" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand keys" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand cancel" -s k -l key -d 'The session bound to this key' -r
complete -c cap -n "__fish_cap_using_subcommand cancel" -s C -l cwd -d 'Directory whose default key is meant when neither ID nor --key is given' -r -F
complete -c cap -n "__fish_cap_using_subcommand cancel" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand cancel" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand cancel" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand cancel" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand cancel" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand cancel" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand fork" -l from -d 'Copy the conversation of this key instead' -r
complete -c cap -n "__fish_cap_using_subcommand fork" -s k -l key -d 'The key the new session is bound to' -r
complete -c cap -n "__fish_cap_using_subcommand fork" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand fork" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand fork" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand fork" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand fork" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand fork" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand fork" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand fork" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand decide" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand decide" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand decide" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand decide" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand decide" -l always -d 'With allow: allow the same use for the rest of the session'
complete -c cap -n "__fish_cap_using_subcommand decide" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand decide" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand decide" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand decide" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand attach" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand attach" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand attach" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand attach" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand attach" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand attach" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand attach" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand attach" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand result" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand result" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand result" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand result" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand result" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand result" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand result" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand result" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand log" -s k -l key -d 'The conversation of this key\'s current agent, live or not' -r
complete -c cap -n "__fish_cap_using_subcommand log" -s C -l cwd -d 'Directory whose default key is meant when neither ID nor --key is given' -r -F
complete -c cap -n "__fish_cap_using_subcommand log" -s n -l turns -d 'Only the last TURNS turns' -r
complete -c cap -n "__fish_cap_using_subcommand log" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand log" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand log" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand log" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand log" -s f -l follow -d 'Keep printing the records of new turns until the session ends'
complete -c cap -n "__fish_cap_using_subcommand log" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand log" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand log" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand export" -s k -l key -d 'The conversation of this key\'s current agent, live or not' -r
complete -c cap -n "__fish_cap_using_subcommand export" -s C -l cwd -d 'Directory whose default key is meant when neither ID nor --key is given' -r -F
complete -c cap -n "__fish_cap_using_subcommand export" -l to -d 'The document\'s format' -r -f -a "markdown\t'Headings per turn, the prompt, the reply, tool calls as lists'
json\t'One JSON document with the records'"
complete -c cap -n "__fish_cap_using_subcommand export" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand export" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand export" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand export" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand export" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand export" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand export" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand agents" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand agents" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand agents" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand agents" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand agents" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand agents" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand agents" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand agents" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "start" -d 'Start capd in the background unless one already answers'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "stop" -d 'Ask capd to shut down and wait until it is gone'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "restart" -d 'Stop capd (if running), then start it again'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "status" -d 'Show pid, version, uptime, socket, sessions and limits'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "dial-stdio" -d 'Bridge stdin and stdout to capd\'s socket byte for byte (starting capd first unless autostart is off); a remote host\'s cap runs this over ssh'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "install-service" -d 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
complete -c cap -n "__fish_cap_using_subcommand daemon; and not __fish_seen_subcommand_from start stop restart status dial-stdio install-service help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from stop" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from restart" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from dial-stdio" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l dry-run -d 'Print the files and commands instead of writing and running them'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l no-enable -d 'Write the files but do not enable or start the service'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from install-service" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start capd in the background unless one already answers'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Ask capd to shut down and wait until it is gone'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "restart" -d 'Stop capd (if running), then start it again'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show pid, version, uptime, socket, sessions and limits'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "dial-stdio" -d 'Bridge stdin and stdout to capd\'s socket byte for byte (starting capd first unless autostart is off); a remote host\'s cap runs this over ssh'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "install-service" -d 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
complete -c cap -n "__fish_cap_using_subcommand daemon; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand gc" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand gc" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand gc" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand gc" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand gc" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand gc" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand gc" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -f -a "reset" -d 'Forget what a key has spent, so its budget allows prompts again'
complete -c cap -n "__fish_cap_using_subcommand budget; and not __fish_seen_subcommand_from reset help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -s k -l key -d 'The key [default: this directory\'s key]' -r
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from reset" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from help" -f -a "reset" -d 'Forget what a key has spent, so its budget allows prompts again'
complete -c cap -n "__fish_cap_using_subcommand budget; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -f -a "show" -d 'The configuration capd resolved (defaults included)'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -f -a "path" -d 'Where the config file is looked for (no daemon needed)'
complete -c cap -n "__fish_cap_using_subcommand config; and not __fish_seen_subcommand_from show path help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from path" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'The configuration capd resolved (defaults included)'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Where the config file is looked for (no daemon needed)'
complete -c cap -n "__fish_cap_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand mcp" -l key-prefix -d 'Put this server\'s conversations under their own keys (`mcp:NAME:...`), apart from other callers\'' -r
complete -c cap -n "__fish_cap_using_subcommand mcp" -l print-config -d 'Print the snippet that adds cap to AGENT\'s MCP servers, and exit' -r -f -a "claude\t''
codex\t''
gemini\t''
opencode\t''"
complete -c cap -n "__fish_cap_using_subcommand mcp" -s C -l cwd -d 'Directory the delegated sessions work in (default: the current one)' -r -F
complete -c cap -n "__fish_cap_using_subcommand mcp" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand mcp" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand mcp" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand mcp" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand mcp" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand mcp" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand mcp" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand completions" -l socket -d 'The daemon\'s socket [default: <runtime dir>/cap/capd.sock]' -r -F
complete -c cap -n "__fish_cap_using_subcommand completions" -l format -d 'Output format: streamed text, NDJSON events, or only the final answer' -r -f -a "text\t'The reply streamed to stdout, progress on stderr'
json\t'One JSON event per line (NDJSON); one JSON document for other commands'
quiet\t'Only the final answer on stdout; one line on stderr on failure'"
complete -c cap -n "__fish_cap_using_subcommand completions" -l config -d 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]' -r -F
complete -c cap -n "__fish_cap_using_subcommand completions" -l host -d 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there' -r
complete -c cap -n "__fish_cap_using_subcommand completions" -l no-autostart -d 'Never start capd; fail with exit code 6 when none is running'
complete -c cap -n "__fish_cap_using_subcommand completions" -s v -l verbose -d 'Say more on stderr (repeat for raw agent updates)'
complete -c cap -n "__fish_cap_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cap -n "__fish_cap_using_subcommand completions" -s V -l version -d 'Print version'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "prompt" -d 'Send one prompt and stream the turn'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "open" -d 'Open a session without prompting and bind it to the key'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "sessions" -d 'List live sessions'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "show" -d 'Show one session in full, with a resume hint'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "end" -d 'End a session (by id, by key, or the one bound to this directory\'s key)'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "bind" -d 'Bind a key to a live session'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "unbind" -d 'Remove a key\'s binding'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "keys" -d 'List bindings, the suspended pool and remembered records'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "cancel" -d 'Cancel the running turn ("nothing to cancel" is success)'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "fork" -d 'Copy a session\'s conversation into a new session bound to another key'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "decide" -d 'Answer a permission question (a `permission` event whose decision is `ask`)'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "attach" -d 'Follow a session\'s events live, including the turn in progress'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "result" -d 'Print the last finished turn\'s result'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "log" -d 'Show a conversation\'s transcript: prompts, replies, tool calls, decisions, results'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "export" -d 'Write a conversation\'s transcript as one document to stdout'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "agents" -d 'List built-in and configured agents'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "daemon" -d 'Manage the daemon'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "gc" -d 'Run the idle sweep now'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "budget" -d 'Spending caps: forget what a key has spent'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "config" -d 'Show the resolved configuration or where it lives'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "mcp" -d 'Serve MCP on stdio: lets an agent hold warm conversations with other agents'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "completions" -d 'Print shell completions to stdout'
complete -c cap -n "__fish_cap_using_subcommand help; and not __fish_seen_subcommand_from prompt open sessions show end bind unbind keys cancel fork decide attach result log export agents daemon gc budget config mcp completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "start" -d 'Start capd in the background unless one already answers'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "stop" -d 'Ask capd to shut down and wait until it is gone'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "restart" -d 'Stop capd (if running), then start it again'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "status" -d 'Show pid, version, uptime, socket, sessions and limits'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "dial-stdio" -d 'Bridge stdin and stdout to capd\'s socket byte for byte (starting capd first unless autostart is off); a remote host\'s cap runs this over ssh'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from daemon" -f -a "install-service" -d 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from budget" -f -a "reset" -d 'Forget what a key has spent, so its budget allows prompts again'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'The configuration capd resolved (defaults included)'
complete -c cap -n "__fish_cap_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Where the config file is looked for (no daemon needed)'
