//! The latest recovery of a run paused on a failure, as the log tells it: the resume, the
//! failure it was made from, and the values the units it ran again had given before — so that
//! a status can tell a recovery that ended where it started (the same values made again, the
//! same failure after them) from one that may still end differently.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::{RunPhase, RunState, StepStatus};
use crate::event::ResumeMode;

/// A resume of a run paused on a failure (`run_resumed`), with what it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub mode: ResumeMode,
    /// The failed unit the resume was made from (the first, in the run's order), and its error.
    pub failed: (String, String),
    /// The outputs each unit it ran again had recorded before (`reset_units` keeps them as it
    /// clears them), by unit.
    #[serde(default)]
    pub before: BTreeMap<String, BTreeMap<String, String>>,
}

/// A recovery followed that ended in the failure it was made from, the units it ran again
/// having given the values they gave before (`RunState::recovery_repeated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// The resume that was followed.
    pub mode: ResumeMode,
    /// The failed unit, the same as before.
    pub failed: String,
    /// Each unit that ran again and completed with the same values, with the keys of those
    /// values, in the run's order.
    pub same: Vec<(String, Vec<String>)>,
}

impl RunState {
    /// The failed unit of a paused run (the first in the run's order) and its error.
    pub(super) fn paused_failure(&self) -> Option<(String, String)> {
        if !matches!(self.phase, RunPhase::Paused { .. }) {
            return None;
        }
        let failed = self.steps.iter().find(|s| s.status == StepStatus::Failed)?;
        Some((
            failed.name.clone(),
            failed.error.clone().unwrap_or_default(),
        ))
    }

    /// Keep the outputs of unit `index`, which the latest recovery runs again, as they were
    /// (once per recovery: a unit reset twice keeps its first values).
    pub(super) fn keep_for_recovery(&mut self, index: usize) {
        let unit = &self.steps[index];
        if !matches!(unit.status, StepStatus::Completed | StepStatus::RolledBack) {
            return;
        }
        if let Some(recovery) = self.last_recovery.as_mut() {
            recovery
                .before
                .entry(unit.name.clone())
                .or_insert_with(|| unit.outputs.clone());
        }
    }

    /// The latest recovery when it is known to have changed nothing: the run is paused on the
    /// very failure (unit and error) the recovery was made from, and every unit it ran again
    /// that completed again gave the values it gave before — run by cortex, not reported (a
    /// person or an agent reports anew each time), none of them a secret the log keeps only
    /// as `***` (two secrets may differ). Followed again as it is, it ends here again: what the
    /// units read is to change first. None where no unit ran again and completed.
    pub fn recovery_repeated(&self) -> Option<Repeated> {
        let recovery = self.last_recovery.as_ref()?;
        if self.paused_failure()? != recovery.failed {
            return None;
        }
        let mut same = Vec::new();
        for unit in &self.steps {
            let Some(before) = recovery.before.get(&unit.name) else {
                continue;
            };
            if unit.status != StepStatus::Completed {
                continue;
            }
            let secret = unit.outputs.values().any(|v| v == crate::event::REDACTED);
            if unit.reported_by.is_some() || secret || &unit.outputs != before {
                return None;
            }
            same.push((unit.name.clone(), unit.outputs.keys().cloned().collect()));
        }
        if same.is_empty() {
            return None;
        }
        Some(Repeated {
            mode: recovery.mode.clone(),
            failed: recovery.failed.0.clone(),
            same,
        })
    }
}
