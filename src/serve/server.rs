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
    /// The token that changes need (and, off loopback or behind `--public-url`, every
    /// request); generated if none.
    pub token: Option<String>,
    /// Who actions taken through the server are recorded as (default `user@host`).
    pub actor: Option<String>,
    /// The address people open when a proxy (HTTPS, another host name) stands in front:
    /// its origin is accepted for changes, and the sign-in address is made from it.
    pub public_url: Option<String>,
    /// How long an action waits for the background driver it started to take the run.
    pub driver_wait: std::time::Duration,
    /// A scheduler runs beside the server (not `--no-schedule`): the catalog says whether
    /// the schedules it shows fire from here.
    pub fires_schedules: bool,
    /// `--max-connections`, `--header-timeout` and `--body-timeout`: what slow or silent
    /// clients may hold.
    pub limits: super::connections::Limits,
}

/// The address the server is reached at through a proxy: `scheme://host[:port]`, as a
/// browser writes it in `Origin` (lower case, no default port), and the `Host` it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://cortex.example.com` (no trailing slash).
    pub origin: String,
    /// `cortex.example.com` (with its port if it is not the scheme's default).
    pub host: String,
}

impl PublicUrl {
    /// Read `--public-url`: http or https, a host, an optional port, and no path (the server
    /// answers at the root: a proxy must map the root), query, fragment or user name.
    pub fn parse(given: &str) -> Result<PublicUrl, CommandError> {
        let shown = crate::definition::shown(given);
        let fix = "give the address people open, e.g. --public-url https://cortex.example.com (the proxy forwards its root to this server)";
        let bad =
            |why: &str| CommandError::bad_input(format!("--public-url {shown}: {why}")).hint(fix);
        let trimmed = given.trim();
        // A scheme the address parser would not read as one (`javascript:alert(1)`, `mailto:x`)
        // is said as what it is; `HOST:PORT` has no scheme.
        if let Some((scheme, rest)) = trimmed.split_once(':') {
            let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            let port = rest.split('/').next().unwrap_or_default();
            let is_port = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
            if is_scheme
                && !is_port
                && !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            {
                return Err(bad(&format!(
                    "the scheme is `{}`, not http or https",
                    crate::definition::shown(scheme)
                )));
            }
        }
        if !trimmed.is_ascii() {
            return Err(bad(
                "it holds characters other than ASCII: write an international host name in its ASCII form (xn--...)",
            ));
        }
        let uri: axum::http::Uri = trimmed.parse().map_err(|_| bad("not an address"))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => "https",
            Some("http") => "http",
            Some(other) => return Err(bad(&format!("the scheme is `{other}`, not http or https"))),
            None => return Err(bad("it has no scheme (https://...)")),
        };
        let authority = uri.authority().ok_or_else(|| bad("it names no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("it carries a user name"));
        }
        let name = authority.host().to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("it names no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(bad(
                "it has a path or a query: the server answers at the root of its address",
            ));
        }
        // A port past 65535 (or 0) parses as an authority without a port: taken as none,
        // `https://x.com:99999` signed people in at `https://x.com/`.
        if let Some(port) = crate::definition::port_problem(authority.as_str()) {
            return Err(bad(&format!(
                "it names the port {port}; a port is from 1 to 65535"
            )));
        }
        let default = if scheme == "https" { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port != default => format!("{name}:{port}"),
            _ => name,
        };
        Ok(PublicUrl {
            origin: format!("{scheme}://{host}"),
            host,
        })
    }
}

