//! `cortex mcp`: the Model Context Protocol over stdio, a thin front end over `ops` — each tool
//! is one operation called as its CLI command calls it, its result that operation's `--json`
//! document, and each run's status a resource.
//!
//! Overview: rmcp (the official SDK) reads newline-delimited JSON-RPC on stdin and writes it
//! on stdout; nothing else ever writes to stdout (the library never prints, and a step's
//! processes get their own pipes), and the server's log goes to stderr through the `Log` its
//! caller gives. Async lives only here: a current-thread tokio runtime serves the protocol,
//! and every operation runs on tokio's blocking pool, so a tool call that drives a long run
//! holds a pool thread, not the server — other requests are answered meanwhile. A drive ends
//! gracefully (a recorded stop that `resume` continues) when its call is cancelled (as by
//! SIGINT), when the client hangs up (its input closed: said so, no signal named), or when the server gets SIGINT, SIGTERM or
//! SIGHUP; the server ends once the drives in flight have stopped.

mod args;
mod inflight;
mod observer;
mod outputs;
mod progress;
mod reply;
mod resources;
mod server;
mod stdio;
mod tools;
mod transport;

use std::io::IsTerminal;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rmcp::service::ServerInitializeError;

use crate::execute::StopFlag;
use crate::ops::{CommandError, Ctx, KILL_GRACE, exit};
use inflight::InFlight;
use server::Cortex;

/// Where the server's log goes (stderr): one line, without its newline.
pub type Log = fn(&str);

/// Where `scrubbed` sends the server's log lines: the `Log` `serve` was given.
static SINK: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
/// The secrets of this process's environment (`Redactor::of_process`), read once.
static PROCESS_SECRETS: std::sync::OnceLock<crate::execute::Redactor> = std::sync::OnceLock::new();

/// The one way the server writes a line of its log: scrubbed of the secrets of its environment
/// and of every secret value a tool call gave it (secret inputs, secret outputs) — a tool's name,
/// a client's name or an error quoting one is logged `***`. `serve` hands only this on, so
/// nothing in the server writes to stderr without it.
fn scrubbed(line: &str) {
    let mut secrets = PROCESS_SECRETS
        .get_or_init(crate::execute::Redactor::of_process)
        .clone();
    crate::execute::add_everything_held(&mut secrets);
    if let Some(sink) = SINK.get() {
        sink(&secrets.redact(line));
    }
}

/// How often the server looks at the signal flag.
const SIGNAL_POLL: Duration = Duration::from_millis(100);
/// How long the drives in flight get to stop once the server ends: a step's process group is
/// sent TERM, then KILL after the grace, then the stop is recorded.
const DRAIN: Duration = Duration::from_secs(KILL_GRACE.as_secs() * 6);

/// Serve MCP on stdin/stdout until the client hangs up or a signal ends the server; actions
/// are recorded as `actor`, else as `mcp:<client name>`.
pub fn serve(ctx: &Ctx, actor: Option<String>, log: Log) -> Result<i32, CommandError> {
    // Every line the server logs passes the redactor (`scrubbed`): `log` itself is not used
    // past here.
    let _ = SINK.set(log);
    let log: Log = scrubbed;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| {
            CommandError::new(exit::FAILED, format!("cannot start the MCP server: {e}"))
        })?;
    let signals = StopFlag::install();
    // It drives many runs in this one process: an abort of one of them (by its `abort` tool or
    // by `cortex workflow abort` elsewhere) asks that drive through the log, never by a SIGTERM
    // that would end the server (`Holder::shared`).
    crate::execute::serve_many();
    // One session per process: the secret inputs its client gives for a run (`run`,
    // `resume`, a report's `inputs`) are that run's values in every later journal of it here
    // (memory only), since the client cannot set this server's environment.
    crate::execute::supply_held_secret_inputs();
    let ctx = named_store(ctx);
    log(&format!(
        "serving {} over stdio (cortex {})",
        ctx.home.display(),
        env!("CARGO_PKG_VERSION")
    ));
    if std::io::stdin().is_terminal() {
        log(
            "stdin is a terminal: this server speaks JSON-RPC to an MCP client (e.g. `claude mcp add cortex -- cortex mcp`); Ctrl-D or Ctrl-C ends it",
        );
    }
    let server = Cortex::new(ctx, actor, log);
    let flights = server.flights.clone();
    let served = runtime.block_on(session(server, &signals, &flights));
    // Whatever ended the session, nobody is left to answer: stop the drives in flight and
    // let them record it.
    flights.ask_all(stdio::HUNG_UP);
    let until = Instant::now() + DRAIN;
    while !flights.is_empty() && Instant::now() < until {
        std::thread::sleep(SIGNAL_POLL);
    }
    if !flights.is_empty() {
        log("a drive did not stop in time; its run shows as interrupted and `resume` continues it");
    }
    // A blocking read of stdin (when it is not a pipe) cannot be cancelled: do not wait for it.
    runtime.shutdown_background();
    served.map(|()| {
        log("done");
        exit::OK
    })
}

