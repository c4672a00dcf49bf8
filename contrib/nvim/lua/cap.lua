-- cap.nvim: talk to warm coding-agent sessions from Neovim, through `cap --format json`.
--
-- Install: put this directory on 'runtimepath' (or copy lua/cap.lua into ~/.config/nvim/lua/)
-- and call require("cap").setup() from init.lua. Commands:
--   :Cap TEXT        prompt the session of the current directory's key; the reply streams
--                    into a scratch buffer (with -C set to Neovim's working directory)
--   :CapAttach ID    follow a session's turns live (`cap attach`)
--   :CapCancel       cancel the running turn of the last prompt
-- Permission questions (`permission` events with decision "ask") are put to you with
-- vim.ui.select and answered with `cap decide`.
-- setup{ cmd = "cap", args = { "--host", "build" } } talks to another machine's capd.

local M = {}

M.config = { cmd = "cap", args = {} }

-- The last prompt or attach: { buf, job, session, done, result, error }.
M.last = nil

local function command(...)
  local cmd = { M.config.cmd }
  vim.list_extend(cmd, M.config.args)
  vim.list_extend(cmd, { ... })
  return cmd
end

-- Appends text (which may hold newlines) at the end of the buffer.
local function append(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local parts = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, parts)
end

-- Puts a line of its own after whatever the reply printed so far.
local function note(buf, text)
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  append(buf, (tail == "" and "" or "\n") .. text .. "\n")
end

local function scratch(name)
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = "markdown"
  pcall(vim.api.nvim_buf_set_name, buf, name)
  return buf
end

local function ask(run, ev)
  local what = ev.tool .. (ev.subject and (" " .. ev.subject) or "")
  vim.ui.select({ "allow", "allow always", "deny" }, { prompt = "cap: allow " .. what .. "?" },
    function(choice)
      local args = { "decide", ev.id, choice == "deny" and "deny" or "allow" }
      if choice == "allow always" then
        table.insert(args, "--always")
      end
      if not choice then
        args[3] = "deny"
      end
      vim.fn.jobstart(command(unpack(args)))
    end)
end

-- One event of the NDJSON stream.
local function handle(run, ev, follow)
  local buf = run.buf
  if ev.type == "session" then
    run.session = ev.id
    note(buf, string.format("<!-- %s session %s, key %s -->", ev.agent, ev.id, ev.key or "-"))
  elseif ev.type == "text" then
    append(buf, ev.delta)
  elseif ev.type == "tool_call" then
    note(buf, string.format("> %s (%s)", ev.name, ev.status))
  elseif ev.type == "status" then
    note(buf, string.format("> %s: %s", ev.kind, ev.message))
  elseif ev.type == "permission" then
    if ev.decision == "ask" then
      ask(run, ev)
    else
      note(buf, string.format("> %s %s: %s", ev.tool, ev.subject or "", ev.decision))
    end
  elseif ev.type == "result" then
    note(buf, string.format("<!-- %s -->", ev.stop_reason))
    if not follow then
      run.result = ev
      run.done = true
    end
  elseif ev.type == "error" then
    note(buf, "cap: " .. ev.message)
    run.error = ev
    run.done = true
  end
end

-- Runs `cap` with json output, feeding each complete line to `handle`.
local function start(run, cmd, follow)
  local pending = ""
  local function lines(_, data)
    if not data then
      return
    end
    pending = pending .. data[1]
    for i = 2, #data do
      local line = pending
      pending = data[i]
      if line ~= "" then
        local ok, ev = pcall(vim.json.decode, line)
        if ok and type(ev) == "table" then
          handle(run, ev, follow)
        end
      end
    end
  end
  run.job = vim.fn.jobstart(cmd, {
    on_stdout = vim.schedule_wrap(lines),
    on_stderr = vim.schedule_wrap(function(_, data)
      local text = table.concat(data or {}, "\n")
      if text:match("%S") then
        note(run.buf, text)
      end
    end),
    on_exit = vim.schedule_wrap(function(_, code)
      lines(nil, { "", "" })
      run.code = code
      run.done = true
    end),
  })
  M.last = run
  return run
end

-- Sends `text` to the session of the working directory's key; returns the run.
function M.prompt(text)
  local run = { buf = scratch("cap://prompt/" .. vim.fn.localtime()), done = false }
  return start(run, command("--format", "json", "prompt", "-C", vim.fn.getcwd(), "--", text), false)
end

-- Follows a session's events until it ends.
function M.attach(id)
  local run = { buf = scratch("cap://attach/" .. id), done = false }
  return start(run, command("--format", "json", "attach", id), true)
end

-- Cancels the last prompt's turn (or the directory's running turn).
function M.cancel()
  local target = (M.last and M.last.session) and { M.last.session } or { "-C", vim.fn.getcwd() }
  vim.fn.jobstart(command("cancel", unpack(target)))
end

-- Waits (up to `ms`) for a run to finish: for scripts and tests.
function M.wait(run, ms)
  return vim.wait(ms or 60000, function()
    return run.done and run.code ~= nil
  end, 20)
end

function M.setup(opts)
  M.config = vim.tbl_extend("force", M.config, opts or {})
  vim.api.nvim_create_user_command("Cap", function(o)
    M.prompt(o.args)
  end, { nargs = "+", desc = "cap: prompt the directory's agent session" })
  vim.api.nvim_create_user_command("CapAttach", function(o)
    M.attach(o.args)
  end, { nargs = 1, desc = "cap: follow a session" })
  vim.api.nvim_create_user_command("CapCancel", M.cancel, { desc = "cap: cancel the running turn" })
end

return M
