//! The agent registry: agents activated by hand (`cortex agent activate`), a small decider of
//! its own over a standing event stream, `agents` (`event::REGISTRY_CHAIN`), in the same
//! hash-chained log.

use std::collections::BTreeSet;

use super::DecideError;
use crate::event::{Event, Operator, Recorded};

/// What the phase field of registry events says: activated by hand, not by a phase.
pub const BY_HAND: &str = "(by hand)";

/// Agents active by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentRegistry {
    pub active: BTreeSet<String>,
    pub events: u64,
}

/// A request to the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentCommand {
    Activate { agent: String, by: Operator },
    Deactivate { agent: String, by: Operator },
}

/// Fold one registry event.
pub fn evolve_registry(mut reg: AgentRegistry, rec: &Recorded) -> AgentRegistry {
    reg.events = rec.seq + 1;
    match &rec.event {
        Event::AgentActivated { agent, .. } => {
            reg.active.insert(agent.clone());
        }
        Event::AgentDeactivated { agent, .. } => {
            reg.active.remove(agent);
        }
        _ => {}
    }
    reg
}

/// Decide a registry command.
pub fn decide_registry(
    reg: &AgentRegistry,
    command: AgentCommand,
) -> Result<Vec<Event>, DecideError> {
    match command {
        AgentCommand::Activate { agent, by } => {
            if reg.active.contains(&agent) {
                return Err(DecideError::AgentState(format!(
                    "agent `{agent}` is already active"
                )));
            }
            Ok(vec![Event::AgentActivated {
                agent,
                phase: BY_HAND.into(),
                by: Some(by),
            }])
        }
        AgentCommand::Deactivate { agent, by } => {
            if !reg.active.contains(&agent) {
                return Err(DecideError::AgentState(format!(
                    "agent `{agent}` was not activated by hand; agents of a phase are deactivated when the phase ends or stops"
                )));
            }
            Ok(vec![Event::AgentDeactivated {
                agent,
                phase: BY_HAND.into(),
                by: Some(by),
            }])
        }
    }
}
