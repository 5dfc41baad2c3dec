//! Bounds applied while decoding untrusted bytes.

/// Bounds on what decoding may produce, so hostile input gives an error instead of
/// exhausting memory or the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Most bytes decompression may produce (default 64 MiB). Declared sizes in compressed
    /// streams are checked against it before anything is allocated.
    pub max_decoded_len: usize,
    /// Deepest nesting of sequences, maps, structs and enums a decoder accepts (default 128).
    pub max_depth: usize,
}

impl Limits {
    /// 64 MiB.
    pub const DEFAULT_MAX_DECODED_LEN: usize = 64 * 1024 * 1024;
    /// 128 levels, serde_json's own default.
    pub const DEFAULT_MAX_DEPTH: usize = 128;

    /// The default limits.
    pub const fn new() -> Self {
        Self {
            max_decoded_len: Self::DEFAULT_MAX_DECODED_LEN,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }

    /// Sets [`Limits::max_decoded_len`].
    #[must_use]
    pub const fn max_decoded_len(mut self, bytes: usize) -> Self {
        self.max_decoded_len = bytes;
        self
    }

    /// Sets [`Limits::max_depth`].
    #[must_use]
    pub const fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}
