//! Deliveries that go on after the operation has answered: a process that lives on (`cortex
//! serve`) hands a run's due notifications to a `Background`, which delivers them on a few
//! threads of its own, never more than `RUNNING` runs' at once nor `WAITING` waiting, and on
//! shutdown waits a bounded time for them before it stops the rest (recorded as not delivered).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::execute::StopFlag;
use crate::plan::Notified;

/// At most this many runs' deliveries go on at once (each delivers its notifications side by
/// side, `execute::notify::PARALLEL` at most).
pub const RUNNING: usize = 4;
/// At most this many runs' deliveries wait for a turn; beyond that they are not delivered
/// (and recorded so) rather than piling up.
pub const WAITING: usize = 64;

/// A run's deliveries, to be made with the background's stop flag (raised when it shuts down).
pub type Work = Box<dyn FnOnce(&StopFlag) + Send>;

/// The background deliverer of one process. Cheap to share (`Arc`).
#[derive(Default)]
pub struct Background {
    queue: Mutex<Queue>,
    changed: Condvar,
    stop: StopFlag,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(u64, Work)>,
    running: usize,
    /// What is being delivered or waits to be, by job: (job, run, what it is for). Until a
    /// job has recorded its deliveries, these count as made for `plan::notifications_due`,
    /// so that a second change of the run meanwhile does not deliver them again.
    claims: Vec<(u64, String, Notified)>,
    next_job: u64,
    closed: bool,
}

/// What `enqueue` did.
pub enum Enqueued {
    /// Nothing was due.
    Nothing,
    /// The deliveries will be made.
    Queued,
    /// They will not: too many wait already, or the process is stopping. Returned with what
    /// was due, so that the caller can record it as not delivered.
    Refused(Vec<Notified>, String),
}

