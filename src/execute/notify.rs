//! Delivering `notify:` when a run fails or finishes: commands given the status document on
//! stdin, webhooks POSTed the status document as JSON (their URL resolved here, from this
//! process's environment and the run's inputs), independently and a few at once, each retried
//! with backoff while retrying can help and bounded in time, the wait for them ended by a stop
//! (what was not delivered then said so); every delivery (or giving up) recorded in the run's
//! notification stream `notify:RUN`, so that the run's own seal stays its head.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::inflight::{InflightNote, NotesFile};
use super::process::{Program, run_process_tracked};
use super::{Clock, IdGen, ProcessSpec, Redactor, StopFlag, rfc3339};
use crate::definition::{Notification, Notify, mask_url, resolve_webhook, url_secrets};
use crate::event::{ChainId, Event, NewEvent};
pub use crate::plan::{NotificationRef, Trigger};
use crate::store::{EventStore, StoreError};

/// How each notification is tried, unless it says otherwise: this many retries, this long a
/// try, and a pause between tries that starts here and doubles.
const RETRIES: u32 = 2;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// At most this many deliveries at once (each its own thread).
pub const PARALLEL: usize = 8;

/// What a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub trigger: Trigger,
    /// Its place in its trigger's list (0 first).
    pub index: usize,
    pub notification: String,
    pub attempts: u32,
    pub ok: bool,
    pub detail: String,
    /// When this delivery was done (or given up), RFC 3339.
    pub time: String,
}

/// What a notification is given: the run's status document and who it is.
#[derive(Debug, Clone)]
pub struct Subject {
    pub run_id: String,
    pub name: String,
    pub status: String,
    pub document: serde_json::Value,
    /// Where commands run (the run's directory).
    pub cwd: PathBuf,
    /// The home of the process delivering: a command is given it as `CORTEX_HOME`, as a
    /// step's command is (a place of its own to write to, whoever started cortex how).
    pub home: PathBuf,
    /// The run's input values as text (a secret input's as this process was given it), for
    /// a webhook made of `${{ inputs.NAME }}`.
    pub inputs: BTreeMap<String, String>,
    /// The run's notes of process groups in flight (`locks/RUN.pgids`): a command's group is
    /// noted there while it runs (`notify_key`), so that whoever takes the run over from a
    /// driver that died delivering ends it before delivering again. None: not noted.
    pub notes: Option<PathBuf>,
}

/// The key a notification command's process group is noted under in the run's notes
/// (`locks/RUN.pgids`): `notify-TRIGGER-INDEX`. Never an attempt's key (16 hex digits) nor
/// another command's (`runner::command_key`).
pub fn notify_key(trigger: Trigger, index: usize) -> String {
    format!("{NOTIFY_KEY_PREFIX}{}-{index}", trigger.as_str())
}

/// What every notification command's key starts with (`notify_key`).
pub const NOTIFY_KEY_PREFIX: &str = "notify-";

/// How one try went: done, or failed and worth trying again or not.
enum Try {
    Done(String),
    Again(String),
    GiveUp(String),
}

/// The notifications `refs` name, each with its place, in the order given (one a list does
/// not have, as the definition changed under a record, is left out).
fn notifications(notify: &Notify, refs: &[NotificationRef]) -> Vec<(Trigger, usize, Notification)> {
    refs.iter()
        .filter_map(|&(t, i)| crate::plan::notification(notify, (t, i)).map(|n| (t, i, n.clone())))
        .collect()
}

