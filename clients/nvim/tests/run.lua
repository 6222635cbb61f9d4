-- Headless Neovim tests of the torl plugin against a real daemon (TORL_BIN), started over stdio by the plugin.
--   nvim --headless -u NONE -c "set rtp+=clients/nvim" -c "luafile clients/nvim/tests/run.lua"
-- Prints one line per test and "N passed, N failed"; exits non-zero on any failure.
-- -u NONE loads no plugin files: source ours the way a user's runtime path would.
vim.cmd("runtime plugin/torl.lua")
local torl = require("torl")
local rpc = require("torl.rpc")
local passed, failed = 0, 0

local function check(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    io.stdout:write("ok   " .. name .. "\n")
  else
    failed = failed + 1
    io.stdout:write("FAIL " .. name .. ": " .. tostring(err) .. "\n")
  end
end

--- Waits (running the event loop) until done() is true or the timeout expires.
local function await(what, timeout_ms, done)
  if not vim.wait(timeout_ms, done, 20) then error("timed out waiting for " .. what) end
end

--- A request through the shared client; returns err, result.
local function call(method, params)
  local finished, err, result = false, nil, nil
  torl.with_client(function(client, connect_err)
    if not client then
      finished, err = true, connect_err
      return
    end
    client:request(method, params, function(e, r) finished, err, result = true, e, r end)
  end)
  await(method, 120000, function() return finished end)
  return err, result
end

local bin = vim.env.TORL_BIN
check("TORL_BIN names the built daemon", function()
  assert(bin and vim.fn.executable(bin) == 1, "set TORL_BIN to the torl binary (make test does)")
end)
local cmd = { bin, "serve", "--stdio" }
if vim.env.TORL_MODEL then vim.list_extend(cmd, { "--model", vim.env.TORL_MODEL }) end
torl.setup({ address = false, cmd = cmd })

check("frames decode one byte at a time", function()
  local feed = rpc.decoder()
  local frame = rpc.encode({ jsonrpc = "2.0", id = 1, result = { text = "é😀" } })
  local bodies = {}
  for i = 1, #frame do
    for _, body in ipairs(feed(frame:sub(i, i))) do table.insert(bodies, body) end
  end
  assert(#bodies == 1, "expected one body, got " .. #bodies)
  assert(vim.json.decode(bodies[1]).result.text == "é😀")
end)

check("status over a daemon started by the plugin", function()
  local err, status = call("status", vim.empty_dict())
  assert(not err, err)
  assert(status.sandbox.workers_alive == status.sandbox.pool_size, vim.inspect(status.sandbox))
end)

check("sandbox/execute runs Python", function()
  local err, result = call("sandbox/execute", { code = "print(2 ** 100 % 7)" })
  assert(not err, err)
  assert(result.status == "ok" and result.stdout == "2\n", vim.inspect(result))
end)

check("invalid params come back as an error naming the field", function()
  local err = call("sandbox/execute", { code = 5 })
  assert(err and err:find("code", 1, true) and err:find("-32602", 1, true), tostring(err))
end)

check(":TorlSolve streams the paragraph's solution into a scratch buffer", function()
  assert(vim.env.TORL_MODEL, "TORL_MODEL must name the default model (make test sets it)")
  torl.config.solve = { max_tokens = 24 }
  vim.cmd("enew")
  local problem_buffer = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "What is 6 * 7?", "", "unrelated paragraph" })
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local done, result, scratch = false, nil, nil
  torl.solve("What is 6 * 7?", function(err, r, buf)
    assert(not err, err)
    done, result, scratch = true, r, buf
  end)
  await("solve", 120000, function() return done end)
  local text = table.concat(vim.api.nvim_buf_get_lines(scratch, 0, -1, false), "\n")
  assert(text:find(result.text, 1, true), "the scratch buffer does not hold the solution text:\n" .. text)
  assert(text:find("answer:", 1, true), text)
  -- The command itself picks the paragraph under the cursor (back in the problem's buffer, on its first line).
  vim.cmd("only")
  vim.api.nvim_set_current_buf(problem_buffer)
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local before = #vim.api.nvim_list_bufs()
  vim.cmd("TorlSolve")
  assert(#vim.api.nvim_list_bufs() == before + 1, "TorlSolve did not open a scratch buffer")
  local lines = vim.api.nvim_buf_get_lines(0, 0, 1, false)
  assert(lines[1] == "# What is 6 * 7?", lines[1])
  await("TorlSolve to finish", 120000, function()
    return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n"):find("answer:", 1, true) ~= nil
  end)
end)

check("the help file has a tag for every command and option, and :help finds it", function()
  -- Tags are generated into a copy: the repository keeps no generated tags file.
  local source = vim.api.nvim_get_runtime_file("doc/torl.txt", false)[1]
  assert(source, "doc/torl.txt is not on the runtime path")
  local copy = vim.fn.tempname()
  vim.fn.mkdir(copy .. "/doc", "p")
  vim.fn.writefile(vim.fn.readfile(source), copy .. "/doc/torl.txt")
  vim.cmd("helptags " .. vim.fn.fnameescape(copy .. "/doc"))
  local tags = {}
  for _, line in ipairs(vim.fn.readfile(copy .. "/doc/tags")) do tags[line:match("^([^\t]+)")] = true end
  local wanted = { "torl.txt", ":TorlSolve", "torl-setup", "torl.setup()", "torl.solve()", "torl.with_client()" }
  for name in pairs(torl.config) do table.insert(wanted, "torl-option-" .. name) end
  for _, tag in ipairs(wanted) do assert(tags[tag], "no help tag " .. tag) end
  vim.opt.runtimepath:prepend(copy)
  vim.cmd("help :TorlSolve")
  assert(vim.bo.filetype == "help", "filetype " .. vim.bo.filetype)
  vim.cmd("helpclose")
  vim.fn.delete(copy, "rf")
end)

io.stdout:write(string.format("%d passed, %d failed\n", passed, failed))
vim.cmd(failed == 0 and "qa!" or "cquit 1")
