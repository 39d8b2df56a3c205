//! Durations as the seeds show them: `2m 15s`, `8m 42s`, `850ms`.

use std::time::{Duration, SystemTime};

/// `30d`, `1d 12h`, `1h 2m`, `2m 15s`, `12s`, `850ms`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (days, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    match (days, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{days}d"),
        _ => format!("{days}d {h}h"),
    }
}

fn parse(t: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(t).ok()
}

/// The time between two stored timestamps (the end defaults to `now`).
pub fn elapsed_between(
    start: Option<&str>,
    end: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let start = parse(start?)?;
    let end = match end {
        Some(e) => parse(e)?,
        None => now,
    };
    end.duration_since(start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_style() {
        assert_eq!(format_duration(Duration::from_secs(135)), "2m 15s");
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h 2m");
    }

    /// `gc --older-than 30d` said "older than 30days" (humantime's form) and a step of two
    /// days "48h 0m": days are a unit of their own.
    #[test]
    fn days_are_counted_in_days() {
        assert_eq!(format_duration(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(
            format_duration(Duration::from_secs(86_400 + 12 * 3600)),
            "1d 12h"
        );
    }
}
