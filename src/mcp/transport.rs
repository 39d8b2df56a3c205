//! The protocol's transport: newline-delimited JSON-RPC over stdio, read and written here
//! rather than by rmcp's `AsyncRwTransport`, so that every line that is no message is
//! answered as JSON-RPC 2.0 says.
//!
//! rmcp's transport skips a line that is not JSON without a word (its reason: a peer that
//! echoes an answer back as more garbage would make an error storm; the other SDKs skip such
//! lines too), and answers JSON that is no message with `Invalid request` carrying no `id` at
//! all. A client that sent a broken request then waited for an answer that never came, or got
//! one that JSON-RPC 2.0 (and the official Python SDK, whose error has `id` required but
//! nullable) does not read as an answer. Here each line is judged once:
//!
//! - a message: handed to rmcp;
//! - blank, or a notification rmcp ignores for compatibility (`ignored_notification`, as rmcp
//!   3.11's own rule): nothing;
//! - not JSON: the parse error (`-32700`) with `"id": null` (its id cannot be read);
//! - longer than the longest line read (16 MiB): dropped unread, and answered with the
//!   invalid request error (`-32600`) carrying the request's `id` when its first bytes say
//!   it (`id_in_head`: a top-level `"id"` number or string in the first `HEAD` bytes, as
//!   clients write `{"jsonrpc":"2.0","id":N,"method":...}`), so the client's call gets its
//!   answer (the SDK waits for its id, never for a null one); else the parse error with
//!   `"id": null`. The answer says the limit, and that big data goes in files;
//! - JSON, but no JSON-RPC message (e.g. `{"id": 11, "method": "ping"}` without `"jsonrpc"`):
//!   the invalid request error (`-32600`) with the line's `id` when it is a number or a
//!   string, else `"id": null`.
//!
//! An answer is written by a task of its own through the one writer, so it is one whole line
//! among the others, never mixed into one of them, and a cancelled `receive` (rmcp polls it in
//! a `select!`) loses nothing. At the end of the input the answers still being written are
//! awaited, so a client that sends one bad line and closes stdin still gets its answer. The
//! storm cannot start from here: an answer is valid JSON-RPC, so a peer echoing it back sends
//! a response, which is no error.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::Log;
use super::stdio::{LONGEST, Skipped, not_json};

/// JSON-RPC's error codes for a line that is no message.
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;
const INVALID_PARAMS: i32 = -32602;

/// The transport over `read` (stdin) and `write` (stdout).
pub struct Lines<R, W> {
    read: BufReader<R>,
    /// The line read so far: kept across a cancelled `receive`.
    line: Vec<u8>,
    /// Dropping the rest of a line past `LONGEST`.
    discarding: bool,
    /// The first `HEAD` bytes of the line dropped for its length, where its id is looked for.
    head: Vec<u8>,
    write: Arc<Mutex<Option<W>>>,
    /// The answers to lines that were no message, still being written.
    answering: Vec<JoinHandle<()>>,
    log: Log,
    /// What a logged line is scrubbed of: the secrets this process knows (a tool call that
    /// is not JSON may still carry an output or a message holding one).
    secrets: crate::execute::Redactor,
    /// The session's lifecycle has begun: an `initialize` request, or a request of the inline
    /// (2026-07-28) lifecycle carrying its `_meta`, was handed to rmcp. Before, a request that
    /// is neither is told to send `initialize` first (`before_initialize`).
    begun: bool,
    /// Where a `notifications/cancelled`'s reason is noted for the call it cancels.
    flights: Option<super::inflight::InFlight>,
}

impl<R: tokio::io::AsyncRead, W> Lines<R, W> {
    pub fn new(read: R, write: W, log: Log) -> Lines<R, W> {
        Lines {
            read: BufReader::new(read),
            line: Vec::new(),
            discarding: false,
            head: Vec::new(),
            write: Arc::new(Mutex::new(Some(write))),
            answering: Vec::new(),
            log,
            secrets: crate::execute::Redactor::of_process(),
            begun: false,
            flights: None,
        }
    }

