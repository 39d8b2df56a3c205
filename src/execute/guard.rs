//! A guard: a small process of its own that ends the process groups a worker or a driver has
//! in flight when it dies, however it dies (SIGKILL included), or when it has gone too long
//! without renewing its leases (frozen, or cut off from the log), so that a step does not go
//! on running on this host while its attempt runs again elsewhere.
//!
//! The process starts it once (`start_guard`: its own binary again, in a process group of its
//! own, ignoring the signals a terminal or a service manager sends a group) and tells it, down
//! a pipe that only the process holds open, each group it starts (`+ PGID BOOT START RUN`) and
//! each it is done with (`- PGID`). Its lease keepers tell it when they start (`T KEEPER
//! TTL_MS`: the leases it is given were just claimed), after each round in which every renewal
//! they tried succeeded or they held none (`H KEEPER AGO_MS`, how long ago that round
//! started), and when they stop (`X KEEPER`). Self-fencing: while groups are noted and a
//! keeper has not been heard from by its last round's start + its ttl − a margin
//! (`margin`), the guard ends those groups (TERM, then KILL after the grace), forgets them and
//! goes on: the process may wake, find its attempt ended by a signal and record it rejected.
//! When the process dies the kernel closes the pipe; the guard reads its end and ends every
//! group still noted, then exits. Either way only a group provably the one noted
//! (`inflight::is_the_runs`) is signalled. A process that exits normally has none left. What
//! it cannot do: end groups on another host, or anything when it is killed or frozen with its
//! process (DESIGN.md §3c).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::inflight::{Noted, is_the_runs};
use super::procinfo::{boot_id, stat};

/// The first argument that makes `cortex` a guard instead of a command line: not a word clap
/// accepts, so no command line reaches it by mistake.
pub const GUARD_ARG: &str = "--internal-worker-guard";

/// The write end of the pipe to this process's guard, once started.
static GUARD: OnceLock<Mutex<ChildStdin>> = OnceLock::new();

/// Start this process's guard, ending its groups with `grace` between TERM and KILL. An error
/// (this binary cannot be run again) says why; the process goes on without one.
pub fn start_guard(grace: Duration) -> Result<(), String> {
    if GUARD.get().is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut child = Command::new(&exe)
        .arg(GUARD_ARG)
        .arg(grace.as_millis().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of the process's group: a Ctrl-C or a signal to that group does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let pipe = child.stdin.take().ok_or("the guard has no input")?;
    let _ = GUARD.set(Mutex::new(pipe));
    Ok(())
}

/// Whether this process has a guard (`start_guard`).
pub fn guarded() -> bool {
    GUARD.get().is_some()
}

/// Write `line` to the guard, if this process has one. Best effort: a guard that died leaves
/// only the cleanup after a crash or a freeze undone.
fn tell(line: &str) {
    let Some(guard) = GUARD.get() else {
        return;
    };
    let mut pipe = guard.lock().unwrap_or_else(|e| e.into_inner());
    let _ = pipe.write_all(line.as_bytes());
}

/// The variable that carries a spawn's token into the command a guarded process starts (and
/// into everything that command starts in turn).
pub const SPAWN_TOKEN_ENV: &str = "CORTEX_SPAWN_TOKEN";

/// Before a spawn: if this process has a guard, tell it a token (`S TOKEN`) and return it, to
/// be put in the command's environment (`SPAWN_TOKEN_ENV`). A process killed between the
/// spawn and its `guard_group` leaves a group the guard was never told of; the guard then
/// finds it by the token in `/proc` (`end_spawned`). None without a guard: nothing is paid.
pub fn spawn_token() -> Option<String> {
    GUARD.get()?;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    static SELF: OnceLock<String> = OnceLock::new();
    // This process's id and start time: unique on this host for as long as it lives, so a
    // token never names another process's spawn.
    let me = SELF.get_or_init(|| {
        let pid = std::process::id();
        let start = i32::try_from(pid)
            .ok()
            .and_then(stat)
            .map_or(0, |s| s.start);
        format!("{pid}.{start}")
    });
    let token = format!("{me}.{}", NEXT.fetch_add(1, Ordering::Relaxed));
    tell(&format!("S {token}\n"));
    Some(token)
}

/// After a spawn that failed: the guard forgets `token`.
pub fn spawn_failed(token: Option<&str>) {
    if let Some(token) = token {
        tell(&format!("D {token}\n"));
    }
}

/// Tell the guard, if this process has one, that group `pgid` runs for run `run_id`, started
/// with `token` (which it then forgets). Called while its leader has not been waited for, so
/// its `/proc` entry is its own.
pub fn guard_group(pgid: i32, run_id: Option<&str>, token: Option<&str>) {
    if GUARD.get().is_none() {
        return;
    }
    let (Some(boot), Some(leader)) = (boot_id(), stat(pgid)) else {
        // The leader is gone already (it was waited for by no one, so this cannot be: a
        // zombie keeps its entry); keep the token, which still finds any member.
        return;
    };
    // A run id is a word; anything else is not passed on (the group is then held to its
    // leader's identity alone).
    let run = run_id
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("-");
    let mut line = format!("+ {pgid} {boot} {} {run}\n", leader.start);
    if let Some(token) = token {
        line.push_str(&format!("D {token}\n"));
    }
    // One write: the group is noted before the token is forgotten.
    tell(&line);
}

/// Tell the guard, if this process has one, that group `pgid` is no longer its to end (its
/// leader was waited for: the group ended, or was kept running on purpose).
pub fn release_group(pgid: i32) {
    if GUARD.get().is_some() {
        tell(&format!("- {pgid}\n"));
    }
}

/// A lease keeper's name on the guard's pipe (one process may run several).
pub fn next_keeper_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Tell the guard (and `self_fence`) that keeper `id` starts, renewing for `ttl_ms`; the
/// leases it is given were claimed just before (as good as a round starting now).
pub fn keeper_started(id: u64, ttl_ms: u64) {
    super::self_fence::started(id, ttl_ms);
    tell(&format!("T {id} {ttl_ms}\n"));
}

/// Tell the guard (and `self_fence`) that keeper `id` renewed all it held in a round that
/// started `ago` ago.
pub fn keeper_renewed(id: u64, ago: Duration) {
    super::self_fence::renewed(id, ago);
    tell(&format!("H {id} {}\n", ago.as_millis()));
}

/// Tell the guard (and `self_fence`) that keeper `id` stopped (it holds nothing any more).
pub fn keeper_stopped(id: u64) {
    super::self_fence::stopped(id);
    tell(&format!("X {id}\n"));
}

/// How long before a keeper's leases can lapse its guard ends the groups: a fifth of the
/// lease, at least 200 ms (at most half of it).
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 5).max(Duration::from_millis(200)).min(ttl / 2)
}

