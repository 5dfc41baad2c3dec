//! The Lua scripts: every read and every write of a value is one script, so it is atomic
//! on the server (and in a cluster each touches one key, hence one slot: owner sets, which
//! a tagged write updates in its script, are kept only outside a cluster).
//!
//! A value is a HASH with the fields `v`, the bytes, `n`, the version in decimal, and `o`,
//! the owner tag, when the key is tagged (see [`OWNER_SETS`] for the owners' sets).
//! A key holding anything else (another type, a hash without a decimal `n`) was not written
//! by satchel: [`GET`] reports it as foreign and conditional writes refuse to touch it.

use std::sync::LazyLock;

use redis::Script;

mod owners;

pub(crate) use owners::{DELETE_OWNER, KEYS_OF};

/// Where each owner's set of keys lives: this, then the owner tag. A key satchel accepts
/// never holds a NUL character (`check_key`), so no key written through the store can be
/// an owner set, and scans skip them.
pub(crate) const OWNER_SETS: &str = "\0satchel:owner:";

/// The Redis key of `owner`'s set of keys.
pub(crate) fn owner_set(owner: &str) -> String {
    format!("{OWNER_SETS}{owner}")
}

/// Lua, after a key with the time to live `ms` (milliseconds, a string) was added to its
/// owner's `set` (which `existed` before or not): the set expires no earlier than the key,
/// so it outlives every member that is still tagged, and disappears by itself once all have
/// expired (a member without expiry makes it persistent; see the `PERSIST` in [`SET_LUA`]).
macro_rules! keep_owner_set {
    () => {
        r"
  if not existed then redis.call('PEXPIRE', set, ms) else
    local left = redis.call('PTTL', set)
    if left >= 0 and left < tonumber(ms) then redis.call('PEXPIRE', set, ms) end
  end
"
    };
}

/// Reads a value, its version and its remaining time to live in one step.
///
/// `KEYS[1]`: the key. Returns nil when the key has no live value, `{v, n, pttl}` for a
/// satchel value (`pttl` is -1 without expiry), `{type}` for a key satchel did not write.
pub(crate) const GET_LUA: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then return {t} end
local f = redis.call('HMGET', KEYS[1], 'v', 'n')
if not f[1] or not f[2] or not string.match(f[2], '^%d+$') then
  return {'hash without satchel fields'}
end
return {f[1], f[2], redis.call('PTTL', KEYS[1])}
";

/// Checks the condition and writes, in one step.
///
/// `KEYS[1]`: the key; `KEYS[2]`: the new owner's set ([`owner_set`]), when tagged.
/// `ARGV[1]`: the bytes; `ARGV[2]`: the condition, `always`, `absent` or `version`;
/// `ARGV[3]`: the expected version in decimal (for `version`); `ARGV[4]`: the time to live
/// in milliseconds, or empty for none; `ARGV[5]`: the owner tag, or empty for none;
/// `ARGV[6]`: [`OWNER_SETS`], or empty where owner sets are not kept (a cluster).
///
/// A written key keeps its owner in the field `o` (none for an untagged write). If it was
/// tagged with another owner, it leaves that owner's set; a tagged write adds it to the new
/// owner's set and keeps the set alive as long as the key ([`keep_owner_set!`]).
///
/// Returns `{1, n}` with the new version when written, `{0, n}` with the current version
/// (or `{0, nil}` when there is no live value) when the condition fails, and `{-1, type}`
/// when the write is conditional and the key holds something satchel did not write.
///
/// The new version is the larger of the old one plus one and the server's clock in
/// microseconds (`TIME`), so versions grow with every write and a key that is deleted and
/// written again starts above every version it had before. Lua numbers are doubles, exact up
/// to 2^53 (microseconds until the year 2255); versions are formatted with `%.0f` so they
/// never turn into exponent notation.
pub(crate) const SET_LUA: &str = concat!(
    r"
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local t = redis.call('TYPE', key)['ok']
local current = false
local old = false
if t == 'hash' then
  current = redis.call('HGET', key, 'n')
  if current and not string.match(current, '^%d+$') then current = false end
  if current then old = redis.call('HGET', key, 'o') end
end
local mode = ARGV[2]
if mode ~= 'always' then
  if t ~= 'none' and not current then return {-1, t} end
  if mode == 'absent' and current then return {0, current} end
  if mode == 'version' and current ~= ARGV[3] then return {0, current} end
end
local time = redis.call('TIME')
local version = tonumber(time[1]) * 1000000 + tonumber(time[2])
if current then
  local bumped = tonumber(current) + 1
  if bumped > version then version = bumped end
end
if t ~= 'none' then redis.call('DEL', key) end
local n = string.format('%.0f', version)
local owner = ARGV[5]
if owner ~= '' then
  redis.call('HSET', key, 'v', ARGV[1], 'n', n, 'o', owner)
else
  redis.call('HSET', key, 'v', ARGV[1], 'n', n)
end
local ms = ARGV[4]
if ms ~= '' then redis.call('PEXPIRE', key, ms) end
if old and old ~= owner and ARGV[6] ~= '' then redis.call('SREM', ARGV[6] .. old, key) end
if owner ~= '' then
  local set = KEYS[2]
  local existed = redis.call('EXISTS', set) == 1
  redis.call('SADD', set, key)
  if ms == '' then redis.call('PERSIST', set) else
",
    keep_owner_set!(),
    r"
  end
end
return {1, n}
"
);

