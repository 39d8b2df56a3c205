//! When a schedule is due: cron expressions read (five fields, UTC, minute granularity) and
//! the minutes they match, as pure functions of the times given — no clock is read here.

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::definition::shown;

/// One minute, in milliseconds.
pub const MINUTE_MS: u64 = 60_000;

/// A cron expression, read.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
}

impl Cadence {
    /// Read `expression`: five fields (minute, hour, day of month, month, day of week) or an
    /// alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). Seconds and years are
    /// refused: schedules fire on whole minutes. An expression that matches no time at all
    /// (`0 0 30 2 *`) is refused too.
    pub fn parse(expression: &str) -> Result<Cadence, String> {
        let trimmed = expression.trim();
        if trimmed.is_empty() {
            return Err("the cron expression is empty".into());
        }
        if trimmed.chars().any(char::is_control) {
            return Err("the cron expression holds control characters".into());
        }
        if trimmed.eq_ignore_ascii_case("@reboot") {
            return Err("`@reboot` is not a time; a schedule needs one".into());
        }
        let fields = trimmed.split_whitespace().count();
        if !trimmed.starts_with('@') && fields != 5 {
            return Err(format!(
                "`{}` has {}; a schedule has five: minute hour day-of-month month day-of-week",
                shown(trimmed),
                crate::render::count(fields, "field")
            ));
        }
        if !trimmed.starts_with('@') {
            out_of_range(trimmed)?;
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(trimmed)
            .map_err(|e| format!("`{}` is not a cron expression: {e}", shown(trimmed)))?;
        let cadence = Cadence { cron };
        // Leap days come every 4 years (8 across a century's turn): a time within 9 years of
        // any moment, or never.
        if cadence.next_after(946_684_800_000).is_none() {
            return Err(format!(
                "`{trimmed}` matches no date (no month has that day)"
            ));
        }
        Ok(cadence)
    }

    /// The first minute after `after_ms` (exclusive) that the expression matches, within nine
    /// years, in milliseconds since the epoch.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let start = at(after_ms)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let ms = u64::try_from(next.timestamp_millis()).ok()?;
        (ms <= after_ms.saturating_add(9 * 366 * 24 * 3_600_000)).then_some(ms)
    }

    /// The next `n` minutes after `after_ms` that the expression matches.
    pub fn next_times(&self, after_ms: u64, n: usize) -> Vec<u64> {
        let mut out = Vec::with_capacity(n);
        let mut from = after_ms;
        while out.len() < n {
            match self.next_after(from) {
                Some(t) => {
                    out.push(t);
                    from = t;
                }
                None => break,
            }
        }
        out
    }

    /// The minutes the expression matches in `(after_ms, upto_ms]`: the latest and how many
    /// there are in all (counting stops at `limit`).
    pub fn due_in(&self, after_ms: u64, upto_ms: u64, limit: u64) -> Option<(u64, u64)> {
        let mut latest = None;
        let mut count = 0;
        let mut from = after_ms;
        while count < limit {
            match self.next_after(from) {
                Some(t) if t <= upto_ms => {
                    latest = Some(t);
                    count += 1;
                    from = t;
                }
                _ => break,
            }
        }
        // Past the limit, the latest is still the one before `upto_ms`.
        if count == limit
            && let Some(last) = self.previous_at_or_before(upto_ms)
            && last > after_ms
        {
            latest = Some(last);
        }
        latest.map(|t| (t, count))
    }

    /// The latest minute at or before `ms` that the expression matches.
    fn previous_at_or_before(&self, ms: u64) -> Option<u64> {
        let start = at(ms - ms % MINUTE_MS)?;
        let prev = self.cron.find_previous_occurrence(&start, true).ok()?;
        u64::try_from(prev.timestamp_millis()).ok()
    }

    /// In words, as croner describes it (`At 03:00 on Monday`).
    pub fn describe(&self) -> String {
        self.cron.describe()
    }
}

