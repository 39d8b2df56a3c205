//! Where the event log is (SPEC §9 "Choosing the store"): a PostgreSQL connection string or a
//! SQLite file, told apart by its form, and the store opened there for writing or reading.

use std::path::{Path, PathBuf};

use super::{EventStore, PostgresStore, SqliteStore, StoreError};
use crate::definition::Durability;

/// The keywords of a libpq `key=value` connection string: a value starting with one of them
/// followed by `=` is a connection string, not a file name.
const LIBPQ_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "options",
    "application_name",
    "connect_timeout",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "tcp_user_timeout",
    "service",
];

/// `path` with links and `..` resolved as far as it exists (the rest appended as written).
fn resolved(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(real) = at.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// An event log's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (the zero-setup default: `CORTEX_HOME/cortex.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database: the connection string as given (a `postgres://` URL or a libpq
    /// `key=value` string).
    Postgres(String),
}

impl Location {
    /// Read `spec`: `postgres://…`, `postgresql://…` and libpq `key=value` strings are
    /// PostgreSQL; `sqlite:PATH` and anything else is a SQLite file, relative to `base`.
    /// None for an empty value (unset).
    pub fn parse(spec: &str, base: &Path) -> Option<Location> {
        if spec.trim().is_empty() {
            return None;
        }
        if let Some(path) = spec.strip_prefix("sqlite:") {
            return Some(Location::Sqlite(base.join(path)));
        }
        let lower = spec.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Some(Location::Postgres(spec.to_string()));
        }
        let first = spec.trim_start();
        if LIBPQ_KEYS.iter().any(|key| {
            first
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        }) {
            return Some(Location::Postgres(spec.to_string()));
        }
        Some(Location::Sqlite(base.join(spec)))
    }

    /// `parse`, refusing a URL of a scheme cortex has no store for (`mysql://…`, a typo such
    /// as `postgress://…`), which `parse` would take for a SQLite file of that name: the
    /// message says what was given and which forms are known.
    pub fn read(spec: &str, base: &Path) -> Result<Option<Location>, String> {
        let trimmed = spec.trim_start();
        if let Some((scheme, _)) = trimmed.split_once("://")
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !matches!(
                scheme.to_ascii_lowercase().as_str(),
                "postgres" | "postgresql"
            )
        {
            return Err(format!(
                "`{}://…` is not a log cortex can use: the log is a SQLite file (a path, or \
                 `sqlite:PATH`) or a PostgreSQL database (`postgres://USER@HOST:PORT/DB`, or a \
                 libpq `key=value` string)",
                crate::definition::shown(scheme)
            ));
        }
        Ok(Self::parse(spec, base))
    }

    /// The value that selects this same log again from anywhere (`CORTEX_DB` for a process
    /// this one starts): an absolute `sqlite:` path, or the connection string.
    pub fn spec(&self) -> String {
        match self {
            Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            Location::Postgres(conn) => conn.clone(),
        }
    }

    /// Whether this and `other` are the same log, however each was written: a SQLite file by
    /// its path with links and `..` resolved (as far as it exists), a PostgreSQL database by
    /// the server, database and schema its connection string selects
    /// (`postgres::same_database`) — a URL and a libpq `key=value` string naming one database
    /// are one log. Before, only the text was compared, and a copy of a log into itself
    /// written the other way was not refused.
    pub fn same_log(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Sqlite(a), Location::Sqlite(b)) => resolved(a) == resolved(b),
            (Location::Postgres(a), Location::Postgres(b)) => {
                super::postgres::same_database(a, b).unwrap_or(a == b)
            }
            _ => false,
        }
    }

    /// The passwords the connection string names itself (none for a file): the one the
    /// server is given and the one its writer meant (`postgres::passwords_of`).
    pub fn passwords(&self) -> Vec<String> {
        match self {
            Location::Sqlite(_) => Vec::new(),
            Location::Postgres(conn) => super::postgres::passwords_of(conn),
        }
    }

    /// The log as shown to people: the file, or the database without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(conn) => super::postgres::shown(conn),
        }
    }

    /// The value that selects this log with its password (if any) taken out and everything
    /// else kept, for suggested commands; else `shown` (`postgres::without_password`).
    pub fn without_password(&self) -> String {
        match self {
            Location::Postgres(conn) => {
                super::postgres::without_password(conn).unwrap_or_else(|| self.shown())
            }
            Location::Sqlite(_) => self.shown(),
        }
    }

    /// Whether the value that selects this log holds a secret (a PostgreSQL password), so
    /// that only `shown` may be printed.
    pub fn holds_password(&self) -> bool {
        match self {
            Location::Sqlite(_) => false,
            Location::Postgres(conn) => super::postgres::holds_password(conn),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// A SQLite location that names a folder is refused before SQLite sees it (it would
    /// say "disk I/O error"), and so is anything else but a regular file (a link to one is
    /// fine): SQLite opening a FIFO put in the log's place waited in `open` for a writer
    /// that never came (every `status` hung), and a device (`/dev/zero`) read as no log. So is
    /// a path on a file system that holds no data (`/proc/self/mem`): SQLite failed on it
    /// with "disk I/O error", said to be a full disk (it has 0 KiB free, as it always has).
    fn refuse_folder(&self) -> Result<(), StoreError> {
        use std::os::unix::fs::FileTypeExt;
        match self {
            Location::Sqlite(path) if path.is_dir() => Err(StoreError::BadLocation(format!(
                "{} is a folder, not a log file (e.g. {})",
                path.display(),
                path.join("cortex.db").display()
            ))),
            Location::Sqlite(path) => match std::fs::metadata(path) {
                Ok(meta) if !meta.is_file() => {
                    let kind = meta.file_type();
                    let what = if kind.is_fifo() {
                        "a FIFO"
                    } else if kind.is_socket() {
                        "a socket"
                    } else if kind.is_char_device() || kind.is_block_device() {
                        "a device"
                    } else {
                        "not a regular file"
                    };
                    Err(StoreError::BadLocation(format!(
                        "{} is {what}, not a log file: the log is a SQLite file (remove what is there, or name another path)",
                        path.display()
                    )))
                }
                _ => match super::sqlite::holds_no_data(path) {
                    Some(folder) => Err(StoreError::BadLocation(format!(
                        "{} is on a virtual file system ({folder} holds no data, as /proc and /sys do), not a log file: the log is a SQLite file on a disk (name a path there)",
                        path.display()
                    ))),
                    None => Ok(()),
                },
            },
            _ => Ok(()),
        }
    }

    /// A SQLite log not there yet whose folder is not there either: refused, never made
    /// (`StoreError::NoFolder`). The home's own folder is made by `Ctx::store` first.
    fn refuse_missing_folder(&self) -> Result<(), StoreError> {
        match self {
            Location::Sqlite(path) if std::fs::symlink_metadata(path).is_err() => {
                match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    Some(folder) if !folder.is_dir() => Err(StoreError::NoFolder {
                        path: path.display().to_string(),
                        folder: folder.display().to_string(),
                    }),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Open the log for writing, creating it (the file, or the tables) if needed.
    pub fn open(&self, durability: Durability) -> Result<Box<dyn EventStore>, StoreError> {
        self.refuse_folder()?;
        self.refuse_missing_folder()?;
        Ok(match self {
            Location::Sqlite(path) => Box::new(SqliteStore::open(path, durability)?),
            Location::Postgres(conn) => Box::new(PostgresStore::open(conn, durability)?),
        })
    }

    /// Open the log for writing if it exists (a file, or a database with cortex's tables);
    /// None if it does not: there are no runs.
    pub fn open_existing(&self) -> Result<Option<Box<dyn EventStore>>, StoreError> {
        self.refuse_folder()?;
        match self {
            Location::Sqlite(path) if !path.exists() => Ok(None),
            Location::Sqlite(path) => {
                Ok(Some(Box::new(SqliteStore::open(path, Durability::Normal)?)))
            }
            Location::Postgres(conn) => match PostgresStore::open_existing(conn)? {
                Some(store) => Ok(Some(Box::new(store))),
                None => Ok(None),
            },
        }
    }

    /// Open the log for reading only (never created, migrated or written); None where there
    /// is no log yet.
    pub fn open_read(&self) -> Result<Option<Box<dyn EventStore>>, StoreError> {
        self.refuse_folder()?;
        let opened: Result<Box<dyn EventStore>, StoreError> = match self {
            Location::Sqlite(path) if !path.exists() => return Ok(None),
            Location::Sqlite(path) => SqliteStore::open_read(path).map(|s| Box::new(s) as _),
            Location::Postgres(conn) => PostgresStore::open_read(conn).map(|s| Box::new(s) as _),
        };
        match opened {
            Ok(store) => Ok(Some(store)),
            Err(StoreError::NotALog { blank: true, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {

    /// A suggested command names the log a password-bearing value names — its schema option,
    /// its other parameters — without the password; where that cannot be done surely, the
    /// shown form.
    #[test]
    fn a_password_is_taken_out_and_nothing_else() {
        let cwd = Path::new("/");
        for (given, expected) in [
            (
                "postgres://u:p%40ss@h:5432/db?options=-csearch_path%3Dt&sslmode=disable",
                "postgres://u@h:5432/db?options=-csearch_path%3Dt&sslmode=disable",
            ),
            (
                "postgresql://u@h/db?password=pw&application_name=x",
                "postgresql://u@h/db?application_name=x",
            ),
            (
                "host=h user=u password='s e\\'cret' dbname=db options='-csearch_path=t'",
                "host=h user=u dbname=db options='-csearch_path=t'",
            ),
            ("host=h password = pw dbname=db", "host=h dbname=db"),
        ] {
            let loc = Location::parse(given, cwd).unwrap();
            assert!(loc.holds_password(), "{given}");
            assert_eq!(loc.without_password(), expected, "{given}");
        }
        // A password with an unescaped `/`: the URL cannot be cut surely.
        let loc = Location::parse("postgres://u:a/b@h/db", cwd).unwrap();
        let shown = loc.without_password();
        assert!(!shown.contains("a/b"), "{shown}");
    }

    use super::*;
    use proptest::prelude::*;

    /// Every 4-character piece of `password` absent from `shown`.
    fn no_piece_of(password: &str, shown: &str) -> Result<(), String> {
        let chars: Vec<char> = password.chars().collect();
        for piece in chars.windows(4) {
            let piece: String = piece.iter().collect();
            if shown.contains(&piece) {
                return Err(format!("{piece:?} of {password:?} is in {shown:?}"));
            }
        }
        Ok(())
    }

    /// A password holding an unencoded `@` (a common slip: the connection then fails, which
    /// is when the URL is shown) is shown in no part: the client library ends the user
    /// information at the first `@` and took the rest for the host, which was printed.
    #[test]
    fn a_password_holding_an_unencoded_at_is_not_shown() {
        let cwd = Path::new("/");
        for (given, password) in [
            (
                "postgres://app:p@ssw0rd!@db.internal:5432/prod",
                "p@ssw0rd!",
            ),
            (
                "postgres://postgres:Hun@ter2SECRET@127.0.0.1:25432/h",
                "Hun@ter2SECRET",
            ),
            ("postgresql://u:A@B/C?D#E@h/db", "A@B/C?D#E"),
        ] {
            let loc = Location::parse(given, cwd).unwrap();
            assert!(loc.holds_password(), "{given}");
            for shown in [loc.shown(), loc.without_password()] {
                no_piece_of(password, &shown).unwrap();
                let host = given
                    .rsplit_once('@')
                    .unwrap()
                    .1
                    .split([':', '/'])
                    .next()
                    .unwrap();
                assert!(shown.contains(&format!("@{host}")), "{shown}");
            }
            assert!(loc.passwords().contains(&password.to_string()), "{given}");
        }
        assert_eq!(
            Location::parse("postgres://app:p@ss@db.internal/prod", cwd)
                .unwrap()
                .shown(),
            "postgres://app@db.internal:5432/prod"
        );
        // An `@` after a `password=` in the query: either side of it may be the password.
        let loc = Location::parse("postgres://h/db?password=ABCD@EFGH", cwd).unwrap();
        for shown in [loc.shown(), loc.without_password()] {
            no_piece_of("ABCD@EFGH", &shown).unwrap();
        }
        // The key as the client library decodes it.
        let loc = Location::parse("postgres://u@h:1/db?pass%77ord=SEKRET@Z9xLONG", cwd).unwrap();
        for shown in [loc.shown(), loc.without_password()] {
            no_piece_of("SEKRET@Z9xLONG", &shown).unwrap();
        }
    }

    /// An `@` inside a query value (`application_name=ci@runner`, an e-mail) ends no user
    /// information: the URL is shown, and handed on in suggestions, naming the host, port and
    /// database it connects to. It named the text after that `@` as the host (review k K1).
    #[test]
    fn an_at_in_a_query_value_leaves_the_host_shown_and_suggested_as_connected() {
        let cwd = Path::new("/");
        let given = "postgres://postgres@127.0.0.1:25432/review_k?application_name=ci@runner";
        let loc = Location::parse(given, cwd).unwrap();
        assert!(!loc.holds_password());
        assert_eq!(loc.shown(), "postgres://postgres@127.0.0.1:25432/review_k");
        assert_eq!(loc.without_password(), given);
        let given =
            "postgres://postgres:PWXYZ@127.0.0.1:25432/k?application_name=x@127.0.0.1:25432/k2";
        let loc = Location::parse(given, cwd).unwrap();
        assert_eq!(loc.shown(), "postgres://postgres@127.0.0.1:25432/k");
        assert_eq!(
            loc.without_password(),
            "postgres://postgres@127.0.0.1:25432/k?application_name=x@127.0.0.1:25432/k2"
        );
        assert_eq!(loc.passwords(), vec!["PWXYZ".to_string()]);
    }

    proptest! {
        /// Property: whatever a password holds (`@ : / ? #` unencoded among letters), no
        /// piece of it (4 characters or more) is in the shown form of a URL naming it, nor in
        /// the form suggested commands carry.
        #[test]
        fn no_piece_of_a_password_is_shown(password in "[A-Z@:/?#!]{1,24}") {
            for url in [
                format!("postgres://app:{password}@db.internal:5432/prod"),
                format!("postgresql://app:{password}@db.internal/prod?options=-csearch_path%3Dteam"),
                format!("postgres://app:{password}@[::1]:5432/prod"),
            ] {
                let loc = Location::parse(&url, Path::new("/")).unwrap();
                prop_assert!(loc.holds_password(), "{}", url);
                for shown in [loc.shown(), loc.without_password()] {
                    prop_assert!(no_piece_of(&password, &shown).is_ok(), "{}", no_piece_of(&password, &shown).unwrap_err());
                }
            }
        }
    }

    /// SPEC §9: URLs and libpq strings select PostgreSQL; `sqlite:PATH` and plain paths select
    /// SQLite (relative to the base); an empty value is unset.
    #[test]
    fn the_form_of_the_value_selects_the_store() {
        let base = Path::new("/base");
        let pg = |s: &str| Some(Location::Postgres(s.to_string()));
        let lite = |p: &str| Some(Location::Sqlite(PathBuf::from(p)));
        assert_eq!(
            Location::parse("postgres://u@h:5432/db", base),
            pg("postgres://u@h:5432/db")
        );
        assert_eq!(
            Location::parse("PostgreSQL://h/db", base),
            pg("PostgreSQL://h/db")
        );
        assert_eq!(
            Location::parse("host=h port=5 dbname=d", base),
            pg("host=h port=5 dbname=d")
        );
        assert_eq!(Location::parse(" dbname = d", base), pg(" dbname = d"));
        assert_eq!(Location::parse("sqlite:/tmp/x.db", base), lite("/tmp/x.db"));
        assert_eq!(
            Location::parse("sqlite:rel/x.db", base),
            lite("/base/rel/x.db")
        );
        assert_eq!(
            Location::parse("logs/cortex.db", base),
            lite("/base/logs/cortex.db")
        );
        // A URL of another scheme is refused, not taken for a file of that name.
        for other in ["mysql://u@h/db", "postgress://h/db", " sqlite3://x"] {
            let refused = Location::read(other, base).unwrap_err();
            assert!(refused.contains("is not a log cortex can use"), "{refused}");
        }
        assert_eq!(
            Location::read("postgres://h/db", base).unwrap(),
            pg("postgres://h/db")
        );
        assert!(Location::read("a://b", base).unwrap_err().contains("`a://"));
        // A file name that merely contains `=` is a file.
        assert_eq!(Location::parse("a=b.db", base), lite("/base/a=b.db"));
        assert_eq!(
            Location::parse("hostname.db", base),
            lite("/base/hostname.db")
        );
        assert_eq!(Location::parse("", base), None);
        assert_eq!(Location::parse("  ", base), None);
    }

    /// A SQLite location that is a folder (`sqlite:` alone, a folder's path) is bad input
    /// naming a file to give instead, whichever way it is opened.
    #[test]
    fn a_folder_is_not_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse("sqlite:", dir.path()).unwrap();
        let folder = |r: Result<(), StoreError>| matches!(r, Err(StoreError::BadLocation(m)) if m.contains("is a folder"));
        assert!(folder(loc.open(Durability::Normal).map(drop)));
        assert!(folder(loc.open_existing().map(drop)));
        assert!(folder(loc.open_read().map(drop)));
    }

    /// A location's spec selects the same location again, from any directory.
    #[test]
    fn a_spec_selects_the_same_log_again() {
        for loc in [
            Location::Sqlite(PathBuf::from("/a b/c=d.db")),
            Location::Postgres("postgres://u@h/db".into()),
            Location::Postgres("host=h dbname=d".into()),
        ] {
            assert_eq!(
                Location::parse(&loc.spec(), Path::new("/elsewhere")),
                Some(loc)
            );
        }
    }

    /// `log copy` refuses a copy into the log it copies from however the two are written:
    /// one PostgreSQL database (and schema) as a URL and as a libpq `key=value` string, keys
    /// in any order, the port and local host as defaults; one file by two paths. Another
    /// database, port, host or schema is another log.
    #[test]
    fn one_log_written_two_ways_is_the_same_log() {
        let base = Path::new("/base");
        let loc = |s: &str| Location::parse(s, base).unwrap();
        let url = loc("postgres://postgres@127.0.0.1:25432/review_f");
        for same in [
            "host=127.0.0.1 port=25432 dbname=review_f user=postgres",
            "dbname=review_f port=25432 host=localhost user=postgres",
            "postgresql://postgres@localhost:25432/review_f?sslmode=disable",
            "user=postgres host=127.0.0.1 port=25432 dbname=review_f options='-c search_path=public'",
        ] {
            assert!(url.same_log(&loc(same)), "{same}");
            assert!(loc(same).same_log(&url), "{same}");
        }
        for other in [
            "host=127.0.0.1 port=25432 dbname=review_g user=postgres",
            "host=127.0.0.1 port=5432 dbname=review_f user=postgres",
            "host=db.example port=25432 dbname=review_f user=postgres",
            "host=127.0.0.1 port=25432 dbname=review_f user=postgres options='-csearch_path=team'",
            "sqlite:/base/review_f",
        ] {
            assert!(!url.same_log(&loc(other)), "{other}");
        }
        let schema = loc("postgres://u@h/db?options=-csearch_path%3DTeam");
        assert!(schema.same_log(&loc("host=h user=u dbname=db options='--search_path=team'")));
        assert!(!schema.same_log(&loc(
            r#"host=h user=u dbname=db options='-c search_path="Team"'"#
        )));
        let dir = tempfile::tempdir().unwrap();
        let a = Location::Sqlite(dir.path().join("x.db"));
        let b = Location::Sqlite(dir.path().join("sub/../x.db"));
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(a.same_log(&b));
        assert!(!a.same_log(&Location::Sqlite(dir.path().join("y.db"))));
    }
}
