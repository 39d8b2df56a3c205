//! `/api/v1/`: the JSON documents of `--json`, each from the same `ops` call as its CLI twin
//! (`X-Cortex-Exit-Code` carries the exit code the CLI would give), errors as the CLI's
//! `--json` error document with a 4xx or 5xx. Described by `schemas/openapi.json`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::actions::{self, Done, StepAction, catalog_name, find, lookup_failure};
use super::error::Failure;
use super::server::{Shared, blocking};
use crate::event::RunKind;
use crate::ops::{self, CommandError, Output, Scope};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../schemas/openapi.json");

/// An error as JSON, with its status.
pub fn failure(f: Failure) -> Response {
    // The log's write lock held by another process past the store's wait: nothing was
    // recorded, and the same request goes through once it lets go — said in the document and
    // in `Retry-After`, as the CLI's error suggests the same command again in `next`.
    let busy = f.error.log_locked();
    let f = match busy {
        true => Failure {
            error: Box::new(f.error.hint(format!(
                "send the same request again in {} s (`Retry-After`) or later: nothing was recorded, and it goes through once the other process lets go of the lock",
                super::connections::RETRY_AFTER_SECS
            ))),
            ..f
        },
        false => f,
    };
    let mut response = json(f.status, &f.json());
    exit_header(&mut response, f.error.code);
    if busy {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(super::connections::RETRY_AFTER_SECS),
        );
    }
    response
}

/// A JSON answer, serialised as the CLI's `--json` prints it (`render::json_safe`): the
/// characters serde leaves raw that a terminal or a bidi-aware viewer would act on (C1
/// controls, bidirectional overrides) written as `\uXXXX`, the same document.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let text = serde_json::to_string(value).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        crate::render::json_safe(&text).into_owned(),
    )
        .into_response()
}

fn exit_header(response: &mut Response, code: i32) {
    if let Ok(v) = HeaderValue::from_str(&code.to_string()) {
        response.headers_mut().insert("x-cortex-exit-code", v);
    }
}

/// An operation's document, as `--json` prints it (its warnings in its `warnings` array).
fn document(status: StatusCode, output: Output) -> Response {
    let mut response = json(status, &output.document());
    exit_header(&mut response, output.code);
    // What the CLI prints on stderr as `warning: ...`: a header each too, beside the document.
    for warning in &output.warnings {
        if let Ok(value) = HeaderValue::from_str(&header_safe(warning)) {
            response.headers_mut().append(WARNING, value);
        }
    }
    response
}

/// The header of each warning an answer carries.
const WARNING: HeaderName = HeaderName::from_static("x-cortex-warning");

/// `text` as a header value: visible ASCII and spaces, anything else written `\u{...}`.
fn header_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' || c.is_ascii_graphic() {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

