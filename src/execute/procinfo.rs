//! What `/proc` says of a process: its group, when it started, the environment it was started
//! with, and which boot it belongs to. Where there is no `/proc` nothing is known, and every
//! caller takes that as "cannot tell".

use std::time::{Duration, SystemTime};

/// Whether process `pid` runs on this host (in this pid namespace): it exists (even as
/// another user's: the signal 0 is refused, not unanswered) and has not exited (a zombie
/// waiting for its parent has).
pub fn running(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => false,
        _ => !zombie(pid),
    }
}

/// Whether `/proc` says process `pid` is a zombie (it has exited).
fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|text| {
        text.rfind(')')
            .is_some_and(|end| text[end + 1..].trim_start().starts_with('Z'))
    })
}

/// What `/proc/PID/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Its process group.
    pub pgrp: i32,
    /// When it started, in clock ticks since boot.
    pub start: u64,
}

/// The stat of process `pid`, if it exists.
pub fn stat(pid: i32) -> Option<Stat> {
    // Into a buffer on the stack, read until the line's end: a line of `stat` is a few
    // hundred bytes, which `/proc` hands over in one read (`read_to_string` took six reads
    // and a `statx` for a step's note; reading on to the end of file, one read more).
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() {
        match std::io::Read::read(&mut file, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if buf[..len].ends_with(b"\n") {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    parse_stat(std::str::from_utf8(&buf[..len]).ok()?)
}

/// Fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp
/// (field 5), …, starttime (field 22).
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // A zombie has exited: it is nobody's live process.
    if fields.next()? == "Z" {
        return None;
    }
    // After the state: ppid, then pgrp; after pgrp, sixteen fields, then starttime.
    let pgrp = fields.nth(1)?.parse().ok()?;
    let start = fields.nth(16)?.parse().ok()?;
    Some(Stat { pgrp, start })
}

/// This boot's id, read once.
pub fn boot_id() -> Option<String> {
    static BOOT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
    })
    .clone()
}

/// The live processes of group `pgid`.
pub fn group_members(pgid: i32) -> Vec<(i32, Stat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .filter(|(_, stat)| stat.pgrp == pgid)
        .collect()
}

/// Was process `pid` started with `NAME=VALUE` (`entry`) in its environment? No when it
/// cannot be read (gone, or another user's).
pub fn started_with(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == entry.as_bytes()))
}

/// Is there no process `pid` on this host now? False when one is there (stopped, a zombie
/// not yet reaped, or another's that took the number).
pub fn gone_here(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|pid| stat(pid).is_none())
}

/// When process `pid` started, by the wall clock (to the clock tick), if it is alive.
pub fn started_at(pid: i32) -> Option<SystemTime> {
    let start = stat(pid)?.start;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let ticks = clock_ticks()?;
    Some(
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(boot)
            + Duration::from_secs(start / ticks)
            + Duration::from_nanos((start % ticks) * 1_000_000_000 / ticks),
    )
}

#[cfg(target_os = "linux")]
fn clock_ticks() -> Option<u64> {
    Some(rustix::param::clock_ticks_per_second()).filter(|&t| t > 0)
}

#[cfg(not(target_os = "linux"))]
fn clock_ticks() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_cannot_shift_the_fields_of_stat() {
        let stat =
            parse_stat("42 (a) b ) (c) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 9876 0 0")
                .unwrap();
        assert_eq!((stat.pgrp, stat.start), (42, 9876));
        assert!(parse_stat("42 (x) S 1").is_none());
        assert!(
            parse_stat("42 (x) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9876 0 0").is_none(),
            "a zombie is not alive"
        );
    }

    #[test]
    fn this_process_started_before_now_and_after_the_boot() {
        let me = std::process::id() as i32;
        let at = started_at(me).unwrap();
        assert!(at <= SystemTime::now());
        assert!(started_with(me, "PATH=") || std::env::var_os("PATH").is_some());
        assert!(boot_id().is_some());
    }
}