    /// Note the reason of each `notifications/cancelled` in `flights`, for the call it cancels
    /// to record in its stop (`InFlight::take_reason`).
    pub fn noting_cancellations(mut self, flights: super::inflight::InFlight) -> Self {
        self.flights = Some(flights);
        self
    }
}

/// What one read of a line found.
enum Read {
    /// A whole line is in `line`.
    Line,
    /// A line longer than `LONGEST` was dropped.
    TooLong,
    /// The input ended (or failed): nobody is left to read from.
    End,
}

/// What a line is.
#[derive(Debug)]
enum Judged {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    Nothing,
    /// An error to answer, and what the server's log says.
    Answer(Answer, String),
}

/// The error answering a line that is no message: JSON-RPC 2.0's shape, `id` always present
/// (null when it cannot be read), its fields in the order rmcp writes a message's.
#[derive(Debug, serde::Serialize)]
pub struct Answer {
    jsonrpc: &'static str,
    id: Value,
    error: AnswerError,
}

#[derive(Debug, serde::Serialize)]
struct AnswerError {
    code: i32,
    message: String,
}

fn error(id: Value, code: i32, message: String) -> Answer {
    Answer {
        jsonrpc: "2.0",
        id,
        error: AnswerError { code, message },
    }
}

/// The answer to a line that is not JSON.
pub fn parse_error(why: &str) -> Answer {
    error(
        Value::Null,
        PARSE_ERROR,
        format!("Parse error: the line is not JSON ({why}); each message is one line of JSON-RPC"),
    )
}

/// How much of the start of a line too long to read is kept to find its id in.
const HEAD: usize = 4096;

/// The answer to a line longer than `LONGEST`, dropped unread, whose first bytes are `head`:
/// the request it was answered by its id when `head` says it, so the client's call is not
/// left waiting; else the parse error with a null id.
fn too_long(head: &[u8]) -> (Answer, String) {
    let Skipped { why, logged } = Skipped::too_long();
    match id_in_head(head) {
        Some(id) => {
            let logged = format!(
                "answered request {id}, a line that is not read, with an invalid request error: {why}"
            );
            let message = format!(
                "Request too large: {why}; nothing of it was read. Send big data (outputs, messages) as files, their paths as the values"
            );
            (error(id, INVALID_REQUEST, message), logged)
        }
        None => (parse_error(&why), logged),
    }
}

