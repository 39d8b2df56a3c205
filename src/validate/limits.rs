//! Checks of the durations and counts a step or phase may set (`timeout`, `retry`), against
//! the documented ranges of `definition::limits`.

use crate::definition::limits::{EXIT_CODES, MAX_RETRY_ATTEMPTS, RETRY_BACKOFF, STEP_TIMEOUT};
use crate::definition::{DurationSpec, RetrySpec, Seg};

/// Every value of `timeout` and `retry` outside its range, with the path (below the step or
/// phase) where it is written.
pub(crate) fn attempt_limits(
    timeout: Option<&DurationSpec>,
    retry: Option<&RetrySpec>,
) -> Vec<(Vec<Seg>, String)> {
    let mut problems = Vec::new();
    if let Some(t) = timeout
        && let Err(e) = STEP_TIMEOUT.check(t)
    {
        problems.push((vec!["timeout".into()], e));
    }
    let Some(retry) = retry else {
        return problems;
    };
    if let Some(b) = &retry.backoff
        && let Err(e) = RETRY_BACKOFF.check(b)
    {
        problems.push((vec!["retry".into(), "backoff".into()], e));
    }
    if let Some(n) = retry.max_retry_attempts
        && n > MAX_RETRY_ATTEMPTS
    {
        problems.push((
            vec!["retry".into(), "max_retry_attempts".into()],
            format!(
                "`max_retry_attempts` is {n}, outside its range 0 to {MAX_RETRY_ATTEMPTS}; write at most {MAX_RETRY_ATTEMPTS} (retries after the first attempt)"
            ),
        ));
    }
    for (i, code) in retry.on_exit_codes.iter().enumerate() {
        if !EXIT_CODES.contains(code) {
            problems.push((
                vec!["retry".into(), "on_exit_codes".into(), Seg::Index(i)],
                format!(
                    "exit code {code} is outside {}..={}: a process exits with 1 to 255 on failure (0 is success)",
                    EXIT_CODES.start(),
                    EXIT_CODES.end()
                ),
            ));
        }
    }
    problems
}
