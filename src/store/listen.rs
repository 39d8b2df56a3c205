//! Hearing of appends: on PostgreSQL, `LISTEN cortex_runs` on a connection of its own (every
//! append notifies at its commit); on SQLite, polling.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::Location;

/// Waits for appends to the log (or a timeout).
pub enum Listener {
    /// Nothing to listen to: each wait sleeps out its timeout (the caller polls).
    Poll,
    /// Listening on PostgreSQL (`conn` says where). Without a connection (it broke: the
    /// server restarted, the network was cut), a wait sleeps out its timeout and then tries
    /// to listen again, so a worker hears of appends within milliseconds again once the
    /// server is back, not only at each poll for the rest of its life.
    Postgres {
        conn: String,
        client: Option<Box<postgres::Client>>,
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

    /// Wait until an append is heard of (the run ids heard, maybe none) or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) -> Vec<String> {
        match self {
            Listener::Poll => {
                std::thread::sleep(timeout);
                Vec::new()
            }
            Listener::Postgres { conn, client } => {
                let Some(listening) = client else {
                    std::thread::sleep(timeout);
                    *client = listen(conn);
                    return Vec::new();
                };
                let mut heard = Vec::new();
                let broken = {
                    let mut notes = listening.notifications();
                    let first = notes.timeout_iter(timeout).next();
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
                if broken {
                    // The connection broke: poll until listening again works (the next wait
                    // tries). Appends made meanwhile went unheard: the caller's next pass is
                    // a full one, as after any wait that heard nothing.
                    *client = None;
                }
                heard
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