/// Sets a new time to live on a satchel value, in one step; a key satchel did not write
/// is left alone, as [`GET`] and conditional writes leave it.
///
/// `KEYS[1]`: the key. `ARGV[1]`: the time to live in milliseconds; `ARGV[2]`:
/// [`OWNER_SETS`], or empty where owner sets are not kept. Returns `1` when extended, `0`
/// when there is no live value, `{type}` for a key satchel did not write.
///
/// A tagged key's owner set is kept alive as long as the key (and the key put back in it,
/// should it be missing).
pub(crate) const TOUCH_LUA: &str = concat!(
    r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return 0 end
if t ~= 'hash' then return {t} end
local n = redis.call('HGET', KEYS[1], 'n')
if not n or not string.match(n, '^%d+$') or redis.call('HEXISTS', KEYS[1], 'v') == 0 then
  return {'hash without satchel fields'}
end
local ms = ARGV[1]
local extended = redis.call('PEXPIRE', KEYS[1], ms)
local owner = redis.call('HGET', KEYS[1], 'o')
if extended == 1 and owner and ARGV[2] ~= '' then
  local set = ARGV[2] .. owner
  local existed = redis.call('EXISTS', set) == 1
  redis.call('SADD', set, KEYS[1])
",
    keep_owner_set!(),
    r"
end
return extended
"
);

/// Deletes a satchel value only at the given version, in one step; a key satchel did not
/// write is left alone, as [`GET`] and conditional writes leave it.
///
/// `KEYS[1]`: the key. `ARGV[1]`: the version in decimal. Returns `1` when deleted, `0`
/// when there is no live value or it is at another version, `{type}` for a key satchel did
/// not write.
pub(crate) const DELETE_IF_LUA: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return 0 end
if t ~= 'hash' then return {t} end
local n = redis.call('HGET', KEYS[1], 'n')
if not n or not string.match(n, '^%d+$') or redis.call('HEXISTS', KEYS[1], 'v') == 0 then
  return {'hash without satchel fields'}
end
if n ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
";

/// [`DELETE_IF_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static DELETE_IF: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_IF_LUA));

/// [`TOUCH_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static TOUCH: LazyLock<Script> = LazyLock::new(|| Script::new(TOUCH_LUA));

/// [`GET_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static GET: LazyLock<Script> = LazyLock::new(|| Script::new(GET_LUA));

/// [`SET_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static SET: LazyLock<Script> = LazyLock::new(|| Script::new(SET_LUA));
