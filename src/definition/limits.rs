//! The documented range of every duration and count in definitions and the configuration,
//! and the checks that say, outside it, what is wrong and how to fix it.
//!
//! The ranges are wide enough for any real use and narrow enough that no arithmetic on them
//! (milliseconds in a `u64`, a deadline as an `Instant`, a doubled backoff) can overflow.
//! They are also written into the JSON Schemas (`schemars` attributes on the types).

use std::time::Duration;

use super::DurationSpec;

/// The longest single argument (or environment variable, `NAME=value`) Linux passes to a
/// program (`MAX_ARG_STRLEN`, 32 pages, less its NUL): a longer one fails at spawn with E2BIG.
pub const MAX_ARGUMENT_BYTES: usize = 32 * 4096 - 1;

/// What Linux passes to a program in all (`ARG_MAX`: its arguments and environment together,
/// each string with its NUL and its pointer), as it typically is: a quarter of the default
/// 8 MiB stack. A smaller stack limit (`ulimit -s`) makes it smaller.
pub const ARG_MAX_BYTES: usize = 2 * 1024 * 1024;

/// What of `ARG_MAX_BYTES` is kept for what a step adds to its inputs and the environment it
/// inherits: its command line (one `run:` text of up to `MAX_ARGUMENT_BYTES`), cortex's own
/// variables, its `env:` and the values of its templates.
pub const ARG_RESERVE_BYTES: usize = 512 * 1024;

/// What one environment variable `NAME=value` takes of `ARG_MAX_BYTES`: its bytes, its NUL,
/// and its pointer in the array the program is given.
pub fn env_entry_bytes(name: usize, value: usize) -> usize {
    name + 1 + value + 1 + std::mem::size_of::<usize>()
}

/// A range of durations for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRange {
    /// The field as written in a definition, e.g. `timeout`.
    pub field: &'static str,
    pub min: Duration,
    pub max: Duration,
    /// The range for people, e.g. `from 1ms to 30 days`.
    pub text: &'static str,
    /// What leaving the field out means.
    pub unset: &'static str,
    /// Recorded in whole seconds: a value with a fraction of a second is refused (never
    /// rounded without a word), and no example has one.
    pub whole_seconds: bool,
}

const DAY: u64 = 24 * 60 * 60;

/// A step's or phase's `timeout`: a limit on one attempt. Events record it in milliseconds,
/// so less than 1 ms cannot be honoured; a process that should run for more than 30 days is
/// better run outside cortex and reported as an external step.
pub const STEP_TIMEOUT: DurationRange = DurationRange {
    field: "timeout",
    min: Duration::from_millis(1),
    max: Duration::from_secs(30 * DAY),
    text: "from 1ms to 30 days",
    unset: "leave `timeout` out for no limit",
    whole_seconds: false,
};

/// A retry's `backoff`: the delay before the first retry (it doubles for each further one).
/// A retry a day later is a schedule, not a backoff.
pub const RETRY_BACKOFF: DurationRange = DurationRange {
    field: "backoff",
    min: Duration::ZERO,
    max: Duration::from_secs(DAY),
    text: "from 0 to 1 day",
    unset: "leave `backoff` out for the default of 1s",
    whole_seconds: false,
};

/// `timeout_seconds` of the configuration: a limit on one driving session, 0 for none.
pub const MAX_RUN_TIMEOUT_SECONDS: u64 = 30 * DAY;

/// `--timeout` of `resume`: the same range as `timeout_seconds`, written as a duration, in
/// whole seconds as the log records it (`run_timeout_seconds`).
pub const RUN_TIMEOUT: DurationRange = DurationRange {
    field: "--timeout",
    min: Duration::ZERO,
    max: Duration::from_secs(MAX_RUN_TIMEOUT_SECONDS),
    text: "from 0 (no limit) to 30 days",
    unset: "leave `--timeout` out for `timeout_seconds` of cortex.config.json",
    whole_seconds: true,
};