/// What every handler shares: where the home is, the token, the actor, this binary.
pub struct Shared {
    pub ctx: Ctx,
    pub token: String,
    /// The token's forms that every answer is scrubbed of (`redact::scrub`).
    pub served: Arc<super::redact::Served>,
    /// The token was generated here, and printed in a sign-in address (`?token=`); a given
    /// one never is (`auth::sign_in_hint` says what was printed).
    pub token_generated: bool,
    pub actor: String,
    /// This binary, to start background drivers with.
    pub exe: PathBuf,
    /// Bound to a loopback address: the Host header must name loopback (so that a page of
    /// another site rebound to 127.0.0.1 reads nothing) or `--public-url`'s host.
    pub loopback: bool,
    /// Reads need no token: bound to loopback and no `--public-url` (`open_reads`).
    pub open_reads: bool,
    pub port: u16,
    /// `--public-url`: the origin a proxy in front serves this server at.
    pub public: Option<PublicUrl>,
    /// `--driver-wait`: how long an action waits for the background driver it started to
    /// record the run (`driver::Background::settle`).
    pub driver_wait: std::time::Duration,
    /// `--body-timeout`: how long a request's body may take to arrive once its head has
    /// (`bodies::deadline`).
    pub body_timeout: std::time::Duration,
    /// A scheduler runs beside this server (`Options::fires_schedules`).
    pub fires_schedules: bool,
    /// The values of secret inputs this server was given (when it started a run, or at a
    /// resume), by run, as (input, value): handed to every driver it starts for that run (as
    /// `CORTEX_INPUT_<NAME>`), as the process that started a run keeps them for its own
    /// drives. In memory only; the log keeps `***`.
    pub secret_inputs: std::sync::Mutex<std::collections::HashMap<String, Vec<(String, String)>>>,
    /// Run starts answered 504 whose secret inputs wait for their run to be known.
    pub late_starts: std::sync::Mutex<Vec<super::driver::LateStart>>,
    /// The browsers' sign-ins (`auth::sign_in`): random values their cookies carry instead of
    /// the token, each with the form key its forms must carry (never served in a page or a
    /// cookie), oldest first; they end with the server.
    pub sessions: std::sync::Mutex<std::collections::VecDeque<super::auth::Session>>,
    /// One mutex a run: the server's actions on a run take it in turn (`Shared::one_at_a_time`),
    /// so that two requests of this process never race for the run's lock — a second report
    /// waits, then answers as the CLI's second report does ("not waiting for a report"), never
    /// 409 "held by" this server's own process; a second resume does not wait
    /// (`Shared::turn_if_free`): 409, as the CLI's second resume is refused.
    pub run_turns: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The pids of the background drivers this server started that have not ended
    /// (`driver::start`): an action waits for the run's lock while one of them holds it.
    pub drivers: Arc<std::sync::Mutex<std::collections::HashSet<u32>>>,
    /// Told when a run's turn ends (`Turn`'s drop).
    pub turn_ended: std::sync::Condvar,
    /// How many event streams are open (at most `max_streams`).
    pub streams: Arc<std::sync::atomic::AtomicUsize>,
    /// How many event streams may be open at once (`connections::Limits::max_streams`).
    pub max_streams: usize,
    /// The opened logs the event streams share (`sse::pooled`), dropped with the server (on
    /// the blocking pool: `OffWorker`).
    pub stream_stores: std::sync::Mutex<Vec<OffWorker<Box<dyn crate::store::EventStore>>>>,
}

/// This server's turn on a run (`Shared::one_at_a_time`), given up when dropped.
pub struct Turn<'a> {
    shared: &'a Shared,
    run_id: String,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut busy = self
            .shared
            .run_turns
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        busy.remove(&self.run_id);
        self.shared.turn_ended.notify_all();
    }
}

