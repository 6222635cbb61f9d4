-- torl for Neovim: :TorlSolve streams a worked solution (reasoning, code, interpreter output, boxed answer)
-- for the selected text, or the paragraph under the cursor, into a scratch buffer.
local rpc = require("torl.rpc")
local M = {}

M.config = {
  -- Connect to a running daemon (unix:PATH or tcp://HOST:PORT) ...
  address = vim.env.TORL_CONNECT,
  token = vim.env.TORL_TOKEN,
  -- ... or, when address is nil, start one over stdio with this command.
  cmd = nil,
  solve = { template = "chat", max_tool_calls = 1 },
}

local client, connecting, waiters = nil, false, {}

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
end

local function default_cmd()
  local torl = vim.env.TORL_BIN or "torl"
  local cmd = { torl, "serve", "--stdio" }
  if vim.env.TORL_MODEL then vim.list_extend(cmd, { "--model", vim.env.TORL_MODEL }) end
  return cmd
end

--- Calls on_client(client, err) with a ready, initialized connection (made once, then reused).
function M.with_client(on_client)
  if client and not client.closed then return on_client(client) end
  table.insert(waiters, on_client)
  if connecting then return end
  connecting = true
  local opts = M.config.address and { address = M.config.address } or { cmd = M.config.cmd or default_cmd() }
  rpc.connect(opts, function(c, err)
    local function finish(ready, failure)
      connecting = false
      client = ready
      local pending = waiters
      waiters = {}
      for _, waiter in ipairs(pending) do waiter(ready, failure) end
    end
    if not c then return finish(nil, err) end
    local params = { client_name = "torl.nvim" }
    if M.config.token then params.token = M.config.token end
    c:request("initialize", params, function(init_err)
      if init_err then return finish(nil, "initialize failed: " .. init_err) end
      finish(c)
    end)
  end)
end

local function selection_or_paragraph(range_given, line1, line2)
  local lines
  if range_given then
    lines = vim.api.nvim_buf_get_lines(0, line1 - 1, line2, false)
  else
    local cursor = vim.api.nvim_win_get_cursor(0)[1]
    local all = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    local first, last = cursor, cursor
    while first > 1 and all[first - 1]:match("%S") do first = first - 1 end
    while last < #all and all[last + 1]:match("%S") do last = last + 1 end
    lines = vim.list_slice(all, first, last)
  end
  return vim.trim(table.concat(lines, "\n"))
end

local function scratch_buffer(title)
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype, vim.bo[buf].bufhidden, vim.bo[buf].swapfile = "nofile", "wipe", false
  vim.bo[buf].filetype = "markdown"
  pcall(vim.api.nvim_buf_set_name, buf, title)
  return buf
end

--- Appends text to the end of buf (text may hold newlines and may end mid-line).
local function append(buf, text)
  if not vim.api.nvim_buf_is_valid(buf) or text == "" then return end
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local pieces = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
end

--- Solves `problem`; streams into a new scratch buffer; on_done(err, result, buf) when finished.
function M.solve(problem, on_done)
  if problem == "" then
    vim.notify("torl: nothing to solve (empty selection or paragraph)", vim.log.levels.WARN)
    return
  end
  local buf = scratch_buffer("torl://solve/" .. vim.fn.localtime())
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "# " .. problem:gsub("\n", " "), "" })
  M.with_client(function(c, err)
    if not c then
      append(buf, "\n[torl] " .. err .. "\n")
      if on_done then on_done(err, nil, buf) end
      return
    end
    local params = vim.tbl_extend("force", M.config.solve, { problem = problem })
    c:request("solve", params, function(solve_err, result)
      if solve_err then
        append(buf, "\n\n[torl] error: " .. solve_err .. "\n")
      else
        append(buf, string.format("\n\n---\nanswer: %s   (%s)\n", tostring(result.answer or "none"),
          tostring(result.finish_reason)))
      end
      if on_done then on_done(solve_err, result, buf) end
    end, function(value)
      if value.kind == "text" then append(buf, value.delta) end
    end)
  end)
  return buf
end

function M.solve_command(opts)
  M.solve(selection_or_paragraph(opts.range > 0, opts.line1, opts.line2))
end

return M