/// `RUN_TIMEOUT` as an MCP tool's argument (or an HTTP request's field) `timeout` names it.
pub const RUN_TIMEOUT_ARGUMENT: DurationRange = DurationRange {
    field: "timeout",
    unset: "leave `timeout` out for `timeout_seconds` of cortex.config.json",
    ..RUN_TIMEOUT
};

/// A resume's time limit (`--timeout`, the TUI's resume form, the MCP tool's `timeout`) as the
/// log records it: whole seconds in `RUN_TIMEOUT`'s range (a fraction of a second refused).
pub fn run_timeout_seconds(text: &str) -> Result<u64, String> {
    RUN_TIMEOUT.check_flag(text).map(|limit| limit.as_secs())
}

/// `worker --lease`: renewed every third of it, so less than 300ms is renewal all the time;
/// work held an hour past a worker's death is work lost for an hour.
pub const WORKER_LEASE: DurationRange = DurationRange {
    field: "--lease",
    min: Duration::from_millis(300),
    max: Duration::from_secs(60 * 60),
    text: "from 300ms to 1h",
    unset: "leave `--lease` out for the default of 30s",
    whole_seconds: false,
};

/// `worker --poll`: how often a worker looks for work when nothing wakes it.
pub const WORKER_POLL: DurationRange = DurationRange {
    field: "--poll",
    min: Duration::from_millis(20),
    max: Duration::from_secs(60 * 60),
    text: "from 20ms to 1h",
    unset: "leave `--poll` out for the default of 1s",
    whole_seconds: false,
};

/// `gc --older-than`: the age of the runs whose files are removed. Ten years is older than
/// any run a home holds; past it the cut-off time would fall before any clock's epoch.
pub const GC_OLDER_THAN: DurationRange = DurationRange {
    field: "--older-than",
    min: Duration::ZERO,
    max: Duration::from_secs(3650 * DAY),
    text: "from 0 to 3650 days",
    unset: "leave `--older-than` out for the default of 30 days",
    whole_seconds: false,
};

/// `max_retry_attempts`, in the configuration and in a step's or phase's `retry`.
pub const MAX_RETRY_ATTEMPTS: u32 = 100;

/// `max_parallel`, in the configuration and in a scenario: phases active at once.
pub const MAX_PARALLEL: u32 = 1024;

/// The deepest chain of `uses:`: a child of a child of ... sixteen deep is a design smell,
/// and each level is a run of its own.
pub const MAX_USES_DEPTH: usize = 16;

/// The exit codes a process can end with, for `on_exit_codes` (0 is success, never retried).
pub const EXIT_CODES: std::ops::RangeInclusive<i32> = 1..=255;

impl DurationRange {
    /// `check` of a command-line flag's value, with how to write one.
    pub fn check_flag(&self, text: &str) -> Result<Duration, String> {
        self.check(&DurationSpec(text.to_string())).map_err(|e| {
            if e.starts_with(&format!("`{}`", self.field)) {
                e
            } else {
                format!("{}: {e}", self.field)
            }
        })
    }

    /// The duration written in `spec`, if it is one and inside the range; otherwise a message
    /// saying what is wrong and how to fix it.
    pub fn check(&self, spec: &DurationSpec) -> Result<Duration, String> {
        let out_of_range = || {
            // Examples only from inside the range.
            let examples: Vec<String> = [
                ("30", Duration::from_secs(30)),
                ("500ms", Duration::from_millis(500)),
                ("10m", Duration::from_secs(600)),
                ("2h", Duration::from_secs(7200)),
                ("7d", Duration::from_secs(7 * DAY)),
            ]
            .iter()
            .filter(|(_, d)| (self.min..=self.max).contains(d))
            .filter(|(_, d)| !self.whole_seconds || d.subsec_nanos() == 0)
            .map(|(text, _)| format!("`{text}`"))
            .collect();
            format!(
                "`{}` is `{}`, outside its range {}; write a duration in that range ({}), or {}",
                self.field,
                super::name::shown(spec.0.trim()),
                self.text,
                examples.join(", "),
                self.unset
            )
        };
        // Before, such a value was rounded up without a word (`--timeout 0.5s` recorded
        // `timeout 1 s`).
        let fraction = |d: Duration| {
            let down = d.as_secs();
            // 0 is no limit: never offered for a limit asked for.
            let or_down = if down > 0 {
                format!(" or `{down}s`")
            } else {
                String::new()
            };
            format!(
                "`{}` is `{}`, which is not a whole number of seconds: it is counted in whole seconds; write `{}s`{or_down}",
                self.field,
                super::name::shown(spec.0.trim()),
                down + 1
            )
        };
        match spec.to_duration()? {
            d if d < self.min || d > self.max => Err(out_of_range()),
            d if self.whole_seconds && d.subsec_nanos() > 0 => Err(fraction(d)),
            d => Ok(d),
        }
    }
}

