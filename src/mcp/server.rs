//! The MCP handler: tools/list and resources from the tables of `tools` and `resources`, and
//! each tool call or read run on the blocking pool (the library is synchronous), so that a
//! long run never holds up the other requests.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CustomRequest, CustomResult,
    ErrorCode, Implementation, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};

use super::inflight::InFlight;
use super::observer::Logged;
use super::progress::{Meter, Reached, TICK};
use super::{Log, reply, resources, tools};
use crate::ops::{CommandError, Ctx, Live, exit};

/// Why a drive stopped when the client cancelled the call that drove it (no signal was sent:
/// it ends the drive gracefully as Ctrl-C ends the CLI's): recorded as the stop's message, so
/// the run's status says it and how to go on without a call waiting.
pub const CANCELLED: &str = "the MCP client cancelled the call that drove it (a client's time limit, often); the `resume` tool with detach: true drives it on in the server without a call waiting (then poll `status`)";
/// How `CANCELLED` starts, whatever reason the client gave: how a stopped run's reason is
/// known to be such a stop (`reply::detach_where_cancelled`).
pub const CANCELLED_START: &str = "the MCP client cancelled the call that drove it";

/// The stop's message when the call that drove the run was cancelled: `CANCELLED`, with the
/// reason the client gave in its `notifications/cancelled` (cleaned and bounded,
/// `inflight::cancel_reason`) in place of the guess when it gave one; and the hang-up
/// (`stdio::HUNG_UP`) when the client gave none but closed the server's input, so that the
/// session's end cancelled the call (a client that pipes its requests in and closes its end
/// was told it had cancelled the call, with advice for a time limit it did not have).
fn cancelled_message(flights: &InFlight, id: &rmcp::model::RequestId) -> String {
    let reason = serde_json::to_string(id)
        .ok()
        .and_then(|id| flights.take_reason(&id));
    match reason {
        None if flights.hung_up() => super::stdio::HUNG_UP.to_string(),
        Some(reason) => CANCELLED.replacen(
            "(a client's time limit, often)",
            &format!("saying {reason:?}"),
            1,
        ),
        None => CANCELLED.to_string(),
    }
}
/// The tools that drive a run, and so take `detach`.
const DRIVING: &[&str] = &[
    "run",
    "resume",
    "step_complete",
    "step_fail",
    "phase_start",
    "phase_complete",
    "phase_fail",
];
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

const INSTRUCTIONS: &str = "cortex runs workflows (ordered steps) and scenarios (phases with conditions, parallel phases and agents), recording every transition in a hash-chained log. The loop: `run` a workflow or scenario; when it waits, its status document names the waiting step (`waiting_for`) and carries that step's rendered `prompt`: do that work, then report it with `step_complete` (with the outputs it asks for) or `step_fail`; the run goes on to the next prompt, until its status is completed. Scenarios wait on manual phases (`awaiting_start`: `phase_start`) and on phases to report (`phase_complete`, `phase_fail`). A step that may take longer than your client lets a tool call last (often 60 s): call `run`, `resume` or the report with detach: true, which returns at once while the server drives the run, and poll `status` (a cancelled call stops the run; `stop` stops any run, whoever drives it). Every result is the JSON document of `cortex --json` (its warnings in its `warnings` array); `next` lists the suggested commands as CLI argv, each of which is one of these tools (one marked \"detach\": true is to be called with detach: true). Errors are tool errors carrying {error, detail, hints, exit_code}: follow the hints. Your actions are recorded as mcp:<your client's name>, unless the server was started with --actor.";

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

/// Whether a call asks to return at once and leave its drive to the server (`detach`): only a
/// tool that drives, and not when it drives nothing (a plan, a report recorded only).
fn detached(tool: &str, args: &rmcp::model::JsonObject) -> bool {
    let yes = |key: &str| args.get(key) == Some(&serde_json::Value::Bool(true));
    DRIVING.contains(&tool) && yes("detach") && !yes("dry_run") && !yes("no_drive")
}

/// What a detached drive tells the call that started it: the run it drives (once its start or
/// the report is recorded and it goes on) and the warnings it said until then, or its whole
/// answer when it ended first or never drove (an error, a run that only waits).
enum Detached {
    Driving {
        run_id: String,
        scenario: bool,
        warnings: Vec<String>,
    },
    Done(Result<tools::Answer, CommandError>),
}

/// The observer of a detached drive: as `Logged`, and the first time the drive says which run
/// it drives, the call is told (`Detached::Driving`).
struct Announcing {
    inner: Logged,
    to: Option<tokio::sync::oneshot::Sender<Detached>>,
}

impl Announcing {
    fn announce(&mut self, state: &crate::decide::RunState) {
        if let Some(to) = self.to.take() {
            let _ = to.send(Detached::Driving {
                run_id: state.run_id.clone(),
                scenario: state.is_scenario(),
                warnings: self.inner.warnings.clone(),
            });
        }
    }
}

