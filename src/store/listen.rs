//! Hearing of appends: on PostgreSQL, `LISTEN cortex_runs` on a connection of its own (every
//! append notifies at its commit); on SQLite, polling.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::Location;

/// Waits for appends to the log (or a timeout).
pub enum Listener {
    /// Nothing to listen to: each wait sleeps out its timeout (the caller polls).
    Poll,
    Postgres(Box<postgres::Client>),
}

impl Listener {
    /// A listener for the log at `location`: on PostgreSQL a connection that listens, or
    /// polling if it cannot be made (the caller polls either way).
    pub fn open(location: &Location) -> Listener {
        let Location::Postgres(conn) = location else {
            return Listener::Poll;
        };
        let client = std::str::FromStr::from_str(conn)
            .ok()
            .and_then(|config: postgres::Config| {
                let mut config = config;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(Duration::from_secs(5));
                }
                config.connect(postgres::NoTls).ok()
            })
            .and_then(|mut client| {
                client.batch_execute("LISTEN cortex_runs").ok()?;
                Some(client)
            });
        match client {
            Some(c) => Listener::Postgres(Box::new(c)),
            None => Listener::Poll,
        }
    }

    /// Wait until an append is heard of (the run ids heard, maybe none) or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) -> Vec<String> {
        match self {
            Listener::Poll => {
                std::thread::sleep(timeout);
                Vec::new()
            }
            Listener::Postgres(client) => {
                let mut heard = Vec::new();
                let broken = {
                    let mut notes = client.notifications();
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
                    // The connection broke: poll from now on.
                    *self = Listener::Poll;
                }
                heard
            }
        }
    }
}
