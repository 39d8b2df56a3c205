//! The MCP handler: tools/list and resources from the tables of `tools` and `resources`, and
//! each tool call or read run on the blocking pool (the library is synchronous), so that a
//! long run never holds up the other requests.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode,
    Implementation, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};

use super::inflight::{InFlight, raise};
use super::observer::Logged;
use super::progress::{Meter, Reached, TICK};
use super::{Log, reply, resources, tools};
use crate::ops::{CommandError, Ctx, Live, exit};

/// SIGINT: a tool call cancelled by the client ends its drive as Ctrl-C ends the CLI's.
const CANCELLED: i32 = 2;
/// The methods this server answers (besides the handshake's).
const SERVED: &[&str] = &[
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];
/// The longest client name kept in an actor (`mcp:<name>`); the rest is cut.
const CLIENT_NAME_CHARS: usize = 64;

const INSTRUCTIONS: &str = "cortex runs workflows (ordered steps) and scenarios (phases with conditions, parallel phases and agents), recording every transition in a hash-chained log. The loop: `run` a workflow or scenario; when it waits, its status document names the waiting step (`waiting_for`) and carries that step's rendered `prompt`: do that work, then report it with `step_complete` (with the outputs it asks for) or `step_fail`; the run goes on to the next prompt, until its status is completed. Scenarios wait on manual phases (`awaiting_start`: `phase_start`) and on phases to report (`phase_complete`, `phase_fail`). Every result is the JSON document of `cortex --json`; `next` lists the suggested commands as CLI argv, each of which is one of these tools. Errors are tool errors carrying {error, detail, hints, exit_code}: follow the hints. Your actions are recorded as mcp:<your client's name>, unless the server was started with --actor.";

/// A client's name as it goes into an actor: trimmed, cut to `CLIENT_NAME_CHARS`, and one
/// safe line — the client chose it, so a newline, an escape or a bidirectional control in it
/// is written as a visible escape (`\u{a}`), never kept raw to forge a line of `log show`.
fn client_name(given: &str) -> String {
    let cut: String = given.trim().chars().take(CLIENT_NAME_CHARS).collect();
    crate::render::one_line(&cut).into_owned()
}

/// The server: the context every operation needs, who acts, and the calls in flight.
#[derive(Clone)]
pub struct Cortex {
    ctx: Arc<Ctx>,
    /// `--actor`, else `mcp:<client name>`.
    actor: Option<String>,
    log: Log,
    /// What a logged line is scrubbed of: the secrets this process knows (its environment's,
    /// `CORTEX_INPUT_*`), as the transport scrubs what it logs.
    secrets: Arc<crate::execute::Redactor>,
    pub flights: InFlight,
}

impl Cortex {
    pub fn new(ctx: Ctx, actor: Option<String>, log: Log) -> Cortex {
        Cortex {
            ctx: Arc::new(ctx),
            actor,
            log,
            secrets: Arc::new(crate::execute::Redactor::of_process()),
            flights: InFlight::default(),
        }
    }

    /// Where the server's log goes.
    pub fn log(&self) -> Log {
        self.log
    }

    /// Who a request acts as: `--actor`, else `mcp:` and the name the client gave (at
    /// `initialize`, or with the request).
    fn actor(&self, context: &RequestContext<RoleServer>) -> String {
        if let Some(actor) = &self.actor {
            return self.secrets.redact(actor).into_owned();
        }
        // Scrubbed before it is cut: a secret cut in two would no longer be found.
        let name = context
            .client_info()
            .map(|c| client_name(&self.secrets.redact(&c.name)))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "unknown".into());
        format!("mcp:{name}")
    }

    /// Run `job` on the blocking pool; a panic in it is an error, never the server's end.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &str,
        job: impl FnOnce(&Ctx) -> Result<T, CommandError> + Send + 'static,
    ) -> Result<T, CommandError> {
        let ctx = Arc::clone(&self.ctx);
        match tokio::task::spawn_blocking(move || job(&ctx)).await {
            Ok(result) => result,
            Err(e) => {
                (self.log)(&format!("{what} failed inside: {e}"));
                Err(CommandError::new(
                    exit::FAILED,
                    format!("{what} failed inside cortex: {e}"),
                )
                .hint("nothing recorded before the failure was lost; `status` shows where the run is"))
            }
        }
    }
}

