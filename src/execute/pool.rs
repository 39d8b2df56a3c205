//! The threads a scenario's driver runs its phases on: started as they are needed and kept for
//! the drive, so that a run of many short phases does not start (and tear down) a thread for
//! each — a fresh thread's stack, its allocator heap and its buffers were a tenth of a short
//! phase's own cost.

use std::sync::{Arc, Mutex, mpsc};

/// Work handed to a thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads that take jobs as they come: a job starts at once, on a thread waiting for one or
/// on a new thread, never behind another job. Each waiting thread has a channel of its own, so
/// a job wakes exactly the thread it is given to. Dropping the pool ends the waiting threads
/// and lets the others end once their jobs are done; nobody waits for them (as with a thread
/// per job).
pub(crate) struct Pool {
    idle: Arc<Mutex<Idle>>,
}

/// The threads waiting for a job (the way to hand each one its next), and whether the pool
/// is gone.
#[derive(Default)]
struct Idle {
    waiting: Vec<mpsc::Sender<Option<Job>>>,
    closed: bool,
}

fn lock(idle: &Mutex<Idle>) -> std::sync::MutexGuard<'_, Idle> {
    // A job that panicked never holds this lock: the list is whole.
    idle.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub(crate) fn new() -> Pool {
        Pool {
            idle: Arc::default(),
        }
    }

    /// Run `job` now: on a waiting thread, or on a new one; not at all if the system refuses
    /// a new thread (then the caller has the error to act on: the job never runs).
    pub(crate) fn run(
        &self,
        job: impl FnOnce() + Send + 'static,
    ) -> Result<(), super::thread::Refused> {
        let mut job: Job = Box::new(job);
        while let Some(thread) = lock(&self.idle).waiting.pop() {
            match thread.send(Some(job)) {
                Ok(()) => return Ok(()),
                // That thread is gone (its job panicked after it was listed: it cannot be).
                Err(mpsc::SendError(back)) => job = back.expect("the job that was sent"),
            }
        }
        self.start(job)
    }

    /// A new thread that runs `first`, then waits for more.
    fn start(&self, first: Job) -> Result<(), super::thread::Refused> {
        let idle = self.idle.clone();
        super::thread::spawn("to run a phase", move || {
            let (next, jobs) = mpsc::channel();
            let mut job = first;
            loop {
                job();
                {
                    let mut idle = lock(&idle);
                    if idle.closed {
                        return;
                    }
                    idle.waiting.push(next.clone());
                }
                match jobs.recv() {
                    Ok(Some(more)) => job = more,
                    // The pool was dropped.
                    Ok(None) | Err(_) => return,
                }
            }
        })
        .map(drop)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut idle = lock(&self.idle);
        idle.closed = true;
        for thread in idle.waiting.drain(..) {
            let _ = thread.send(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// Jobs sent one after another all run at the same time (none waits for a thread another
    /// job holds), and threads are reused once their jobs are done.
    #[test]
    fn every_job_starts_at_once_and_threads_are_reused() {
        let pool = Pool::new();
        for round in 0..3 {
            // Four jobs that can only finish together: any job queued behind another hangs.
            let together = Arc::new(Barrier::new(5));
            let (done, finished) = mpsc::channel();
            for _ in 0..4 {
                let together = together.clone();
                let done = done.clone();
                pool.run(move || {
                    together.wait();
                    let _ = done.send(std::thread::current().id());
                })
                .unwrap();
            }
            together.wait();
            let ids: Vec<_> = (0..4).map(|_| finished.recv().unwrap()).collect();
            assert_eq!(ids.len(), 4, "round {round}");
            // Let the threads go back to waiting before the next round.
            while lock(&pool.idle).waiting.len() < 4 {
                std::thread::yield_now();
            }
        }
    }
}
