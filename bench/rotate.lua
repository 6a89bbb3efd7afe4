-- wrk: every request carries the next credential from HEADERS_FILE (lines of
-- "name<TAB>value"), so caches see many sessions, not one.
local headers = {}
for line in io.lines(os.getenv("HEADERS_FILE")) do
  local name, value = line:match("^([^\t]+)\t(.*)$")
  if name then headers[#headers + 1] = { name, value } end
end
local path = os.getenv("REQUEST_PATH") or "/"
local extra_name = os.getenv("EXTRA_HEADER_NAME")
local extra_value = os.getenv("EXTRA_HEADER_VALUE")
local method = os.getenv("REQUEST_METHOD") or "GET"
local body = os.getenv("REQUEST_BODY")
local i = math.random(#headers)

request = function()
  i = i % #headers + 1
  local h = { [headers[i][1]] = headers[i][2], ["Accept"] = "application/json" }
  if extra_name then h[extra_name] = extra_value end
  if body then h["Content-Type"] = "application/json" end
  return wrk.format(method, path, h, body)
end

local pause = tonumber(os.getenv("DELAY_MS") or "")
if pause then
  delay = function() return pause end
end