/// Deliver each notification `due` names, independently and at most `PARALLEL`
/// at once, each tried until it works, its retries run out or its answer says trying again
/// is pointless. `on_failure`'s first, side by side; `on_finish`'s — the "finally" handlers —
/// once every `on_failure` delivery is done (made or given up), so they land, are recorded
/// and are listed last. Before, both lists started together and an `on_finish` often landed
/// (and was listed) before the failure's page.
///
/// Raising `stop` ends the wait at once (within a tenth of a second): a notification not
/// done by then comes back as not delivered, saying it was interrupted (a webhook whose POST
/// was under way may still reach its receiver; a command is stopped). The threads of those
/// are left to end by themselves, each within its try's timeout, trying no more.
///
/// `landed` hears of each delivery as soon as it is done (or given up, or stopped), so that it
/// can be recorded then; `watch` is called each tenth of a second of the wait, and may raise
/// `stop` (a caller that judges a signal before it ends the wait: `ops::notify::wait_for`).
#[allow(clippy::too_many_arguments)] // one delivery's parts, each its own concern
pub fn deliver(
    notify: &Notify,
    due: &[NotificationRef],
    subject: Subject,
    redactor: &Redactor,
    clock: Arc<dyn Clock + Send + Sync>,
    stop: &StopFlag,
    landed: &mut dyn FnMut(&Delivery),
    watch: &mut dyn FnMut(),
) -> Vec<Delivery> {
    let mut work = notifications(notify, due);
    work.sort_by_key(|(trigger, index, _)| (*trigger == Trigger::OnFinish, *index));
    let failures = work
        .iter()
        .filter(|(t, ..)| *t == Trigger::OnFailure)
        .count();
    let shared = Arc::new(Work {
        work,
        failures_left: AtomicUsize::new(failures),
        subject,
        redactor: redactor.clone(),
        clock,
        stop: stop.clone(),
        next: AtomicUsize::new(0),
        notes: NotesFile::default(),
    });
    let (tx, rx) = mpsc::channel::<(usize, Delivery)>();
    // A thread the system refused: the deliveries no thread took are not made, saying why
    // (those taken go on, the threads started taking the rest in turn).
    let mut refused: Option<super::thread::Refused> = None;
    for _ in 0..shared.work.len().min(PARALLEL) {
        let shared = Arc::clone(&shared);
        let tx = tx.clone();
        let started = super::thread::spawn("to deliver a notification", move || {
            while !shared.stop.is_set() {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                let Some((trigger, index, n)) = shared.work.get(i) else {
                    break;
                };
                // An `on_finish` waits for the `on_failure` deliveries, all taken by now
                // (they come first): it is the last word.
                if *trigger == Trigger::OnFinish {
                    while shared.failures_left.load(Ordering::Acquire) > 0 && !shared.stop.is_set()
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    if shared.stop.is_set() {
                        break;
                    }
                }
                // Counted done however it ends (a panic too), so no `on_finish` waits forever.
                let _counted =
                    (*trigger == Trigger::OnFailure).then(|| CountDown(&shared.failures_left));
                let d = deliver_one(*trigger, *index, n, &shared);
                if tx.send((i, d)).is_err() {
                    break;
                }
            }
        });
        if let Err(e) = started {
            refused = Some(e);
            break;
        }
    }
    drop(tx);
    let mut done: Vec<Option<Delivery>> = vec![None; shared.work.len()];
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((i, d)) => {
                landed(&d);
                done[i] = Some(d);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                watch();
                if stop.is_set() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    while let Ok((i, d)) = rx.try_recv() {
        landed(&d);
        done[i] = Some(d);
    }
    let why = match (stop.signal_name(), refused) {
        (Some(signal), _) => format!("not delivered: {signal} stopped the wait for it"),
        (None, Some(refused)) => format!(
            "not delivered, not tried: {refused}; {}",
            super::thread::RAISE_PROCESSES
        ),
        (None, None) => "not delivered: its delivery ended unexpectedly".to_string(),
    };
    done.into_iter()
        .zip(&shared.work)
        .map(|(d, (trigger, index, n))| {
            d.unwrap_or_else(|| {
                let d = undelivered(*trigger, *index, n, &shared.redactor, &*shared.clock, &why);
                landed(&d);
                d
            })
        })
        .collect()
}

/// Each notification `due` names as not delivered, for `why`.
pub fn not_made(
    notify: &Notify,
    due: &[NotificationRef],
    redactor: &Redactor,
    clock: &dyn Clock,
    why: &str,
) -> Vec<Delivery> {
    notifications(notify, due)
        .iter()
        .map(|(t, i, n)| undelivered(*t, *i, n, redactor, clock, why))
        .collect()
}

fn undelivered(
    trigger: Trigger,
    index: usize,
    n: &Notification,
    redactor: &Redactor,
    clock: &dyn Clock,
    why: &str,
) -> Delivery {
    Delivery {
        trigger,
        index,
        notification: redactor.redact(&n.label()).into_owned(),
        attempts: 0,
        ok: false,
        detail: why.to_string(),
        time: rfc3339(clock.now()),
    }
}

/// What the delivering threads share.
/// Takes one from its counter when dropped.
struct CountDown<'a>(&'a AtomicUsize);

