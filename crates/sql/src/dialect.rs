//! The SQL of each database, built once per store with the table name in place.
//!
//! Every statement is written once with `?` placeholders and `{t}` / `{k}` for the quoted
//! table and key column; PostgreSQL's `$1, $2, …` are numbered from the `?`s. "Live" always
//! means `expires_at IS NULL OR expires_at > now` with `now` bound as a parameter (Unix
//! milliseconds from this process's clock), so every statement agrees on what has expired.

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
}

impl Dialect {
    /// Every dialect compiled in.
    #[cfg(test)]
    pub(crate) const ALL: &'static [Dialect] = &[
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite,
        #[cfg(feature = "postgres")]
        Dialect::Postgres,
        #[cfg(feature = "mysql")]
        Dialect::MySql,
    ];

    /// The backend name in errors and [`Store::backend`](satchel_store_core::Store::backend).
    pub(crate) fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres => "postgres",
            #[cfg(feature = "mysql")]
            Self::MySql => "mysql",
        }
    }

    /// True where `LIKE` ignores ASCII case (SQLite), so a scan also compares the prefix
    /// exactly (two more parameters: the prefix length in characters, the prefix).
    pub(crate) fn like_ignores_case(self) -> bool {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    fn quote(self, ident: &str) -> String {
        match self {
            #[cfg(feature = "mysql")]
            Self::MySql => format!("`{ident}`"),
            #[allow(unreachable_patterns)]
            _ => format!("\"{ident}\""),
        }
    }

    /// Fills in `{t}` and `{k}`, and numbers the placeholders for PostgreSQL.
    fn render(self, table: &str, template: &str) -> String {
        let sql = template
            .replace("{t}", &self.quote(table))
            .replace("{k}", &self.quote("key"));
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            #[allow(unreachable_patterns)]
            _ => sql,
        }
    }
}

/// The longest key MySQL's key column (`VARBINARY(1020)`, four bytes a character) takes.
#[cfg(feature = "mysql")]
pub(crate) const MYSQL_MAX_KEY_CHARS: usize = 255;

/// The statements of one store. Parameters are listed in bind order after each field.
#[derive(Debug)]
pub(crate) struct Statements {
    /// Creates the table (and on MySQL its expiry index).
    pub(crate) create_table: String,
    /// Creates the expiry index (SQLite, PostgreSQL).
    pub(crate) create_index: Option<String>,
    /// table name → how many `owner` columns the table has (0 in a table of 0.1).
    pub(crate) has_owner_column: String,
    /// Adds the `owner` column to a table of 0.1 (and on MySQL its index).
    pub(crate) add_owner_column: String,
    /// Creates the owner index, of tagged rows only (SQLite, PostgreSQL).
    pub(crate) create_owner_index: Option<String>,
    /// owner, now → key: the live keys of an owner.
    pub(crate) keys_of: String,
    /// owner, now: deletes the live rows of an owner.
    pub(crate) delete_owner: String,
    /// key, now → value, version, expires_at.
    pub(crate) get: String,
    /// value, new version, expires_at, owner, key, expected version, now.
    pub(crate) update_if_version: String,
    /// key, now.
    pub(crate) delete_live: String,
    /// key, version, now: the live row at that version.
    pub(crate) delete_if_version: String,
    /// key, now.
    pub(crate) delete_expired_key: String,
    /// expires_at, key, now.
    pub(crate) touch: String,
    /// LIKE pattern, now, [SQLite: prefix length, prefix,] after (the last key of the
    /// previous page, or the empty string), limit → key, in key order.
    pub(crate) scan: String,
    /// now.
    pub(crate) purge: String,
    /// LIKE pattern, [SQLite: prefix length, prefix,] now: deletes the live rows under a
    /// prefix.
    pub(crate) delete_prefix_live: String,
    /// LIKE pattern, [SQLite: prefix length, prefix,] now: deletes the expired rows under a
    /// prefix.
    pub(crate) delete_prefix_expired: String,
    /// key, value, stamp, expires_at, owner → version: insert, or replace whatever is there
    /// with version `max(old + 1, stamp)`.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) upsert: String,
    /// key, value, stamp, expires_at, owner, now → version, or no row if a live value is
    /// there.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) insert_if_absent: String,
    /// key → version, expires_at; locks the row for the transaction (MySQL).
    #[cfg(feature = "mysql")]
    pub(crate) select_for_update: String,
    /// key, value, version, expires_at, owner (MySQL).
    #[cfg(feature = "mysql")]
    pub(crate) insert: String,
    /// value, version, expires_at, owner, key (MySQL).
    #[cfg(feature = "mysql")]
    pub(crate) replace: String,
}

const LIVE: &str = "(expires_at IS NULL OR expires_at > ?)";