impl Shared {
    /// Wait for this server's turn on run `run_id`: until the `Turn` is dropped, every other
    /// action of this server on the run waits.
    pub fn one_at_a_time(&self, run_id: &str) -> Turn<'_> {
        let mut busy = self.run_turns.lock().unwrap_or_else(|p| p.into_inner());
        while busy.contains(run_id) {
            busy = self
                .turn_ended
                .wait(busy)
                .unwrap_or_else(|p| p.into_inner());
        }
        busy.insert(run_id.to_string());
        Turn {
            shared: self,
            run_id: run_id.to_string(),
        }
    }
    /// This server's turn on run `run_id` if no other action of it is on the run now; `None`
    /// if one is (an action that must not wait behind it: `resume`).
    pub fn turn_if_free(&self, run_id: &str) -> Option<Turn<'_>> {
        let mut busy = self.run_turns.lock().unwrap_or_else(|p| p.into_inner());
        if !busy.insert(run_id.to_string()) {
            return None;
        }
        Some(Turn {
            shared: self,
            run_id: run_id.to_string(),
        })
    }

    /// Keep the values of secret inputs (input, value) of run `run_id`.
    pub fn keep_secret_inputs(&self, run_id: &str, given: &[(String, String)]) {
        if given.is_empty() {
            return;
        }
        // Scrubbed from what this server appends to the run (a report quoting one).
        crate::execute::hold_secret_inputs(
            run_id,
            given.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let mut held = self.secret_inputs.lock().unwrap_or_else(|p| p.into_inner());
        let kept = held.entry(run_id.to_string()).or_default();
        for (k, v) in given {
            kept.retain(|(name, _)| name != k);
            kept.push((k.clone(), v.clone()));
        }
    }

    /// Hold the secret inputs of run starts answered 504 for the runs their drivers have
    /// recorded since (`driver::LateStart`); forget those whose driver ended without one.
    /// Called before any action names a run (`actions::find`), so that what the server then
    /// appends to it is scrubbed of them and the drivers it starts for it are given them.
    pub fn adopt_late_starts(&self) {
        let mut late = self.late_starts.lock().unwrap_or_else(|p| p.into_inner());
        if late.is_empty() {
            return;
        }
        late.retain(|start| match start.recorded(self) {
            Ok(Some(run_id)) => {
                self.keep_secret_inputs(&run_id, &start.secrets);
                false
            }
            Ok(None) => true,
            Err(()) => false,
        });
    }

    /// The secret input values held for run `run_id`, to give a driver of it.
    pub fn secret_inputs_of(&self, run_id: &str) -> Vec<(String, String)> {
        let held = self.secret_inputs.lock().unwrap_or_else(|p| p.into_inner());
        held.get(run_id).cloned().unwrap_or_default()
    }
}

/// A server bound to its address, not serving yet: the caller says where it is first.
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
    pub token: String,
    /// Reads need no token (`open_reads`).
    pub open_reads: bool,
    /// The token was generated here (so it must be printed for anyone to act).
    pub token_generated: bool,
    /// `--public-url`, read.
    pub public: Option<PublicUrl>,
    shared: Arc<Shared>,
    /// Where the notifications of what its actions end are delivered.
    background: Arc<crate::ops::background::Background>,
    /// The token registered in the home, so that every process working on it scrubs it
    /// (`execute::register_serve_token`); removed when the server ends.
    registration: Option<crate::execute::ServeTokenRegistration>,
    /// Why the token could not be registered (the caller warns: runs started from another
    /// terminal on this home would not scrub it).
    pub warning: Option<String>,
    /// What its connections are held to.
    limits: super::connections::Limits,
}

/// How long a stopping server waits for the notifications still being delivered before it
/// stops them (and records them as not delivered).
pub const DELIVERY_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Shortest token accepted from `--token`: anything shorter is guessable.
const MIN_TOKEN: usize = 16;

/// The process of this user listening on TCP `port` (any address), by its pid and name, as
/// Linux's `/proc` tells (the socket's inode in `/proc/net/tcp*`, then the process holding
/// it). None where that cannot be told (another user's process, another system).
fn port_holder(port: u16) -> Option<(u32, String)> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening = *state == "0A";
            let on_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listening && on_port && *inode != "0" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map_or_else(|_| "?".to_string(), |c| c.trim().to_string());
                return Some((pid, name));
            }
        }
    }
    None
}

