-- wrk: every request carries the next credential from HEADERS_FILE (lines of
-- "name<TAB>value"), so caches see many sessions, not one. REQUEST_PATH and
-- EXTRA_HEADER_NAME/VALUE describe the request (X-Original-URI for /_resolve).
local headers = {}
for line in io.lines(os.getenv("HEADERS_FILE")) do
  local name, value = line:match("^([^\t]+)\t(.*)$")
  if name then headers[#headers + 1] = { name, value } end
end
local path = os.getenv("REQUEST_PATH") or "/"
local extra_name = os.getenv("EXTRA_HEADER_NAME")
local extra_value = os.getenv("EXTRA_HEADER_VALUE")
local i = math.random(#headers)

request = function()
  i = i % #headers + 1
  local h = { [headers[i][1]] = headers[i][2], ["Accept"] = "application/json" }
  if extra_name then h[extra_name] = extra_value end
  return wrk.format("GET", path, h)
end
