//! Ctrl-C and SIGTERM as a flag the driver polls: a signal becomes a recorded, graceful stop.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// What the flag holds when a front end's client asked for the stop (`ask`): no signal's
/// number, so no signal is named for it.
const ASKED: usize = 0x7fff_0000;

/// Make a write past the file-size limit (`ulimit -f`, RLIMIT_FSIZE) fail with an error
/// (EFBIG) instead of ending the process: by default SIGXFSZ killed cortex silently mid-write
/// (exit 153, nothing said), where a full disk gets a message and a paused run. A handler
/// that does nothing, not SIG_IGN: a handler is reset to the default when a step's program is
/// executed, so the steps meet the limit as they would anywhere.
pub fn survive_file_size_limit() {
    // Safety: the handler does nothing at all (async-signal-safe).
    let _ = unsafe { signal_hook::low_level::register(signal_hook::consts::SIGXFSZ, || {}) };
}

/// Set when a stop signal arrives; holds the signal number.
#[derive(Debug, Clone, Default)]
pub struct StopFlag {
    signal: Arc<AtomicUsize>,
    /// How many stop signals came (`install_counted`).
    count: Arc<AtomicUsize>,
    /// Whether the process holds work a second signal would end and record (`holding`):
    /// without any, a second signal ends it at once, as a third does.
    holding: Arc<AtomicBool>,
    /// Why, when the stop was asked for without a signal (`ask`): recorded as the stop's
    /// message.
    why: Arc<Mutex<Option<String>>>,
}

impl StopFlag {
    /// A flag set by SIGINT, SIGTERM and SIGHUP, holding the first of them: the stop is the
    /// operator's first Ctrl-C, named so, not the SIGTERM a supervisor sent after it.
    pub fn install() -> Self {
        StopFlag::register(false)
    }

    /// As `install`, counting the stop signals (`repeated`), and a third ends the process at
    /// once (status 128 + the signal, as the signal's default would): for a process that
    /// drains on the first and ends what it runs on the second (a worker), the way out when
    /// neither can go on — a database that stopped answering mid-statement held a worker
    /// through SIGTERM and SIGINT alike. (The second ended it at once, before: a worker
    /// TERMed twice by a supervisor vanished silently, exit 143, its runs shown interrupted.)
    pub fn install_counted() -> Self {
        StopFlag::register(true)
    }

    /// A flag set by SIGINT, SIGTERM and SIGHUP, keeping the first; `ending`: a third (or a
    /// second while nothing is held) ends the process at once (`install_counted`).
    fn register(ending: bool) -> Self {
        let flag = StopFlag::default();
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            let (signal, count) = (Arc::clone(&flag.signal), Arc::clone(&flag.count));
            let holding = Arc::clone(&flag.holding);
            // Safety: the handler only updates atomics and calls `_exit`, all
            // async-signal-safe; it allocates, locks and unwinds nothing.
            let _ = unsafe {
                signal_hook::low_level::register(sig, move || {
                    let _ = signal.compare_exchange(
                        0,
                        sig as usize,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    );
                    let before = count.fetch_add(1, Ordering::SeqCst);
                    // The third, or a second when nothing is held to end and record (a worker
                    // stuck on a database that stopped answering, with nothing in hand).
                    if ending && (before >= 2 || (before == 1 && !holding.load(Ordering::SeqCst))) {
                        signal_hook::low_level::exit(128 + sig);
                    }
                })
            };
        }
        flag
    }

    /// Say whether the process holds work a second stop signal would end and record
    /// (`install_counted`): while it holds none, a second signal ends it at once.
    pub fn holding(&self, holding: bool) {
        self.holding.store(holding, Ordering::SeqCst);
    }

    /// Whether a second stop signal came (`install_counted`).
    pub fn repeated(&self) -> bool {
        self.count.load(Ordering::SeqCst) >= 2
    }

    /// One flag for the whole process, installed by the first call: what a wait that any
    /// Ctrl-C from now on should end polls, however often the process waits so.
    pub fn from_now_on() -> Self {
        static FLAG: std::sync::OnceLock<StopFlag> = std::sync::OnceLock::new();
        FLAG.get_or_init(StopFlag::install).clone()
    }

    pub fn is_set(&self) -> bool {
        self.signal.load(Ordering::Relaxed) != 0
    }

    /// Raise the flag by hand (tests, and stop requests that are not signals).
    pub fn set(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::Relaxed);
    }

    /// Lower the flag if it still holds `signal`: one judged no stop (an operator's abort
    /// asking the driver through the log, `notify::wait_for`), so that the next signal is
    /// judged anew. One that came meanwhile stays.
    pub fn clear(&self, signal: i32) {
        let _ =
            self.signal
                .compare_exchange(signal as usize, 0, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Raise the flag for a reason that is no signal (an MCP client cancelled the call that
    /// drives the run): the stop is recorded with `why` as its message and no signal. A flag
    /// raised already keeps its first reason.
    pub fn ask(&self, why: &str) {
        if self.is_set() {
            return;
        }
        *self.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
        let _ = self
            .signal
            .compare_exchange(0, ASKED, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Why the stop was asked for, when it was no signal (`ask`).
    pub fn why(&self) -> Option<String> {
        if self.signal.load(Ordering::Relaxed) != ASKED {
            return None;
        }
        self.why.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The signal's number, once raised by one.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 | ASKED => None,
            n => Some(n as i32),
        }
    }

    /// The signal's name, e.g. `SIGINT`; none for a stop asked for without one (`ask`).
    pub fn signal_name(&self) -> Option<String> {
        match self.signal.load(Ordering::Relaxed) {
            0 | ASKED => None,
            n => Some(
                nix::sys::signal::Signal::try_from(n as i32)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| format!("signal {n}")),
            ),
        }
    }
}
