-- wrk: a POST /echo whose body goes in chunked transfer coding (the load
-- generator sends only Content-Length bodies). BODY_SIZE bytes (65536) in
-- chunks of CHUNK_SIZE (16384), the whole request built once.
--   wrk -s bench/lib/chunked-post.lua -c64 -d5s http://127.0.0.1:18401/echo
local size = tonumber(os.getenv("BODY_SIZE") or "65536")
local piece = tonumber(os.getenv("CHUNK_SIZE") or "16384")
local parts = {}
local left = size
while left > 0 do
  local n = math.min(piece, left)
  parts[#parts + 1] = string.format("%x\r\n", n) .. string.rep("x", n) .. "\r\n"
  left = left - n
end
parts[#parts + 1] = "0\r\n\r\n"
local req = nil

function init(args)
  req = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
    "\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n" .. table.concat(parts)
end

function request()
  return req
end

function done(summary, latency, requests)
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