impl Drop for CountDown<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

struct Work {
    work: Vec<(Trigger, usize, Notification)>,
    subject: Subject,
    redactor: Redactor,
    clock: Arc<dyn Clock + Send + Sync>,
    stop: StopFlag,
    next: AtomicUsize,
    /// The `on_failure` deliveries not done yet: `on_finish`'s wait for none.
    failures_left: AtomicUsize,
    /// The notes file, opened at the first command noted (`Subject::notes`).
    notes: NotesFile,
}

/// Sleep `pause`, or less if `stop` is raised meanwhile; whether it was.
fn pause_unless_stopped(pause: Duration, stop: &StopFlag) -> bool {
    let until = Instant::now() + pause;
    while !stop.is_set() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    true
}

fn deliver_one(trigger: Trigger, index: usize, n: &Notification, work: &Work) -> Delivery {
    let subject = &work.subject;
    let mut redactor = work.redactor.clone();
    let mut label = n.label();
    // A webhook's URL, resolved here (environment variables of this process, the run's
    // inputs); its secret parts scrubbed from whatever is said about it.
    let url = n.webhook.as_deref().map(|written| {
        let env = |name: &str| std::env::var(name).ok();
        let input = |name: &str| subject.inputs.get(name).cloned();
        let resolved = resolve_webhook(written, &env, &input);
        if let Ok(url) = &resolved {
            url_secrets(url).iter().for_each(|s| redactor.add(s));
            // The resolved URL's host after a variable that hid it (`$SLACK_URL`): said
            // only where its masked form tells more than the written one's (before,
            // `user:$PW@host/x` was shown `http://***@host/*** (http://***@host/***)`).
            let shown = mask_url(url);
            if url != written && shown != mask_url(written) {
                label = format!("{label} ({shown})");
            }
        }
        resolved
    });
    let tries = n.retries.unwrap_or(RETRIES).min(10) + 1;
    let timeout = n
        .timeout
        .as_ref()
        .and_then(|t| t.to_duration().ok())
        .map(|t| t.min(Duration::from_secs(600)));
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0;
    let mut last = String::new();
    let mut ok = false;
    while attempts < tries {
        attempts += 1;
        let outcome = match &url {
            Some(Err(e)) => Try::GiveUp(e.clone()),
            Some(Ok(url)) => post(url, subject, timeout.unwrap_or(WEBHOOK_TIMEOUT)),
            None => run_command(
                n,
                (trigger, index),
                work,
                &redactor,
                timeout.unwrap_or(COMMAND_TIMEOUT),
            ),
        };
        match outcome {
            Try::Done(detail) => {
                ok = true;
                last = detail;
                break;
            }
            Try::GiveUp(detail) => {
                last = detail;
                break;
            }
            Try::Again(detail) => last = detail,
        }
        if attempts < tries {
            if pause_unless_stopped(pause, &work.stop) {
                let signal = work.stop.signal_name().unwrap_or_default();
                last = format!("{last}; not tried again: interrupted ({signal})");
                break;
            }
            pause = pause.saturating_mul(2);
        }
    }
    Delivery {
        trigger,
        index,
        notification: redactor.redact(&label).into_owned(),
        attempts,
        ok,
        detail: redactor.redact(&last).into_owned(),
        time: rfc3339(work.clock.now()),
    }
}