/// A keeper as its guard knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Keeper {
    ttl: Duration,
    /// When its last good round started.
    renewed: Instant,
}

/// What a guard knows from its input: the groups noted, and the keepers' last good rounds.
/// A pure state: `feed` it lines with the time each arrived, ask it `deadline` and `lapsed`.
#[derive(Debug, Default)]
pub struct Watch {
    groups: BTreeMap<i32, (Noted, Option<String>)>,
    /// When each group was noted.
    noted_at: BTreeMap<i32, Instant>,
    keepers: BTreeMap<u64, Keeper>,
    /// The tokens of spawns told of (`S`) and not yet noted as a group or failed (`D`).
    spawning: std::collections::BTreeSet<String>,
}

impl Watch {
    /// Take in one line that arrived at `at`. The last line about each group or keeper
    /// decides; a torn or foreign line says nothing.
    pub fn feed(&mut self, line: &str, at: Instant) {
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        match parts[..] {
            ["+", pgid, boot, start, run] => {
                if let (Ok(pgid), Ok(start)) = (pgid.parse::<i32>(), start.parse::<u64>()) {
                    let noted = Noted {
                        pgid,
                        identity: Some((boot.to_string(), start)),
                    };
                    let run = (run != "-").then(|| run.to_string());
                    self.groups.insert(pgid, (noted, run));
                    self.noted_at.insert(pgid, at);
                }
            }
            ["-", pgid] => {
                if let Ok(pgid) = pgid.parse::<i32>() {
                    self.groups.remove(&pgid);
                    self.noted_at.remove(&pgid);
                }
            }
            ["T", id, ttl] => {
                if let (Ok(id), Ok(ttl)) = (id.parse::<u64>(), ttl.parse::<u64>()) {
                    let ttl = Duration::from_millis(ttl);
                    self.keepers.insert(id, Keeper { ttl, renewed: at });
                }
            }
            ["H", id, ago] => {
                if let (Ok(id), Ok(ago)) = (id.parse::<u64>(), ago.parse::<u64>())
                    && let Some(keeper) = self.keepers.get_mut(&id)
                {
                    let started = at
                        .checked_sub(Duration::from_millis(ago))
                        .unwrap_or(keeper.renewed);
                    // Lines arrive in order; a round never started before the one before it.
                    keeper.renewed = keeper.renewed.max(started);
                }
            }
            ["X", id] => {
                if let Ok(id) = id.parse::<u64>() {
                    self.keepers.remove(&id);
                }
            }
            ["S", token] if is_token(token) => {
                self.spawning.insert(token.to_string());
            }
            ["D", token] => {
                self.spawning.remove(token);
            }
            _ => {}
        }
    }