impl Statements {
    pub(crate) fn new(dialect: Dialect, table: &str) -> Self {
        let r = |template: &str| dialect.render(table, &template.replace("{live}", LIVE));
        let (create_table, create_index) = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => (
                r(
                    "CREATE TABLE IF NOT EXISTS {t} ({k} TEXT NOT NULL PRIMARY KEY, \
                   value BLOB NOT NULL, version BIGINT NOT NULL, expires_at BIGINT, owner TEXT)",
                ),
                Some(r(&format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {{t}} (expires_at)",
                    dialect.quote(&index_name(table))
                ))),
            ),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => (
                // Byte order and byte equality for keys, whatever the database's locale.
                r(
                    "CREATE TABLE IF NOT EXISTS {t} ({k} TEXT COLLATE \"C\" PRIMARY KEY, \
                   value BYTEA NOT NULL, version BIGINT NOT NULL, expires_at BIGINT, \
                   owner TEXT COLLATE \"C\")",
                ),
                Some(r(&format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {{t}} (expires_at)",
                    dialect.quote(&index_name(table))
                ))),
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => (
                // VARBINARY, not VARCHAR: keys compare byte for byte (no case folding, no
                // trailing-space padding), as on every other backend.
                r(
                    "CREATE TABLE IF NOT EXISTS {t} ({k} VARBINARY(1020) NOT NULL PRIMARY KEY, \
                   value LONGBLOB NOT NULL, version BIGINT NOT NULL, expires_at BIGINT NULL, \
                   owner VARBINARY(1020) NULL, INDEX expires_at_idx (expires_at), \
                   INDEX owner_idx (owner)) ENGINE=InnoDB",
                ),
                None,
            ),
        };
        // Tables of 0.1 have no owner column: it is added when a store connects.
        let (has_owner_column, add_owner_column) = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => (
                r("SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = 'owner'"),
                r("ALTER TABLE {t} ADD COLUMN owner TEXT"),
            ),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => (
                r("SELECT COUNT(*) FROM information_schema.columns \
                   WHERE table_schema = current_schema() AND table_name = ? \
                   AND column_name = 'owner'"),
                r("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS owner TEXT COLLATE \"C\""),
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => (
                r("SELECT COUNT(*) FROM information_schema.columns \
                   WHERE table_schema = DATABASE() AND table_name = ? \
                   AND column_name = 'owner'"),
                r("ALTER TABLE {t} ADD COLUMN owner VARBINARY(1020) NULL, \
                   ADD INDEX owner_idx (owner)"),
            ),
        };
        let create_owner_index = match dialect {
            #[cfg(feature = "mysql")]
            Dialect::MySql => None,
            // Partial: untagged rows (every row of a plain store) cost the index nothing.
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            #[allow(unreachable_patterns)]
            _ => Some(r(&format!(
                "CREATE INDEX IF NOT EXISTS {} ON {{t}} (owner) WHERE owner IS NOT NULL",
                dialect.quote(&owner_index_name(table))
            ))),
        };
        let keys_of = match dialect {
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                r("SELECT CONVERT({k} USING utf8mb4) FROM {t} WHERE owner = ? AND {live}")
            }
            #[allow(unreachable_patterns)]
            _ => r("SELECT {k} FROM {t} WHERE owner = ? AND {live}"),
        };
        // SQLite's LIKE ignores ASCII case, so the prefix is also compared exactly there.
        let scan = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => r(
                "SELECT {k} FROM {t} WHERE {k} LIKE ? ESCAPE '!' AND {live} \
                                  AND substr({k}, 1, ?) = ? AND {k} > ? ORDER BY {k} LIMIT ?",
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => r("SELECT CONVERT({k} USING utf8mb4) FROM {t} \
                                 WHERE {k} LIKE ? ESCAPE '!' AND {live} AND {k} > ? \
                                 ORDER BY {k} LIMIT ?"),
            #[allow(unreachable_patterns)]
            _ => r(
                "SELECT {k} FROM {t} WHERE {k} LIKE ? ESCAPE '!' AND {live} \
                    AND {k} > ? ORDER BY {k} LIMIT ?",
            ),
        };
        let under = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => "{k} LIKE ? ESCAPE '!' AND substr({k}, 1, ?) = ?",
            #[allow(unreachable_patterns)]
            _ => "{k} LIKE ? ESCAPE '!'",
        };
        Self {
            delete_prefix_live: r(&format!("DELETE FROM {{t}} WHERE {under} AND {{live}}")),
            delete_prefix_expired: r(&format!(
                "DELETE FROM {{t}} WHERE {under} AND expires_at IS NOT NULL AND expires_at <= ?"
            )),
            create_table,
            create_index,
            has_owner_column,
            add_owner_column,
            create_owner_index,
            keys_of,
            delete_owner: r("DELETE FROM {t} WHERE owner = ? AND {live}"),
            get: r("SELECT value, version, expires_at FROM {t} WHERE {k} = ? AND {live}"),
            update_if_version: r("UPDATE {t} SET value = ?, version = ?, expires_at = ?, \
                                  owner = ? WHERE {k} = ? AND version = ? AND {live}"),
            delete_live: r("DELETE FROM {t} WHERE {k} = ? AND {live}"),
            delete_if_version: r("DELETE FROM {t} WHERE {k} = ? AND version = ? AND {live}"),
            delete_expired_key: r("DELETE FROM {t} WHERE {k} = ? \
                                   AND expires_at IS NOT NULL AND expires_at <= ?"),
            touch: r("UPDATE {t} SET expires_at = ? WHERE {k} = ? AND {live}"),
            scan,
            purge: r("DELETE FROM {t} WHERE expires_at IS NOT NULL AND expires_at <= ?"),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            upsert: r(&format!("{UPSERT} {RETURNING}")),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            insert_if_absent: r(&format!(
                "{UPSERT} WHERE {{t}}.expires_at IS NOT NULL AND {{t}}.expires_at <= ? \
                 {RETURNING}"
            )),
            #[cfg(feature = "mysql")]
            select_for_update: r("SELECT version, expires_at FROM {t} WHERE {k} = ? FOR UPDATE"),
            #[cfg(feature = "mysql")]
            insert: r("INSERT INTO {t} ({k}, value, version, expires_at, owner) \
                       VALUES (?, ?, ?, ?, ?)"),
            #[cfg(feature = "mysql")]
            replace: r(
                "UPDATE {t} SET value = ?, version = ?, expires_at = ?, owner = ? \
                        WHERE {k} = ?",
            ),
        }
    }
}