/// Run a notification command, its process group noted under `notify_key` while it runs (as
/// `Runner::run_noted` notes a step's other commands): a driver killed meanwhile leaves a note
/// the next one reads to end the command before delivering it again.
fn run_command(
    n: &Notification,
    (trigger, index): NotificationRef,
    work: &Work,
    redactor: &Redactor,
    timeout: Duration,
) -> Try {
    let subject = &work.subject;
    let Some(cmd) = &n.run else {
        return Try::GiveUp("a notification with neither `run:` nor `webhook:`".into());
    };
    let body = serde_json::to_string(&subject.document).expect("documents serialise");
    let spec = ProcessSpec {
        program: Program::Shell(cmd.clone()),
        env: vec![
            ("CORTEX_RUN_ID".into(), subject.run_id.clone()),
            ("CORTEX_RUN_NAME".into(), subject.name.clone()),
            ("CORTEX_RUN_STATUS".into(), subject.status.clone()),
            ("CORTEX_HOME".into(), subject.home.display().to_string()),
        ],
        cwd: subject.cwd.clone(),
        stdin: Some(body),
        timeout: Some(timeout),
        grace: Duration::from_secs(2),
        redactor: redactor.clone(),
        keep_background: false,
        capture_stdout: false,
        unset: &[],
        log: None,
    };
    let key = notify_key(trigger, index);
    let mut note = None;
    let result = run_process_tracked(&spec, &work.stop, &mut |_, _| {}, &mut |pgid| {
        if let Some(notes) = &subject.notes {
            note = Some(InflightNote::started(&work.notes, notes, &key, pgid));
        }
    });
    if let Some(note) = note {
        note.ended();
    }
    let said = result.tail.lines().last().unwrap_or_default().to_string();
    if result.end.succeeded() {
        Try::Done(result.end.describe())
    } else if said.is_empty() {
        Try::Again(result.end.describe())
    } else {
        Try::Again(format!("{}: {said}", result.end.describe()))
    }
}

/// POST the status document to `url`. A 2xx is done; a redirect (not followed: the body
/// would go where the definition did not say) or a 4xx other than 408 and 429 will not change
/// by trying again; anything else (5xx, 408, 429, no answer, no connection) may.
fn post(url: &str, subject: &Subject, timeout: Duration) -> Try {
    let body = serde_json::to_string(&subject.document).expect("documents serialise");
    let agent = ureq::Agent::with_parts(
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
        ureq::unversioned::transport::DefaultConnector::default(),
        super::webhook_resolver::WebhookResolver,
    );
    match agent
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("cortex/", env!("CARGO_PKG_VERSION")))
        .send(body.as_bytes())
    {
        Ok(response) => {
            let code = response.status().as_u16();
            match code {
                200..=299 => Try::Done(format!("HTTP {code}")),
                300..=399 => Try::GiveUp(format!(
                    "HTTP {code}: a redirect, not followed (give the URL it points to)"
                )),
                408 | 429 => Try::Again(format!("HTTP {code}")),
                400..=499 => Try::GiveUp(format!("HTTP {code}: refused, not tried again")),
                _ => Try::Again(format!("HTTP {code}")),
            }
        }
        Err(ureq::Error::Timeout(_)) => Try::Again(format!("no answer within {timeout:?}")),
        Err(e) if unresolvable(&e) => Try::GiveUp(format!(
            "{e}: the host name does not resolve, not tried again"
        )),
        Err(e) => Try::Again(e.to_string()),
    }
}

/// The URL's host name has no address: trying again will not give it one. (A lookup that
/// failed for the time being — "Temporary failure in name resolution", EAI_AGAIN — may work
/// on a later try, and is retried.)
fn unresolvable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => {
            let text = io.to_string().to_ascii_lowercase();
            text.contains("failed to lookup address") && !text.contains("temporary failure")
        }
        _ => false,
    }
}

/// The end of a run's session the deliveries were for (`plan::end_of`, `RunState::session_seq`).
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    pub status: &'a str,
    pub session: u64,
}

/// Record deliveries in the run's notification stream.
pub fn record_deliveries(
    store: &mut dyn EventStore,
    ids: &mut dyn IdGen,
    run_id: &str,
    end: Ended<'_>,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let stream = ChainId::Notify(run_id).to_string();
    let events: Vec<NewEvent> = deliveries
        .iter()
        .map(|d| NewEvent {
            id: ids.next_id(),
            time: d.time.clone(),
            event: Event::NotificationDelivered {
                trigger: d.trigger.as_str().into(),
                notification: d.notification.clone(),
                attempts: d.attempts,
                ok: d.ok,
                detail: d.detail.clone(),
                status: Some(end.status.into()),
                session: Some(end.session),
                index: u32::try_from(d.index).ok(),
            },
        })
        .collect();
    // Appended at the head of the stream, whoever else delivers for the run.
    let mut events = Some(events);
    store.append_at_head(&stream, 0, &mut |_, _| events.take().unwrap_or_default())?;
    Ok(())
}