/// Bind the listening socket (so that the address is known and taken before anything is
/// printed) and settle the token and the actor. A port already taken is the environment's
/// doing: exit 2, naming the process that holds it where this user can see it.
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
    let public = options
        .public_url
        .as_deref()
        .map(PublicUrl::parse)
        .transpose()?;
    let (token, token_generated) = match options.token {
        Some(t) => (check_token(&t)?, false),
        None => (auth::generate_token()?, true),
    };
    // Scrubbed from what this server records and what the drivers it starts record: a step
    // can read it from this process's command line or environment.
    crate::execute::scrub_serve_token(&token);
    let listener = TcpListener::bind(addr).map_err(|e| {
        use std::io::ErrorKind;
        let hint = match e.kind() {
            ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine: give one it has (`ip addr` lists them), 127.0.0.1 for this machine alone, or 0.0.0.0 for every interface",
                addr.ip()
            ),
            ErrorKind::PermissionDenied => format!(
                "port {} needs privileges this user lacks: pick a port above 1023 (port 0 picks a free one)",
                addr.port()
            ),
            ErrorKind::AddrInUse => match port_holder(addr.port()) {
                Some((pid, name)) => format!(
                    "process {pid} ({}) listens there already: pick another --addr (port 0 picks a free one), or end that process first",
                    crate::definition::shown(&name)
                ),
                None => "another process listens there already: pick another --addr (port 0 picks a free one)".to_string(),
            },
            _ => "another process may listen there: pick another --addr (port 0 picks a free one)"
                .to_string(),
        };
        // The environment, not a failed run or verification (SPEC's exit codes: 1 is those;
        // before, a busy port exited 1).
        CommandError::bad_input(format!("cannot listen on {addr}: {e}")).hint(hint)
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
    // What an action ends is notified in the background: the answer does not wait for it.
    let background = crate::ops::background::Background::new();
    let ctx = Ctx {
        deliveries: crate::ops::Deliveries::Background(Arc::clone(&background)),
        surface: crate::ops::Surface::Api,
        ..ctx.clone()
    };
    let shared = Shared {
        ctx,
        token: token.clone(),
        served: Arc::new(super::redact::Served::of(&token)),
        token_generated,
        actor: options.actor.unwrap_or_else(crate::ops::default_actor),
        exe,
        loopback: addr.ip().is_loopback(),
        open_reads: open_reads(addr, public.as_ref()),
        port: addr.port(),
        public: public.clone(),
        driver_wait: options.driver_wait,
        body_timeout: options.limits.body_timeout,
        fires_schedules: options.fires_schedules,
        secret_inputs: Default::default(),
        late_starts: Default::default(),
        sessions: Default::default(),
        run_turns: Default::default(),
        turn_ended: Default::default(),
        drivers: Default::default(),
        streams: Default::default(),
        max_streams: options.limits.max_streams(),
        stream_stores: Default::default(),
    };
    // Every process working on this home (a run started from another terminal, a scheduler)
    // scrubs the token from what it records: a step of it can read it as well.
    let (registration, warning) = match crate::execute::register_serve_token(
        &shared.ctx.home,
        &token,
    ) {
        Ok(r) => (Some(r), None),
        Err(e) => (
            None,
            Some(format!(
                "cannot register the token in {}: {e}; runs started from another terminal on this home will not scrub it from what they record (this server never serves it)",
                shared.ctx.home.join("serve").display()
            )),
        ),
    };
    Ok(Bound {
        listener,
        addr,
        open_reads: shared.open_reads,
        token,
        token_generated,
        public,
        shared: Arc::new(shared),
        background,
        registration,
        warning,
        limits: options.limits,
    })
}

/// Whether reads need no token (SPEC §10: only on loopback, where every reader is this
/// machine's). With `--public-url` a proxy in front forwards requests from anywhere, and
/// they come from loopback (its address) with the public Host — or, as many proxies send
/// it, the Host of this server: nothing tells them from this machine's own, so every read
/// needs the token, as off loopback. Before, everything was readable through the proxy by
/// anyone who could reach it.
pub fn open_reads(addr: SocketAddr, public: Option<&PublicUrl>) -> bool {
    addr.ip().is_loopback() && public.is_none()
}

