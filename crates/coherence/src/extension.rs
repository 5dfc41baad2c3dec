//! [`Coherence`]: the endpoint as an extension of the satchel gRPC server.

use satchel_grpc::{Extension, Mount};

use crate::{CoherenceService, KnownClasses};

/// Serves `coherence.NamedCacheService` on a satchel [`Server`](satchel_grpc::Server), over
/// the server's store: add it with
/// [`ServerConfig::with_extension`](satchel_grpc::ServerConfig::with_extension).
///
/// The service is mounted with [`Mount::add_open_service`]: Coherence clients cannot send a
/// bearer token, so when the server has one the service requires the client certificate
/// under mutual TLS, or else the token (so those clients are refused), unless the operator
/// allowed it open with `ServerConfig::allow_open_service("coherence.NamedCacheService")`
/// (`satchel serve --coherence-without-auth`). It gets the server's message size limit and
/// request time limit (for its streaming replies), reported `SERVING` by the health service while the server
/// runs, and its `events` streams are ended when the shutdown signal fires (so they do not
/// hold a graceful shutdown up).
#[derive(Clone, Debug)]
pub struct Coherence {
    max_entries: usize,
    page_size: usize,
    classes: KnownClasses,
}

impl Coherence {
    /// The endpoint with the default limits ([`CoherenceService::DEFAULT_MAX_ENTRIES`],
    /// [`CoherenceService::DEFAULT_PAGE_SIZE`]).
    pub fn new() -> Self {
        Self {
            max_entries: CoherenceService::DEFAULT_MAX_ENTRIES,
            page_size: CoherenceService::DEFAULT_PAGE_SIZE,
            classes: KnownClasses::default(),
        }
    }

    /// See [`CoherenceService::with_max_entries`].
    #[must_use]
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// See [`CoherenceService::with_page_size`].
    #[must_use]
    pub fn with_page_size(mut self, entries: usize) -> Self {
        self.page_size = entries;
        self
    }

    /// See [`CoherenceService::with_known_classes`].
    #[must_use]
    pub fn with_known_classes(mut self, classes: KnownClasses) -> Self {
        self.classes = classes;
        self
    }
}

impl Default for Coherence {
    fn default() -> Self {
        Self::new()
    }
}

impl Extension for Coherence {
    fn name(&self) -> &str {
        "coherence"
    }

    fn mount(&self, mount: &mut Mount<'_>) {
        let service = CoherenceService::new(mount.store().clone())
            .with_max_entries(self.max_entries)
            .with_page_size(self.page_size)
            .with_known_classes(self.classes.clone())
            .with_max_stream_time(mount.max_request_time())
            .with_max_reply_size(mount.max_message_size());
        let closing = service.clone();
        let limit = mount.max_message_size();
        mount.add_open_service(
            service
                .into_server()
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
            "Coherence clients cannot send one",
        );
        mount.on_shutdown(move || closing.close_streams());
    }
}
