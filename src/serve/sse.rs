//! Server-sent events: a run's events as they are appended (`/api/v1/runs/{id}/events`), and
//! a signal when the newest runs change (`/api/v1/runs/changes`). Both poll the store — the
//! run's events past the last one sent (`read_run_from`, an index range scan that is empty
//! when nothing moved) and the run index — so they work the same over any store, and each
//! client costs one small query per tick.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::actions::find;
use super::api::failure;
use super::error::Failure;
use super::server::{OffWorker, Shared, blocking};
use crate::event::Event as RunEvent;
use crate::execute::DriverLock;
use crate::ops::CommandError;
use crate::store::{EventStore, RunQuery};

/// How often a stream looks for news.
const TICK: Duration = Duration::from_millis(250);
/// How many of the newest runs the list's signal watches (a page of the runs page).
const WATCHED: usize = 50;
/// How many events a run's stream reads at a time: the next page is read only once the
/// client has taken the last (the body is polled only as the socket drains), so a client
/// that never reads costs at most a page, never the whole run.
const PAGE: usize = 64;
/// How many event streams are open at once, at most: more are refused (503, `Retry-After`).
/// Fewer when the server keeps fewer than twice as many connections
/// (`connections::Limits::max_streams`): streams never take more than half of them.
pub const MAX_STREAMS: usize = 64;
/// How long a refused stream's client is asked to wait before asking again.
const RETRY_AFTER_SECS: u64 = 5;

/// One of the `Shared::max_streams` places, held for a stream's life.
struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Slot {
    /// A place for one more stream, or the refusal to answer (503 with `Retry-After`).
    fn take(shared: &Shared) -> Result<Slot, Box<Response>> {
        use std::sync::atomic::Ordering;
        let open = &shared.streams;
        let most = shared.max_streams;
        let taken = open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < most).then_some(n + 1)
            })
            .is_ok();
        if taken {
            return Ok(Slot(Arc::clone(open)));
        }
        let mut refused = failure(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            CommandError::new(
                crate::ops::exit::FAILED,
                format!(
                    "{most} event streams are open on this server, the most it keeps; this one was not opened"
                ),
            )
            .hint(format!(
                "close pages or clients that follow runs (each open run or runs page is one), or ask again in {RETRY_AFTER_SECS} s (`Retry-After`); `GET /api/v1/runs/{{id}}/log` reads a run's events without a stream"
            )),
        ));
        refused.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(RETRY_AFTER_SECS),
        );
        Err(Box::new(refused))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Where a run's stream is.
struct Follow {
    shared: Arc<Shared>,
    run_id: String,
    /// The next seq to send.
    next: u64,
    alive: Option<bool>,
    queue: VecDeque<Event>,
    finished: bool,
    done: bool,
    /// Its place among the open streams, given back when the stream ends or its client goes.
    _slot: Slot,
}