fn reply(result: Result<Result<Output, Failure>, CommandError>) -> Response {
    match result {
        Ok(Ok(output)) => document(StatusCode::OK, output),
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}

fn reply_done(result: Result<Result<Done, Failure>, CommandError>) -> Response {
    match result {
        Ok(Ok(done)) => {
            let status = actions::done_status(&done);
            document(status, done.output)
        }
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}

/// Every request's query, before its handler reads it: each parameter must be one its route
/// reads (`ALLOWS`, from the route table, which `schemas/openapi.json` describes for the API)
/// and UTF-8 once percent-decoded, or the request is a 400 naming the parameter and what the
/// route takes — the API's JSON error, or for a page an error page. Before, a parameter no
/// handler read was ignored (`?inputs=msg=1` for `?input=` previewed the defaults with a 200;
/// a page's `?event=all` for `?events=all` showed the page without them, saying nothing), and
/// bytes that are not UTF-8 (`%ff%fe`) were read as U+FFFD. (So `query` below never meets a
/// byte it would have to replace.) An address no route answers is left to the 404.
pub async fn known_query(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    if let (Some(raw), Some((route, names))) = (req.uri().query(), super::server::query_names(path))
    {
        let api = path.starts_with("/api/");
        if let Err(f) = check_query(route, names, raw, api) {
            return match api {
                true => failure(f),
                false => super::pages::failure(f),
            };
        }
    }
    next.run(req).await
}

/// How the parameters `names` (as the route table writes them) read `name`: None when none
/// does; Some(true) when it is a list, given once or more (written with a `+`: `input+`);
/// Some(false) when it is given once. A name ending in `.*` stands for every name that starts
/// with what comes before the `*` and goes on (`input.*`: `input.who`), each given once.
fn read_as(names: &[&str], name: &str) -> Option<bool> {
    names.iter().find_map(|n| {
        if let Some(prefix) = n.strip_suffix('*') {
            return (name.len() > prefix.len() && name.starts_with(prefix)).then_some(false);
        }
        match n.strip_suffix('+') {
            Some(list) => (list == name).then_some(true),
            None => (*n == name).then_some(false),
        }
    })
}

/// `raw` (a query) as `route`, which reads the parameters `names`, takes it: an API route
/// (`api`) or a page. A parameter given twice is refused too, but for a list (`input+`):
/// which of its values counts would be a guess. Before, only `/api/v1/runs` refused one
/// (`limit=1&limit=3`); elsewhere the first value counted, unsaid (`?at=1&at=5` showed the
/// run as of event 1, `?after=1&after=2` streamed from 2).
fn check_query(route: &str, names: &[&str], raw: &str, api: bool) -> Result<(), Failure> {
    let shown = |n: &&str| match n.strip_suffix('*') {
        Some(prefix) => format!("`{prefix}NAME`"),
        None => format!("`{}`", n.trim_end_matches('+')),
    };
    let takes = match names {
        [] => "it takes none".to_string(),
        [one] => format!("it takes {}", shown(one)),
        _ => format!(
            "it takes {}",
            names.iter().map(shown).collect::<Vec<_>>().join(", ")
        ),
    };
    let hint = match api {
        true => format!(
            "{takes} (GET /api/v1/openapi.json describes every parameter); nothing was done"
        ),
        false => format!("{takes}; the page's own links and forms write them"),
    };
    let what = match api {
        true => route.to_string(),
        false => format!("the page {route}"),
    };
    let mut seen = std::collections::HashSet::new();
    for field in raw.split('&').filter(|f| !f.is_empty()) {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        let decoded = |part: &str| {
            percent_encoding::percent_decode_str(&part.replace('+', " "))
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
        };
        let Ok(name) = decoded(key) else {
            return Err(Failure::bad_request(
                format!(
                    "a query parameter's name is not UTF-8 once percent-decoded ({}): {what} reads none such",
                    crate::definition::shown(key)
                ),
                hint,
            ));
        };
        let Some(list) = read_as(names, &name) else {
            return Err(Failure::bad_request(
                format!(
                    "`{}` is not a query parameter of {what}",
                    crate::definition::shown(&name)
                ),
                hint,
            ));
        };
        if !list && !seen.insert(name.clone()) {
            return Err(Failure::bad_request(
                format!("`{name}` is given more than once; give it once"),
                match api {
                    true => format!(
                        "keep one `{name}=` in the address (GET /api/v1/openapi.json describes every parameter); nothing was done"
                    ),
                    false => format!(
                        "keep one `{name}=` in the address; the page's own links and forms write it once"
                    ),
                },
            ));
        }
        if decoded(value).is_err() {
            return Err(Failure::bad_request(
                format!(
                    "the value of `{name}` is not UTF-8 once percent-decoded: a value is text, its bytes percent-encoded UTF-8"
                ),
                match api {
                    true => {
                        "encode the value as UTF-8 before percent-encoding it (`%C3%A9` for é); nothing was done"
                    }
                    false => {
                        "encode the value as UTF-8 before percent-encoding it (`%C3%A9` for é); the page's own links and forms do"
                    }
                },
            ));
        }
    }
    Ok(())
}

/// The query's fields, in order (a field may repeat: `input`).
pub fn query(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

fn get<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn number(q: &[(String, String)], name: &str) -> Result<Option<u64>, Failure> {
    get(q, name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                Failure::bad_request(
                    format!("`{name}` must be a whole number, not {}", shown_value(v)),
                    "GET /api/v1/openapi.json describes every parameter",
                )
            })
        })
        .transpose()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn not_found() -> Response {
    failure(Failure::not_found(
        CommandError::bad_input("no such endpoint")
            .hint("GET /api/v1/openapi.json describes every endpoint"),
    ))
}

/// A query value as an error shows it: in double quotes, so an empty one (`?kind`, `?kind=`)
/// is seen as empty (it was shown as nothing: "not " and the sentence ended), and one of
/// spaces as spaces; cut and escaped as `definition::shown` does.
pub fn shown_value(value: &str) -> String {
    format!("\"{}\"", crate::definition::shown(value))
}

/// The kind named by `?kind=`.
pub fn kind_param(q: &[(String, String)]) -> Result<Option<RunKind>, Failure> {
    match get(q, "kind") {
        None => Ok(None),
        Some("workflow") => Ok(Some(RunKind::Workflow)),
        Some("scenario") => Ok(Some(RunKind::Scenario)),
        Some(other) => Err(Failure::bad_request(
            format!("`kind` is workflow or scenario, not {}", shown_value(other)),
            "leave `kind` out for runs of both kinds",
        )),
    }
}

/// The run id named by `?before=` (the `Link` header's next page), in capitals as run ids
/// are written: any case is read, as everywhere a run id is; anything that is no run id is a
/// 400. Before, it was compared as raw text, so `zzz` or a lowercase id answered page 1
/// again and a client paged forever.
pub fn before_param(q: &[(String, String)]) -> Result<Option<String>, Failure> {
    let Some(given) = get(q, "before").filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let id = given.to_ascii_uppercase();
    if crate::event::is_run_id(id.as_bytes()) {
        return Ok(Some(id));
    }
    Err(Failure::bad_request(
        format!(
            "`before` is a run id (26 letters and digits, as the `Link` header's next page gives it), not {}",
            shown_value(given)
        ),
        "leave `before` out for the newest runs, or follow the `Link: rel=\"next\"` header",
    ))
}

/// `GET /runs?kind=&limit=&before=`: a page of history, newest first, as
/// `workflow history --json` / `orchestrate history --json` give it (`{"runs", "more"}`); a
/// `Link: <...>; rel="next"` header names the next page.
pub async fn runs(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw);
    let result = blocking(&shared, move |shared| {
        let kind = kind_param(&q)?;
        let limit = match get(&q, "limit") {
            Some(given) => ops::history_limit_text(given, "`limit`")?,
            None => 20,
        };
        let before = before_param(&q)?;
        let before = before.as_deref();
        let page = match shared.ctx.reading_store()? {
            Some(store) => ops::history_page_before(&store, &shared.ctx.home, kind, before, limit)
                .map_err(CommandError::from)?,
            None => ops::History {
                kind,
                ..Default::default()
            },
        };
        let next = page.more.then(|| {
            let last = page
                .runs
                .last()
                .map(|r| r.run_id.clone())
                .unwrap_or_default();
            let kind = kind.map_or(String::new(), |k| format!("kind={}&", k.as_str()));
            format!("</api/v1/runs?{kind}limit={limit}&before={last}>; rel=\"next\"")
        });
        let doc = ops::workflow::history_json(&shared.ctx, &page);
        Ok((doc, next))
    })
    .await;
    match result {
        Ok(Ok((json, next))) => {
            let mut response = self::json(StatusCode::OK, &json);
            exit_header(&mut response, 0);
            if let Some(link) = next.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LINK, link);
            }
            response
        }
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}

