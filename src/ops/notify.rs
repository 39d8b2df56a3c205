//! Notifications after an operation: when a run it drove or changed has come to an end of its
//! session (paused on a failure, or sealed), deliver what of its `notify:` is due
//! (`plan::notifications_due`: once per end, by what its stream `notify:RUN` already records)
//! and record the deliveries. Done here, once, for every front end.

use std::collections::BTreeMap;

use super::Ctx;
use crate::decide::RunState;
use crate::event::Event;
use crate::execute::{
    Delivery, Ended, Redactor, Subject, SystemClock, UlidIds, deliver, input_text, notify_stream,
    record_deliveries,
};
use crate::plan::{Notified, Trigger};
use crate::project::run_status;
use crate::store::EventStore;

/// The deliveries recorded for run `run_id`, as `plan::notifications_due` reads them.
fn notified(store: &dyn EventStore, run_id: &str) -> Result<Vec<Notified>, String> {
    let events = store
        .read_run(&notify_stream(run_id))
        .map_err(|e| e.to_string())?;
    Ok(events
        .into_iter()
        .filter_map(|rec| match rec.event {
            Event::NotificationDelivered {
                trigger,
                status,
                session,
                ..
            } => Some(Notified {
                trigger: Trigger::parse(&trigger)?,
                status,
                session,
            }),
            _ => None,
        })
        .collect())
}

/// Deliver what of the run's `notify:` is due now that the operation left it in `state`, and
/// record it. Failed deliveries (and a failure to record them) are returned as warnings;
/// the front end hears "delivering N notification(s)…" (`Ctx::announce`) before they start.
pub fn after_change(ctx: &Ctx, state: &RunState, redactor: &Redactor) -> Vec<String> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        return Vec::new();
    };
    let Some(end) = crate::plan::end_of(state) else {
        return Vec::new();
    };
    if notify.is_empty() {
        return Vec::new();
    }
    let mut store = match ctx.store(crate::definition::Durability::Normal) {
        Ok(store) => store,
        Err(e) => {
            return vec![format!(
                "the notifications were not delivered: {}",
                e.message
            )];
        }
    };
    let already = match notified(&*store, &state.run_id) {
        Ok(n) => n,
        Err(e) => return vec![format!("the notifications were not delivered: {e}")],
    };
    let triggers = crate::plan::notifications_due(
        state,
        !notify.on_failure.is_empty(),
        !notify.on_finish.is_empty(),
        &already,
    );
    if triggers.is_empty() {
        return Vec::new();
    }
    let count: usize = triggers
        .iter()
        .map(|t| match t {
            Trigger::OnFailure => notify.on_failure.len(),
            Trigger::OnFinish => notify.on_finish.len(),
        })
        .sum();
    if let Some(announce) = ctx.announce {
        announce(&format!("delivering {count} notification(s)…"));
    }
    let view = ctx.view(state, false);
    let document = view.to_json();
    let cwd = state
        .start
        .as_ref()
        .map_or_else(|| ctx.cwd.clone(), |s| s.working_dir.clone().into());
    // The inputs as the run has them; a secret one as this process was given it.
    let inputs: BTreeMap<String, String> = state
        .start
        .iter()
        .flat_map(|s| {
            s.inputs.iter().filter_map(|(name, value)| {
                if s.secret_inputs.contains(name) {
                    redactor.input(name).map(|v| (name.clone(), v.to_string()))
                } else {
                    Some((name.clone(), input_text(value)))
                }
            })
        })
        .collect();
    let status = run_status(state, false);
    let subject = Subject {
        run_id: &state.run_id,
        name: &view.name,
        status: status.as_str(),
        document: &document,
        cwd: &cwd,
        inputs: &inputs,
    };
    let deliveries: Vec<Delivery> = deliver(notify, &triggers, &subject, redactor, &SystemClock);
    let mut warnings: Vec<String> = deliveries
        .iter()
        .filter(|d| !d.ok)
        .map(|d| {
            format!(
                "{} notification `{}` failed after {} tr{}: {}",
                d.trigger.as_str(),
                d.notification,
                d.attempts,
                if d.attempts == 1 { "y" } else { "ies" },
                d.detail
            )
        })
        .collect();
    let ended = Ended {
        status: end,
        session: state.session_seq,
    };
    if let Err(e) = record_deliveries(
        &mut *store,
        &mut UlidIds::default(),
        &state.run_id,
        ended,
        &deliveries,
    ) {
        warnings.push(format!("the notifications were sent but not recorded: {e}"));
    }
    warnings
}

/// Add a run's recorded deliveries to its status: `notifications` in the document, a line each
/// for people.
pub fn add_deliveries(
    store: &dyn crate::store::EventStore,
    run_id: &str,
    output: &mut super::Output,
) -> Result<(), super::CommandError> {
    let events = store.read_run(&crate::execute::notify_stream(run_id))?;
    let mut docs = Vec::new();
    for rec in events {
        if let crate::event::Event::NotificationDelivered {
            trigger,
            notification,
            attempts,
            ok,
            detail,
            status,
            ..
        } = rec.event
        {
            let when = status
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            output.human.push_str(&format!(
                "{} {trigger}{when}: {notification} ({detail}, {attempts} tr{})\n",
                if ok { "📣" } else { "⚠️" },
                if attempts == 1 { "y" } else { "ies" }
            ));
            docs.push(serde_json::json!({
                "trigger": trigger, "notification": notification, "attempts": attempts,
                "ok": ok, "detail": detail, "time": rec.time, "status": status,
            }));
        }
    }
    if !docs.is_empty()
        && let Some(map) = output.json.as_object_mut()
    {
        map.insert("notifications".into(), serde_json::Value::Array(docs));
    }
    Ok(())
}
