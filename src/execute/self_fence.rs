//! What this process knows of its own self-fencing: whether its lease keepers went silent
//! long enough, while an attempt ran, that its guard ended the attempt's command (`guard`) —
//! so that such an attempt is recorded as what it is, interrupted by the engine for a lease
//! it could not keep, to run again (SPEC §9), never as a failure of the step's command.
//!
//! It is told what the guard is told of the keepers (`guard::keeper_started`,
//! `keeper_renewed`, `keeper_stopped`) at the moment the process tells it, and keeps the same
//! deadline: a keeper's last good round's start + its ttl − `guard::margin`. The guard
//! stamps each line as it arrives, after the process sent it, so its deadline is never
//! earlier than the one kept here: an attempt the guard ended finds itself past it here too.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A keeper as this process knows it.
struct Keeper {
    ttl: Duration,
    /// When its last good round started.
    renewed: Instant,
}

impl Keeper {
    /// When its guard takes its leases for lapsing unless a good round comes first.
    fn fence_at(&self) -> Instant {
        self.renewed + self.ttl - super::guard::margin(self.ttl)
    }
}

/// The keepers, and the last silence that went past a keeper's deadline and has ended. Pure:
/// told what happened and when, asked at a given moment (unit-tested).
#[derive(Default)]
struct Silences {
    keepers: BTreeMap<u64, Keeper>,
    /// When that silence ended (the keeper's next good round, or its stop) and how long it
    /// lasted.
    last: Option<(Instant, Duration)>,
}

impl Silences {
    fn started(&mut self, id: u64, ttl: Duration, now: Instant) {
        self.keepers.insert(id, Keeper { ttl, renewed: now });
    }

    fn renewed(&mut self, id: u64, ago: Duration, now: Instant) {
        let Some(keeper) = self.keepers.get_mut(&id) else {
            return;
        };
        let round = now.checked_sub(ago).unwrap_or(keeper.renewed);
        if round >= keeper.fence_at() {
            self.last = Some((now, round.saturating_duration_since(keeper.renewed)));
        }
        // Rounds are told in order; a round never started before the one before it.
        keeper.renewed = keeper.renewed.max(round);
    }

    fn stopped(&mut self, id: u64, now: Instant) {
        if let Some(keeper) = self.keepers.remove(&id)
            && now >= keeper.fence_at()
        {
            self.last = Some((now, now.saturating_duration_since(keeper.renewed)));
        }
    }

    fn fenced_since(&self, since: Instant, now: Instant) -> Option<Duration> {
        let ongoing = self
            .keepers
            .values()
            .filter(|k| now >= k.fence_at())
            .map(|k| now.saturating_duration_since(k.renewed))
            .max();
        ongoing.or_else(|| {
            self.last
                .filter(|(ended, _)| *ended >= since)
                .map(|(_, silent)| silent)
        })
    }
}

static SILENCES: Mutex<Option<Silences>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Silences) -> R) -> R {
    let mut s = SILENCES.lock().unwrap_or_else(|e| e.into_inner());
    f(s.get_or_insert_with(Silences::default))
}

/// Keeper `id` starts, renewing for `ttl_ms`: the leases it is given were just claimed.
pub fn started(id: u64, ttl_ms: u64) {
    with(|s| s.started(id, Duration::from_millis(ttl_ms), Instant::now()));
}

/// Keeper `id` renewed all it held in a round that started `ago` ago.
pub fn renewed(id: u64, ago: Duration) {
    with(|s| s.renewed(id, ago, Instant::now()));
}

/// Keeper `id` stopped (it holds nothing any more).
pub fn stopped(id: u64) {
    with(|s| s.stopped(id, Instant::now()));
}

/// Whether this process's guard may have ended the groups it noted since `since` (an
/// attempt's start) for want of a lease renewal: a keeper is past its deadline now, or was in
/// a silence past it that ended since then. How long that keeper went unrenewed, if so. None
/// for a process without a guard (nothing of it ends groups so).
pub fn fenced_since(since: Instant) -> Option<Duration> {
    if !super::guard::guarded() {
        return None;
    }
    with(|s| s.fenced_since(since, Instant::now()))
}

/// Why an attempt whose command the guard ended for a lease it could not keep ended, as the
/// log records it (after who ended it): it runs again.
pub fn words(silent: Duration, why: Option<&str>) -> String {
    let why = why.map_or_else(
        || "(the event log did not answer in time, or this process was held up)".to_string(),
        |why| format!("because {why}"),
    );
    format!(
        "its lease went unrenewed for {:.1} s {why}, so its guard ended the command before the lease could lapse: the attempt runs again",
        silent.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// A 10 s lease: the guard fences at 8 s of silence (its margin is a fifth). An attempt
    /// that ran through a silence past that — still going, or ended since it started — was
    /// fenced; one that started after such a silence ended, or ran through a shorter one, was
    /// not.
    #[test]
    fn an_attempt_is_fenced_only_by_a_silence_past_the_guards_deadline_while_it_ran() {
        let t0 = Instant::now();
        let mut s = Silences::default();
        s.started(1, 10 * S, t0);
        s.renewed(1, Duration::ZERO, t0 + 3 * S);
        assert_eq!(s.fenced_since(t0, t0 + 10 * S), None, "7 s of silence");
        assert_eq!(
            s.fenced_since(t0, t0 + 12 * S),
            Some(9 * S),
            "9 s of silence, still going"
        );
        // The log answers again: a round that started at 14 s.
        s.renewed(1, S, t0 + 15 * S);
        assert_eq!(s.fenced_since(t0 + S, t0 + 16 * S), Some(11 * S));
        assert_eq!(
            s.fenced_since(t0 + 16 * S, t0 + 17 * S),
            None,
            "an attempt started after the silence ended"
        );
        s.stopped(1, t0 + 17 * S);
        // A keeper stopped in a silence past its deadline ends that silence.
        s.started(2, 10 * S, t0 + 20 * S);
        s.stopped(2, t0 + 29 * S);
        assert_eq!(s.fenced_since(t0 + 21 * S, t0 + 30 * S), Some(9 * S));
        // One stopped in time does not.
        s.started(3, 10 * S, t0 + 40 * S);
        s.stopped(3, t0 + 41 * S);
        assert_eq!(s.fenced_since(t0 + 40 * S, t0 + 42 * S), None);
        // Any keeper past its deadline fences (the guard's most silent one decides).
        s.started(4, 10 * S, t0 + 50 * S);
        s.started(5, 2 * S, t0 + 50 * S);
        assert_eq!(s.fenced_since(t0 + 50 * S, t0 + 51 * S), None);
        assert!(s.fenced_since(t0 + 50 * S, t0 + 52 * S).is_some());
    }
}
