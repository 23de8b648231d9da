-- POSTs one small order per request and tallies response statuses per thread, so that the
-- bench counts only 202s; done() prints one JSON line the bench parses.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
  or '{"customerId":"c-42","items":[{"sku":"SKU-1","quantity":2,"unitPrice":19.99}],"currency":"EUR"}'
if os.getenv("WRK_METHOD") == "GET" then
  wrk.method = "GET"
  wrk.body = nil
  wrk.headers["Content-Type"] = nil
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  io.write(string.format(
    'WRK_JSON {"durationUs":%d,"requests":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,' ..
    '"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"statuses":{%s}}\n',
    summary.duration, summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ",")))
end
