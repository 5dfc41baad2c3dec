//! The Lua scripts: every conditional or tagged write, every `touch` and `delete_if` is one
//! script, so it is atomic on the server (and in a cluster each touches one key, hence one
//! slot: owner sets, which a tagged write updates in its script, are kept only outside a
//! cluster). Reads are a plain `GET` ([`crate::layout`]); only a key in the 0.1 layout (a
//! HASH with `v`, the bytes, `n`, the version in decimal, and `o`, the owner tag) or of
//! another Redis type is read by a script, [`GET_LEGACY`].
//!
//! The scripts take a key's content apart by the same rules as [`crate::layout`] (the Lua
//! function `inspect`): an envelope, a 0.1 HASH, a foreign string (a value whose version is
//! derived from its bytes), or something that holds no value (a list, a set, …), which
//! conditional writes refuse to touch.

use std::sync::LazyLock;

use redis::Script;

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

/// Lua: `inspect(key, want_version)` tells what a key holds, by the rules of
/// [`crate::layout`]: `'none'`; `'envelope', version (16 hex digits), owner or false`;
/// `'legacy', version (decimal), owner or false` for a 0.1 HASH (`v`, `n`, `o`);
/// `'foreign', version (16 hex digits, derived from the bytes)` for any other string (the
/// SHA-1 is only computed when `want_version`); `'other', what` for any other Redis type.
/// `same(kind, current, hex, dec)` compares a version with the expected one in either form.
macro_rules! inspect_lua {
    () => {
        r"
local function inspect(key, want_version)
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then return 'none' end
  if t == 'hash' then
    local f = redis.call('HMGET', key, 'v', 'n', 'o')
    if f[1] and f[2] and string.match(f[2], '^%d+$') then return 'legacy', f[2], f[3] end
    return 'other', 'a hash without satchel fields'
  end
  if t ~= 'string' then return 'other', 'a Redis ' .. t end
  local head = redis.call('GETRANGE', key, 0, 15)
  local b1, flags = string.byte(head, 1, 2)
  if b1 == 193 and flags and flags <= 3 and #head >= 10 then
    local at = 10
    if flags % 2 == 1 then at = 16 end
    local owner = false
    local whole = #head >= at
    if whole and flags >= 2 then
      local tail = redis.call('GETRANGE', key, at, at + 1021)
      if #tail >= 2 then
        local len = string.byte(tail, 1) * 256 + string.byte(tail, 2)
        if #tail >= 2 + len then owner = string.sub(tail, 3, 2 + len) else whole = false end
      else whole = false end
    end
    if whole then
      return 'envelope', string.format(string.rep('%02x', 8), string.byte(head, 3, 10)), owner
    end
  end
  if not want_version then return 'foreign', false end
  local h = redis.sha1hex(redis.call('GET', key))
  local top = tonumber(string.sub(h, 1, 1), 16)
  if top < 8 then top = top + 8 end
  return 'foreign', string.format('%x', top) .. string.sub(h, 2, 16)
end
local function same(kind, current, hex, dec)
  if kind == 'legacy' then return current == dec end
  return current == hex
end
"
    };
}

mod owners;

pub(crate) use owners::{DELETE_OWNER, KEYS_OF};

/// Reads a key the store cannot read with one `GET`: a 0.1 HASH, or another Redis type.
///
/// `KEYS[1]`: the key. Returns nil when the key has no live value, `{v, n, pttl}` for a
/// 0.1 value (`pttl` is -1 without expiry), `{what}` for a key that holds no value.
pub(crate) const GET_LEGACY_LUA: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return false end
if t ~= 'hash' then return {'a Redis ' .. t} end
local f = redis.call('HMGET', KEYS[1], 'v', 'n')
if not f[1] or not f[2] or not string.match(f[2], '^%d+$') then
  return {'a hash without satchel fields'}
end
return {f[1], f[2], redis.call('PTTL', KEYS[1])}
";