/// The `id` of the object whose first bytes are `head`, when it is a member of the object
/// itself (not of one inside it) and a number or a string that ends within `head`: a scan of
/// JSON's strings and nesting, no parse of the whole (it is not read whole).
pub(crate) fn id_in_head(head: &[u8]) -> Option<Value> {
    let skip_ws = |mut i: usize| {
        while head.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    // The end (past the closing quote) of the string that opens at `i`.
    let string_end = |start: usize| {
        let mut i = start + 1;
        loop {
            match head.get(i)? {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
    };
    let mut i = skip_ws(0);
    if head.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut depth = 1usize;
    // At depth 1, whether the next string is a key (after `{` or `,`).
    let mut key_next = true;
    while let Some(&b) = head.get(i) {
        match b {
            b'"' => {
                let end = string_end(i)?;
                if depth == 1 && key_next {
                    let key: String = serde_json::from_slice(&head[i..end]).ok()?;
                    let colon = skip_ws(end);
                    if head.get(colon) != Some(&b':') {
                        return None;
                    }
                    if key == "id" {
                        let at = skip_ws(colon + 1);
                        return id_value(head, at);
                    }
                    key_next = false;
                    i = colon + 1;
                    continue;
                }
                i = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return None;
                }
            }
            b',' if depth == 1 => key_next = true,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The id value (a number or a string) that starts at `at` of `head`, when it ends within it.
fn id_value(head: &[u8], at: usize) -> Option<Value> {
    let rest = head.get(at..)?;
    let len = match rest.first()? {
        b'"' => {
            let mut i = 1;
            loop {
                match rest.get(i)? {
                    b'\\' => i += 2,
                    b'"' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        b'-' | b'0'..=b'9' => {
            let n = rest
                .iter()
                .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))?;
            // Ended by what may follow a member, not by the end of `head`.
            if !matches!(rest[n], b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                return None;
            }
            n
        }
        _ => return None,
    };
    match serde_json::from_slice::<Value>(&rest[..len]).ok()? {
        id @ (Value::Number(_) | Value::String(_)) => Some(id),
        _ => None,
    }
}

/// The id a line that is no message carried, as its answer echoes it: a number or a string,
/// else null (JSON-RPC: null when the id cannot be read).
fn id_of(value: &Value) -> Value {
    match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    }
}

/// rmcp 3.11's rule (pinned in Cargo.toml) for a notification it ignores rather than answers
/// when it does not parse: one without `id` whose method is not MCP's, or that is under
/// `notifications/` but not one MCP defines.
fn ignored_notification(value: &Value) -> bool {
    const METHODS: &[&str] = &[
        "initialize",
        "ping",
        "server/discover",
        "prompts/get",
        "prompts/list",
        "resources/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "resources/templates/list",
        "subscriptions/listen",
        "tools/call",
        "tools/list",
        "completion/complete",
        "elicitation/create",
        "logging/setLevel",
        "roots/list",
        "sampling/createMessage",
    ];
    const NOTIFICATIONS: &[&str] = &[
        "notifications/cancelled",
        "notifications/initialized",
        "notifications/message",
        "notifications/progress",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
        "notifications/resources/updated",
        "notifications/roots/list_changed",
        "notifications/subscriptions/acknowledged",
        "notifications/tools/list_changed",
    ];
    let Some(method) = value.get("method").and_then(Value::as_str) else {
        return false;
    };
    let standard = NOTIFICATIONS.contains(&method);
    (value.get("id").is_none() && !standard && !METHODS.contains(&method))
        || (method.starts_with("notifications/") && !standard)
}

/// What `initialize` must carry in its params.
const INITIALIZE_PARAMS: [&str; 3] = ["protocolVersion", "capabilities", "clientInfo"];

/// The answer to an `initialize` request without its params, or with some of
/// `INITIALIZE_PARAMS` missing: rmcp 3.11 reads such a request as the start of the inline
/// (2026-07-28) lifecycle and answers "request _meta is missing or has malformed required
/// fields: io.modelcontextprotocol/protocolVersion, ...", which names neither `initialize`
/// nor its params. The check reads the line as JSON again only when it names `initialize`.
fn initialize_without_params(line: &[u8]) -> Option<Judged> {
    const NAME: &[u8] = b"\"initialize\"";
    if !line.windows(NAME.len()).any(|w| w == NAME) {
        return None;
    }
    let value: Value = serde_json::from_slice(line).ok()?;
    if value.get("method").and_then(Value::as_str) != Some("initialize")
        || value.get("id").is_none()
    {
        return None;
    }
    let params = value.get("params").and_then(Value::as_object);
    let missing: Vec<&str> = INITIALIZE_PARAMS
        .into_iter()
        .filter(|key| params.is_none_or(|p| !p.contains_key(*key)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let has = match value.get("params") {
        None | Some(Value::Null) => "it has no params".to_string(),
        Some(Value::Object(_)) => format!("its params have no {}", missing.join(", ")),
        Some(_) => "its params are not an object".to_string(),
    };
    let message = format!(
        "Invalid params: `initialize` needs its params, an object with protocolVersion (e.g. \"2025-06-18\"), capabilities (an object, {{}} for none) and clientInfo ({{\"name\": ..., \"version\": ...}}); {has}"
    );
    let logged =
        format!("answered an `initialize` without its params with an invalid params error: {has}");
    Some(Judged::Answer(
        error(id_of(&value), INVALID_PARAMS, message),
        logged,
    ))
}

/// An `initialize` whose `clientInfo` is an object without a `name` (or a `version`) as
/// one with them empty: a client that gives no name acts as `mcp:unknown`, as one whose name
/// is empty does. rmcp refused it as the start of the inline lifecycle ("request _meta is
/// missing or has malformed required fields: io.modelcontextprotocol/protocolVersion, ..."),
/// which names neither `initialize` nor `clientInfo`. `None`: the line as it is.
fn client_info_filled(line: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"\"initialize\"";
    if !line.windows(NAME.len()).any(|w| w == NAME) {
        return None;
    }
    let mut value: Value = serde_json::from_slice(line).ok()?;
    if value.get("method").and_then(Value::as_str) != Some("initialize") {
        return None;
    }
    let info = value
        .get_mut("params")?
        .get_mut("clientInfo")?
        .as_object_mut()?;
    let mut changed = false;
    for key in ["name", "version"] {
        if info.get(key).is_none_or(Value::is_null) {
            info.insert(key.to_string(), Value::String(String::new()));
            changed = true;
        }
    }
    changed.then(|| serde_json::to_vec(&value).ok())?
}

/// The `_meta` keys of the inline (2026-07-28) lifecycle, which stand for `initialize` on each
/// request.
const INLINE_META: [&str; 2] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
];

/// What a message is to the session before its lifecycle has begun.
#[derive(Debug)]
enum Opening {
    /// `initialize`, or a request carrying inline-lifecycle `_meta`: the lifecycle begins.
    Begins,
    /// `ping`, `server/discover`, a notification, a response: answered as rmcp does, and the
    /// session still waits for its start.
    Neutral,
    /// A request that neither starts nor may precede a lifecycle (`tools/list`, `tools/call`,
    /// ... with no `_meta` of the inline lifecycle): answered here.
    TooEarly(Answer, String),
}

/// Judge `line`, a message, as the first of a session. rmcp 3.11 answers a request sent before
/// `initialize` as an inline-lifecycle request missing its `_meta`: "request _meta is missing
/// or has malformed required fields: io.modelcontextprotocol/protocolVersion, ...", which does
/// not say that the session was never initialized. A request carrying none of the inline keys
/// is told to send `initialize` first; one carrying some of them is left to rmcp, whose words
/// then fit (it is trying the inline lifecycle).
fn opening(line: &[u8]) -> Opening {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Opening::Neutral;
    };
    let (Some(method), Some(_)) = (value.get("method").and_then(Value::as_str), value.get("id"))
    else {
        return Opening::Neutral;
    };
    match method {
        "initialize" => return Opening::Begins,
        "ping" | "server/discover" => return Opening::Neutral,
        _ => {}
    }
    let meta = value.pointer("/params/_meta").and_then(Value::as_object);
    if meta.is_some_and(|m| INLINE_META.iter().any(|k| m.contains_key(*k))) {
        return Opening::Begins;
    }
    let shown = crate::render::one_line(&crate::render::clip(method, 81)).into_owned();
    Opening::TooEarly(
        error(
            id_of(&value),
            INVALID_REQUEST,
            format!(
                "Invalid request: `{shown}` came before `initialize`, and this session has not begun: send `initialize` first (params: protocolVersion, e.g. \"2025-06-18\", capabilities, {{}} for none, and clientInfo, {{\"name\": ..., \"version\": ...}}), then the notification `notifications/initialized`, then your requests (an MCP client library does this when it connects); `ping` may come before it"
            ),
        ),
        format!("answered `{shown}` sent before `initialize`: send `initialize` first"),
    )
}

/// The request a `notifications/cancelled` line cancels (its id as JSON text) and the reason
/// it gives, cleaned (`inflight::cancel_reason`); none for any other line, or one with no
/// reason. Read from the line as rmcp does not hand the reason on: the call it cancels only
/// sees its cancellation.
fn cancellation(line: &[u8], secrets: &crate::execute::Redactor) -> Option<(String, String)> {
    const NAME: &[u8] = b"notifications/cancelled";
    if !line.windows(NAME.len()).any(|w| w == NAME) {
        return None;
    }
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let value: Value = serde_json::from_slice(line).ok()?;
    if value.get("method").and_then(Value::as_str) != Some("notifications/cancelled") {
        return None;
    }
    let params = value.get("params")?;
    let id = match params.get("requestId")? {
        id @ (Value::Number(_) | Value::String(_)) => id.to_string(),
        _ => return None,
    };
    let reason = params.get("reason")?.as_str()?;
    Some((id, super::inflight::cancel_reason(reason, secrets)?))
}

/// Judge one line (its newline taken off).
fn judge(line: &[u8], secrets: &crate::execute::Redactor) -> Judged {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return Judged::Nothing;
    }
    if let Some(Skipped { why, logged }) = not_json(line, secrets) {
        return Judged::Answer(parse_error(&why), logged);
    }
    let filled = client_info_filled(line);
    let line = filled.as_deref().unwrap_or(line);
    match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(line) {
        Ok(_) if let Some(answer) = initialize_without_params(line) => answer,
        Ok(message) => Judged::Message(Box::new(message)),
        Err(_) => {
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                // `not_json` read it: not reached; answered as not JSON all the same.
                return Judged::Answer(parse_error("it could not be read"), String::new());
            };
            if ignored_notification(&value) {
                return Judged::Nothing;
            }
            if let Some(answer) = initialize_without_params(line) {
                return answer;
            }
            let text = String::from_utf8_lossy(line);
            let text = secrets.redact(&text);
            let shown = crate::render::clip(&text, 81);
            Judged::Answer(
                error(
                    id_of(&value),
                    INVALID_REQUEST,
                    "Invalid request: the line is JSON but no JSON-RPC 2.0 message (an object with \"jsonrpc\": \"2.0\" and a \"method\", or an \"id\" with a \"result\" or an \"error\")".into(),
                ),
                format!(
                    "answered a line that is no JSON-RPC message with an invalid request error: {}",
                    crate::render::one_line(&shown)
                ),
            )
        }
    }
}

/// Write `line` (one message and its newline) whole, unless the output is closed.
async fn write_line<W: AsyncWrite + Unpin>(
    write: &Mutex<Option<W>>,
    line: &[u8],
) -> std::io::Result<()> {
    let mut write = write.lock().await;
    let Some(out) = write.as_mut() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "the output is closed",
        ));
    };
    out.write_all(line).await?;
    out.flush().await
}