/// A message if `value` of `field` is outside `min..=max`, saying the range and the fix.
pub fn check_count(field: &str, value: u64, min: u64, max: u64, fix: &str) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{field}` is {value}, outside its range {min} to {max}; {fix}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> DurationSpec {
        DurationSpec(s.to_string())
    }

    #[test]
    fn absurd_durations_are_out_of_range_not_a_panic() {
        for text in [
            "1e30",
            "1e300",
            "18446744073709551615",
            "31d",
            "100000000000000y",
        ] {
            let err = STEP_TIMEOUT.check(&spec(text)).unwrap_err();
            assert!(
                err.contains("from 1ms to 30 days") || err.contains("not a duration"),
                "{text}: {err}"
            );
        }
        assert!(STEP_TIMEOUT.check(&spec("0")).is_err());
        assert!(STEP_TIMEOUT.check(&spec("0.0001")).is_err());
        assert_eq!(
            STEP_TIMEOUT.check(&spec("30d")),
            Ok(Duration::from_secs(30 * DAY))
        );
        assert_eq!(RETRY_BACKOFF.check(&spec("0")), Ok(Duration::ZERO));
        assert!(RETRY_BACKOFF.check(&spec("1e30")).is_err());
        assert!(RETRY_BACKOFF.check(&spec("25h")).is_err());
    }

    #[test]
    fn an_out_of_range_message_gives_only_examples_inside_the_range() {
        let err = WORKER_LEASE.check_flag("2h").unwrap_err();
        assert!(err.contains("from 300ms to 1h"), "{err}");
        assert!(
            err.contains("in that range (`30`, `500ms`, `10m`), or"),
            "{err}"
        );
        let err = GC_OLDER_THAN.check_flag("1e30").unwrap_err();
        assert!(
            err.contains("from 0 to 3650 days") && err.contains("`7d`"),
            "{err}"
        );
        assert!(GC_OLDER_THAN.check_flag("9999999999999999999").is_err());
        assert_eq!(GC_OLDER_THAN.check_flag("0"), Ok(Duration::ZERO));
    }

    /// A resume's time limit is whole seconds: one with a fraction is refused, never rounded
    /// without a word; `5 m` is `5m`, as everywhere a duration is read.
    #[test]
    fn a_run_time_limit_with_a_fraction_of_a_second_is_refused_not_rounded() {
        assert_eq!(run_timeout_seconds("90m"), Ok(5400));
        assert_eq!(run_timeout_seconds("5 m"), Ok(300));
        assert_eq!(run_timeout_seconds("0"), Ok(0));
        assert_eq!(run_timeout_seconds("2000ms"), Ok(2));
        let err = run_timeout_seconds("0.5s").unwrap_err();
        assert!(
            err.contains("`0.5s`, which is not a whole number of seconds")
                && err.ends_with("write `1s`"),
            "{err}"
        );
        let err = run_timeout_seconds("1.5").unwrap_err();
        assert!(err.ends_with("write `2s` or `1s`"), "{err}");
        let err = run_timeout_seconds("31d").unwrap_err();
        assert!(!err.contains("500ms"), "no example it would refuse: {err}");
    }

    #[test]
    fn counts_say_their_range() {
        assert!(check_count("max_parallel", 4, 1, 1024, "").is_ok());
        let err = check_count("max_parallel", 0, 1, 1024, "use 1 or more").unwrap_err();
        assert!(err.contains("1 to 1024") && err.contains("use 1 or more"));
    }
}