/// A token given with `--token` goes into headers and forms: printable ASCII, long enough.
fn check_token(token: &str) -> Result<String, CommandError> {
    let fix = "give at least 16 printable ASCII characters without spaces, or leave --token out to have one generated";
    // Given with --token or by CORTEX_SERVE_TOKEN (clap reads either): both are named.
    let what = "the token (--token, or CORTEX_SERVE_TOKEN)";
    if token.is_empty() {
        return Err(CommandError::bad_input(format!("{what} is empty")).hint(fix));
    }
    if token.chars().count() < MIN_TOKEN {
        return Err(CommandError::bad_input(format!(
            "{what} is {} characters long: too short to keep anyone out",
            token.chars().count()
        ))
        .hint(fix));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CommandError::bad_input(format!(
            "{what} holds a space, a control character or non-ASCII text"
        ))
        .hint(fix));
    }
    Ok(token.to_string())
}

impl Bound {
    /// Where a person opens the server: `--public-url`; else this address, with the machine's
    /// host name for an address that means every interface (`0.0.0.0`, `[::]`), which no
    /// browser can open.
    pub fn open_url(&self) -> String {
        if let Some(public) = &self.public {
            return format!("{}/", public.origin);
        }
        if self.addr.ip().is_unspecified() {
            return format!("http://{}:{}/", crate::ops::hostname(), self.addr.port());
        }
        format!("http://{}/", self.addr)
    }

    /// Serve until the process is ended or stopped (SIGINT, SIGTERM, SIGHUP): then the
    /// notifications still being delivered are given `DELIVERY_GRACE` to land, and the rest
    /// are stopped and recorded as not delivered. Two worker threads answer requests; the
    /// library's calls run on tokio's blocking pool. Connections are held to `limits`
    /// (`connections::serve`).
    pub fn run(self) -> Result<(), CommandError> {
        let stop = crate::execute::StopFlag::install();
        // It serves many runs: an abort of one it holds never signals it (`Holder::shared`).
        crate::execute::serve_many();
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
        let limits = self.limits;
        let watched = stop.clone();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(self.listener).map_err(|e| {
                CommandError::new(exit::FAILED, format!("cannot listen on {}: {e}", self.addr))
            })?;
            let stopped = {
                async move {
                    while !watched.is_set() {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            };
            tokio::select! {
                () = super::connections::serve(listener, app, limits) => {}
                () = stopped => {}
            }
            Ok::<(), CommandError>(())
        })?;
        // Open event streams are not waited for: the runtime drops them.
        runtime.shutdown_background();
        self.background
            .shutdown(DELIVERY_GRACE, stop.signal().unwrap_or(nix::libc::SIGINT));
        // The token is no longer this home's to scrub.
        drop(self.registration);
        Ok(())
    }
}

/// The `Allow` word of a routing method (axum's words: a GET route takes HEAD too).
macro_rules! allow_word {
    (get) => {
        "GET,HEAD"
    };
    (post) => {
        "POST"
    };
}

/// The one table of routes: each address (`/api/v1/...` ones nested under the API's router,
/// with its JSON fallback), with its methods and handlers, and the query parameters it reads
/// (`? ["kind", "limit"]`, `"input.*"` for every name after `input.`, `"input+"` for a list
/// given once or more — any other is refused given twice; none when left out), an
/// API route's and a page's alike. Both the router (`routes`)
/// and `ALLOWS` (what `auth::guard` answers a method no route takes with, and
/// `api::known_query` the parameters an address takes) are made from it, so they cannot
/// drift apart. Before, `ALLOWS` was a hand-written mirror of the routes, and a parameter no
/// handler read (`?inputs=` for `?input=`) was ignored.
macro_rules! route_table {
    ($($path:literal => $first:ident($handler:path) $(. $more:ident($more_handler:path))*
        $(? [$($query:literal),*])?;)*) => {
        /// What each route takes, as the `Allow` header says it, and the query parameters it
        /// reads: `auth::guard` answers a method no route takes before the token is asked
        /// for — a 405 with `Allow` where the address is a route, the 404 where it is none —
        /// and `api::known_query` refuses a parameter a route does not read. Made from
        /// the route table.
        pub const ALLOWS: &[(&str, &str, &[&str])] = &[
            $(($path, concat!(allow_word!($first) $(, ",", allow_word!($more))*),
                &[$($($query),*)?]),)*
        ];

        /// The routes of the table: the API's (without their `/api/v1` prefix) and the pages'.
        fn table_routes() -> (Router<Arc<Shared>>, Router<Arc<Shared>>) {
            let mut api = Router::new();
            let mut pages = Router::new();
            $(
                let method = $first($handler) $(.$more($more_handler))*;
                match $path.strip_prefix(API_PREFIX) {
                    Some(path) => api = api.route(path, method),
                    None => pages = pages.route($path, method),
                }
            )*
            (api, pages)
        }
    };
}

