//! Durations as the seeds show them: `2m 15s`, `8m 42s`, `850ms`.

use std::time::{Duration, SystemTime};

/// `1h 2m`, `2m 15s`, `12s`, `850ms`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
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
}
