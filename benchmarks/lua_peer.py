"""The strongest peer issue 12 names: nginx with a LuaJIT HMAC check and the keys in memory
(what Kong's hmac-auth does), for the comparison in benchmarks/run.py (``--only lua``).

nginx, one worker, Debian's ``libnginx-mod-http-lua`` (built on LuaJIT; no OpenResty
packages): an ``access_by_lua_block`` checks an OKX V5 signed request exactly as OKX does, in
OKX's order (headers present, timestamp parses, key known, timestamp within ±30 s, passphrase,
signature), then nginx serves a static file of the size of Keyseal's signed balance answer, so
the Lua peer against ``nginx-static`` is the check's cost alone.

- keys in a Lua table built once per worker (``init_by_lua_block``): the secret, and SHA-256 of
  the passphrase (the passphrase itself is not kept);
- the signature: Base64(HMAC-SHA256(secret, timestamp + method + request target (path and
  query as sent) + body)), with ``HMAC(EVP_sha256(), ...)`` from OpenSSL's libcrypto through
  LuaJIT's FFI and ``ngx.encode_base64``;
- both comparisons with ``CRYPTO_memcmp`` (constant time);
- refusals: HTTP 401 with OKX's envelope and code (50103/50104/50106/50107, 50112, 50111,
  50102, 50105, 50113).

Less than Keyseal does (no permissions, IP lists, environments, revocation, usage, metrics),
as for the FastAPI peer. The config, with the benchmark key's secret in it, goes to the
benchmark's temporary directory only.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from http_servers import BALANCE, _process, free_port

MODULES = Path("/usr/lib/nginx/modules")
_NDK, _LUA = MODULES / "ndk_http_module.so", MODULES / "ngx_http_lua_module.so"

_LUA_INIT = r"""
local ffi = require "ffi"
ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
]]
local C = ffi.load("libcrypto.so.3")
local SHA256_MD = C.EVP_sha256()
local md = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")
local floor, abs, tonumber = math.floor, math.abs, tonumber
local encode_base64, ffi_string = ngx.encode_base64, ffi.string

local function hmac_b64(secret, message)
  C.HMAC(SHA256_MD, secret, #secret, message, #message, md, md_len)
  return encode_base64(ffi_string(md, 32))
end

local function sha256(data)
  C.SHA256(data, #data, md)
  return ffi_string(md, 32)
end

local function same(a, b)  -- constant time for equal lengths; lengths are not secret
  return #a == #b and C.CRYPTO_memcmp(a, b, #a) == 0
end

-- 2020-12-08T09:08:57.715Z -> seconds since the epoch (days from civil, H. Hinnant)
local function parse_ts(ts)
  local y, mo, d, h, mi, s, ms = ts:match(
    "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.(%d%d%d)Z$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * (mo > 2 and mo - 3 or mo + 9) + 2) / 5) + d - 1
  local days = era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
    + tonumber(ms) / 1000
end

local KEYS = {}
for api_key, entry in pairs(__KEYS__) do
  KEYS[api_key] = {secret = entry[1], passphrase_sha256 = sha256(entry[2])}
end
__KEYS__ = nil

local function refuse(code, msg)
  ngx.status = 401
  ngx.header["Content-Type"] = "application/json"
  ngx.print('{"code":"', code, '","msg":"', msg, '","data":[]}')
  return ngx.exit(401)
end

function okx_check()
  local var = ngx.var
  local api_key, sign = var.http_ok_access_key, var.http_ok_access_sign
  local ts, passphrase = var.http_ok_access_timestamp, var.http_ok_access_passphrase
  if not api_key then return refuse("50103", "Request header OK-ACCESS-KEY cannot be empty.") end
  if not sign then return refuse("50106", "Request header OK-ACCESS-SIGN cannot be empty.") end
  if not ts then
    return refuse("50107", "Request header OK-ACCESS-TIMESTAMP cannot be empty.")
  end
  if not passphrase then
    return refuse("50104", "Request header OK-ACCESS-PASSPHRASE cannot be empty.")
  end
  local sent = parse_ts(ts)
  if not sent then return refuse("50112", "Invalid OK-ACCESS-TIMESTAMP.") end
  local key = KEYS[api_key]
  if not key then return refuse("50111", "Invalid OK-ACCESS-KEY.") end
  if abs(ngx.now() - sent) > 30 then return refuse("50102", "Timestamp request expired.") end
  if not same(sha256(passphrase), key.passphrase_sha256) then
    return refuse("50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
  end
  local method, body = ngx.req.get_method(), ""
  if method ~= "GET" and method ~= "HEAD" then
    ngx.req.read_body()
    body = ngx.req.get_body_data() or ""
  end
  if not same(hmac_b64(key.secret, ts .. method .. var.request_uri .. body), sign) then
    return refuse("50113", "Invalid Sign")
  end
end
"""


def available() -> bool:
    """Debian's nginx and its Lua module (``apt-get install libnginx-mod-http-lua``)."""
    return bool(shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) and _LUA.exists()


def _lua_string(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError("the Lua peer takes printable ASCII keys only")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_peer(scratch: Path, key: dict[str, str], body: bytes) -> Iterator[str]:
    """Start the peer (a context manager); yields the balance URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = scratch / "nginx-lua"
    (root / "www" / BALANCE.strip("/")).parent.mkdir(parents=True)
    (root / "www" / BALANCE.strip("/")).write_bytes(body)
    for path in (scratch, *root.rglob("*")):  # nginx's worker runs as www-data: let it read
        path.chmod(0o755)
    entry = ", ".join(_lua_string(key[name]) for name in ("secretKey", "passphrase"))
    keys = f"{{[{_lua_string(key['apiKey'])}] = {{{entry}}}}}"
    (root / "check.lua").write_text(f"__KEYS__ = {keys}\n{_LUA_INIT}")
    (root / "check.lua").chmod(0o644)
    port = free_port()
    temp = " ".join(f"{name}_temp_path {root}/{name};" for name in (
        "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (root / "nginx.conf").write_text(f"""
load_module {_NDK}; load_module {_LUA};
worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; {temp}
  init_by_lua_file {root}/check.lua;
  server {{ listen 127.0.0.1:{port}; root {root}/www;
    location / {{ default_type application/json; access_by_lua_block {{ okx_check() }} }} }} }}
""")
    return _process([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
                    f"http://127.0.0.1:{port}{BALANCE}", root / "out.log")
