//! Delivering `notify:` when a run fails or finishes: commands given the status document on
//! stdin, webhooks POSTed the status document as JSON, each retried with backoff and bounded
//! in time; every delivery (or giving up) recorded in the run's notification stream
//! `notify:RUN`, so that the run's own seal stays its head.

use std::path::Path;
use std::time::Duration;

use super::process::{Program, run_process};
use super::{Clock, IdGen, ProcessSpec, Redactor, StopFlag, rfc3339};
use crate::definition::{Notification, Notify};
use crate::event::{Event, NewEvent};
use crate::store::{EventStore, StoreError};

/// The stream a run's deliveries are recorded in.
pub fn notify_stream(run_id: &str) -> String {
    format!("notify:{run_id}")
}

/// When notifications are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    OnFailure,
    OnFinish,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::OnFailure => "on_failure",
            Trigger::OnFinish => "on_finish",
        }
    }
}

/// How each notification is tried, unless it says otherwise: this many retries, this long a
/// try, and a pause between tries that starts here and doubles.
const RETRIES: u32 = 2;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// What a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub trigger: Trigger,
    pub notification: String,
    pub attempts: u32,
    pub ok: bool,
    pub detail: String,
}

/// What a notification is given: the run's status document and who it is.
pub struct Subject<'a> {
    pub run_id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub document: &'a serde_json::Value,
    /// Where commands run (the run's directory).
    pub cwd: &'a Path,
}

/// Deliver every notification of `trigger`, each tried until it works or its retries run out.
pub fn deliver(
    notify: &Notify,
    trigger: Trigger,
    subject: &Subject<'_>,
    redactor: &Redactor,
) -> Vec<Delivery> {
    let list = match trigger {
        Trigger::OnFailure => &notify.on_failure,
        Trigger::OnFinish => &notify.on_finish,
    };
    list.iter()
        .map(|n| {
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
                match try_once(n, subject, redactor, timeout) {
                    Ok(detail) => {
                        ok = true;
                        last = detail;
                        break;
                    }
                    Err(detail) => last = detail,
                }
                if attempts < tries {
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                }
            }
            Delivery {
                trigger,
                notification: redactor.redact(&n.label()).into_owned(),
                attempts,
                ok,
                detail: redactor.redact(&last).into_owned(),
            }
        })
        .collect()
}

fn try_once(
    n: &Notification,
    subject: &Subject<'_>,
    redactor: &Redactor,
    timeout: Option<Duration>,
) -> Result<String, String> {
    let body = serde_json::to_string(subject.document).expect("documents serialise");
    match (&n.run, &n.webhook) {
        (Some(cmd), _) => {
            let spec = ProcessSpec {
                program: Program::Shell(cmd.clone()),
                env: vec![
                    ("CORTEX_RUN_ID".into(), subject.run_id.into()),
                    ("CORTEX_RUN_NAME".into(), subject.name.into()),
                    ("CORTEX_RUN_STATUS".into(), subject.status.into()),
                ],
                cwd: subject.cwd.to_path_buf(),
                stdin: Some(body),
                timeout: Some(timeout.unwrap_or(COMMAND_TIMEOUT)),
                grace: Duration::from_secs(2),
                redactor: redactor.clone(),
                keep_background: false,
                capture_stdout: false,
                log: None,
            };
            let result = run_process(&spec, &StopFlag::default(), &mut |_, _| {});
            let said = result.tail.lines().last().unwrap_or_default().to_string();
            if result.end.succeeded() {
                Ok(result.end.describe())
            } else if said.is_empty() {
                Err(result.end.describe())
            } else {
                Err(format!("{}: {said}", result.end.describe()))
            }
        }
        (None, Some(url)) => {
            let agent = ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .timeout_global(Some(timeout.unwrap_or(WEBHOOK_TIMEOUT)))
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .build(),
            );
            match agent
                .post(url)
                .header("content-type", "application/json")
                .header("user-agent", concat!("cortex/", env!("CARGO_PKG_VERSION")))
                .send(body.as_bytes())
            {
                Ok(response) if response.status().is_success() => {
                    Ok(format!("HTTP {}", response.status().as_u16()))
                }
                Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
                Err(e) => Err(e.to_string()),
            }
        }
        (None, None) => Err("a notification with neither `run:` nor `webhook:`".into()),
    }
}

/// Record deliveries in the run's notification stream.
pub fn record_deliveries(
    store: &mut dyn EventStore,
    clock: &dyn Clock,
    ids: &mut dyn IdGen,
    run_id: &str,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let stream = notify_stream(run_id);
    let events: Vec<NewEvent> = deliveries
        .iter()
        .map(|d| NewEvent {
            id: ids.next_id(),
            time: rfc3339(clock.now()),
            event: Event::NotificationDelivered {
                trigger: d.trigger.as_str().into(),
                notification: d.notification.clone(),
                attempts: d.attempts,
                ok: d.ok,
                detail: d.detail.clone(),
            },
        })
        .collect();
    // Appended at the head of the stream, whoever else delivers for the run.
    let mut events = Some(events);
    store.append_at_head(&stream, 0, &mut |_, _| events.take().unwrap_or_default())?;
    Ok(())
}