/// `GET /api/v1/runs/{id}/events?after=SEQ`: the run's events after SEQ (all without it; a
/// reconnecting client's `Last-Event-ID` counts as `after`), then each new one as it is
/// appended (`event: event`, `id:` its seq, `data:` the event as `log show --json` gives it);
/// `event: driver` when a driver takes or lets go of the run; `event: end` after the run's
/// sealing event, and the stream ends — also when it was asked for events past the run's
/// head (`after` beyond it) and the run is sealed meanwhile: `end` without the events it
/// skipped. Asked for what comes after the seal: 204, no stream.
pub async fn run_events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    // Where the value came from, to name it if it is not a seq. A reconnecting client sends
    // the address it first asked for (its `after`) again, with the seq it last received in
    // `Last-Event-ID`: that one is where it is, so it wins, or every event in between would
    // come twice.
    let after = headers
        .get("last-event-id")
        .map(|v| {
            (
                "the `Last-Event-ID` header",
                v.to_str().unwrap_or("\u{fffd}").to_string(),
            )
        })
        .or_else(|| {
            raw.as_deref().and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "after")
                    .map(|(_, v)| ("the query parameter `after`", v.into_owned()))
            })
        });
    let next = match after.as_ref().map(|(from, v)| (from, v.parse::<u64>())) {
        None => 0,
        Some((_, Ok(seq))) => seq.saturating_add(1),
        Some((from, Err(_))) => {
            return failure(Failure::bad_request(
                format!("{from} must be the seq of an event (a whole number)"),
                "leave it out to get every event of the run from its first",
            ));
        }
    };
    let found = blocking(&shared, move |shared| {
        let (run_id, _) = find(shared, &id)?;
        let sealed = sealed_before(shared, &run_id, next)?;
        Ok::<_, Failure>((run_id, sealed))
    })
    .await;
    let run_id = match found {
        // Past the seal nothing will ever come: 204, which tells an `EventSource` to stop
        // reconnecting (after `end` it reconnects with the seal's seq, and would again and
        // again).
        Ok(Ok((_, true))) => return StatusCode::NO_CONTENT.into_response(),
        Ok(Ok((run_id, false))) => run_id,
        Ok(Err(f)) => return failure(f),
        Err(e) => return failure(Failure::from(e)),
    };
    let slot = match Slot::take(&shared) {
        Ok(slot) => slot,
        Err(refused) => return *refused,
    };
    let follow = Follow {
        shared,
        run_id,
        next,
        alive: None,
        queue: VecDeque::new(),
        finished: false,
        done: false,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(event) = f.queue.pop_front() {
                return Some((Ok::<Event, Infallible>(event), f));
            }
            if f.done {
                return None;
            }
            if f.finished {
                f.done = true;
                f.queue.push_back(Event::default().event("end").data("{}"));
                continue;
            }
            if !poll_run(&mut f).await {
                tokio::time::sleep(TICK).await;
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The run is sealed and its sealing event comes before `next` (nothing is appended to a run
/// after its seal): a stream starting there has nothing to wait for — a client reconnecting
/// after `end` (an `EventSource` does, unless closed) was kept waiting, and polled for,
/// forever.
fn sealed_before(shared: &Shared, run_id: &str, next: u64) -> Result<bool, CommandError> {
    let Some(store) = shared.ctx.reading_store()? else {
        return Ok(false);
    };
    Ok(crate::store::run_entry(&*store, run_id)?
        .is_some_and(|e| e.outcome.is_some() && next >= e.events))
}

/// How many opened logs the streams share (`pooled`).
const POOLED: usize = 4;

/// Call `f` with a log the streams share (none while there is no log yet), on the blocking
/// pool: one kept from an earlier tick of any stream, else one opened now; given back after
/// unless `f` failed (a log in trouble is opened afresh next time). A stream kept a log of its
/// own for its life — on SQLite a connection with its page cache, megabytes each once a long
/// run was read — so that every stalled client held one; now the open logs are as many as the
/// reads under way, at most `POOLED` kept, and a connection is not opened every tick.
fn pooled<T>(
    shared: &Shared,
    f: impl FnOnce(Option<&dyn EventStore>) -> Result<T, CommandError>,
) -> Result<T, CommandError> {
    let kept = shared
        .stream_stores
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .map(OffWorker::into_inner);
    let store = match kept {
        Some(store) => Some(store),
        None => shared.ctx.reading_store()?,
    };
    let out = f(store.as_deref());
    if out.is_ok()
        && let Some(store) = store
    {
        let mut pool = shared
            .stream_stores
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOLED {
            pool.push(OffWorker::new(store));
        }
    }
    out
}

/// Read what is new for a run's stream; whether anything was.
async fn poll_run(f: &mut Follow) -> bool {
    let run_id = f.run_id.clone();
    let next = f.next;
    let read = blocking(&f.shared, move |shared| {
        pooled(shared, |store| {
            // Probed before the read: a driver that ends in between appended everything first,
            // so its last events come with (never after) the word that it is gone. Driven as
            // the run's page says it (`execute::driver_alive`): a lock in this home, or a live
            // driver lease held elsewhere — a worker of another home or host. Before, only
            // the lock was asked: a run a worker drove was said `{"alive":false}` throughout
            // while its page said a process drove it.
            let alive = match store {
                Some(s) => crate::execute::driver_alive(&shared.ctx.home, s, &run_id),
                None => DriverLock::probe(&shared.ctx.home, &run_id).is_some(),
            };
            // A page at a time: a run of many thousand events was read whole, and queued as
            // events, for every client — one that never read held megabytes.
            let events = match store {
                Some(s) => s
                    .read_run_page(&run_id, next, PAGE)
                    .map_err(CommandError::from)?,
                None => Vec::new(),
            };
            // Nothing at `next`: a stream asked for events past the run's end (`after` or
            // `Last-Event-ID` beyond its head) never reads the seal, so the index says when
            // the run is sealed and nothing will come. Before, such a stream never ended.
            let sealed = match store {
                Some(s) if events.is_empty() => crate::store::run_entry(s, &run_id)?
                    .is_some_and(|e| e.outcome.is_some() && next >= e.events),
                _ => false,
            };
            Ok::<_, CommandError>((events, alive, sealed))
        })
    })
    .await;
    let Ok(Ok((events, alive, sealed))) = read else {
        // The log cannot be read now (it is being replaced, or busy): try again next tick.
        return false;
    };
    let mut news = false;
    if sealed {
        f.finished = true;
        news = true;
    }
    for e in events {
        f.next = e.seq + 1;
        if matches!(e.event, RunEvent::RunFinished { .. }) {
            f.finished = true;
        }
        let data =
            crate::render::json_safe(&serde_json::to_string(&e).unwrap_or_default()).into_owned();
        f.queue.push_back(
            Event::default()
                .event("event")
                .id(e.seq.to_string())
                .data(data),
        );
        news = true;
    }
    if f.alive != Some(alive) {
        f.alive = Some(alive);
        f.queue.push_back(
            Event::default()
                .event("driver")
                .data(serde_json::json!({ "alive": alive }).to_string()),
        );
        news = true;
    }
    news
}

/// The newest runs as a signature: their ids, heads, outcomes and whether a driver holds them.
fn signature(shared: &Shared, store: &dyn EventStore) -> Result<String, CommandError> {
    let rows = store.list_runs(&RunQuery::kind(None).limit(WATCHED))?;
    // Every lease in one read: whether a run is driven is asked as its page asks it.
    let leases = store.leases(None).ok();
    let mut hasher = blake3::Hasher::new();
    for r in rows {
        let alive = r.outcome.is_none()
            && crate::execute::driver_alive_with(&shared.ctx.home, &r.run_id, leases.as_deref());
        hasher.update(
            format!(
                "{} {} {:?} {alive}\n",
                r.run_id,
                r.events,
                r.outcome.map(|o| o.as_str())
            )
            .as_bytes(),
        );
    }
    Ok(hasher.finalize().to_hex()[..16].to_string())
}

/// The signature of the newest runs now (the runs page embeds it, so that its stream can tell
/// a change that happened before it connected).
pub fn runs_signature(shared: &Shared) -> Result<String, CommandError> {
    match shared.ctx.reading_store()? {
        Some(store) => signature(shared, &store),
        None => Ok(String::new()),
    }
}

/// `GET /api/v1/runs/changes`: `event: runs` with the signature of the newest runs (their ids,
/// heads, outcomes and drivers) when the stream opens and whenever it changes.
pub async fn runs_changes(State(shared): State<Arc<Shared>>) -> Response {
    struct Watch {
        _slot: Slot,
        shared: Arc<Shared>,
        last: Option<String>,
    }
    let slot = match Slot::take(&shared) {
        Ok(slot) => slot,
        Err(refused) => return *refused,
    };
    let watch = Watch {
        _slot: slot,
        shared,
        last: None,
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        loop {
            // A log the streams share (`pooled`): on PostgreSQL a connection, which opened
            // anew every tick cost the database one twice a second for each open runs page.
            let now = blocking(&w.shared, move |shared| {
                pooled(shared, |store| match store {
                    Some(s) => signature(shared, s),
                    None => Ok(String::new()),
                })
            })
            .await;
            if let Ok(Ok(sig)) = now
                && w.last.as_ref() != Some(&sig)
            {
                w.last = Some(sig.clone());
                let event = Event::default()
                    .event("runs")
                    .data(serde_json::json!({ "signature": sig }).to_string());
                return Some((Ok::<Event, Infallible>(event), w));
            }
            tokio::time::sleep(TICK * 2).await;
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
