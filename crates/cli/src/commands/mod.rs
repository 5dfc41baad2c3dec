//! One module per subcommand, each with `Args` and `run`.

pub(crate) mod advise;
pub(crate) mod convert;
pub(crate) mod decode;
pub(crate) mod del;
pub(crate) mod encode;
pub(crate) mod get;
pub(crate) mod inspect;
pub(crate) mod ls;
pub(crate) mod serve;
pub(crate) mod set;
pub(crate) mod train;
