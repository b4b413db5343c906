-- A realistic mix for wrk against `credit serve`: 90 % score reads (each appends its
-- trace to the audit log), 10 % record writes (unique document numbers, so no 409s).
-- Driven by bench/load_mix.py, which sets these variables:
--   CREDIT_READ_TOKEN   bearer secret of an evaluator
--   CREDIT_WRITE_TOKEN  bearer secret of a regulator of every sector
--   CREDIT_USCCS        comma-separated valid USCCs to read and write
--   CREDIT_DECIDED_ON   decision date of the written records (YYYY-MM-DD, ≤ today)
--   CREDIT_WRITE_SHARE  percentage of writes (default 10)
local reader = os.getenv("CREDIT_READ_TOKEN")
local writer = os.getenv("CREDIT_WRITE_TOKEN")
local decided = os.getenv("CREDIT_DECIDED_ON")
local share = tonumber(os.getenv("CREDIT_WRITE_SHARE") or "10")
local usccs = {}
for u in string.gmatch(os.getenv("CREDIT_USCCS") or "", "[^,]+") do
  usccs[#usccs + 1] = u
end
local sectors = {"housing", "transport", "water"}
local codes = {"BID-NOSIGN", "SITE-QUALITY", "AWARD-CITY", "SITE-PM-ABSENT"}

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(tid * 7919 + os.time())
  counter, reads, writes, ok, client_errors, server_errors = 0, 0, 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local u = usccs[math.random(#usccs)]
  local sector = sectors[math.random(#sectors)]
  if math.random(100) <= share then
    writes = writes + 1
    local body = string.format(
      '{"uscc":"%s","subject_name":"绍兴柯桥压测建设有限公司","sector":"%s",' ..
      '"code":"%s","decided_on":"%s","document_no":"压测〔%d〕%d-%d号",' ..
      '"issued_by":"柯桥区住房和城乡建设局"}',
      u, sector, codes[math.random(#codes)], decided, tid, counter, math.random(1000000000))
    return wrk.format("POST", "/api/v1/records",
      {["Authorization"] = "Bearer " .. writer, ["Content-Type"] = "application/json"}, body)
  end
  reads = reads + 1
  return wrk.format("GET", "/api/v1/subjects/" .. u .. "/score?sector=" .. sector,
    {["Authorization"] = "Bearer " .. reader})
end

function response(status, headers, body)
  if status < 400 then ok = ok + 1
  elseif status < 500 then client_errors = client_errors + 1
  else server_errors = server_errors + 1 end
end

function done(summary, latency, requests)
  local t = {reads = 0, writes = 0, ok = 0, client_errors = 0, server_errors = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.0f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},' ..
    '"sent":{"reads":%d,"writes":%d},"answered":{"ok":%d,"4xx":%d,"5xx":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    t.reads, t.writes, t.ok, t.client_errors, t.server_errors))
end