fn framed(value: &impl serde::Serialize) -> std::io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

impl<R: tokio::io::AsyncRead + Unpin, W> Lines<R, W> {
    /// Read up to the end of a line into `line`. Cancel-safe: `fill_buf` takes nothing if
    /// cancelled, and the copy and `consume` have no await between them.
    async fn read_line(&mut self) -> Read {
        loop {
            let (taken, found) = {
                let available = match self.read.fill_buf().await {
                    Ok(available) if !available.is_empty() => available,
                    _ => return Read::End,
                };
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |at| at + 1);
                if self.discarding {
                    if newline.is_some() {
                        self.discarding = false;
                    }
                    (take, None)
                } else if self.line.len().saturating_add(take) > LONGEST {
                    self.head.clear();
                    let from_line = self.line.len().min(HEAD);
                    self.head.extend_from_slice(&self.line[..from_line]);
                    let more = (HEAD - from_line).min(take);
                    self.head.extend_from_slice(&available[..more]);
                    self.line.clear();
                    self.discarding = newline.is_none();
                    (take, Some(Read::TooLong))
                } else {
                    self.line.extend_from_slice(&available[..take]);
                    (take, newline.map(|_| Read::Line))
                }
            };
            self.read.consume(taken);
            if let Some(found) = found {
                return found;
            }
        }
    }
}

