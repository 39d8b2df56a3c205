//! Planning: what the run should do next, and what a resume would do, as pure functions of
//! the run's state.

mod ahead;
mod child;
mod dag;
mod due_needs;
mod next;
mod notify;
mod preview;
mod ready;
mod schedule;
mod secrets_ahead;
mod setting;

pub use ahead::{left_waiting, work_ahead};
pub use child::{
    ChildEnd, ChildNext, ChildPlan, child_end, child_next, child_outputs, child_plan,
    child_plan_with, child_start, waits_for_worker,
};
pub use dag::{
    PhasePlan, dependencies, dependencies_among, find_cycle, find_cycles, parallel_items,
    parallel_opportunities, topological_order,
};
pub use due_needs::{DueNeeds, due_needs};
pub use next::{Next, idle_wait, next};
pub use notify::{
    DueAt, End, NotificationRef, Notified, Trigger, due as notifications_due, due_refs, end_of,
    ends_of, notification, notify_end,
};
pub use preview::{
    Action, PlannedChild, PlannedStep, Start, preview_resume, preview_run, with_phase_starts,
    with_settings,
};
pub use ready::{
    SlotHold, awaiting_manual_start, condition_met, driver_let_go, held_for_slots, ready_phases,
    ready_phases_for, to_prepare,
};
pub use schedule::{Cadence, MINUTE_MS, minute_of};
pub use secrets_ahead::{resume_secret_inputs, secret_inputs_ahead};
pub use setting::{Setting, shown_inputs, step_setting};