/// Insert, or on a key conflict overwrite with a version above the old one (SQLite ≥ 3.35
/// and PostgreSQL ≥ 9.5 share this syntax). A `WHERE` after it makes the overwrite
/// conditional: no row comes back when it does not hold.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
const UPSERT: &str = "INSERT INTO {t} ({k}, value, version, expires_at, owner) \
     VALUES (?, ?, ?, ?, ?) ON CONFLICT ({k}) DO UPDATE SET value = excluded.value, \
     version = CASE WHEN {t}.version >= excluded.version THEN {t}.version + 1 \
     ELSE excluded.version END, \
     expires_at = excluded.expires_at, owner = excluded.owner";

#[cfg(any(feature = "sqlite", feature = "postgres"))]
const RETURNING: &str = "RETURNING version";

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `{table}_expires_at`, shortened with a hash to PostgreSQL's 63-byte identifier limit so
/// two long table names never share an index name.
fn index_name(table: &str) -> String {
    short_name(table, "expires_at", "exp")
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `{table}_owner`, shortened like [`index_name`].
fn owner_index_name(table: &str) -> String {
    short_name(table, "owner", "own")
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn short_name(table: &str, what: &str, short: &str) -> String {
    let name = format!("{table}_{what}");
    if name.len() <= 63 {
        return name;
    }
    // FNV-1a: stable across builds and platforms.
    let hash = table.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    // Table names are ASCII (validated), so any byte index is a char boundary.
    format!("{}_{short}_{hash:016x}", &table[..table.len().min(42)])
}

/// A LIKE pattern matching keys that start with `prefix` literally (`!` is the escape).
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_prefix(""), "%");
        assert_eq!(like_prefix("a%b_c!d\\"), "a!%b!_c!!d\\%");
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn index_names_fit() {
        assert_eq!(index_name("satchel_kv"), "satchel_kv_expires_at");
        let long_a = format!("{}a", "x".repeat(62));
        let long_b = format!("{}b", "x".repeat(62));
        assert!(index_name(&long_a).len() <= 63);
        assert_ne!(index_name(&long_a), index_name(&long_b));
        assert_eq!(owner_index_name("satchel_kv"), "satchel_kv_owner");
        assert!(owner_index_name(&long_a).len() <= 63);
        assert_ne!(index_name(&long_a), owner_index_name(&long_a));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_placeholders_are_numbered() {
        let s = Statements::new(Dialect::Postgres, "kv");
        assert_eq!(
            s.get,
            "SELECT value, version, expires_at FROM \"kv\" WHERE \"key\" = $1 \
             AND (expires_at IS NULL OR expires_at > $2)"
        );
        assert!(
            s.insert_if_absent
                .contains("\"kv\".expires_at <= $6 RETURNING version")
        );
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_quotes_with_backticks() {
        let s = Statements::new(Dialect::MySql, "kv");
        assert!(s.get.contains("FROM `kv` WHERE `key` = ?"), "{}", s.get);
    }
}