/// Checks the condition and writes, in one step: compare-and-set, create-if-absent, and
/// the writes that move a key between owner sets.
///
/// `KEYS[1]`: the key; `KEYS[2]`: the new owner's set ([`owner_set`]), when tagged.
/// `ARGV[1]`: the envelope to write ([`crate::layout`], built by the caller with the new
/// version); `ARGV[2]`: the condition, `always`, `absent` or `version`; `ARGV[3]`/`ARGV[4]`:
/// the expected version as 16 hex digits and in decimal (for `version`); `ARGV[5]`: the time
/// to live in milliseconds, or empty for none; `ARGV[6]`: the owner tag, or empty for none;
/// `ARGV[7]`: [`OWNER_SETS`], or empty where owner sets are not kept (a cluster).
///
/// Whatever the key held (a 0.1 HASH, a foreign string) is replaced by the envelope. If it
/// was tagged with another owner, it leaves that owner's set; a tagged write adds it to the
/// new owner's set and keeps the set alive as long as the key ([`keep_owner_set!`]).
///
/// Returns `{1}` when written; `{0, kind, current}` when the condition fails (`{0}` when
/// there is no live value), `kind` being `hex` or `dec`; and `{-1, what}` when the write is
/// conditional and the key holds no value (a list, a set, …).
pub(crate) const SET_LUA: &str = concat!(
    "if redis.replicate_commands then redis.replicate_commands() end\n",
    inspect_lua!(),
    r"
local key = KEYS[1]
local mode = ARGV[2]
local kind, current, old = inspect(key, mode == 'version')
if mode ~= 'always' then
  if kind == 'other' then return {-1, current} end
  local shown = 'hex'
  if kind == 'legacy' then shown = 'dec' end
  if mode == 'absent' and kind ~= 'none' then return {0, shown, current or ''} end
  if mode == 'version' then
    if kind == 'none' then return {0} end
    if not same(kind, current, ARGV[3], ARGV[4]) then return {0, shown, current} end
  end
end
local ms = ARGV[5]
if ms ~= '' then redis.call('SET', key, ARGV[1], 'PX', ms) else redis.call('SET', key, ARGV[1]) end
local owner = ARGV[6]
if old and old ~= owner and ARGV[7] ~= '' then redis.call('SREM', ARGV[7] .. old, key) end
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
return {1}
"
);

/// Sets a new time to live, in one step. An envelope's expiry is rewritten in place
/// (`SETRANGE`), or added when it had none; a 0.1 HASH and a foreign string only get the
/// Redis expiry. A key that holds no value is left alone.
///
/// `KEYS[1]`: the key. `ARGV[1]`: the time to live in milliseconds; `ARGV[2]`: the new
/// expiry, 6 bytes ([`crate::layout::expiry_bytes`]); `ARGV[3]`: [`OWNER_SETS`], or empty
/// where owner sets are not kept. Returns `1` when extended, `0` when there is no live
/// value, `{what}` for a key that holds no value.
///
/// A tagged key's owner set is kept alive as long as the key (and the key put back in it,
/// should it be missing).
pub(crate) const TOUCH_LUA: &str = concat!(
    "if redis.replicate_commands then redis.replicate_commands() end\n",
    inspect_lua!(),
    r"
local key = KEYS[1]
local kind, current, owner = inspect(key, false)
if kind == 'none' then return 0 end
if kind == 'other' then return {current} end
if kind == 'envelope' then
  local flags = string.byte(redis.call('GETRANGE', key, 1, 1), 1)
  if flags % 2 == 1 then
    redis.call('SETRANGE', key, 10, ARGV[2])
  else
    local v = redis.call('GET', key)
    local with = string.char(193, flags + 1) .. string.sub(v, 3, 10) .. ARGV[2] .. string.sub(v, 11)
    redis.call('SET', key, with, 'KEEPTTL')
  end
end
local ms = ARGV[1]
local extended = redis.call('PEXPIRE', key, ms)
if extended == 1 and owner and ARGV[3] ~= '' then
  local set = ARGV[3] .. owner
  local existed = redis.call('EXISTS', set) == 1
  redis.call('SADD', set, key)
",
    keep_owner_set!(),
    r"
end
return extended
"
);

/// Deletes a value only at the given version, in one step; a key that holds no value is
/// left alone.
///
/// `KEYS[1]`: the key. `ARGV[1]`/`ARGV[2]`: the version as 16 hex digits and in decimal.
/// Returns `1` when deleted, `0` when there is no live value or it is at another version,
/// `{what}` for a key that holds no value.
pub(crate) const DELETE_IF_LUA: &str = concat!(
    inspect_lua!(),
    r"
local kind, current = inspect(KEYS[1], true)
if kind == 'none' then return 0 end
if kind == 'other' then return {current} end
if not same(kind, current, ARGV[1], ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"
);

/// [`DELETE_IF_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static DELETE_IF: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_IF_LUA));

/// [`TOUCH_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static TOUCH: LazyLock<Script> = LazyLock::new(|| Script::new(TOUCH_LUA));

/// [`GET_LEGACY_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static GET_LEGACY: LazyLock<Script> = LazyLock::new(|| Script::new(GET_LEGACY_LUA));

/// [`SET_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static SET: LazyLock<Script> = LazyLock::new(|| Script::new(SET_LUA));