impl ServerHandler for Cortex {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("cortex", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            tools::TOOLS.iter().map(tools::ToolSpec::listed).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // An unknown tool is a protocol error (MCP: "unknown tools" are not tool errors).
        let Some(tool) = tools::find(&request.name) else {
            let message = tools::unknown(&request.name);
            (self.log)(&message);
            return Err(ErrorData::invalid_params(message, None));
        };
        let actor = self.actor(&context);
        let args = request.arguments.unwrap_or_default();
        let ticket = self.flights.enter();
        let stop = ticket.stop.clone();
        let on_cancel = ticket.stop.clone();
        let log = self.log;
        (self.log)(&format!("{} by {actor}", tool.name));
        // A client that asked for progress is told where a run this call drives is.
        let (progress_tx, mut progress) = match context.meta.get_progress_token() {
            Some(token) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (
                    Some(tx),
                    Some(Progress::new(token, rx, context.peer.clone())),
                )
            }
            None => (None, None),
        };
        let job = self.blocking(tool.name, move |ctx| {
            let _ticket = ticket;
            let mut observer = Logged::new(log, progress_tx);
            let mut live = Live {
                observer: &mut observer,
                stop,
            };
            // Its hints' commands name the server's --home and --db, as its `next` does.
            // The run it acts on is this call's own (calls run side by side).
            let ctx = &crate::ops::Ctx {
                acted_on: Default::default(),
                ..ctx.clone()
            };
            let answer =
                tools::call(ctx, tool, args, &actor, &mut live).map_err(|e| ctx.localize(e))?;
            Ok(tools::Answer {
                output: answer.output.warn(observer.warnings),
                ..answer
            })
        });
        tokio::pin!(job);
        // A cancelled call stops its drive gracefully (recorded; `resume` continues it), and
        // still waits for the drive to have stopped before it ends; it sends no more progress.
        let mut cancelled = false;
        let result = loop {
            tokio::select! {
                result = &mut job => break result,
                () = context.ct.cancelled(), if !cancelled => {
                    raise(&on_cancel, CANCELLED);
                    cancelled = true;
                    progress = None;
                }
                () = Progress::next(&mut progress) => {}
            }
        };
        Ok(match result {
            Ok(answer) => reply::document(answer.output, answer.array_field, &answer.beside),
            Err(e) => {
                let line = format!("{}: error: {}", tool.name, e.message);
                (self.log)(&self.secrets.redact(&line));
                reply::error(&e)
            }
        }
        .into())
    }

    /// A request of a method this server serves whose params did not parse reaches here as a
    /// "custom" request; it gets told what is wrong rather than "method not found".
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = crate::definition::shown(&request.method);
        if SERVED.contains(&request.method.as_str()) {
            let message = format!(
                "the params of `{method}` do not fit MCP's schema (tools/call: `name` a string and `arguments` an object; resources/read: `uri` a string)"
            );
            (self.log)(&message);
            Err(ErrorData::invalid_params(message, None))
        } else {
            Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("this server has no method `{method}`"),
                None,
            ))
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.blocking("resources/list", resources::list)
            .await
            .map(ListResourcesResult::with_all_items)
            .map_err(|e| resources::error(&e))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            resources::template(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        self.blocking("resources/read", move |ctx| resources::read(ctx, &uri))
            .await
            .map(|contents| ReadResourceResult::new(vec![contents]).into())
            .map_err(|e| resources::error(&e))
    }
}

/// The progress a call sends its client: where its drive is at each recorded transition, and
/// the same again (`still`) at least every `TICK` while nothing is recorded (a long step).
struct Progress {
    token: ProgressToken,
    rx: tokio::sync::mpsc::UnboundedReceiver<Reached>,
    peer: Peer<RoleServer>,
    meter: Meter,
    latest: Option<Reached>,
    /// When `latest` was recorded.
    since: std::time::Instant,
}

impl Progress {
    fn new(
        token: ProgressToken,
        rx: tokio::sync::mpsc::UnboundedReceiver<Reached>,
        peer: Peer<RoleServer>,
    ) -> Progress {
        Progress {
            token,
            rx,
            peer,
            meter: Meter::default(),
            latest: None,
            since: std::time::Instant::now(),
        }
    }

    /// Send the next notification when it is due; never resolves without progress to send.
    async fn next(progress: &mut Option<Progress>) {
        let Some(p) = progress else {
            return std::future::pending().await;
        };
        let message = match tokio::time::timeout(TICK, p.rx.recv()).await {
            Ok(Some(reached)) => {
                p.since = std::time::Instant::now();
                let message = reached.message.clone();
                p.latest = Some(reached);
                message
            }
            // The drive is over (or did not drive a run): nothing more to say.
            Ok(None) => return std::future::pending().await,
            Err(_elapsed) => match &p.latest {
                Some(latest) => format!(
                    "{} (still going: {} s since the last transition)",
                    latest.message,
                    p.since.elapsed().as_secs()
                ),
                None => return,
            },
        };
        let Some(latest) = &p.latest else { return };
        let value = p.meter.value(latest.done);
        let mut param =
            ProgressNotificationParam::new(p.token.clone(), value).with_message(message);
        if value <= latest.total as f64 {
            param = param.with_total(latest.total as f64);
        }
        // A client that is gone is seen by the transport; progress is only a courtesy.
        let _ = p.peer.notify_progress(param).await;
    }
}
