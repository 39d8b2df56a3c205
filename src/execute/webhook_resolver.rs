//! Looking up a webhook's host, bounded by the try's timeout, on a thread started through
//! `thread::spawn`: ureq's own resolver starts its thread with `std::thread::spawn`, which
//! panicked in a delivery thread when the system refused it (`ulimit -u`), and the delivery
//! was then said to have "ended unexpectedly". Here the refusal is the try's error.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The resolver of webhook deliveries.
#[derive(Debug, Default)]
pub(super) struct WebhookResolver;

impl Resolver for WebhookResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let bad = || ureq::Error::BadUri(uri.to_string());
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(bad());
        };
        let addr = DefaultResolver::host_and_port(scheme, authority).ok_or_else(bad)?;
        // An address needs no lookup (and no thread).
        let found: Vec<SocketAddr> = match addr.parse::<SocketAddr>() {
            Ok(at) => vec![at],
            Err(_) => {
                let (tx, rx) = mpsc::sync_channel(1);
                super::thread::spawn("to look up a webhook's host", move || {
                    let _ = tx.send(addr.to_socket_addrs().map(Vec::from_iter));
                })
                .map_err(|refused| ureq::Error::Io(std::io::Error::other(refused.to_string())))?;
                match rx.recv_timeout(*timeout.after) {
                    Ok(found) => found?,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        return Err(ureq::Error::Timeout(timeout.reason));
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(ureq::Error::Io(std::io::Error::other(
                            "the host's lookup ended without an answer",
                        )));
                    }
                }
            }
        };
        let mut result = self.empty();
        for at in config.ip_family().keep_wanted(found.into_iter()) {
            if result.try_push(at).is_err() {
                break;
            }
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}
