-- JSON-RPC 2.0 with LSP framing over a libuv stream (Unix socket, TCP, or a child's stdio).
-- Callbacks run on the main loop via vim.schedule, so they may touch buffers.
local uv = vim.loop
local M = {}

local Client = {}
Client.__index = Client

--- Incremental frame decoder: returns complete message bodies (strings) found in the bytes fed so far.
function M.decoder()
  local buffer, need = "", nil
  return function(chunk)
    buffer = buffer .. chunk
    local bodies = {}
    while true do
      if not need then
        local header_end = buffer:find("\r\n\r\n", 1, true)
        if not header_end then
          if #buffer > 8192 then error("torl: header longer than 8192 bytes") end
          return bodies
        end
        local header = buffer:sub(1, header_end - 1)
        need = tonumber(header:lower():match("content%-length:%s*(%d+)"))
        if not need then error("torl: frame without Content-Length") end
        buffer = buffer:sub(header_end + 4)
      end
      if #buffer < need then return bodies end
      table.insert(bodies, buffer:sub(1, need))
      buffer = buffer:sub(need + 1)
      need = nil
    end
  end
end

function M.encode(message)
  local body = vim.json.encode(message)
  return "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

--- Connects to `address` (unix:PATH or tcp://HOST:PORT) or spawns `cmd` (a list: torl serve --stdio ...).
--- on_ready(client_or_nil, err) is called once the transport is up.
function M.connect(opts, on_ready)
  local self = setmetatable({ next_id = 1, pending = {}, progress = {}, closed = false }, Client)
  local feed = M.decoder()
  local function on_read(err, data)
    if err or not data then
      self:_close(err or "the daemon closed the connection")
      return
    end
    local ok, bodies = pcall(feed, data)
    if not ok then
      self:_close(bodies)
      return
    end
    for _, body in ipairs(bodies) do
      vim.schedule(function() self:_dispatch(body) end)
    end
  end
  if opts.cmd then
    local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
    local handle, spawn_err = uv.spawn(opts.cmd[1], {
      args = vim.list_slice(opts.cmd, 2), stdio = { stdin, stdout, stderr },
    }, function() self:_close("the daemon exited") end)
    if not handle then
      vim.schedule(function() on_ready(nil, "cannot start " .. opts.cmd[1] .. ": " .. tostring(spawn_err)) end)
      return
    end
    self.process, self.writer = handle, stdin
    stdout:read_start(on_read)
    stderr:read_start(function() end)
    vim.schedule(function() on_ready(self) end)
    return
  end
  local address = opts.address or ""
  local stream
  local function connected(err)
    if err then
      vim.schedule(function() on_ready(nil, "cannot connect to " .. address .. ": " .. err) end)
      return
    end
    self.writer = stream
    stream:read_start(on_read)
    vim.schedule(function() on_ready(self) end)
  end
  if address:sub(1, 5) == "unix:" then
    stream = uv.new_pipe(false)
    stream:connect(address:sub(6), connected)
  elseif address:sub(1, 6) == "tcp://" then
    local host, port = address:sub(7):match("^(.*):(%d+)$")
    if not host then
      vim.schedule(function() on_ready(nil, "bad address " .. address) end)
      return
    end
    stream = uv.new_tcp()
    stream:connect(host, tonumber(port), connected)
  else
    vim.schedule(function() on_ready(nil, "address must be unix:PATH or tcp://HOST:PORT, got " .. address) end)
  end
end

--- Sends a request; on_result(err, result) gets the answer; on_progress(value) each $/progress value.
function Client:request(method, params, on_result, on_progress)
  if self.closed then
    on_result("connection closed: " .. tostring(self.close_reason))
    return
  end
  local id = self.next_id
  self.next_id = id + 1
  params = params or vim.empty_dict()
  if on_progress then
    local token = "nvim-" .. id
    params.progress_token = token
    self.progress[token] = on_progress
  end
  self.pending[id] = { callback = on_result, token = params.progress_token }
  self.writer:write(M.encode({ jsonrpc = "2.0", id = id, method = method, params = params }))
  return id
end

function Client:notify(method, params)
  if not self.closed then
    self.writer:write(M.encode({ jsonrpc = "2.0", method = method, params = params }))
  end
end

function Client:_dispatch(body)
  local ok, message = pcall(vim.json.decode, body)
  if not ok or type(message) ~= "table" then return end
  if message.id ~= nil and (message.result ~= nil or message.error ~= nil) then
    local pending = self.pending[message.id]
    if not pending then return end
    self.pending[message.id] = nil
    if pending.token then self.progress[pending.token] = nil end
    if message.error then
      pending.callback(string.format("%s (code %s)", message.error.message, message.error.code))
    else
      pending.callback(nil, message.result)
    end
  elseif message.method == "$/progress" and type(message.params) == "table" then
    local callback = self.progress[message.params.token]
    if callback then callback(message.params.value) end
  end
end

function Client:_close(reason)
  if self.closed then return end
  self.closed, self.close_reason = true, reason
  vim.schedule(function()
    for id, pending in pairs(self.pending) do
      self.pending[id] = nil
      pending.callback("connection closed: " .. tostring(reason))
    end
  end)
  if self.writer and not self.writer:is_closing() then self.writer:close() end
end

function Client:close()
  self:request("shutdown", nil, function()
    self:notify("exit")
    self:_close("closed by the editor")
  end)
end

return M