    /// The tokens of spawns in progress (told of, neither noted nor failed).
    #[cfg(test)]
    pub fn spawning(&self) -> &std::collections::BTreeSet<String> {
        &self.spawning
    }

    /// The groups noted, each with its run.
    #[cfg(test)]
    pub fn groups(&self) -> &BTreeMap<i32, (Noted, Option<String>)> {
        &self.groups
    }

    /// When the keepers, unheard from, must be taken for lapsing: the earliest of each
    /// keeper's last good round's start + its ttl − the margin, with the shortest ttl. None
    /// while no keeper has spoken (a process without leases is not fenced so).
    fn keepers_deadline(&self) -> Option<(Instant, Duration)> {
        let deadline = self
            .keepers
            .values()
            .map(|k| k.renewed + k.ttl - margin(k.ttl))
            .min()?;
        let ttl = self.keepers.values().map(|k| k.ttl).min()?;
        Some((deadline, ttl))
    }

    /// When group `pgid` must be ended unless a keeper is heard from: the keepers' deadline,
    /// but never before half the shortest ttl from when it was noted. A group is started
    /// right after a claim (fresh) or an append under the driver's fence (the lease held), by
    /// a process that is not frozen; after a freeze the guard may have ended everything and
    /// the woken keeper's first good round may come a moment after the process starts its
    /// next attempt, which was ended at once.
    fn group_deadline(&self, pgid: i32) -> Option<Instant> {
        let (deadline, ttl) = self.keepers_deadline()?;
        let noted = self.noted_at.get(&pgid).copied()?;
        Some(deadline.max(noted + ttl / 2))
    }

    /// The next moment a noted group must be ended unless a keeper is heard from. None while
    /// no group is noted or no keeper has spoken.
    pub fn deadline(&self) -> Option<Instant> {
        self.groups
            .keys()
            .filter_map(|pgid| self.group_deadline(*pgid))
            .min()
    }

    /// At `now`: the groups past their deadline, to end, forgotten from here on.
    pub fn lapsed(&mut self, now: Instant) -> Vec<(Noted, Option<String>)> {
        let due: Vec<i32> = self
            .groups
            .keys()
            .copied()
            .filter(|pgid| self.group_deadline(*pgid).is_some_and(|d| now >= d))
            .collect();
        due.into_iter()
            .filter_map(|pgid| {
                self.noted_at.remove(&pgid);
                self.groups.remove(&pgid)
            })
            .collect()
    }
}

/// The groups a guard's input leaves noted: the last line about each group decides.
#[cfg(test)]
pub fn noted_groups(input: impl BufRead) -> BTreeMap<i32, (Noted, Option<String>)> {
    let mut watch = Watch::default();
    let now = Instant::now();
    for line in input.lines() {
        let Ok(line) = line else { break };
        watch.feed(&line, now);
    }
    watch.groups
}

/// A token as `spawn_token` makes them: digits and dots (it goes into a `/proc` search, and
/// a line is never trusted further than that).
fn is_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The process groups on this host of the commands started with one of `tokens`: for each
/// process carrying a token, its group when the group's leader carries the same token (the
/// command itself, or a child that made a group of its own), else the process alone (as
/// `-PID`: a child not yet in a group of its own is still in its spawner's).
fn spawned_with(tokens: &std::collections::BTreeSet<String>) -> Vec<i32> {
    if tokens.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let entry_of = |t: &String| format!("{SPAWN_TOKEN_ENV}={t}");
    let wanted: Vec<String> = tokens.iter().map(entry_of).collect();
    let carries = |pid: i32| -> Option<usize> {
        let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        env.split(|&b| b == 0)
            .find_map(|v| wanted.iter().position(|w| v == w.as_bytes()))
    };
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
    {
        let Some(which) = carries(pid) else { continue };
        let Some(st) = stat(pid) else { continue };
        let target = if st.pgrp == pid || (st.pgrp > 1 && carries(st.pgrp) == Some(which)) {
            st.pgrp
        } else {
            -pid
        };
        if !found.contains(&target) {
            found.push(target);
        }
    }
    found
}

