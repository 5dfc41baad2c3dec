//! The scripts of owner sets ([`OwnedKeys`](satchel_store_core::OwnedKeys)): listing an
//! owner's keys a page at a time, pruning members that are gone, and deleting them all.
//!
//! An owner's set ([`owner_set`](super::owner_set)) holds every key tagged with the owner
//! (the tagged write adds it in the same script), and possibly stale members: keys since
//! deleted, expired, or written untagged or for another owner by a path that could not
//! remove them (an unconditional untagged `set` is a plain `SET`). A member counts only
//! while it holds a value tagged with the owner: an envelope with that owner, or a 0.1
//! HASH whose field `o` is the owner.

use std::sync::LazyLock;

use redis::Script;

/// One page of an owner's live keys, pruning the stale members of the page.
///
/// `KEYS[1]`: the owner's set. `ARGV[1]`: the owner tag; `ARGV[2]`: the `SSCAN` cursor;
/// `ARGV[3]`: the `SSCAN` count. Returns `{next cursor, live key…}`; `SSCAN` may return a
/// member on two pages.
pub(crate) const KEYS_OF_LUA: &str = concat!(
    "if redis.replicate_commands then redis.replicate_commands() end\n",
    inspect_lua!(),
    r"
local page = redis.call('SSCAN', KEYS[1], ARGV[2], 'COUNT', ARGV[3])
local live = {page[1]}
for _, key in ipairs(page[2]) do
  local _, _, owner = inspect(key, false)
  if owner == ARGV[1] then
    live[#live + 1] = key
  else
    redis.call('SREM', KEYS[1], key)
  end
end
return live
"
);

/// Deletes every live key tagged with the owner, and the owner's set, in one step.
///
/// `KEYS[1]`: the owner's set. `ARGV[1]`: the owner tag. Returns how many live keys were
/// deleted. The set is walked with `SSCAN` a thousand members at a time (bounded memory);
/// the script runs to the end before any other command, so no write interleaves.
pub(crate) const DELETE_OWNER_LUA: &str = concat!(
    "if redis.replicate_commands then redis.replicate_commands() end\n",
    inspect_lua!(),
    r"
local deleted = 0
local cursor = '0'
repeat
  local page = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local _, _, owner = inspect(key, false)
    if owner == ARGV[1] then
      deleted = deleted + redis.call('DEL', key)
    end
  end
until cursor == '0'
redis.call('DEL', KEYS[1])
return deleted
"
);

/// [`KEYS_OF_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static KEYS_OF: LazyLock<Script> = LazyLock::new(|| Script::new(KEYS_OF_LUA));

/// [`DELETE_OWNER_LUA`], with its SHA-1 for `EVALSHA`.
pub(crate) static DELETE_OWNER: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_OWNER_LUA));
