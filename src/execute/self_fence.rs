//! Whether this process's guard ended an attempt's command for a lease it could not keep,
//! since when and why (self-fencing), so that such an attempt is recorded as what it is —
//! interrupted by the engine, to run again (SPEC §9) — never as the command's failure.
//!
//! It is told of the lease keepers what the guard is told (`guard::keeper_started`,
//! `keeper_renewed`, `keeper_stopped`) at the moment the process tells it, and why a round
//! failed (`failed`, for this process only), and keeps one record per keeper under the
//! guard's rule: a keeper's last good round's start + its ttl − `guard::margin`. The guard
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
    /// Why its renewals fail, as the store first said it in its current silence.
    why: Option<String>,
}

impl Keeper {
    /// When its guard takes its leases for lapsing unless a good round comes first.
    fn fence_at(&self) -> Instant {
        self.renewed + self.ttl - super::guard::margin(self.ttl)
    }

    /// Its silence so far, at `now`.
    fn silence(&self, now: Instant) -> Silence {
        Silence {
            silent: now.saturating_duration_since(self.renewed),
            why: self.why.clone(),
        }
    }
}

/// A silence of a keeper past its deadline: how long it went without a good round (from its
/// last one's start), and why its renewals failed (none if the store never said: frozen).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Silence {
    silent: Duration,
    why: Option<String>,
}

/// The keepers, and the silences past a keeper's deadline that have ended (the latest few,
/// each with when it ended). Pure: told what happened and when, asked at a given moment
/// (unit-tested).
#[derive(Default)]
struct Keepers {
    keepers: BTreeMap<u64, Keeper>,
    overran: Vec<(Instant, Silence)>,
}

impl Keepers {
    fn started(&mut self, id: u64, ttl: Duration, now: Instant) {
        let keeper = Keeper {
            ttl,
            renewed: now,
            why: None,
        };
        self.keepers.insert(id, keeper);
    }

    fn renewed(&mut self, id: u64, ago: Duration, now: Instant) {
        let Some(keeper) = self.keepers.get_mut(&id) else {
            return;
        };
        let round = now.checked_sub(ago).unwrap_or(keeper.renewed);
        let ended = (now >= keeper.fence_at()).then(|| keeper.silence(now));
        // Rounds are told in order; a round never started before the one before it.
        keeper.renewed = keeper.renewed.max(round);
        keeper.why = None;
        self.ended(ended, now);
    }

    fn failed(&mut self, id: u64, why: &str) {
        if let Some(keeper) = self.keepers.get_mut(&id) {
            keeper.why.get_or_insert_with(|| why.to_string());
        }
    }

    fn stopped(&mut self, id: u64, now: Instant) {
        let ended = self
            .keepers
            .remove(&id)
            .filter(|k| now >= k.fence_at())
            .map(|k| k.silence(now));
        self.ended(ended, now);
    }

    fn ended(&mut self, silence: Option<Silence>, now: Instant) {
        if let Some(silence) = silence {
            self.overran.push((now, silence));
            if self.overran.len() > 16 {
                self.overran.remove(0);
            }
        }
    }

    /// The longest silence past a keeper's deadline going on at `now`, or ended since
    /// `since`.
    fn fenced_since(&self, since: Instant, now: Instant) -> Option<Silence> {
        let ongoing = self
            .keepers
            .values()
            .filter(|k| now >= k.fence_at())
            .map(|k| k.silence(now));
        let ended = self
            .overran
            .iter()
            .filter(|(ended, _)| *ended >= since)
            .map(|(_, silence)| silence.clone());
        ongoing.chain(ended).max_by_key(|s| s.silent)
    }
}

static KEEPERS: Mutex<Option<Keepers>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Keepers) -> R) -> R {
    let mut k = KEEPERS.lock().unwrap_or_else(|e| e.into_inner());
    f(k.get_or_insert_with(Keepers::default))
}

/// Keeper `id` starts, renewing for `ttl_ms`: the leases it is given were just claimed.
pub fn started(id: u64, ttl_ms: u64) {
    with(|k| k.started(id, Duration::from_millis(ttl_ms), Instant::now()));
}

