-- One wrk script for every HTTP row of `make bench` (benchmarks/run.py).
--   wrk ... -s bench.lua URL -- METHOD PATH SESSIONS BODY
-- METHOD GET or POST; PATH the request path; SESSIONS a file of
-- "sessionid csrftoken" lines, or "-" for an anonymous visitor; BODY the
-- urlencoded form for POST, where CSRF is replaced by the shopper's token.
-- Each request is sent as the next shopper of the thread's share (round
-- robin), with the headers the production proxy (nginx, TLS) would add.
-- done() prints one machine-readable line: BENCH key=value ...

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

local method, path, body_template
local sessions = {}
local index = 0

function init(args)
   method = args[1] or "GET"
   path = args[2] or "/"
   local file = args[3] or "-"
   body_template = args[4] or ""
   if file ~= "-" then
      for line in io.lines(file) do
         local sid, csrf = line:match("^(%S+)%s+(%S+)")
         if sid then table.insert(sessions, {sid, csrf}) end
      end
   end
   -- Spread the threads over the shoppers.
   if #sessions > 0 then index = ((tid - 1) * 7919) % #sessions end
   s2, s3, s4, s5, s429 = 0, 0, 0, 0, 0
end

function request()
   local host = wrk.headers["Host"]
   local headers = {
      ["X-Forwarded-Proto"] = "https",
      ["Origin"] = "https://" .. host,
      ["Referer"] = "https://" .. host .. "/",
   }
   local body = nil
   if #sessions > 0 then
      index = index % #sessions + 1
      local s = sessions[index]
      headers["Cookie"] = "sessionid=" .. s[1] .. "; csrftoken=" .. s[2]
      if method == "POST" then body = body_template:gsub("CSRF", s[2]) end
   elseif method == "POST" then
      body = body_template
   end
   if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
   return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
   if status == 429 or status == 503 then s429 = s429 + 1
   elseif status >= 500 then s5 = s5 + 1
   elseif status >= 400 then s4 = s4 + 1
   elseif status >= 300 then s3 = s3 + 1
   else s2 = s2 + 1 end
end

function done(summary, latency, requests)
   local t = {s2 = 0, s3 = 0, s4 = 0, s5 = 0, s429 = 0}
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
   end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d s2=%d s3=%d s4=%d s5=%d s429=%d "
         .. "sockerr=%d timeout=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, t.s2, t.s3, t.s4, t.s5, t.s429,
      summary.errors.connect + summary.errors.read + summary.errors.write,
      summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
