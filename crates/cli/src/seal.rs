//! Sealed values in the command: the key ring (`--seal-keys FILE`, or the environment),
//! `+seal` specs, and opening a sealed value so every command can read it.

use std::borrow::Cow;
use std::sync::Arc;

use satchel::seal::KeyRing;
use satchel::{DynCodec, ErrorKind, Header, Seal};

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};

/// The key ring: `--seal-keys FILE` if given, else `SATCHEL_SEAL_KEYS` /
/// `SATCHEL_SEAL_KEYS_FILE`; `None` when none is configured.
pub(crate) fn keys(global: &Global) -> CliResult<Option<Arc<KeyRing>>> {
    let ring = match &global.seal_keys {
        Some(path) => KeyRing::from_file(path).map(Some),
        None => KeyRing::from_env(),
    };
    ring.map(|r| r.map(Arc::new))
        .map_err(|e| CliError::new(code::USAGE, format!("bad key ring: {}", chain(&e))))
}

/// Parses a pipeline spec; a `+seal` one seals with [`keys`].
pub(crate) fn parse_spec(spec: &str, global: &Global) -> CliResult<DynCodec> {
    parse_raw(spec, global)?.map_err(|e| CliError::spec(&e))
}

/// [`parse_spec`], the codec's own error left for the caller (a dictionary not loaded yet
/// is retried once the store's are).
pub(crate) fn parse_raw(
    spec: &str,
    global: &Global,
) -> CliResult<Result<DynCodec, satchel::Error>> {
    Ok(match (spec.trim().ends_with("+seal"), keys(global)?) {
        (true, Some(ring)) => DynCodec::from_spec_with_keys(spec, &ring),
        (true, None) => {
            return Err(CliError::new(
                code::USAGE,
                format!(
                    "bad --codec: `{spec}` seals values, and no key ring is configured: pass \
                     --seal-keys FILE or set SATCHEL_SEAL_KEYS / SATCHEL_SEAL_KEYS_FILE \
                     (`satchel keygen` makes a key)"
                ),
            ));
        }
        (false, _) => spec.parse(),
    })
}

/// The bytes of a sealed value stored under `key`, opened: the same value unsealed (its
/// header without the seal, then the plaintext payload), which the other commands read as
/// any value. Unsealed bytes come back as they are.
pub(crate) fn open<'a>(bytes: &'a [u8], key: &str, global: &Global) -> CliResult<Cow<'a, [u8]>> {
    let Ok((header, payload)) = Header::parse(bytes) else {
        return Ok(Cow::Borrowed(bytes));
    };
    let Some(info) = header.seal else {
        return Ok(Cow::Borrowed(bytes));
    };
    let Some(ring) = keys(global)? else {
        return Err(CliError::new(
            code::USAGE,
            format!(
                "key `{key}` holds a sealed value (key id {}): pass --seal-keys FILE or set \
                 SATCHEL_SEAL_KEYS / SATCHEL_SEAL_KEYS_FILE to read it",
                info.key_id
            ),
        ));
    };
    let head = &bytes[..bytes.len() - payload.len()];
    let mut aad = head.to_vec();
    aad.extend_from_slice(key.as_bytes());
    let mut buf = payload.to_vec();
    let len = ring.open(&info, &aad, &mut buf).map_err(|e| {
        let code = if e.kind() == ErrorKind::UnknownKey {
            code::USAGE
        } else {
            code::CORRUPT
        };
        CliError::new(code, format!("key `{key}`: {}", chain(&e)))
    })?;
    let mut out = Vec::with_capacity(len + 2);
    Header::new(header.format(), header.compression()).write(&mut out);
    out.extend_from_slice(&buf[..len]);
    Ok(Cow::Owned(out))
}