impl Background {
    pub fn new() -> Arc<Background> {
        Arc::new(Background::default())
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand over a run's deliveries. `plan` is called with what is in flight for run `run_id`
    /// here (under the lock, so that two changes of the run at once cannot both find the same
    /// delivery due) and says what is due, and the work that delivers and records it.
    pub fn enqueue(
        self: &Arc<Self>,
        run_id: &str,
        plan: impl FnOnce(&[Notified]) -> Option<(Vec<Notified>, Work)>,
    ) -> Enqueued {
        let mut queue = self.lock();
        let in_flight: Vec<Notified> = queue
            .claims
            .iter()
            .filter(|(_, run, _)| run == run_id)
            .map(|(_, _, n)| n.clone())
            .collect();
        let Some((due, work)) = plan(&in_flight) else {
            return Enqueued::Nothing;
        };
        if queue.closed {
            return Enqueued::Refused(due, "the server was stopping".into());
        }
        if queue.waiting.len() >= WAITING {
            return Enqueued::Refused(
                due,
                "too many runs' notifications were waiting to be delivered".into(),
            );
        }
        let job = queue.next_job;
        queue.next_job += 1;
        queue
            .claims
            .extend(due.into_iter().map(|n| (job, run_id.to_string(), n)));
        queue.waiting.push_back((job, work));
        if queue.running < RUNNING {
            queue.running += 1;
            let me = Arc::clone(self);
            if let Err(refused) =
                crate::execute::thread::spawn("to deliver notifications", move || me.work())
            {
                queue.running -= 1;
                // No thread takes it (`ulimit -u`): handed back, to be recorded not delivered.
                // With one running, that one takes it in turn.
                if queue.running == 0 {
                    queue.waiting.retain(|(j, _)| *j != job);
                    let due = queue
                        .claims
                        .iter()
                        .filter(|(j, _, _)| *j == job)
                        .map(|(_, _, n)| n.clone())
                        .collect();
                    queue.claims.retain(|(j, _, _)| *j != job);
                    return Enqueued::Refused(due, refused.to_string());
                }
            }
        }
        Enqueued::Queued
    }

    /// One delivering thread: take jobs until none waits.
    fn work(&self) {
        loop {
            let next = {
                let mut queue = self.lock();
                match queue.waiting.pop_front() {
                    Some(job) => job,
                    None => {
                        queue.running -= 1;
                        self.changed.notify_all();
                        return;
                    }
                }
            };
            let (job, work) = next;
            // A job that panics must not leave its claims (nor this thread's count) behind.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&self.stop)));
            self.lock().claims.retain(|(j, _, _)| *j != job);
        }
    }

    /// Whether nothing is being delivered or waits to be.
    pub fn idle(&self) -> bool {
        let queue = self.lock();
        queue.waiting.is_empty() && queue.running == 0
    }

    /// Stop taking work, wait up to `grace` for what is under way and waiting, then raise the
    /// stop (with `signal`): what is not delivered by then is recorded as not delivered,
    /// which is waited for a short while more.
    pub fn shutdown(&self, grace: Duration, signal: i32) {
        self.lock().closed = true;
        if !self.wait_idle(grace) {
            self.stop.set(signal);
            self.wait_idle(Duration::from_secs(3));
        }
    }

    fn wait_idle(&self, within: Duration) -> bool {
        let until = Instant::now() + within;
        let mut queue = self.lock();
        while !(queue.waiting.is_empty() && queue.running == 0) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            queue = self
                .changed
                .wait_timeout(queue, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Trigger;

    fn finish() -> Notified {
        Notified {
            trigger: Trigger::OnFinish,
            status: Some("completed".into()),
            session: Some(1),
            index: Some(0),
        }
    }

    /// What is in flight for a run counts as delivered for a second change of it meanwhile,
    /// and no longer once its job is done.
    #[test]
    fn a_delivery_in_flight_is_not_due_again_until_its_job_is_done() {
        let bg = Background::new();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let queued = bg.enqueue("r1", |in_flight| {
            assert!(in_flight.is_empty());
            let work: Work = Box::new(move |_| {
                let _ = hold.recv();
            });
            Some((vec![finish()], work))
        });
        assert!(matches!(queued, Enqueued::Queued));
        let seen = std::sync::Mutex::new(Vec::new());
        bg.enqueue("r1", |in_flight| {
            seen.lock().unwrap().extend_from_slice(in_flight);
            None
        });
        assert_eq!(*seen.lock().unwrap(), vec![finish()]);
        bg.enqueue("r2", |in_flight| {
            assert!(in_flight.is_empty(), "another run's claims are its own");
            None
        });
        release.send(()).unwrap();
        assert!(bg.wait_idle(Duration::from_secs(30)));
        bg.enqueue("r1", |in_flight| {
            assert!(in_flight.is_empty());
            None
        });
    }

    /// Never more than `WAITING` jobs wait: the next is refused, with what was due.
    #[test]
    fn deliveries_do_not_pile_up_beyond_the_bound() {
        let bg = Background::new();
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let mut refused = 0;
        for i in 0..(RUNNING + WAITING + 5) {
            let hold = Arc::clone(&hold);
            let r = bg.enqueue(&format!("run{i}"), move |_| {
                let work: Work = Box::new(move |_| {
                    let _ = hold.lock().unwrap().recv();
                });
                Some((vec![finish()], work))
            });
            if let Enqueued::Refused(due, _) = r {
                assert_eq!(due, vec![finish()]);
                refused += 1;
            }
        }
        assert!(refused >= 5, "{refused} refused");
        assert!(bg.lock().waiting.len() <= WAITING);
        for _ in 0..(RUNNING + WAITING + 5) {
            let _ = release.send(());
        }
        drop(release);
        assert!(bg.wait_idle(Duration::from_secs(30)));
    }

    /// Shutting down raises the stop for work that outlasts the grace, and refuses new work.
    #[test]
    fn shutdown_stops_what_outlasts_its_grace() {
        let bg = Background::new();
        bg.enqueue("r", |_| {
            let work: Work = Box::new(|stop| {
                while !stop.is_set() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            Some((vec![finish()], work))
        });
        bg.shutdown(Duration::from_millis(50), 15);
        assert!(bg.idle());
        assert!(matches!(
            bg.enqueue("r", |_| Some((
                vec![finish()],
                Box::new(|_: &StopFlag| {}) as Work
            ))),
            Enqueued::Refused(..)
        ));
    }
}