/// Where the API's routes are nested.
const API_PREFIX: &str = "/api/v1";

route_table! {
    "/api/v1/openapi.json" => get(api::openapi);
    "/api/v1/runs" => get(api::runs) ? ["kind", "limit", "before"];
    "/api/v1/runs/changes" => get(sse::runs_changes);
    "/api/v1/runs/{id}" => get(api::run_status) ? ["at"];
    "/api/v1/runs/{id}/log" => get(api::run_log);
    "/api/v1/runs/{id}/logs" => get(api::run_logs) ? ["step", "attempt", "tail_bytes"];
    "/api/v1/runs/{id}/logs/{step}/raw" => get(api::run_raw_log) ? ["attempt"];
    "/api/v1/runs/{id}/verify" => get(api::run_verify);
    "/api/v1/runs/{id}/events" => get(sse::run_events) ? ["after"];
    "/api/v1/runs/{id}/steps/{step}/start" => post(api::start);
    "/api/v1/runs/{id}/steps/{step}/complete" => post(api::complete);
    "/api/v1/runs/{id}/steps/{step}/fail" => post(api::fail);
    "/api/v1/runs/{id}/stop" => post(api::stop);
    "/api/v1/runs/{id}/resume" => post(api::resume);
    "/api/v1/runs/{id}/abort" => post(api::abort);
    "/api/v1/verify" => get(api::verify);
    "/api/v1/workflows" => get(api::workflows);
    "/api/v1/workflows/{name}" => get(api::workflow);
    "/api/v1/workflows/{name}/runs" => post(api::run_workflow);
    "/api/v1/scenarios" => get(api::scenarios);
    "/api/v1/scenarios/{name}" => get(api::scenario);
    "/api/v1/scenarios/{name}/preview" => get(api::preview) ? ["input+"];
    "/api/v1/scenarios/{name}/runs" => post(api::run_scenario);
    "/api/v1/schedules" => get(api::schedules);
    "/api/v1/agents" => get(api::agents);
    "/api/v1/agents/{name}" => get(api::agent);
    "/" => get(pages::runs_page) ? ["kind", "before"];
    "/runs/{id}" => get(pages::run_page) ? ["events", "at"];
    "/runs/{id}/steps/{step}/{action}" => post(actions::page_step);
    "/runs/{id}/{action}" => post(actions::page_run);
    "/catalog" => get(pages::catalog_page);
    "/catalog/workflows/{name}" => get(pages::workflow_page);
    "/catalog/workflows/{name}/run" => post(actions::page_run_workflow);
    "/catalog/scenarios/{name}" => get(pages::scenario_page) ? ["input.*"];
    "/catalog/scenarios/{name}/run" => post(actions::page_run_scenario);
    "/agents" => get(pages::agents_page);
    "/login" => get(auth::login_page).post(auth::login) ? ["next", "again"];
    "/login/key" => post(auth::check_key);
    "/assets/{file}" => get(assets::asset);
}

/// Whether `segment` of a route's address is a parameter (`{id}`).
fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// The route of `ALLOWS` that `path` reaches, if one does: as axum chooses, a segment written
/// out wins over a parameter (`/api/v1/runs/changes` is not run `changes`).
fn route_of(path: &str) -> Option<&'static (&'static str, &'static str, &'static [&'static str])> {
    let given: Vec<&str> = path.split('/').collect();
    ALLOWS
        .iter()
        .filter(|(pattern, _, _)| {
            let parts: Vec<&str> = pattern.split('/').collect();
            parts.len() == given.len()
                && parts.iter().zip(&given).all(
                    |(p, g)| {
                        if is_param(p) { !g.is_empty() } else { p == g }
                    },
                )
        })
        .max_by_key(|(pattern, _, _)| {
            // The segments written out, from the first: the earliest one decides, as in a
            // router's tree.
            pattern
                .split('/')
                .map(|p| !is_param(p))
                .collect::<Vec<bool>>()
        })
}

