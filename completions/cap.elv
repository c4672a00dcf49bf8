
use builtin;
use str;

set edit:completion:arg-completer[cap] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'cap'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'cap'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand prompt 'Send one prompt and stream the turn'
            cand open 'Open a session without prompting and bind it to the key'
            cand sessions 'List live sessions'
            cand ls 'List live sessions'
            cand show 'Show one session in full, with a resume hint'
            cand end 'End a session (by id, by key, or the one bound to this directory''s key)'
            cand bind 'Bind a key to a live session'
            cand unbind 'Remove a key''s binding'
            cand keys 'List bindings, the suspended pool and remembered records'
            cand cancel 'Cancel the running turn ("nothing to cancel" is success)'
            cand fork 'Copy a session''s conversation into a new session bound to another key'
            cand decide 'Answer a permission question (a `permission` event whose decision is `ask`)'
            cand attach 'Follow a session''s events live, including the turn in progress'
            cand result 'Print the last finished turn''s result'
            cand log 'Show a conversation''s transcript: prompts, replies, tool calls, decisions, results'
            cand export 'Write a conversation''s transcript as one document to stdout'
            cand agents 'List built-in and configured agents'
            cand daemon 'Manage the daemon'
            cand gc 'Run the idle sweep now'
            cand budget 'Spending caps: forget what a key has spent'
            cand config 'Show the resolved configuration or where it lives'
            cand mcp 'Serve MCP on stdio: lets an agent hold warm conversations with other agents'
            cand completions 'Print shell completions to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;prompt'= {
            cand -a 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]'
            cand --agent 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]'
            cand -k 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]'
            cand --key 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]'
            cand -s 'Use this daemon session, bypassing keys'
            cand --session 'Use this daemon session, bypassing keys'
            cand --resume 'Resume the agent''s own session with this id'
            cand -C 'Working directory of the session [default: the current directory]'
            cand --cwd 'Working directory of the session [default: the current directory]'
            cand --model 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)'
            cand --preamble 'File whose text is prepended to the first prompt of a fresh session'
            cand --mcp-config 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent''s configured `mcp_servers`; kept with the key''s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them'
            cand --permissions 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]'
            cand --allow 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. ''execute(cargo test*)'' (kinds: read, edit, execute, fetch). Repeatable'
            cand --deny 'Refuse a tool use, whatever else allows it, e.g. ''edit(/etc/**)''. Repeatable'
            cand --ask 'Ask before a tool use the mode would allow, e.g. ''fetch''. Repeatable'
            cand --non-interactive 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]'
            cand --file 'Read the prompt from a file (`-` = stdin)'
            cand --timeout 'Seconds before the turn is cancelled (0 = no limit) [default: the daemon''s]'
            cand --budget 'Refuse the prompt (exit 7) when its key has already spent this many US dollars'
            cand --schema 'Answer with JSON valid against this JSON Schema (a file, or the schema itself): stdout is then that JSON alone. A wrong answer is asked for again twice, then the prompt fails (exit 1) naming the failing path'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --new 'Always open a fresh session (and rebind the key to it)'
            cand --continue 'Continue the agent''s most recent session in the working directory'
            cand --approve-all 'Short for --permissions approve-all'
            cand --deny-all 'Short for --permissions deny-all'
            cand --no-wait 'Return as soon as the prompt is queued; fetch the answer with `cap result`'
            cand --handoff 'Switching the key to --agent: start with its recorded turns with the previous agent (the last few, cut to a size limit), saying which agent did what'
            cand --steer 'Add the text to the turn running on the session (Codex), instead of queueing it as a prompt of its own; where the agent cannot take input mid-turn, or no turn runs, it is queued as usual and a status line says so'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;open'= {
            cand -a 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]'
            cand --agent 'Agent name (claude, codex, opencode, gemini, a configured one, or `acp:''CMD ARGS''`) [default: the key''s current agent, else config `default_agent`, else claude]'
            cand -k 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]'
            cand --key 'Routing key [default: `dir:<git root>` or `dir:<cwd>`]'
            cand -s 'Use this daemon session, bypassing keys'
            cand --session 'Use this daemon session, bypassing keys'
            cand --resume 'Resume the agent''s own session with this id'
            cand -C 'Working directory of the session [default: the current directory]'
            cand --cwd 'Working directory of the session [default: the current directory]'
            cand --model 'Model of the session: given to the agent when a session opens; `prompt` on a warm session switches it before sending, keeping the conversation (exit 2 when the agent cannot switch)'
            cand --preamble 'File whose text is prepended to the first prompt of a fresh session'
            cand --mcp-config 'MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of the agent''s configured `mcp_servers`; kept with the key''s record, so a resume gets them too. A warm session with other servers is restarted by resume to take them'
            cand --permissions 'What the agent may do without asking [default: config `default_permissions`, else approve-edits: reads anywhere and edits inside the cwd; commands are asked]'
            cand --allow 'Allow a tool use without asking: KIND or KIND(PATTERN), e.g. ''execute(cargo test*)'' (kinds: read, edit, execute, fetch). Repeatable'
            cand --deny 'Refuse a tool use, whatever else allows it, e.g. ''edit(/etc/**)''. Repeatable'
            cand --ask 'Ask before a tool use the mode would allow, e.g. ''fetch''. Repeatable'
            cand --non-interactive 'When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and go on, or fail the turn with exit code 5 [default: deny]'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --new 'Always open a fresh session (and rebind the key to it)'
            cand --continue 'Continue the agent''s most recent session in the working directory'
            cand --approve-all 'Short for --permissions approve-all'
            cand --deny-all 'Short for --permissions deny-all'
            cand --no-bind 'Only open the session; leave the key''s binding alone'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;sessions'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;ls'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;show'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;end'= {
            cand -k 'The session bound to this key'
            cand --key 'The session bound to this key'
            cand -C 'Directory whose default key is meant when neither ID nor --key is given'
            cand --cwd 'Directory whose default key is meant when neither ID nor --key is given'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;bind'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;unbind'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;keys'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;cancel'= {
            cand -k 'The session bound to this key'
            cand --key 'The session bound to this key'
            cand -C 'Directory whose default key is meant when neither ID nor --key is given'
            cand --cwd 'Directory whose default key is meant when neither ID nor --key is given'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;fork'= {
            cand --from 'Copy the conversation of this key instead'
            cand -k 'The key the new session is bound to'
            cand --key 'The key the new session is bound to'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;decide'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --always 'With allow: allow the same use for the rest of the session'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;attach'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;result'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;log'= {
            cand -k 'The conversation of this key''s current agent, live or not'
            cand --key 'The conversation of this key''s current agent, live or not'
            cand -C 'Directory whose default key is meant when neither ID nor --key is given'
            cand --cwd 'Directory whose default key is meant when neither ID nor --key is given'
            cand -n 'Only the last TURNS turns'
            cand --turns 'Only the last TURNS turns'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand -f 'Keep printing the records of new turns until the session ends'
            cand --follow 'Keep printing the records of new turns until the session ends'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;export'= {
            cand -k 'The conversation of this key''s current agent, live or not'
            cand --key 'The conversation of this key''s current agent, live or not'
            cand -C 'Directory whose default key is meant when neither ID nor --key is given'
            cand --cwd 'Directory whose default key is meant when neither ID nor --key is given'
            cand --to 'The document''s format'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;agents'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Start capd in the background unless one already answers'
            cand stop 'Ask capd to shut down and wait until it is gone'
            cand restart 'Stop capd (if running), then start it again'
            cand status 'Show pid, version, uptime, socket, sessions and limits'
            cand dial-stdio 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh'
            cand install-service 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;daemon;start'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;stop'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;restart'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;status'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;dial-stdio'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;install-service'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --dry-run 'Print the files and commands instead of writing and running them'
            cand --no-enable 'Write the files but do not enable or start the service'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;daemon;help'= {
            cand start 'Start capd in the background unless one already answers'
            cand stop 'Ask capd to shut down and wait until it is gone'
            cand restart 'Stop capd (if running), then start it again'
            cand status 'Show pid, version, uptime, socket, sessions and limits'
            cand dial-stdio 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh'
            cand install-service 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;daemon;help;start'= {
        }
        &'cap;daemon;help;stop'= {
        }
        &'cap;daemon;help;restart'= {
        }
        &'cap;daemon;help;status'= {
        }
        &'cap;daemon;help;dial-stdio'= {
        }
        &'cap;daemon;help;install-service'= {
        }
        &'cap;daemon;help;help'= {
        }
        &'cap;gc'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;budget'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand reset 'Forget what a key has spent, so its budget allows prompts again'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;budget;reset'= {
            cand -k 'The key [default: this directory''s key]'
            cand --key 'The key [default: this directory''s key]'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;budget;help'= {
            cand reset 'Forget what a key has spent, so its budget allows prompts again'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;budget;help;reset'= {
        }
        &'cap;budget;help;help'= {
        }
        &'cap;config'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'The configuration capd resolved (defaults included)'
            cand path 'Where the config file is looked for (no daemon needed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;config;show'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;config;path'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;config;help'= {
            cand show 'The configuration capd resolved (defaults included)'
            cand path 'Where the config file is looked for (no daemon needed)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;config;help;show'= {
        }
        &'cap;config;help;path'= {
        }
        &'cap;config;help;help'= {
        }
        &'cap;mcp'= {
            cand --key-prefix 'Put this server''s conversations under their own keys (`mcp:NAME:...`), apart from other callers'''
            cand --print-config 'Print the snippet that adds cap to AGENT''s MCP servers, and exit'
            cand -C 'Directory the delegated sessions work in (default: the current one)'
            cand --cwd 'Directory the delegated sessions work in (default: the current one)'
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;completions'= {
            cand --socket 'The daemon''s socket [default: <runtime dir>/cap/capd.sock]'
            cand --format 'Output format: streamed text, NDJSON events, or only the final answer'
            cand --config 'Config file handed to an autostarted capd [default: <config dir>/cap/config.toml]'
            cand --host 'Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the name of a [hosts.NAME] table in the config. Paths (-C) then name directories there'
            cand --no-autostart 'Never start capd; fail with exit code 6 when none is running'
            cand -v 'Say more on stderr (repeat for raw agent updates)'
            cand --verbose 'Say more on stderr (repeat for raw agent updates)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cap;help'= {
            cand prompt 'Send one prompt and stream the turn'
            cand open 'Open a session without prompting and bind it to the key'
            cand sessions 'List live sessions'
            cand show 'Show one session in full, with a resume hint'
            cand end 'End a session (by id, by key, or the one bound to this directory''s key)'
            cand bind 'Bind a key to a live session'
            cand unbind 'Remove a key''s binding'
            cand keys 'List bindings, the suspended pool and remembered records'
            cand cancel 'Cancel the running turn ("nothing to cancel" is success)'
            cand fork 'Copy a session''s conversation into a new session bound to another key'
            cand decide 'Answer a permission question (a `permission` event whose decision is `ask`)'
            cand attach 'Follow a session''s events live, including the turn in progress'
            cand result 'Print the last finished turn''s result'
            cand log 'Show a conversation''s transcript: prompts, replies, tool calls, decisions, results'
            cand export 'Write a conversation''s transcript as one document to stdout'
            cand agents 'List built-in and configured agents'
            cand daemon 'Manage the daemon'
            cand gc 'Run the idle sweep now'
            cand budget 'Spending caps: forget what a key has spent'
            cand config 'Show the resolved configuration or where it lives'
            cand mcp 'Serve MCP on stdio: lets an agent hold warm conversations with other agents'
            cand completions 'Print shell completions to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cap;help;prompt'= {
        }
        &'cap;help;open'= {
        }
        &'cap;help;sessions'= {
        }
        &'cap;help;show'= {
        }
        &'cap;help;end'= {
        }
        &'cap;help;bind'= {
        }
        &'cap;help;unbind'= {
        }
        &'cap;help;keys'= {
        }
        &'cap;help;cancel'= {
        }
        &'cap;help;fork'= {
        }
        &'cap;help;decide'= {
        }
        &'cap;help;attach'= {
        }
        &'cap;help;result'= {
        }
        &'cap;help;log'= {
        }
        &'cap;help;export'= {
        }
        &'cap;help;agents'= {
        }
        &'cap;help;daemon'= {
            cand start 'Start capd in the background unless one already answers'
            cand stop 'Ask capd to shut down and wait until it is gone'
            cand restart 'Stop capd (if running), then start it again'
            cand status 'Show pid, version, uptime, socket, sessions and limits'
            cand dial-stdio 'Bridge stdin and stdout to capd''s socket byte for byte (starting capd first unless autostart is off); a remote host''s cap runs this over ssh'
            cand install-service 'Install and enable the per-user service that starts capd at login: systemd user units with socket activation on Linux, a launchd agent on macOS'
        }
        &'cap;help;daemon;start'= {
        }
        &'cap;help;daemon;stop'= {
        }
        &'cap;help;daemon;restart'= {
        }
        &'cap;help;daemon;status'= {
        }
        &'cap;help;daemon;dial-stdio'= {
        }
        &'cap;help;daemon;install-service'= {
        }
        &'cap;help;gc'= {
        }
        &'cap;help;budget'= {
            cand reset 'Forget what a key has spent, so its budget allows prompts again'
        }
        &'cap;help;budget;reset'= {
        }
        &'cap;help;config'= {
            cand show 'The configuration capd resolved (defaults included)'
            cand path 'Where the config file is looked for (no daemon needed)'
        }
        &'cap;help;config;show'= {
        }
        &'cap;help;config;path'= {
        }
        &'cap;help;mcp'= {
        }
        &'cap;help;completions'= {
        }
        &'cap;help;help'= {
        }
    ]
    $completions[$command]
}
