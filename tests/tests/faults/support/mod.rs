//! What the scenario families share.

pub(crate) mod binary;
pub(crate) mod process;
pub(crate) mod proxy;
pub(crate) mod retry;