/// One MCP session, from the first message to the client hanging up or a signal.
async fn session(
    server: Cortex,
    signals: &StopFlag,
    flights: &InFlight,
) -> Result<(), CommandError> {
    let (input, output) = rmcp::transport::stdio_pipes();
    let input = stdio::Watched::new(input, flights.clone());
    let transport =
        transport::Lines::new(input, output, server.log()).noting_cancellations(flights.clone());
    let running = tokio::select! {
        started = rmcp::serve_server(server, transport) => match started {
            Ok(running) => running,
            // The client left before it said anything: nothing to serve.
            Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(ServerInitializeError::ExpectedInitializeRequest(_)) => {
                return Err(CommandError::bad_input(
                    "the MCP session did not start: the client's first message was neither `initialize` nor a request carrying the protocol's metadata (2026-07-28)",
                )
                .hint("this server is for MCP clients: `claude mcp add cortex -- cortex mcp`, or a project .mcp.json"));
            }
            Err(e) => {
                return Err(CommandError::new(
                    exit::FAILED,
                    format!("the MCP session did not start: {e}"),
                ));
            }
        },
        () = signalled(signals) => return Ok(()),
    };
    let token = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        _ = &mut waiting => {}
        () = signalled(signals) => {
            flights.stop_all(signal_number(signals));
            token.cancel();
            let _ = waiting.await;
        }
    }
    Ok(())
}

/// Resolves when SIGINT, SIGTERM or SIGHUP has arrived.
async fn signalled(signals: &StopFlag) {
    while !signals.is_set() {
        tokio::time::sleep(SIGNAL_POLL).await;
    }
}

fn signal_number(signals: &StopFlag) -> i32 {
    signals
        .signal_name()
        .and_then(|name| nix::sys::signal::Signal::from_str(&name).ok())
        .map_or(nix::libc::SIGTERM, |s| s as i32)
}

/// The context the server works in, its suggestions naming the home and the log it uses
/// whatever said them: the client runs a `next` argv or a hint's command in its own shell,
/// which has not the server's environment (`CORTEX_HOME`, `CORTEX_DB` from `.mcp.json`'s
/// `env`): without `--home`/`--db` they would act on `~/.cortex`. As with `--home` and
/// `--db` given. A SQLite path is named absolute (the client's shell has its own directory).
fn named_store(ctx: &Ctx) -> Ctx {
    let mut ctx = ctx.clone();
    ctx.explicit_home = true;
    // Its hints name the tools' arguments, not the CLI's flags.
    ctx.surface = crate::ops::Surface::Mcp;
    if ctx.db.is_none()
        && let Some(db) = std::env::var(crate::ops::DB_ENV)
            .ok()
            .filter(|d| !d.trim().is_empty())
    {
        ctx.db = Some(match crate::store::Location::read(&db, &ctx.cwd) {
            Ok(Some(crate::store::Location::Sqlite(path))) => path.display().to_string(),
            _ => db,
        });
    }
    ctx
}