/// End what the spawns in progress at the process's death started (`spawned_with`), looking
/// again for a while: a child caught between its fork and its `exec` carries its spawner's
/// environment, not its token, until the `exec`.
fn end_spawned(tokens: &std::collections::BTreeSet<String>, grace: Duration) {
    if tokens.is_empty() {
        return;
    }
    let until = Instant::now() + Duration::from_millis(500);
    loop {
        let found = spawned_with(tokens);
        let groups: Vec<i32> = found.iter().copied().filter(|&t| t > 0).collect();
        for pid in found.iter().filter(|&&t| t < 0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(-pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if !groups.is_empty() {
            super::end_orphan_groups(&groups, grace);
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a noted group is provably the one noted (and so safe to signal).
fn is_ours(noted: &Noted, run: &Option<String>) -> bool {
    match run {
        Some(run) => is_the_runs(noted, run),
        // Without a run id, only a living leader that is the very process noted.
        None => stat(noted.pgid).is_some_and(|leader| {
            leader.pgrp == noted.pgid
                && noted
                    .identity
                    .as_ref()
                    .is_some_and(|(_, start)| leader.start == *start)
        }),
    }
}

/// End the groups that are provably the ones noted, all at once (TERM to each, KILL to each
/// still there after the grace).
fn end_groups(groups: &[(Noted, Option<String>)], grace: Duration) {
    let ours: Vec<i32> = groups
        .iter()
        .filter(|(noted, run)| is_ours(noted, run))
        .map(|(noted, _)| noted.pgid)
        .collect();
    std::thread::scope(|s| {
        for pgid in ours {
            // No thread for it (`ulimit -u`): ended here, after those before it.
            if super::thread::spawn_scoped(s, "to end a process group", move || {
                super::end_orphan_group(pgid, grace)
            })
            .is_err()
            {
                super::end_orphan_group(pgid, grace);
            }
        }
    });
}

/// The guard itself (`cortex --internal-worker-guard GRACE_MS`): read the process's lines as
/// they come; end its groups when its keepers fall silent past their deadline, and when the
/// process is gone (its end of the pipe closed), then exit. Returns the exit code.
pub fn guard_main(grace_ms: Option<&str>) -> i32 {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // Only the pipe's end ends it: not a terminal's Ctrl-C, a hang-up, or the SIGTERM a
    // service manager sends every process of a stopping service (the worker drains then, and
    // its exit closes the pipe).
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: ignoring a signal installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let grace = Duration::from_millis(grace_ms.and_then(|g| g.parse().ok()).unwrap_or(5_000));
    // Lines are read on a thread of their own and stamped as they arrive, so that a wait
    // while groups end does not make a heartbeat look newer than it is.
    let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
    let reader = super::thread::spawn("to read what the guard is told", move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send((line, Instant::now())).is_err() {
                break;
            }
        }
    });
    if reader.is_err() {
        // No thread to read on (`ulimit -u`): the process it guards finds it gone and goes
        // on unguarded, as where no guard can start.
        return 1;
    }
    let mut watch = Watch::default();
    loop {
        let wait = watch
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        match rx.recv_timeout(wait) {
            Ok((line, at)) => watch.feed(&line, at),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // Whatever else has arrived counts before a deadline is judged.
        while let Ok((line, at)) = rx.try_recv() {
            watch.feed(&line, at);
        }
        let lapsed = watch.lapsed(Instant::now());
        if !lapsed.is_empty() {
            end_groups(&lapsed, grace);
        }
    }
    let spawning = std::mem::take(&mut watch.spawning);
    let left: Vec<_> = watch.groups.into_values().collect();
    std::thread::scope(|s| {
        if super::thread::spawn_scoped(s, "to end process groups", || end_spawned(&spawning, grace))
            .is_err()
        {
            end_spawned(&spawning, grace);
        }
        end_groups(&left, grace);
    });
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_about_a_group_decides_and_torn_lines_say_nothing() {
        let input = "+ 10 boot 5 RUN1\n+ 11 boot 6 -\n- 10\n+ 12 boot\n+ x boot 1 R\nH 1\nT x 5\n";
        let groups = noted_groups(input.as_bytes());
        assert_eq!(groups.len(), 1, "{groups:?}");
        let (noted, run) = &groups[&11];
        assert_eq!(noted.identity, Some(("boot".to_string(), 6)));
        assert_eq!(*run, None);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn groups_end_when_a_keeper_is_silent_past_its_rounds_start_plus_ttl_less_the_margin() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.feed("T 1 2000", t0);
        // No group noted: nothing to end, however long the silence.
        assert_eq!(w.deadline(), None);
        assert!(w.lapsed(t0 + ms(60_000)).is_empty());
        w.feed("+ 10 boot 5 RUN1", t0 + ms(100));
        // ttl 2 s, margin 400 ms: from the keeper's start.
        assert_eq!(w.deadline(), Some(t0 + ms(1600)));
        // A round that started 50 ms before its line arrived moves it on.
        w.feed("H 1 50", t0 + ms(700));
        assert_eq!(w.deadline(), Some(t0 + ms(650 + 1600)));
        assert!(w.lapsed(t0 + ms(2249)).is_empty());
        let ended = w.lapsed(t0 + ms(2250));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].0.pgid, 10);
        // Forgotten: the guard goes on serving, and a heartbeat later is as before.
        assert!(w.groups().is_empty());
        assert_eq!(w.deadline(), None);
        w.feed("H 1 0", t0 + ms(10_000));
        w.feed("+ 11 boot 6 -", t0 + ms(10_100));
        assert_eq!(w.deadline(), Some(t0 + ms(11_600)));
    }

    #[test]
    fn the_most_silent_keeper_decides_and_a_stopped_one_no_longer_counts() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.feed("+ 10 boot 5 RUN1", t0);
        // No keeper has spoken: no deadline (a process without leases is not fenced so).
        assert_eq!(w.deadline(), None);
        w.feed("T 1 30000", t0);
        w.feed("T 2 2000", t0);
        assert_eq!(w.deadline(), Some(t0 + ms(1600)));
        w.feed("H 1 0", t0 + ms(1000));
        assert_eq!(w.deadline(), Some(t0 + ms(1600)));
        w.feed("X 2", t0 + ms(1100));
        // ttl 30 s: margin 6 s.
        assert_eq!(w.deadline(), Some(t0 + ms(1000 + 24_000)));
        // Heartbeats of a keeper never started, and older rounds, change nothing.
        w.feed("H 7 0", t0 + ms(5000));
        w.feed("H 1 4500", t0 + ms(5000));
        assert_eq!(w.deadline(), Some(t0 + ms(25_000)));
    }

    #[test]
    fn a_group_noted_after_the_keepers_fell_silent_waits_half_a_ttl_for_them() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.feed("T 1 2000", t0);
        // Woken from a freeze: the next attempt starts before the keeper's first good round.
        w.feed("+ 10 boot 5 RUN1", t0 + ms(5000));
        assert_eq!(w.deadline(), Some(t0 + ms(6000)));
        assert!(w.lapsed(t0 + ms(5999)).is_empty());
        w.feed("H 1 0", t0 + ms(5100));
        assert_eq!(w.deadline(), Some(t0 + ms(6700)));
        // Never silent: still ended when the keeper is silent past its deadline.
        w.feed("+ 11 boot 6 RUN1", t0 + ms(5200));
        let ended = w.lapsed(t0 + ms(6700));
        assert_eq!(ended.len(), 2, "{ended:?}");
    }

    #[test]
    fn torn_and_foreign_lines_leave_the_deadline_alone() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.feed("T 1 2000", t0);
        w.feed("+ 10 boot 5 RUN1", t0);
        for line in [
            "H 1", "H 1 x", "H", "T 1", "X", "H 1 5 6", "hello", "", "H -1 0",
        ] {
            w.feed(line, t0 + ms(1000));
        }
        assert_eq!(w.deadline(), Some(t0 + ms(1600)));
        assert_eq!(w.groups().len(), 1);
    }

    #[test]
    fn a_spawn_is_in_progress_from_its_token_until_its_group_is_noted_or_it_failed() {
        let t0 = Instant::now();
        let mut w = Watch::default();
        w.feed("S 41.7.1", t0);
        w.feed("S 41.7.2", t0);
        // Not a token: it goes into a `/proc` search, so nothing else is kept.
        w.feed("S ../x", t0);
        w.feed("S 1 2", t0);
        assert_eq!(w.spawning().len(), 2, "{:?}", w.spawning());
        // Noted: the group line and the token's end come in one write.
        w.feed("+ 10 boot 5 RUN1", t0);
        w.feed("D 41.7.1", t0);
        // Failed to spawn.
        w.feed("D 41.7.2", t0);
        assert!(w.spawning().is_empty());
        assert_eq!(w.groups().len(), 1);
    }

    #[test]
    fn the_margin_is_a_fifth_of_the_lease_at_least_200_ms_at_most_half() {
        assert_eq!(margin(ms(30_000)), ms(6_000));
        assert_eq!(margin(ms(2_000)), ms(400));
        assert_eq!(margin(ms(500)), ms(200));
        assert_eq!(margin(ms(300)), ms(150));
    }
}