/// The names a field takes besides numbers (croner's: months, days of the week).
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Say which field is wrong and how, where the parser would say only that one is (or, for a
/// misspelt name, name the wrong part): a number out of its range, a step of 0, an empty item
/// in a list (`0,,5`), a range that runs backwards (`5-1`), a name that is no month or day.
fn out_of_range(expression: &str) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    for (field, (what, low, high)) in expression.split_whitespace().zip(FIELDS) {
        for item in field.split(',') {
            if item.is_empty() {
                return Err(format!(
                    "the {what} field `{}` has an empty item in its list: write items between commas, e.g. `0,15,30`",
                    shown(field)
                ));
            }
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            let names: &[&str] = match what {
                "month" => &MONTHS,
                "day-of-week" => &DAYS,
                _ => &[],
            };
            for word in range.split('-') {
                if !names.is_empty()
                    && word.len() > 1
                    && word.chars().all(|c| c.is_ascii_alphabetic())
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(word))
                {
                    return Err(format!(
                        "the {what} field `{}` holds `{}`, which is not a {}: it takes {} or the numbers {low} to {high}",
                        shown(field),
                        shown(word),
                        if what == "month" {
                            "month"
                        } else {
                            "day of the week"
                        },
                        names.join(", ")
                    ));
                }
            }
            // A number, or a name's number (months from 1, days from 0 = SUN).
            let value = |word: &str| {
                word.parse::<u32>().ok().or_else(|| {
                    let i = names.iter().position(|n| n.eq_ignore_ascii_case(word))?;
                    u32::try_from(i)
                        .ok()
                        .map(|i| i + u32::from(what == "month"))
                })
            };
            if let Some((from, to)) = range.split_once('-')
                && let (Some(a), Some(b)) = (value(from), value(to))
                && a > b
                && (low..=high).contains(&a)
                && (low..=high).contains(&b)
            {
                // Sunday is 7 as well as 0: `SAT-SUN` is `SAT-7`.
                if what == "day-of-week" && b == 0 {
                    return Err(format!(
                        "the {what} field `{}` has the range `{from}-{to}`, which runs backwards: write `{from}-7` (Sunday is 7 as well as 0)",
                        shown(field)
                    ));
                }
                let (first, last) = match names {
                    [first, .., last] => (first.to_string(), last.to_string()),
                    _ => (low.to_string(), high.to_string()),
                };
                return Err(format!(
                    "the {what} field `{}` has the range `{from}-{to}`, which runs backwards: write `{to}-{from}`, or two ranges (`{from}-{last},{first}-{to}`) to wrap around",
                    shown(field)
                ));
            }
            if let Some(step) = step
                && let Some(n) = whole(step)
                && (n == 0 || n > u64::from(high))
            {
                return Err(format!(
                    "the {what} field `{}` steps by {}: a step is from 1 to {high}",
                    shown(field),
                    shown(step)
                ));
            }
            for number in range.split('-') {
                if let Some(n) = whole(number)
                    && !(u64::from(low)..=u64::from(high)).contains(&n)
                {
                    return Err(format!(
                        "the {what} field `{}` holds {}: it takes {low} to {high}",
                        shown(field),
                        shown(number)
                    ));
                }
            }
        }
        // After the names: a misspelt one is said as a word (`FOO`), not its first letter.
        illegal_character(field, what, low, high)?;
    }
    Ok(())
}

/// A character cron does not take in the `what` field `field` (numbers `low` to `high`),
/// said with the field and the character as written. The parser says it of the expression
/// upper-cased (`illegal character '$' in part '$(ID)'`, `'A'` for `a`): the text quoted was
/// not the one written. Its rule: digits, `*`, `,`, `-`, `/` in every field; `L`, `W`, `?`
/// besides in the day of the month; `#`, `L`, `?` in the day of the week; the names of the
/// months and days (`MONTHS`, `DAYS`, any case) in theirs.
fn illegal_character(field: &str, what: &str, low: u32, high: u32) -> Result<(), String> {
    let (names, extra): (&[&str], &str) = match what {
        "day-of-month" => (&[], "LW?"),
        "month" => (&MONTHS, ""),
        "day-of-week" => (&DAYS, "#L?"),
        _ => (&[], ""),
    };
    let upper = field.to_ascii_uppercase();
    let mut named = vec![false; field.len()];
    for name in names {
        for (at, _) in upper.match_indices(name) {
            named[at..at + name.len()]
                .iter_mut()
                .for_each(|n| *n = true);
        }
    }
    let bad = field.char_indices().find(|&(at, c)| {
        !(c.is_ascii_digit()
            || "*,-/".contains(c)
            || extra.contains(c.to_ascii_uppercase())
            || named.get(at).copied().unwrap_or(false))
    });
    let Some((_, c)) = bad else {
        return Ok(());
    };
    let mut takes =
        format!("the numbers {low} to {high}, `*`, lists (`,`), ranges (`-`) and steps (`/`)");
    if let [first, .., last] = names {
        takes.push_str(&format!(", and the names {first} to {last}"));
    }
    if !extra.is_empty() {
        let marks: Vec<String> = extra.chars().map(|m| format!("`{m}`")).collect();
        takes.push_str(&format!(", and {}", marks.join(", ")));
    }
    Err(format!(
        "the {what} field `{}` holds `{}`, which it does not take: it takes {takes}",
        shown(field),
        shown(&c.to_string())
    ))
}

/// A number written in digits, however many (one too large for any field, such as
/// `99999999999999999999`, is `u64::MAX`: out of every range, said as written).
fn whole(word: &str) -> Option<u64> {
    (!word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()))
        .then(|| word.parse::<u64>().unwrap_or(u64::MAX))
}

fn at(ms: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(ms).ok()?).single()
}

