-- wrk: every request carries the next credential from HEADERS_FILE (lines of
-- "name<TAB>value"), so caches see many sessions, not one, and the headers
-- the shipped nginx config sends to /_resolve, so every server measured
-- (the no-ops too) reads the same request. REQUEST_PATH is the path asked.
-- A line may carry several headers: "name<TAB>value<TAB>name<TAB>value".
-- ORIGINAL_METHOD is the method the proxy reports (GET unless given).
local headers = {}
for line in io.lines(os.getenv("HEADERS_FILE")) do
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
  local set = {}
  for k = 1, #fields - 1, 2 do set[#set + 1] = { fields[k], fields[k + 1] } end
  if #set > 0 then headers[#headers + 1] = set end
end
local path = os.getenv("REQUEST_PATH") or "/"
local method = os.getenv("ORIGINAL_METHOD") or "GET"
local i = math.random(#headers)

request = function()
  i = i % #headers + 1
  local h = {
    ["Accept"] = "application/json",
    ["X-Original-URI"] = "/page",
    ["X-Original-Method"] = method,
    ["X-Forwarded-Host"] = "app.example.test",
    ["X-Forwarded-Proto"] = "http",
  }
  for _, pair in ipairs(headers[i]) do h[pair[1]] = pair[2] end
  return wrk.format("GET", path, h)
end