/// The methods the route at `path` takes (`ALLOWS`), or None where no route is.
pub fn allowed(path: &str) -> Option<&'static str> {
    route_of(path).map(|(_, allow, _)| *allow)
}

/// The route at `path` (its address as the table writes it, `/api/v1/runs/{id}`) and the
/// query parameters it reads, or None where no route is.
pub fn query_names(path: &str) -> Option<(&'static str, &'static [&'static str])> {
    route_of(path).map(|(pattern, _, query)| (*pattern, *query))
}

/// Every route (`route_table`). Reads are GETs; every change is a POST that passes
/// `auth::guard`.
pub fn routes(shared: Arc<Shared>) -> Router {
    let (api, pages) = table_routes();
    let api = api.fallback(api::not_found);
    let pages = pages.fallback(pages::not_found);
    Router::new()
        .nest(API_PREFIX, api)
        .merge(pages)
        // Inside the guard: a request it refuses (no token) is refused before its query is
        // read.
        .layer(axum::middleware::from_fn(api::known_query))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::guard,
        ))
        .with_state(shared)
}

/// A value whose drop blocks — a PostgreSQL log, whose client closes its connection by
/// blocking on a runtime of its own, which panics on an async worker ("Cannot start a runtime
/// from within a runtime") — kept across `.await`s (an event stream's log between ticks, or
/// one on its way back from `blocking`): dropped in async code, it is dropped on the blocking
/// pool instead. Before, a stream's PostgreSQL log dropped when the stream ended (or its
/// client went away) panicked the worker and cut the stream short of its last events.
pub struct OffWorker<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> OffWorker<T> {
    pub fn new(value: T) -> OffWorker<T> {
        OffWorker(Some(value))
    }

    /// The value, to hand to `blocking` (which drops it there if it must).
    pub fn into_inner(mut self) -> T {
        self.0
            .take()
            .expect("an OffWorker holds its value until dropped")
    }
}

impl<T: Send + 'static> Drop for OffWorker<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(value));
            }
            // Outside the runtime (it has stopped): a plain thread may block.
            Err(_) => drop(value),
        }
    }
}

