//! Notifications after an operation: when a run it drove or changed has just failed (paused on
//! a failure, or ended failed, aborted or rolled back) or just finished, deliver its `notify:`
//! and record the deliveries. Done here, once, for every front end.

use super::{CommandError, Ctx};
use crate::decide::RunState;
use crate::execute::{
    Delivery, Redactor, Subject, SystemClock, Trigger, UlidIds, deliver, record_deliveries,
};
use crate::project::{RunStatus, run_status};

/// What became of the run since `before` (its status when the operation began; none for a run
/// that had not started), delivered. Failed deliveries are returned as warnings.
pub fn after_change(
    ctx: &Ctx,
    before: Option<RunStatus>,
    state: &RunState,
    redactor: &Redactor,
) -> Vec<String> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        return Vec::new();
    };
    if notify.is_empty() {
        return Vec::new();
    }
    let now = run_status(state, false);
    let finished = state.outcome().is_some();
    let failed = matches!(
        now,
        RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack
    );
    let changed = before != Some(now);
    let mut triggers = Vec::new();
    if changed && failed && !notify.on_failure.is_empty() {
        triggers.push(Trigger::OnFailure);
    }
    if changed && finished && !notify.on_finish.is_empty() {
        triggers.push(Trigger::OnFinish);
    }
    if triggers.is_empty() {
        return Vec::new();
    }
    let view = ctx.view(state, false);
    let document = view.to_json();
    let cwd = state
        .start
        .as_ref()
        .map_or_else(|| ctx.cwd.clone(), |s| s.working_dir.clone().into());
    let subject = Subject {
        run_id: &state.run_id,
        name: &view.name,
        status: now.as_str(),
        document: &document,
        cwd: &cwd,
    };
    let deliveries: Vec<Delivery> = triggers
        .into_iter()
        .flat_map(|t| deliver(notify, t, &subject, redactor))
        .collect();
    let mut warnings: Vec<String> = deliveries
        .iter()
        .filter(|d| !d.ok)
        .map(|d| {
            format!(
                "{} notification `{}` failed after {} tries: {}",
                d.trigger.as_str(),
                d.notification,
                d.attempts,
                d.detail
            )
        })
        .collect();
    let recorded = ctx
        .store(crate::definition::Durability::Normal)
        .map_err(|e: CommandError| e.message)
        .and_then(|mut store| {
            record_deliveries(
                &mut store,
                &SystemClock,
                &mut UlidIds::default(),
                &state.run_id,
                &deliveries,
            )
            .map_err(|e| e.to_string())
        });
    if let Err(e) = recorded {
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
) -> Result<(), CommandError> {
    let events = store.read_run(&crate::execute::notify_stream(run_id))?;
    let mut docs = Vec::new();
    for rec in events {
        if let crate::event::Event::NotificationDelivered {
            trigger,
            notification,
            attempts,
            ok,
            detail,
        } = rec.event
        {
            output.human.push_str(&format!(
                "{} {trigger}: {notification} ({detail}, {attempts} tr{})\n",
                if ok { "📣" } else { "⚠️" },
                if attempts == 1 { "y" } else { "ies" }
            ));
            docs.push(serde_json::json!({
                "trigger": trigger, "notification": notification, "attempts": attempts,
                "ok": ok, "detail": detail, "time": rec.time,
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