/// Keeper `id` renewed all it held in a round that started `ago` ago.
pub fn renewed(id: u64, ago: Duration) {
    with(|k| k.renewed(id, ago, Instant::now()));
}

/// Keeper `id` could not renew what it holds this round, for `why`: the first words of a
/// silence say why its groups were ended.
pub fn failed(id: u64, why: &str) {
    with(|k| k.failed(id, why));
}

/// Keeper `id` stopped (it holds nothing any more).
pub fn stopped(id: u64) {
    with(|k| k.stopped(id, Instant::now()));
}

/// Whether this process's guard may have ended the groups it noted since `since` (an
/// attempt's start) for want of a lease renewal — a keeper is past its deadline now, or was
/// in a silence past it that ended since then — and if so, why in words for the log (after
/// who ended it; the caller says what runs again). None for a process without a guard
/// (nothing of it ends groups so).
pub fn fenced_since(since: Instant) -> Option<String> {
    if !super::guard::guarded() {
        return None;
    }
    let Silence { silent, why } = with(|k| k.fenced_since(since, Instant::now()))?;
    let why = why.map_or_else(
        || "(the event log did not answer in time, or this process was held up)".to_string(),
        |why| format!("because {why}"),
    );
    Some(format!(
        "its lease went unrenewed for {:.1} s {why}, so its guard ended the command before the lease could lapse",
        silent.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn silent(k: &Keepers, since: Instant, now: Instant) -> Option<Duration> {
        k.fenced_since(since, now).map(|s| s.silent)
    }

    /// A 10 s lease: the guard fences at 8 s of silence (its margin is a fifth). An attempt
    /// that ran through a silence past that — still going, or ended since it started — was
    /// fenced, with the first reason the store gave; one that started after such a silence
    /// ended, or ran through a shorter one, was not.
    #[test]
    fn an_attempt_is_fenced_only_by_a_silence_past_the_guards_deadline_while_it_ran() {
        let t0 = Instant::now();
        let mut k = Keepers::default();
        k.started(1, 10 * S, t0);
        k.renewed(1, Duration::ZERO, t0 + 3 * S);
        k.failed(1, "locked");
        k.failed(1, "later words do not replace the first");
        assert_eq!(silent(&k, t0, t0 + 10 * S), None, "7 s of silence");
        let ongoing = k.fenced_since(t0, t0 + 12 * S).unwrap();
        assert_eq!(ongoing.silent, 9 * S, "9 s of silence, still going");
        assert_eq!(ongoing.why.as_deref(), Some("locked"));
        // The log answers again: a round that started at 14 s.
        k.renewed(1, S, t0 + 15 * S);
        let ended = k.fenced_since(t0 + S, t0 + 16 * S).unwrap();
        assert_eq!(ended.silent, 12 * S);
        assert_eq!(ended.why.as_deref(), Some("locked"));
        assert_eq!(
            silent(&k, t0 + 16 * S, t0 + 17 * S),
            None,
            "an attempt started after the silence ended"
        );
        k.stopped(1, t0 + 17 * S);
        // A keeper stopped in a silence past its deadline ends that silence.
        k.started(2, 10 * S, t0 + 20 * S);
        k.stopped(2, t0 + 29 * S);
        assert_eq!(silent(&k, t0 + 21 * S, t0 + 30 * S), Some(9 * S));
        // One stopped in time does not.
        k.started(3, 10 * S, t0 + 40 * S);
        k.stopped(3, t0 + 41 * S);
        assert_eq!(silent(&k, t0 + 40 * S, t0 + 42 * S), None);
        // Any keeper past its deadline fences (the guard's most silent one decides).
        k.started(4, 10 * S, t0 + 50 * S);
        k.started(5, 2 * S, t0 + 50 * S);
        assert_eq!(silent(&k, t0 + 50 * S, t0 + 51 * S), None);
        assert!(silent(&k, t0 + 50 * S, t0 + 52 * S).is_some());
    }
}