impl crate::execute::Observer for Announcing {
    fn begin(&mut self, state: &crate::decide::RunState, resumed: bool) {
        self.inner.begin(state, resumed);
        // A new run's start is recorded by now; a resume's is the next event recorded (the
        // document then says the run goes on, not that it is stopped).
        if !resumed {
            self.announce(state);
        }
    }
    fn note(&mut self, text: &str) {
        self.inner.note(text);
    }
    fn recorded(&mut self, state: &crate::decide::RunState, events: &[crate::event::Recorded]) {
        self.inner.recorded(state, events);
        self.announce(state);
    }
    fn line(&mut self, step: &str, stream: crate::execute::Stream, line: &str) {
        self.inner.line(step, stream, line);
    }
    fn warn(&mut self, message: &str) {
        self.inner.warn(message);
    }

    fn missing_secrets(&mut self, missing: &[String]) {
        self.inner.missing_secrets(missing);
    }
    fn child_begin(&mut self, step: &str, state: &crate::decide::RunState, resumed: bool) {
        self.inner.child_begin(step, state, resumed);
    }
    fn child(
        &mut self,
        step: &str,
        state: &crate::decide::RunState,
        events: &[crate::event::Recorded],
    ) {
        self.inner.child(step, state, events);
    }
}

impl Cortex {
    /// A driving tool called with `detach`: its operation runs on a thread of its own, which
    /// holds the run as any call's drive does (a call in flight: the client hanging up or a
    /// signal stops it, recorded), and the call answers as soon as the drive has the run —
    /// with the run's status document then, `next` first suggesting `status` to poll — or
    /// with the whole answer when the operation ended before (an error, nothing to drive).
    async fn call_detached(
        &self,
        tool: &'static tools::ToolSpec,
        args: rmcp::model::JsonObject,
        actor: String,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let ticket = self.flights.enter();
        let stop = ticket.stop.clone();
        let on_cancel = ticket.stop.clone();
        let log = self.log;
        let (to, told) = tokio::sync::oneshot::channel();
        let ctx = Arc::clone(&self.ctx);
        let name = tool.name;
        let thread = std::thread::Builder::new()
            .name(format!("detached {name}"))
            .spawn(move || {
                let mut observer = Announcing {
                    inner: Logged::new(log, None),
                    to: Some(to),
                };
                let _ticket = ticket;
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut live = Live {
                        observer: &mut observer,
                        stop,
                    };
                    let ctx = &crate::ops::Ctx {
                        acted_on: Default::default(),
                        ..(*ctx).clone()
                    };
                    tools::call(ctx, tool, args, &actor, &mut live).map_err(|e| ctx.localize(e))
                }))
                .unwrap_or_else(|_| {
                    Err(CommandError::new(
                        exit::FAILED,
                        format!("{name} failed inside cortex"),
                    )
                    .hint("nothing recorded before the failure was lost; `status` shows where the run is"))
                });
                // The warnings the drive gave are the answer's, an error's too.
                let warnings = std::mem::take(&mut observer.inner.warnings);
                let result = match result {
                    Ok(answer) => Ok(tools::Answer {
                        output: answer.output.warn(warnings),
                        ..answer
                    }),
                    Err(e) => Err(e.warn(warnings)),
                };
                match observer.to.take() {
                    Some(to) => {
                        let _ = to.send(Detached::Done(result));
                    }
                    None => log(&match &result {
                        Ok(answer) => format!(
                            "{name} (detached): the drive ended, status {}",
                            answer.output.json["status"]
                        ),
                        Err(e) => format!("{name} (detached): error: {}", e.message),
                    }),
                }
            });
        if let Err(e) = thread {
            return reply::error(&CommandError::new(
                exit::FAILED,
                format!("cannot start a thread to drive the run: {e}"),
            ));
        }
        // Until the drive has the run, a cancelled call stops it as any call's (and waits for
        // the drive's answer, as any).
        tokio::pin!(told);
        let mut cancelled = false;
        let told = loop {
            tokio::select! {
                told = &mut told => break told,
                () = context.ct.cancelled(), if !cancelled => {
                    on_cancel.ask(&cancelled_message(&self.flights, &context.id));
                    cancelled = true;
                }
            }
        };
        let result = match told {
            Ok(Detached::Done(result)) => result,
            Ok(Detached::Driving {
                run_id,
                scenario,
                warnings,
            }) => self.driving_status(run_id, scenario, warnings).await,
            Err(_) => Err(CommandError::new(
                exit::FAILED,
                format!("{name} failed inside cortex"),
            )),
        };
        match result {
            Ok(answer) => reply::document(answer.output, answer.array_field, answer.detached),
            Err(e) => {
                let line = format!("{name}: error: {}", e.message);
                (self.log)(&self.secrets.redact(&line));
                reply::error(&e)
            }
        }
    }

    /// The status document of a run a detached drive goes on with (while it runs, its `next`
    /// first suggests `status` of it to poll, as for any run another process drives:
    /// `project::next`); with the warnings the call would carry (those the drive said
    /// until now, and what driving the run on says: `ops::driving_on_warnings`, which the
    /// drive may say only after this answer), and the exit code of a run carried on
    /// (`RunStatus::exit_code_carried_on`: 0 while it runs, 3 waiting or stopped, as the call
    /// that waits for the drive ends) — not `status`'s own, 0 for a waiting run.
    async fn driving_status(
        &self,
        run_id: String,
        scenario: bool,
        said: Vec<String>,
    ) -> Result<tools::Answer, CommandError> {
        self.blocking("status", move |ctx| {
            let scope = if scenario {
                crate::ops::scenario::SCENARIOS
            } else {
                crate::ops::workflow::WORKFLOWS
            };
            // The run it acts on is this call's own (calls run side by side).
            let ctx = &crate::ops::Ctx {
                acted_on: Default::default(),
                ..ctx.clone()
            };
            let mut output = crate::ops::workflow::status(ctx, scope, Some(&run_id), None)?;
            if let Some(status) = output.json["status"]
                .as_str()
                .and_then(crate::project::RunStatus::from_word)
            {
                output.code = status.exit_code_carried_on();
            }
            let mut warnings = said;
            for w in crate::ops::driving_on_warnings(ctx, &run_id) {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            let mut output = output.warn(warnings);
            // Said in the document and in `_meta` (`reply::document`): the run is driven on
            // in the background, and while it runs no exit code is given.
            output.json["detached"] = true.into();
            Ok(tools::Answer {
                output,
                array_field: None,
                detached: true,
            })
        })
        .await
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
        if detached(tool.name, &args) {
            return Ok(self.call_detached(tool, args, actor, context).await.into());
        }
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
            let mut observer = Logged::new(log, progress_tx);
            let _ticket = ticket;
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
            // The warnings the drive gave are the answer's, an error's too (an MCP client has
            // no stderr to read them on).
            let answer = match tools::call(ctx, tool, args, &actor, &mut live) {
                Ok(answer) => answer,
                Err(e) => return Err(ctx.localize(e).warn(observer.warnings)),
            };
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
                    on_cancel.ask(&cancelled_message(&self.flights, &context.id));
                    cancelled = true;
                    progress = None;
                }
                () = Progress::next(&mut progress) => {}
            }
        };
        Progress::drain(&mut progress).await;
        Ok(match result {
            Ok(answer) => reply::document(answer.output, answer.array_field, answer.detached),
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
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let cursor = request.and_then(|r| r.cursor);
        let bad_cursor = cursor.clone();
        self.blocking("resources/list", move |ctx| {
            resources::list(ctx, cursor.as_deref())
        })
        .await
        .map(|page| {
            let mut result = ListResourcesResult::with_all_items(page.resources);
            result.next_cursor = page.next_cursor;
            result
        })
        .map_err(|e| match bad_cursor {
            // A cursor it did not give: invalid params, as the MCP specification says.
            Some(_) if e.code == exit::BAD_INPUT => {
                ErrorData::invalid_params(e.message.clone(), Some(e.document()))
            }
            _ => resources::error(&e),
        })
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
        p.send(message).await;
    }

    /// What the drive recorded after the call's last notification and before its answer:
    /// sent before the answer, so the last notification says where the run ended (`2/2 steps
    /// done`). Before, the call answered as soon as its drive returned, and a quick run's
    /// client was left at `0/2 steps done`.
    async fn drain(progress: &mut Option<Progress>) {
        let Some(p) = progress else { return };
        while let Ok(reached) = p.rx.try_recv() {
            let message = reached.message.clone();
            p.latest = Some(reached);
            p.send(message).await;
        }
    }

    /// Send `message` with the value of `latest`: its steps done on the scale of its total.
    async fn send(&mut self, message: String) {
        let p = self;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tool_that_drives_detaches_and_not_when_it_drives_nothing() {
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert!(detached("run", &args(serde_json::json!({"detach": true}))));
        assert!(detached(
            "phase_start",
            &args(serde_json::json!({"detach": true}))
        ));
        assert!(!detached(
            "run",
            &args(serde_json::json!({"detach": false}))
        ));
        assert!(!detached(
            "status",
            &args(serde_json::json!({"detach": true}))
        ));
        assert!(!detached(
            "resume",
            &args(serde_json::json!({"detach": true, "dry_run": true}))
        ));
        assert!(!detached(
            "step_complete",
            &args(serde_json::json!({"detach": true, "no_drive": true}))
        ));
    }
}
