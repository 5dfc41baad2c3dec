//! Python virtual environments for end-to-end tests against real Python libraries
//! (kvdb-py, coherence-client), built on demand so that `cargo test` needs no set-up step.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The python of the virtual environment `NAME` (`target/py/NAME`, from
/// `scripts/py/NAME.requirements.txt`), building it with `scripts/py-venv.sh NAME` if it is
/// missing or out of date (a few seconds to a minute, once; a no-op afterwards).
///
/// `override_var` names an environment variable that, when set, points at a python to use
/// instead (nothing is built then).
///
/// # Errors
/// Why no environment could be had (no `python3.11`, no network for pip, …), for the
/// test to report as skipped (or fail under `SATCHEL_REQUIRE_SERVICES=1`).
pub fn venv(name: &str, override_var: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(override_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.exists() {
            Ok(path)
        } else {
            Err(format!("{override_var}={} does not exist", path.display()))
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/py-venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(name)
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/py-venv.sh {name} failed (python3.11 and PyPI needed): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "scripts/py-venv.sh {name} printed {}, which does not exist",
            path.display()
        ))
    }
}