/// `GET /runs/{id}?at=SEQ`: the status document (`workflow status RUN --json`).
pub async fn run_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    reply(
        blocking(&shared, move |shared| {
            let at = number(&q, "at")?;
            let (run_id, _) = find(shared, &id)?;
            Ok(ops::workflow::status(
                &shared.ctx,
                Scope::any(),
                Some(&run_id),
                at,
            )?)
        })
        .await,
    )
}

/// `GET /runs/{id}/log`: every event (`log show RUN --json`).
pub async fn run_log(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    reply(
        blocking(&shared, move |shared| {
            let (run_id, _) = find(shared, &id)?;
            Ok(ops::log::show(&shared.ctx, Some(&run_id))?)
        })
        .await,
    )
}

/// `GET /runs/{id}/logs?step=`: the whole output of the run's attempts, of one step or phase
/// with `step` (`logs RUN [STEP] --json`).
pub async fn run_logs(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    reply(
        blocking(&shared, move |shared| {
            let attempt = number(&q, "attempt")?
                .map(|n| {
                    u32::try_from(n).map_err(|_| {
                        Failure::bad_request(
                            format!("`attempt` {n} is past any attempt"),
                            "leave `attempt` out for every attempt",
                        )
                    })
                })
                .transpose()?;
            let tail_bytes =
                number(&q, "tail_bytes")?.unwrap_or(ops::attempt_logs::DEFAULT_TAIL_BYTES);
            let (run_id, _) = find(shared, &id)?;
            let step = get(&q, "step");
            // At most `tail_bytes` of each attempt's output and `JSON_OUTPUT_MAX` in all, the
            // last of it, marked `truncated`; the whole of one attempt is streamed by
            // `.../logs/{step}/raw`.
            Ok(ops::attempt_logs::attempt_logs(
                &shared.ctx,
                Some(&run_id),
                step,
                ops::attempt_logs::Window {
                    attempt,
                    tail_bytes,
                },
            )?)
        })
        .await,
    )
}

