-- wrk: every request carries the next credential from HEADERS_FILE (lines of
-- "name<TAB>value"), so caches see many sessions, not one, and the headers
-- the shipped nginx config sends to /_resolve, so every server measured
-- (the no-ops too) reads the same request. REQUEST_PATH is the path asked.
local headers = {}
for line in io.lines(os.getenv("HEADERS_FILE")) do
  local name, value = line:match("^([^\t]+)\t(.*)$")
  if name then headers[#headers + 1] = { name, value } end
end
local path = os.getenv("REQUEST_PATH") or "/"
local i = math.random(#headers)

request = function()
  i = i % #headers + 1
  local h = {
    [headers[i][1]] = headers[i][2],
    ["Accept"] = "application/json",
    ["X-Original-URI"] = "/page",
    ["X-Original-Method"] = "GET",
    ["X-Forwarded-Host"] = "app.example.test",
    ["X-Forwarded-Proto"] = "http",
  }
  return wrk.format("GET", path, h)
end
