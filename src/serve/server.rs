//! Binding, the routes, the state every handler shares, and the tokio runtime that lives only
//! while `cortex serve` runs (the library below stays synchronous: handlers call it through
//! `spawn_blocking`).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::{actions, api, assets, auth, pages, sse};
use crate::ops::{CommandError, Ctx, exit};

/// How `cortex serve` was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen (`HOST:PORT`; port 0 picks a free one).
    pub addr: String,
    /// The token that changes need (and, off loopback, every request); generated if none.
    pub token: Option<String>,
    /// Who actions taken through the server are recorded as (default `user@host`).
    pub actor: Option<String>,
}

/// What every handler shares: where the home is, the token, the actor, this binary.
pub struct Shared {
    pub ctx: Ctx,
    pub token: String,
    pub actor: String,
    /// This binary, to start background drivers with.
    pub exe: PathBuf,
    /// Bound to a loopback address: reads need no token, and the Host header must name
    /// loopback (so that a page of another site rebound to 127.0.0.1 reads nothing).
    pub loopback: bool,
    pub port: u16,
}

/// A server bound to its address, not serving yet: the caller says where it is first.
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
    pub token: String,
    /// The token was generated here (so it must be printed for anyone to act).
    pub token_generated: bool,
    shared: Arc<Shared>,
}

/// Shortest token accepted from `--token`: anything shorter is guessable.
const MIN_TOKEN: usize = 16;

/// Bind the listening socket (so that the address is known and taken before anything is
/// printed) and settle the token and the actor.
pub fn bind(ctx: &Ctx, options: Options) -> Result<Bound, CommandError> {
    let addr = options
        .addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            CommandError::bad_input(format!(
                "--addr {}: not an address to listen on",
                crate::definition::shown(&options.addr)
            ))
            .hint("write HOST:PORT, e.g. --addr 127.0.0.1:7420 (port 0 picks a free one)")
        })?;
    let (token, token_generated) = match options.token {
        Some(t) => (check_token(&t)?, false),
        None => (auth::generate_token()?, true),
    };
    let listener = TcpListener::bind(addr).map_err(|e| {
        CommandError::new(exit::FAILED, format!("cannot listen on {addr}: {e}"))
            .hint("another process may listen there: pick another --addr (port 0 picks a free one)")
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::new(exit::FAILED, format!("cannot listen on {addr}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| CommandError::new(exit::FAILED, format!("cannot listen on {addr}: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| {
        CommandError::new(exit::FAILED, format!("cannot find the cortex binary: {e}"))
    })?;
    let shared = Shared {
        ctx: ctx.clone(),
        token: token.clone(),
        actor: options.actor.unwrap_or_else(crate::ops::default_actor),
        exe,
        loopback: addr.ip().is_loopback(),
        port: addr.port(),
    };
    Ok(Bound {
        listener,
        addr,
        token,
        token_generated,
        shared: Arc::new(shared),
    })
}

/// A token given with `--token` goes into headers and forms: printable ASCII, long enough.
fn check_token(token: &str) -> Result<String, CommandError> {
    let fix = "give at least 16 printable ASCII characters without spaces, or leave --token out to have one generated";
    if token.chars().count() < MIN_TOKEN {
        return Err(CommandError::bad_input(format!(
            "--token is {} characters long: too short to keep anyone out",
            token.chars().count()
        ))
        .hint(fix));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CommandError::bad_input(
            "--token holds a space, a control character or non-ASCII text",
        )
        .hint(fix));
    }
    Ok(token.to_string())
}

impl Bound {
    /// Serve until the process is ended. Two worker threads answer requests; the library's
    /// calls run on tokio's blocking pool.
    pub fn run(self) -> Result<(), CommandError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(64)
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                CommandError::new(exit::FAILED, format!("cannot start the server: {e}"))
            })?;
        let app = routes(self.shared);
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(self.listener).map_err(|e| {
                CommandError::new(exit::FAILED, format!("cannot listen on {}: {e}", self.addr))
            })?;
            axum::serve(listener, app)
                .await
                .map_err(|e| CommandError::new(exit::FAILED, format!("the server stopped: {e}")))
        })
    }
}

/// Every route. Reads are GETs; every change is a POST that passes `auth::guard`.
pub fn routes(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(api::openapi))
        .route("/runs", get(api::runs))
        .route("/runs/changes", get(sse::runs_changes))
        .route("/runs/{id}", get(api::run_status))
        .route("/runs/{id}/log", get(api::run_log))
        .route("/runs/{id}/verify", get(api::run_verify))
        .route("/runs/{id}/events", get(sse::run_events))
        .route("/runs/{id}/steps/{step}/start", post(api::start))
        .route("/runs/{id}/steps/{step}/complete", post(api::complete))
        .route("/runs/{id}/steps/{step}/fail", post(api::fail))
        .route("/runs/{id}/stop", post(api::stop))
        .route("/runs/{id}/resume", post(api::resume))
        .route("/runs/{id}/abort", post(api::abort))
        .route("/verify", get(api::verify))
        .route("/workflows", get(api::workflows))
        .route("/workflows/{name}", get(api::workflow))
        .route("/workflows/{name}/runs", post(api::run_workflow))
        .route("/scenarios", get(api::scenarios))
        .route("/scenarios/{name}", get(api::scenario))
        .route("/scenarios/{name}/preview", get(api::preview))
        .route("/scenarios/{name}/runs", post(api::run_scenario))
        .route("/schedules", get(api::schedules))
        .route("/agents", get(api::agents))
        .route("/agents/{name}", get(api::agent))
        .fallback(api::not_found);
    let pages = Router::new()
        .route("/", get(pages::runs_page))
        .route("/runs/{id}", get(pages::run_page))
        .route("/runs/{id}/steps/{step}/{action}", post(actions::page_step))
        .route("/runs/{id}/{action}", post(actions::page_run))
        .route("/catalog", get(pages::catalog_page))
        .route("/catalog/workflows/{name}", get(pages::workflow_page))
        .route(
            "/catalog/workflows/{name}/run",
            post(actions::page_run_workflow),
        )
        .route("/catalog/scenarios/{name}", get(pages::scenario_page))
        .route(
            "/catalog/scenarios/{name}/run",
            post(actions::page_run_scenario),
        )
        .route("/agents", get(pages::agents_page))
        .route("/login", post(auth::login))
        .route("/assets/{file}", get(assets::asset))
        .fallback(pages::not_found);
    Router::new()
        .nest("/api/v1", api)
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::guard,
        ))
        .with_state(shared)
}

/// Run `f` on the blocking pool with the shared state: the library is synchronous.
pub async fn blocking<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&Shared) -> T + Send + 'static,
) -> Result<T, CommandError> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || f(&shared))
        .await
        .map_err(|e| CommandError::new(exit::FAILED, format!("the request failed: {e}")))
}