/// How much of an attempt's output is read at once while streaming it.
const CHUNK: usize = 64 * 1024;

/// `GET /runs/{id}/logs/{step}/raw?attempt=N`: one attempt's output (its last without
/// `attempt`) as the bytes its process wrote (`logs RUN STEP --raw [--attempt N]`), streamed
/// a chunk at a time, whatever its size; a warning (no size or hash vouches for them) in
/// `x-cortex-warning`.
pub async fn run_raw_log(
    State(shared): State<Arc<Shared>>,
    Path((id, step)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    let opened = blocking(&shared, move |shared| {
        let attempt = number(&q, "attempt")?
            .map(|n| {
                // No attempt has that number: not found, as one the step has not made.
                u32::try_from(n).map_err(|_| {
                    Failure::not_found(
                        crate::ops::CommandError::bad_input(format!(
                            "`attempt` {n} is past any attempt"
                        ))
                        .hint("leave `attempt` out for the last one"),
                    )
                })
            })
            .transpose()?;
        let (run_id, kind) = find(shared, &id)?;
        // A step named in the path that the run does not have is a 404, as for its actions.
        actions::has_step(shared, &run_id, kind, &step)?;
        Ok(ops::attempt_logs::raw_attempt_log(
            &shared.ctx,
            Some(&run_id),
            &step,
            attempt,
        )?)
    })
    .await;
    let log = match opened {
        Ok(Ok(log)) => log,
        Ok(Err(f)) => return failure(f),
        Err(e) => return failure(Failure::from(e)),
    };
    let warning = log.warning.clone();
    let len = log.len;
    let stream = futures_util::stream::unfold(Some(log.reader), move |reader| {
        let shared = shared.clone();
        async move {
            let mut reader = reader?;
            let read = blocking(&shared, move |_| {
                let mut chunk = vec![0u8; CHUNK];
                let n = std::io::Read::read(&mut reader, &mut chunk)?;
                chunk.truncate(n);
                Ok::<_, std::io::Error>((reader, chunk))
            })
            .await;
            match read {
                Ok(Ok((_, chunk))) if chunk.is_empty() => None,
                Ok(Ok((reader, chunk))) => Some((Ok(axum::body::Bytes::from(chunk)), Some(reader))),
                // The file went away or failed mid-way: the answer ends short of its length,
                // which the client sees.
                Ok(Err(e)) => Some((Err(e), None)),
                Err(e) => Some((Err(std::io::Error::other(e.message)), None)),
            }
        }
    });
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response();
    exit_header(&mut response, 0);
    if let Some(w) = warning.and_then(|w| HeaderValue::from_str(&header_safe(&w)).ok()) {
        response.headers_mut().append(WARNING, w);
    }
    response
}

/// `GET /runs/{id}/verify`: the run's chain checked (`log verify RUN --json`).
pub async fn run_verify(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    reply(
        blocking(&shared, move |shared| {
            let (run_id, _) = find(shared, &id)?;
            Ok(ops::log::verify(&shared.ctx, Some(&run_id), None, None)?)
        })
        .await,
    )
}

/// `GET /verify`: every chain, the snapshots and the run index (`log verify --json`).
pub async fn verify(State(shared): State<Arc<Shared>>) -> Response {
    reply(
        blocking(&shared, |shared| {
            // No log made yet (a home with no runs): an empty log, verified.
            if shared.ctx.reading_store()?.is_none() {
                return Ok(ops::log::verify_not_made_yet(&shared.ctx)?);
            }
            Ok(ops::log::verify(&shared.ctx, None, None, None)?)
        })
        .await,
    )
}

/// `GET /workflows` (`workflow list --json`).
pub async fn workflows(State(shared): State<Arc<Shared>>) -> Response {
    reply(blocking(&shared, |shared| Ok(ops::workflow::list(&shared.ctx)?)).await)
}

/// `GET /workflows/{name}`: validation (`workflow validate NAME --json`).
pub async fn workflow(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    reply(
        blocking(&shared, move |shared| {
            catalog_name("workflow", &name)?;
            shared
                .ctx
                .catalog()
                .find_workflow(&name)
                .map_err(lookup_failure)?;
            Ok(ops::workflow::validate(&shared.ctx, &name)?)
        })
        .await,
    )
}

/// `GET /scenarios` (`orchestrate list --json`).
pub async fn scenarios(State(shared): State<Arc<Shared>>) -> Response {
    reply(blocking(&shared, |shared| Ok(ops::scenario::list(&shared.ctx)?)).await)
}

/// `GET /scenarios/{name}`: validation (`orchestrate validate NAME --json`).
pub async fn scenario(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    reply(
        blocking(&shared, move |shared| {
            catalog_name("scenario", &name)?;
            shared
                .ctx
                .catalog()
                .find_scenario(&name)
                .map_err(lookup_failure)?;
            Ok(ops::scenario::validate(&shared.ctx, Some(&name), false)?)
        })
        .await,
    )
}

/// `GET /scenarios/{name}/preview?input=NAME=VALUE...` (`orchestrate preview NAME --input
/// NAME=VALUE... --json`): each `input` a pair, read as the CLI reads `--input`.
pub async fn preview(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(raw);
    reply(
        blocking(&shared, move |shared| {
            catalog_name("scenario", &name)?;
            shared
                .ctx
                .catalog()
                .find_scenario(&name)
                .map_err(lookup_failure)?;
            let given: Vec<String> = q
                .into_iter()
                .filter(|(k, _)| k == "input")
                .map(|(_, v)| v)
                .collect();
            let inputs = ops::parse_pairs_from(&given, "input", ops::PairsFrom::Query)?;
            Ok(ops::scenario::preview(&shared.ctx, &name, &inputs)?)
        })
        .await,
    )
}

/// `GET /schedules` (`schedule list --json`): every schedule and its next times.
pub async fn schedules(State(shared): State<Arc<Shared>>) -> Response {
    reply(
        blocking(&shared, |shared| {
            Ok(ops::schedule::list(
                &shared.ctx,
                std::time::SystemTime::now(),
            )?)
        })
        .await,
    )
}

/// `GET /agents` (`agent list --json`).
pub async fn agents(State(shared): State<Arc<Shared>>) -> Response {
    reply(blocking(&shared, |shared| Ok(ops::agents::list(&shared.ctx)?)).await)
}

/// `GET /agents/{name}` (`agent status NAME --json`).
pub async fn agent(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    reply(
        blocking(&shared, move |shared| {
            shared
                .ctx
                .catalog()
                .find_agent(&name)
                .map_err(lookup_failure)?;
            Ok(ops::agents::status(&shared.ctx, &name)?)
        })
        .await,
    )
}

/// Every POST's body, read the one way: a JSON object (none at all is the empty object);
/// unknown fields are refused. Anything else — an array (which serde would read as the
/// fields in order), `null`, a string — is a 400 before anything is done.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Failure> {
    let refused = |why: String| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            CommandError::bad_input(format!(
                "the request body is not what this endpoint takes: {why}"
            ))
            .hint("GET /api/v1/openapi.json describes every body; nothing was recorded"),
        )
    };
    let text = bytes.trim_ascii_start();
    if text.is_empty() {
        return Ok(T::default());
    }
    if !text.starts_with(b"{") {
        return Err(refused("it must be a JSON object (`{...}`)".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| refused(e.to_string()))
}

/// A map of a request's body (`outputs`, `inputs`) whose every key is given once: a key given
/// twice is refused (400, naming it), as the CLI refuses `--output k=1 --output k=2`, never
/// the last value kept unsaid.
fn unique_keys<'de, D, V>(d: D) -> Result<std::collections::BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Unique<V> {
        type Value = std::collections::BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of keys and values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if out.keys().any(|k: &String| k.trim() == key.trim()) {
                    return Err(serde::de::Error::custom(format!(
                        "`{}` is given twice; give each key once (nothing was recorded)",
                        crate::definition::shown(&key)
                    )));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    #[serde(default, deserialize_with = "unique_keys")]
    outputs: std::collections::BTreeMap<String, String>,
    /// Values of the run's secret inputs (the log keeps `***`) for the report's checks, as
    /// MCP's `step_complete` and `phase_complete` take them; the server keeps them for the run.
    #[serde(default, deserialize_with = "unique_keys")]
    inputs: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    #[serde(default)]
    mode: Option<String>,
    /// Values of the run's secret inputs (the log keeps `***`), as `resume --input` gives them.
    #[serde(default, deserialize_with = "unique_keys")]
    inputs: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    step: Option<String>,
    /// The run's time limit from now on, as `resume --timeout` takes it (`2h`, `90m`, `0` for
    /// none): a run stopped by its limit goes on under a longer one.
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunWorkflow {
    #[serde(default, deserialize_with = "unique_keys")]
    inputs: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunScenario {
    #[serde(default)]
    start: Vec<String>,
    #[serde(default, deserialize_with = "unique_keys")]
    inputs: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

/// An input's value as `--input NAME=VALUE` gives it: text, a number or a boolean.
fn input_text(name: &str, value: &serde_json::Value) -> Result<String, Failure> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        // `-0` is read as the float -0.0: the integer 0 as sent, not `-0.0`.
        serde_json::Value::Number(n) => {
            Ok(ops::json_integer_text(n).unwrap_or_else(|| n.to_string()))
        }
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Failure::bad_request(
            format!("input `{name}` must be a string, a number or a boolean"),
            "give it as `--input NAME=VALUE` would: text, a number or true/false",
        )),
    }
}

/// The inputs of a request body as `--input NAME=VALUE` gives them ([`input_text`]).
fn input_texts(
    inputs: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, Failure> {
    inputs
        .iter()
        .map(|(k, v)| Ok((k.clone(), input_text(k, v)?)))
        .collect()
}

async fn step_action(
    shared: Arc<Shared>,
    id: String,
    step: String,
    action: StepAction,
    bytes: Bytes,
) -> Response {
    reply_done(
        blocking(&shared, move |shared| {
            // A failure records no outputs (a failed step or phase has none), nor does a
            // start (they come when the phase is completed): its body is a message alone
            // (`Message`, as documented), and `outputs` in it an unknown field (400, nothing
            // recorded), the error naming the one field there is. A start's unknown field was
            // said to expect `outputs` or `message`, then `outputs` refused.
            let report: Report = match action {
                StepAction::Fail | StepAction::Start => {
                    let m: Message = body(&bytes)?;
                    Report {
                        outputs: Default::default(),
                        inputs: Default::default(),
                        message: m.message,
                    }
                }
                _ => body(&bytes)?,
            };
            let outputs: Vec<(String, String)> = report.outputs.into_iter().collect();
            let inputs = input_texts(&report.inputs)?;
            actions::step(
                shared,
                &id,
                &step,
                action,
                outputs,
                &inputs,
                report.message.as_deref(),
            )
        })
        .await,
    )
}

/// `POST /runs/{id}/steps/{step}/start`: start a manual phase (`orchestrate start`).
pub async fn start(
    State(shared): State<Arc<Shared>>,
    Path((id, step)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    step_action(shared, id, step, StepAction::Start, bytes).await
}

/// `POST /runs/{id}/steps/{step}/complete`: report a step or phase done.
pub async fn complete(
    State(shared): State<Arc<Shared>>,
    Path((id, step)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    step_action(shared, id, step, StepAction::Complete, bytes).await
}

/// `POST /runs/{id}/steps/{step}/fail`: report a step or phase failed.
pub async fn fail(
    State(shared): State<Arc<Shared>>,
    Path((id, step)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    step_action(shared, id, step, StepAction::Fail, bytes).await
}

/// `POST /runs/{id}/stop` (`orchestrate stop`).
pub async fn stop(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    run_action(shared, id, bytes, actions::stop).await
}

/// `POST /runs/{id}/abort` (`workflow abort` / `orchestrate abort`).
pub async fn abort(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    run_action(shared, id, bytes, actions::abort).await
}

/// An action on a run whose body is a message alone (`Message`): `stop`, `abort`.
async fn run_action(
    shared: Arc<Shared>,
    id: String,
    bytes: Bytes,
    action: fn(&Shared, &str, Option<&str>) -> Result<Done, Failure>,
) -> Response {
    reply_done(
        blocking(&shared, move |shared| {
            let m: Message = body(&bytes)?;
            action(shared, &id, m.message.as_deref())
        })
        .await,
    )
}

/// `POST /runs/{id}/resume` (`workflow resume [--retry|--skip|--from|--rollback-to]
/// [--timeout]`).
pub async fn resume(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    reply_done(
        blocking(&shared, move |shared| {
            let r: Resume = body(&bytes)?;
            find(shared, &id)?;
            let mode = actions::resume_mode(r.mode.as_deref(), r.step.as_deref())?;
            let inputs = input_texts(&r.inputs)?;
            let timeout = r.timeout.as_deref();
            actions::resume(shared, &id, mode, &inputs, timeout, r.message.as_deref())
        })
        .await,
    )
}

/// `POST /workflows/{name}/runs` (`workflow run NAME --input ...`), driven in the background.
pub async fn run_workflow(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Response {
    reply_done(
        blocking(&shared, move |shared| {
            let r: RunWorkflow = body(&bytes)?;
            let inputs = input_texts(&r.inputs)?;
            actions::run_workflow(shared, &name, &inputs, r.message.as_deref())
        })
        .await,
    )
}

/// `POST /scenarios/{name}/runs` (`orchestrate run NAME --start ...`), driven in the
/// background.
pub async fn run_scenario(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Response {
    reply_done(
        blocking(&shared, move |shared| {
            let r: RunScenario = body(&bytes)?;
            let inputs = input_texts(&r.inputs)?;
            actions::run_scenario(shared, &name, &r.start, &inputs, r.message.as_deref())
        })
        .await,
    )
}
