//! `cortex serve` (SPEC §10): a web dashboard and an HTTP API over the same operations as the
//! command line (`crate::ops`), on a tokio runtime that lives only inside this command.
//!
//! Overview: `server` binds and routes; `connections` accepts and holds the connections (a
//! deadline for each request's head, a cap on how many); `bodies` the deadline for each
//! request's body; `auth` is the door every request
//! passes (loopback names, the token, cross-site checks, security headers); `api` answers
//! `/api/v1/` with the JSON documents of `--json`; `pages` renders HTML that escapes by
//! construction (maud); `actions` is the one place where a request changes something — one
//! `ops` call each, with the server's actor — and `driver` hands runs to background `cortex`
//! processes so that no request waits on a run; `sse` streams a run's events and changes to
//! the list of runs; `graph` draws a run's DAG as SVG; `assets` are the stylesheet and script,
//! embedded.

mod actions;
mod api;
mod assets;
mod auth;
mod bodies;
mod connections;
mod driver;
mod error;
mod graph;
mod pages;
mod redact;
mod server;
mod sse;

pub use api::OPENAPI;
pub use connections::{BODY_TIMEOUT_SECS, HEADER_TIMEOUT_SECS, Limits, MIN_CONNECTIONS};
pub use server::{Bound, DELIVERY_GRACE, Options, bind};
