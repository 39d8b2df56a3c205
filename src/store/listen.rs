//! Hearing of appends: on PostgreSQL, `LISTEN cortex_runs` on a connection of its own (every
//! append notifies at its commit); on SQLite, polling.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::Location;

/// How often a listener whose connection broke tries to listen again within a wait.
const RELISTEN_EVERY: Duration = Duration::from_secs(1);

/// Waits for appends to the log (or a timeout).
pub enum Listener {
    /// Nothing to listen to: each wait sleeps out its timeout (the caller polls).
    Poll,
    /// Listening on PostgreSQL (`conn` says where). Its connection broken (ended by the
    /// server, the server restarted, the network cut) is seen at once — a closed socket is
    /// readable — and made again within the same wait (tried every `RELISTEN_EVERY` while
    /// the server does not answer), so a worker hears of appends within milliseconds again,
    /// not only at its next poll. `missed`: listening again after a break, with appends made
    /// meanwhile unheard (the caller looks at everything once).
    Postgres {
        conn: String,
        client: Option<Box<postgres::Client>>,
        missed: bool,
    },
}

impl Listener {
    /// A listener for the log at `location`: on PostgreSQL a connection that listens (made
    /// again whenever it broke; polling meanwhile), else polling.
    pub fn open(location: &Location) -> Listener {
        let Location::Postgres(conn) = location else {
            return Listener::Poll;
        };
        Listener::Postgres {
            conn: conn.clone(),
            client: listen(conn),
            missed: false,
        }
    }

    /// Whether it listens now (rather than polls).
    pub fn listens(&self) -> bool {
        matches!(
            self,
            Listener::Postgres {
                client: Some(_),
                ..
            }
        )
    }

    /// Whether appends may have gone unheard since this was last asked: its connection broke
    /// and it listens again (a wait that ends so returns at once, hearing nothing). The caller
    /// looks at the whole log once, as at a poll.
    pub fn missed(&mut self) -> bool {
        match self {
            Listener::Poll => false,
            Listener::Postgres { missed, .. } => std::mem::take(missed),
        }
    }

    /// Wait until an append is heard of (the run ids heard, maybe none), `timeout` passes, or
    /// the listener listens again after its connection broke (then `missed` says so).
    pub fn wait(&mut self, timeout: Duration) -> Vec<String> {
        let Listener::Postgres {
            conn,
            client,
            missed,
        } = self
        else {
            std::thread::sleep(timeout);
            return Vec::new();
        };
        let until = std::time::Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let Some(listening) = client else {
                *client = listen(conn);
                if client.is_some() {
                    *missed = true;
                    return Vec::new();
                }
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Vec::new();
                }
                std::thread::sleep(left.min(RELISTEN_EVERY));
                continue;
            };
            let mut heard = Vec::new();
            let failed = {
                let mut notes = listening.notifications();
                let first = notes.timeout_iter(left).next();
                match first {
                    Ok(Some(n)) => {
                        heard.push(n.payload().to_string());
                        // Whatever else already arrived.
                        let mut rest = notes.iter();
                        while let Ok(Some(n)) = rest.next() {
                            heard.push(n.payload().to_string());
                        }
                        false
                    }
                    Ok(None) => false,
                    Err(_) => true,
                }
            };
            // Nothing within the timeout — or the connection ended, which also ends the wait
            // at once, hearing nothing.
            let broken = failed || listening.is_closed();
            if !broken {
                return heard;
            }
            // Listen again now, on a new connection (the loop's next turn).
            *client = None;
            if !heard.is_empty() {
                return heard;
            }
        }
    }
}

/// A connection to `conn` that listens on `cortex_runs`, if one can be made now.
fn listen(conn: &str) -> Option<Box<postgres::Client>> {
    let mut config = super::postgres::config_of(conn).ok()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    // Bounded as a whole, with keepalives, as the store's own connections: a server that
    // accepts and says nothing no longer holds the worker waiting here.
    super::postgres::with_defaults(&mut config);
    let mut client = super::postgres::connect_bounded(&config)?.ok()?;
    client.batch_execute("LISTEN cortex_runs").ok()?;
    Some(Box::new(client))
}
