//! [`KnownClasses`]: the `@class` names the endpoint accepts in keys and values.
//!
//! A Coherence server deserializes what it stores, so a value naming a class it has no
//! type alias for (`{"@class": "com.foo.Bar"}`) is refused with "Could not deserialize".
//! satchel has no Java classes, but it refuses the same values by default, so code that
//! works against satchel works against Coherence: it knows Coherence's own aliases (the
//! namespaces in [`KnownClasses::COHERENCE_NAMESPACES`]) and the names the operator
//! declares (`satchel serve --coherence-class NAME`, [`KnownClasses::with`]).

use std::fmt;

/// Which `@class` names may appear in the keys and values the endpoint stores.
///
/// ```
/// use satchel_coherence::KnownClasses;
///
/// let known = KnownClasses::coherence().with("test.Person").with("myapp.*");
/// assert!(known.knows("math.BigInt"));
/// assert!(known.knows("test.Person"));
/// assert!(known.knows("myapp.orders.Order"));
/// assert!(!known.knows("com.foo.Bar"));
/// assert!(KnownClasses::any().knows("com.foo.Bar"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KnownClasses {
    any: bool,
    /// Exact names, and prefixes (a pattern ending in `*`, kept without it).
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl KnownClasses {
    /// The namespaces of Coherence's own JSON type aliases (numbers, the query language,
    /// vectors and utilities): every name in them is known.
    pub const COHERENCE_NAMESPACES: &'static [&'static str] = &[
        "math.",
        "util.",
        "filter.",
        "extractor.",
        "processor.",
        "aggregator.",
        "comparator.",
        "ai.",
        "coherence.",
    ];

    /// Coherence's own aliases only: what a Coherence server with no application classes
    /// accepts. The default.
    pub fn coherence() -> Self {
        Self {
            any: false,
            exact: Vec::new(),
            prefixes: Self::COHERENCE_NAMESPACES
                .iter()
                .map(|p| (*p).to_string())
                .collect(),
        }
    }

    /// Every name: values are stored whatever class they name (satchel 0.1's behaviour).
    pub fn any() -> Self {
        Self {
            any: true,
            exact: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    /// Also knows `pattern`: a class name (`test.Person`, as a Python client's
    /// `@proxy("test.Person")` writes it), or a prefix ending in `*` (`myapp.*`); `*`
    /// alone is [`KnownClasses::any`].
    #[must_use]
    pub fn with(mut self, pattern: impl Into<String>) -> Self {
        let pattern = pattern.into();
        match pattern.strip_suffix('*') {
            Some("") => self.any = true,
            Some(prefix) => self.prefixes.push(prefix.to_string()),
            None => self.exact.push(pattern),
        }
        self
    }

    /// Whether a key or value may name `class`.
    pub fn knows(&self, class: &str) -> bool {
        self.any
            || self.exact.iter().any(|name| name == class)
            || self.prefixes.iter().any(|p| class.starts_with(p.as_str()))
    }

    /// True if every name is known (nothing to check).
    pub fn is_any(&self) -> bool {
        self.any
    }
}

impl Default for KnownClasses {
    fn default() -> Self {
        Self::coherence()
    }
}

impl fmt::Debug for KnownClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            return f.write_str("KnownClasses(any)");
        }
        let extra: Vec<String> = self
            .exact
            .iter()
            .cloned()
            .chain(
                self.prefixes
                    .iter()
                    .filter(|p| !Self::COHERENCE_NAMESPACES.contains(&p.as_str()))
                    .map(|p| format!("{p}*")),
            )
            .collect();
        write!(f, "KnownClasses(coherence + {extra:?})")
    }
}