/// Run `f` on the blocking pool with the shared state: the library is synchronous. Whatever
/// `f` gives back that blocks when dropped (a log) comes back in an `OffWorker`.
pub async fn blocking<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&Shared) -> T + Send + 'static,
) -> Result<T, CommandError> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || f(&shared))
        .await
        .map_err(|e| CommandError::new(exit::FAILED, format!("the request failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALLOWS` and the router are one table (`route_table!`); what is left to guard is that
    /// each route's own address finds its own entry (`allowed`), never another's that also
    /// fits it — as axum chooses, a written-out segment wins over a parameter.
    #[test]
    fn every_route_of_the_table_answers_its_own_allow() {
        assert!(ALLOWS.len() > 30, "the table has every route");
        for (pattern, allow, _) in ALLOWS {
            for fill in ["x", "changes", "steps", "run"] {
                let path: Vec<String> = pattern
                    .split('/')
                    .map(|p| {
                        if is_param(p) {
                            fill.to_string()
                        } else {
                            p.to_string()
                        }
                    })
                    .collect();
                let path = path.join("/");
                // A parameter filled with a word another route writes out is that route's.
                let Some((found, found_allow, _)) = route_of(&path) else {
                    panic!("{path} (of {pattern}) finds no route");
                };
                if found != pattern {
                    assert!(
                        found.split('/').filter(|p| !is_param(p)).count()
                            > pattern.split('/').filter(|p| !is_param(p)).count(),
                        "{path} of {pattern} found {found}, which writes out no more of it"
                    );
                    continue;
                }
                assert_eq!(found_allow, allow, "{path}");
            }
        }
        assert_eq!(allowed("/api/v1/runs/changes"), Some("GET,HEAD"));
        assert_eq!(allowed("/api/v1/runs/R1/stop"), Some("POST"));
        assert_eq!(allowed("/login"), Some("GET,HEAD,POST"));
        assert_eq!(allowed("/runs/R1/steps/a/complete"), Some("POST"));
        assert_eq!(allowed("/runs//stop"), None);
        assert_eq!(allowed("/nothing/here"), None);
    }

    /// The query parameters each API route reads (`? [...]` in the route table, which
    /// `api::known_query` holds requests to) are those `schemas/openapi.json` describes for
    /// it, its lists (`input+`) the document's arrays, and every route the document describes
    /// is in the table.
    #[test]
    fn each_api_routes_query_parameters_are_those_the_openapi_document_describes() {
        let doc: serde_json::Value = serde_json::from_str(api::OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let api_routes: Vec<_> = ALLOWS
            .iter()
            .filter(|(path, _, _)| path.starts_with(API_PREFIX))
            .collect();
        assert_eq!(api_routes.len(), paths.len(), "{:?}", paths.keys());
        for (path, _, query) in api_routes {
            let Some(ops) = paths.get(*path).and_then(|o| o.as_object()) else {
                panic!("{path} is not in the OpenAPI document");
            };
            for (method, op) in ops {
                let mut described: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                let mut read: Vec<&str> = query.iter().map(|q| q.trim_end_matches('+')).collect();
                described.sort_unstable();
                read.sort_unstable();
                assert_eq!(described, read, "{method} {path}");
                // A list in the table (`input+`, given more than once) is an array in the
                // document, and the rest are refused given twice.
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let Some(name) = p["name"].as_str().filter(|_| p["in"] == "query") else {
                        continue;
                    };
                    let list = query.contains(&format!("{name}+").as_str());
                    assert_eq!(
                        list,
                        p["schema"]["type"] == "array",
                        "{method} {path} `{name}`"
                    );
                }
                assert!(
                    op["responses"].get("400").is_some(),
                    "{method} {path} describes no 400, which an unknown parameter gets"
                );
            }
        }
    }

    #[test]
    fn a_public_url_is_read_as_a_browser_writes_its_origin() {
        let read = |s: &str| PublicUrl::parse(s).map(|p| (p.origin, p.host));
        assert_eq!(
            read("https://Cortex.Example.com/").unwrap(),
            (
                "https://cortex.example.com".into(),
                "cortex.example.com".into()
            )
        );
        assert_eq!(
            read("https://cortex.example.com:443").unwrap().0,
            "https://cortex.example.com"
        );
        assert_eq!(
            read("http://10.0.0.5:8080").unwrap(),
            ("http://10.0.0.5:8080".into(), "10.0.0.5:8080".into())
        );
        let why = |s: &str| PublicUrl::parse(s).unwrap_err().message;
        assert!(
            why("javascript:alert(1)").contains("the scheme is `javascript`, not http or https"),
            "{}",
            why("javascript:alert(1)")
        );
        assert!(why("mailto:a@b").contains("the scheme is `mailto`"));
        assert!(why("cortex.example.com:8443").contains("no scheme"));
        assert!(why("https://☃.com").contains("ASCII form (xn--"));
        assert!(read("https://xn--n3h.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "cortex.example.com",
            "ftp://cortex.example.com",
            "https://cortex.example.com/cortex/",
            "https://user@cortex.example.com",
            "https://cortex.example.com/?a=b",
            "",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_public_url_port_past_65535_or_0_was_dropped_not_refused() {
        let why = |s: &str| PublicUrl::parse(s).unwrap_err().message;
        for (url, port) in [
            ("https://x.example.com:99999", "99999"),
            ("https://x.example.com:0/", "0"),
            ("http://[::1]:65536", "65536"),
        ] {
            assert!(
                why(url).contains(&format!(
                    "it names the port {port}; a port is from 1 to 65535"
                )),
                "{url}: {}",
                why(url)
            );
        }
        assert!(PublicUrl::parse("https://x.example.com:65535").is_ok());
    }
}