impl<R, W> Lines<R, W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    /// Answer a line that was no message, on a task of its own.
    fn answer(&mut self, answer: Answer, logged: &str) {
        if !logged.is_empty() {
            (self.log)(logged);
        }
        self.answering.retain(|task| !task.is_finished());
        let write = Arc::clone(&self.write);
        self.answering.push(tokio::spawn(async move {
            if let Ok(line) = framed(&answer) {
                // Only a closed stdout fails it: nobody is left to tell.
                let _ = write_line(&write, &line).await;
            }
        }));
    }
}

impl<R, W> Transport<RoleServer> for Lines<R, W>
where
    R: tokio::io::AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let write = Arc::clone(&self.write);
        let line = framed(&item);
        async move { write_line(&write, &line?).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.read_line().await {
                Read::Line => {}
                Read::TooLong => {
                    let head = std::mem::take(&mut self.head);
                    let (answer, logged) = too_long(&head);
                    self.answer(answer, &logged);
                    continue;
                }
                Read::End => {
                    // The answers to the last lines still reach the client before the session
                    // ends (awaiting a handle does not cancel it if this is cancelled).
                    for task in &mut self.answering {
                        let _ = task.await;
                    }
                    self.answering.clear();
                    return None;
                }
            }
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            if let Some(flights) = &self.flights
                && let Some((id, reason)) = cancellation(line, &self.secrets)
            {
                flights.note_reason(id, reason);
            }
            match judge(line, &self.secrets) {
                Judged::Message(message) if !self.begun => match opening(line) {
                    Opening::Begins => {
                        self.begun = true;
                        return Some(*message);
                    }
                    Opening::Neutral => return Some(*message),
                    Opening::TooEarly(answer, logged) => self.answer(answer, &logged),
                },
                Judged::Message(message) => return Some(*message),
                Judged::Nothing => {}
                Judged::Answer(answer, logged) => self.answer(answer, &logged),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut write = self.write.lock().await;
        if let Some(mut out) = write.take() {
            out.flush().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::Redactor;
    use serde_json::json;

    fn answer(line: &str) -> Value {
        match judge(line.as_bytes(), &Redactor::default()) {
            Judged::Answer(answer, _) => serde_json::to_value(answer).unwrap(),
            other => panic!("not answered: {other:?}"),
        }
    }

    /// rmcp answers an `initialize` without its params as an inline-lifecycle request missing
    /// its `_meta`; it is told what `initialize` needs instead, and a whole one goes on.
    #[test]
    fn an_initialize_without_its_params_is_told_what_they_are() {
        let bare = answer(r#"{"jsonrpc": "2.0", "id": 1, "method": "initialize"}"#);
        assert_eq!(bare["error"]["code"], -32602, "{bare}");
        assert_eq!(bare["id"], 1, "{bare}");
        let message = bare["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`initialize` needs its params")
                && message.contains("protocolVersion")
                && message.contains("clientInfo")
                && message.ends_with("it has no params"),
            "{bare}"
        );
        let odd = answer(r#"{"jsonrpc": "2.0", "id": "x", "method": "initialize", "params": [1]}"#);
        assert!(
            odd["error"]["message"]
                .as_str()
                .unwrap()
                .ends_with("its params are not an object"),
            "{odd}"
        );
        let whole = r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        assert!(matches!(
            judge(whole.as_bytes(), &Redactor::default()),
            Judged::Message(_)
        ));
        // A tool call whose text says "initialize" is a message as before.
        let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list","arguments":{"kind":"initialize"}}}"#;
        assert!(matches!(
            judge(call.as_bytes(), &Redactor::default()),
            Judged::Message(_)
        ));
    }

    #[test]
    fn a_parse_error_is_json_rpcs_minus_32700_with_a_null_id() {
        let answer =
            serde_json::to_value(parse_error("expected value at line 1 column 1")).unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["error"]["code"], -32700);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expected value at line 1 column 1"),
            "{answer}"
        );
        assert_eq!(answer.get("id"), Some(&Value::Null), "{answer}");
    }

    /// JSON that is no message was answered by rmcp with an error carrying no `id`; its id is
    /// echoed when it can be read, and null otherwise.
    #[test]
    fn an_invalid_request_echoes_its_id_or_answers_with_a_null_id() {
        let echoed = answer(r#"{"id": 11, "method": "ping"}"#);
        assert_eq!(echoed["error"]["code"], -32600, "{echoed}");
        assert_eq!(echoed["id"], 11, "{echoed}");
        assert_eq!(answer(r#"{"jsonrpc": "2.0", "id": "a"}"#)["id"], "a");
        for line in ["[1, 2]", "5", r#"{"jsonrpc": "2.0", "id": {"x": 1}}"#] {
            let answered = answer(line);
            assert_eq!(answered["error"]["code"], -32600, "{line}: {answered}");
            assert_eq!(answered.get("id"), Some(&Value::Null), "{line}: {answered}");
        }
        assert_eq!(answer("not json\r")["id"], Value::Null);
    }

    #[test]
    fn the_id_of_a_line_too_long_is_read_from_its_first_bytes_when_it_is_there() {
        let big = "x".repeat(HEAD);
        for (head, id) in [
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"#.to_string(),
                json!(7),
            ),
            (
                r#"{ "id" : "req-1", "method": "tools/call""#.into(),
                json!("req-1"),
            ),
            (r#"{"jsonrpc":"2.0","id":"a\"b","#.into(), json!("a\"b")),
            (
                r#"{"jsonrpc":"2.0","method":"tools/call","params":{"id":1},"id":42}"#.into(),
                json!(42),
            ),
            (
                format!(r#"{{"jsonrpc":"2.0","id":-3,"params":"{big}"#),
                json!(-3),
            ),
        ] {
            assert_eq!(id_in_head(head.as_bytes()), Some(id), "{head}");
        }
        for head in [
            // Not a member of the object itself, cut, not a number or a string, no object.
            r#"{"jsonrpc":"2.0","params":{"id":1,"x":""#.to_string(),
            r#"{"jsonrpc":"2.0","id":12"#.into(),
            r#"{"jsonrpc":"2.0","id":"ab"#.into(),
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#.into(),
            r#"{"jsonrpc":"2.0","id":{"x":1},"#.into(),
            r#"[{"id":1}]"#.into(),
            r#"{"key":"has \"id\": 5 inside","#.into(),
            format!(r#"{{"jsonrpc":"2.0","params":"{big}","id":5}}"#)[..HEAD].to_string(),
        ] {
            assert_eq!(id_in_head(head.as_bytes()), None, "{head}");
        }
        let (answer, _) = too_long(br#"{"jsonrpc":"2.0","id":9,"method":"tools/call""#);
        let answer = serde_json::to_value(answer).unwrap();
        assert_eq!(answer["id"], 9, "{answer}");
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("16 MiB") && message.contains("files"),
            "{message}"
        );
        let (answer, _) = too_long(b"garbage");
        assert_eq!(serde_json::to_value(answer).unwrap()["id"], Value::Null);
    }

    #[test]
    fn messages_blank_lines_and_ignored_notifications_are_not_answered() {
        assert!(matches!(
            judge(
                br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#,
                &Redactor::default()
            ),
            Judged::Message(_)
        ));
        for line in [
            "",
            " \r",
            r#"{"jsonrpc": "2.0", "method": "$/lsp/thing", "params": 5}"#,
            r#"{"jsonrpc": "2.0", "method": "notifications/custom", "params": 5}"#,
        ] {
            assert!(
                matches!(
                    judge(line.as_bytes(), &Redactor::default()),
                    Judged::Nothing
                ),
                "{line}"
            );
        }
        // A notification MCP defines, whose params do not fit: answered (null id).
        let answered =
            answer(r#"{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": 5}"#);
        assert_eq!(answered.get("id"), Some(&Value::Null), "{answered}");
    }
}