/// The start of the minute holding `ms`.
pub fn minute_of(ms: u64) -> u64 {
    ms - ms % MINUTE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T10:00:00Z.
    const T: u64 = 1_796_292_000_000;

    /// A number too large for 32 bits passed the field checks (they parsed `u32`) and met
    /// the parser, which said only "Component error: Invalid step."
    #[test]
    fn a_cron_number_too_large_for_32_bits_was_the_parsers_component_error() {
        for (expression, said) in [
            (
                "*/99999999999999999999 * * * *",
                "the minute field `*/99999999999999999999` steps by 99999999999999999999: a step is from 1 to 59",
            ),
            (
                "0 99999999999999999999 * * *",
                "the hour field `99999999999999999999` holds 99999999999999999999: it takes 0 to 23",
            ),
            (
                "0 0 1-4294967296 * *",
                "the day-of-month field `1-4294967296` holds 4294967296: it takes 1 to 31",
            ),
        ] {
            let error = Cadence::parse(expression).unwrap_err();
            assert!(error.contains(said), "{expression}: {error}");
        }
    }

    #[test]
    fn cron_errors_said_range_out_of_bounds_for_a_backwards_range_and_named_the_wrong_part_for_a_misspelt_name()
     {
        let backwards = Cadence::parse("5-1 * * * *").unwrap_err();
        assert!(backwards.contains("the minute field `5-1`"), "{backwards}");
        assert!(
            backwards.contains("runs backwards: write `1-5`"),
            "{backwards}"
        );
        let dow = Cadence::parse("0 0 * * FRI-MON").unwrap_err();
        assert!(
            dow.contains("`FRI-MON`, which runs backwards: write `MON-FRI`, or two ranges (`FRI-SAT,SUN-MON`)"),
            "{dow}"
        );
        let weekend = Cadence::parse("0 0 * * SAT-SUN").unwrap_err();
        assert!(weekend.contains("write `SAT-7` (Sunday is 7"), "{weekend}");
        assert!(Cadence::parse("0 0 * * SAT-7").is_ok());
        let month = Cadence::parse("0 0 1 NOV-feb *").unwrap_err();
        assert!(month.contains("write `feb-NOV`"), "{month}");
        let month = Cadence::parse("0 0 1 JANX *").unwrap_err();
        assert!(
            month.contains("the month field `JANX` holds `JANX`, which is not a month"),
            "{month}"
        );
        let day = Cadence::parse("0 0 * * MONDAY").unwrap_err();
        assert!(day.contains("not a day of the week"), "{day}");
        let empty = Cadence::parse("0,,5 * * * *").unwrap_err();
        assert!(empty.contains("an empty item in its list"), "{empty}");
        let trailing = Cadence::parse("0 3, * * *").unwrap_err();
        assert!(trailing.contains("the hour field `3,`"), "{trailing}");
        for fine in [
            "0 0 * * 5L",
            "0 0 15W * *",
            "0 0 * * MON#2",
            "0 0 ? * mon-fri",
            "0 0 L * *",
            "0 0 1 jan,Dec *",
        ] {
            assert!(Cadence::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn five_fields_match_whole_minutes_in_utc() {
        let c = Cadence::parse("*/15 * * * *").unwrap();
        assert_eq!(c.next_after(T), Some(T + 15 * MINUTE_MS));
        assert_eq!(c.next_after(T - 1), Some(T));
        assert_eq!(
            c.next_times(T, 3),
            vec![T + 15 * MINUTE_MS, T + 30 * MINUTE_MS, T + 45 * MINUTE_MS]
        );
    }

    #[test]
    fn due_in_gives_the_latest_match_and_how_many_were_due() {
        let c = Cadence::parse("* * * * *").unwrap();
        assert_eq!(c.due_in(T - MINUTE_MS, T, 100), Some((T, 1)));
        assert_eq!(c.due_in(T, T + 30_000, 100), None);
        assert_eq!(c.due_in(T - 10 * MINUTE_MS, T + 59_000, 100), Some((T, 10)));
        // Beyond the limit the latest is still the last one.
        assert_eq!(c.due_in(T - 500 * MINUTE_MS, T, 100), Some((T, 100)));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (bad, says) in [
            ("", "empty"),
            ("* * * *", "4 fields"),
            ("0 * * * * *", "6 fields"),
            (
                "61 * * * *",
                "the minute field `61` holds 61: it takes 0 to 59",
            ),
            (
                "0 24 * * *",
                "the hour field `24` holds 24: it takes 0 to 23",
            ),
            ("*/0 * * * *", "steps by 0"),
            ("0 0 * 13 *", "month field"),
            ("0 0 * * FOO", "`FOO`, which is not a day of the week"),
            // The user's own text, not the parser's upper-cased copy of it.
            (
                "$(id) * * * *",
                "the minute field `$(id)` holds `$`, which it does not take",
            ),
            ("a b c d e", "the minute field `a` holds `a`"),
            ("0 0 * * x", "the day-of-week field `x` holds `x`"),
            ("0 0 30 2 *", "matches no date"),
            ("@reboot", "not a time"),
            ("* * * * \u{1b}", "control"),
        ] {
            let e = Cadence::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert!(Cadence::parse("@daily").is_ok());
        assert!(Cadence::parse("0 0 29 2 *").is_ok());
        assert!(Cadence::parse("0 3 * * MON-FRI").is_ok());
        // What cron takes beyond numbers is not said to be illegal.
        for good in [
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 ? * 5L",
            "0 0 * jan-mar mon#2",
        ] {
            assert!(Cadence::parse(good).is_ok(), "{good}");
        }
    }
}
