//! Leases: who holds a unit of a run (its driver, or one step or phase) until when, by the
//! database's clock — liveness data beside the log, never a source of truth about the run.

use serde::Serialize;

/// The unit of a run's driver (steps and phases are named by their unit name).
pub const DRIVER_UNIT: &str = "";

/// The unit of the lease a process holds on a run while it delivers the run's `notify:`
/// (`ops::notify`): whoever finds it live leaves the notifications to that process; a worker
/// delivers those still due once neither it nor a driver lease is held. No step or phase is
/// named so: a step's name holds no `.`, a phase's no `,` (`definition::name`).
pub const NOTIFY_UNIT: &str = "@notify.,";

/// A claim on a unit of a run for `ttl_ms` from the database's now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim {
    pub run_id: String,
    /// `DRIVER_UNIT` for the run's driver, else a step or phase (its unit name).
    pub unit: String,
    /// The attempt the claim is for (0 for a driver).
    pub attempt: u32,
    /// Who claims: `worker:NAME` or `driver:ACTOR` with its pid.
    pub holder: String,
    pub host: String,
    pub ttl_ms: u64,
}

/// A lease as stored: held by `holder` at `epoch` (one more at every change of hands), for
/// `remaining_ms` more by the database's clock when it was read (zero or less: lapsed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub run_id: String,
    pub unit: String,
    pub attempt: u32,
    pub holder: String,
    pub host: String,
    pub epoch: u64,
    pub remaining_ms: i64,
}

impl Lease {
    /// Lapsed when read: any process may take it over.
    pub fn lapsed(&self) -> bool {
        self.remaining_ms <= 0
    }

    /// Whether `other` is this very holding: the same unit, attempt, holder and epoch (a lease
    /// taken over, even by the same holder, has another epoch; one claimed again for a later
    /// attempt has another attempt). The attempt is part of it because an epoch restarts at 1
    /// when a let-go lease is granted anew: without it, an old attempt's late release or
    /// renewal by the same holder would act on the lease of the attempt that ran after it.
    pub fn same_holding(&self, other: &Lease) -> bool {
        self.run_id == other.run_id
            && self.unit == other.unit
            && self.attempt == other.attempt
            && self.holder == other.holder
            && self.epoch == other.epoch
    }

    /// The lease as granted to `claim` at `epoch`.
    pub fn granted(claim: &LeaseClaim, epoch: u64, remaining_ms: i64) -> Lease {
        Lease {
            run_id: claim.run_id.clone(),
            unit: claim.unit.clone(),
            attempt: claim.attempt,
            holder: claim.holder.clone(),
            host: claim.host.clone(),
            epoch,
            remaining_ms,
        }
    }
}
