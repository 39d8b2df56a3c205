//! Starting a `run:` command's shell: `posix_spawn` with the inherited environment read once
//! per process, instead of std's `Command`, which copies the whole environment into a sorted
//! map and rebuilds every `NAME=VALUE` string for each spawn (a ninth of a short step's own
//! instructions, measured with callgrind). Only `/bin/sh -c TEXT` is started here: a program
//! looked up on `PATH` (`Program::Argv`) keeps std's `Command`, whose lookup uses the child's
//! own `PATH`. What the child gets is what std gives it: its own process group, the working
//! folder, standard input from `/dev/null` or a pipe, output and errors to pipes, an empty
//! signal mask and `SIGPIPE` (which Rust programs ignore) back to its default.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::OnceLock;

use nix::libc;

/// The signals the child gets back at their default disposition: every one but those this
/// process was started with ignored (`nohup`'s SIGHUP: ignored by what it runs too, as std
/// and a shell leave them), and SIGPIPE always (Rust ignores it; a program expects it). Read
/// once per process: cortex itself sets no signal to SIG_IGN (SIGPIPE aside, before `main`),
/// so what is ignored at the first spawn was inherited. Named to glibc's `posix_spawn` as
/// the set to reset, each is set with one call in the child; left to it, it reads every
/// signal's disposition first (128 system calls in the child, which the parent waits for).
fn to_default() -> &'static libc::sigset_t {
    struct Set(libc::sigset_t);
    // SAFETY (Send/Sync): a plain bit set, written once before it is shared, then only read.
    unsafe impl Send for Set {}
    unsafe impl Sync for Set {}
    static SET: OnceLock<Set> = OnceLock::new();
    &SET.get_or_init(|| {
        // SAFETY: `set` is initialised by sigemptyset before use; `sigaction` with a null new
        // action only reads the current one into `old`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in 1..=libc::SIGRTMAX() {
                if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                    continue;
                }
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                    continue;
                }
                if old.sa_sigaction == libc::SIG_IGN && sig != libc::SIGPIPE {
                    continue;
                }
                // glibc refuses its own internal signals here; it handles them itself.
                libc::sigaddset(&mut set, sig);
            }
            Set(set)
        }
    })
    .0
}

/// A command started by `spawn_shell`: its id, the parent's ends of its pipes, and its exit
/// status once waited for.
#[derive(Debug)]
pub struct Spawned {
    pid: libc::pid_t,
    pub stdin: Option<File>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    status: Option<ExitStatus>,
}

impl Spawned {
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Its exit status if it has exited (reaped then), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.reap(libc::WNOHANG)
    }

    /// Wait for it to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.reap(0)? {
                return Ok(status);
            }
        }
    }

    fn reap(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut raw: libc::c_int = 0;
        // SAFETY: `raw` is a valid place for the status; the pid is our own unreaped child.
        let got = unsafe { libc::waitpid(self.pid, &mut raw, flags) };
        match got {
            0 => Ok(None),
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
            _ => {
                let status = ExitStatus::from_raw(raw);
                self.status = Some(status);
                Ok(Some(status))
            }
        }
    }
}

/// The environment this process was started with, each entry as `(NAME, "NAME=VALUE")`: read
/// once (cortex never changes its own environment).
fn inherited() -> &'static [(OsString, CString)] {
    static ENV: OnceLock<Vec<(OsString, CString)>> = OnceLock::new();
    ENV.get_or_init(|| {
        std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut entry = k.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                Some((k, CString::new(entry).ok()?))
            })
            .collect()
    })
}

/// `/dev/null`, opened once, for the standard input of commands given none.
fn dev_null() -> io::Result<RawFd> {
    static NULL: OnceLock<File> = OnceLock::new();
    if let Some(f) = NULL.get() {
        return Ok(f.as_raw_fd());
    }
    // Opened with close-on-exec (std's default): only a `dup2` passes it on.
    let f = File::open("/dev/null")?;
    Ok(NULL.get_or_init(|| f).as_raw_fd())
}

/// A pipe whose two ends close on `exec`: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just opened and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn check(ret: libc::c_int) -> io::Result<()> {
    match ret {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

/// The attributes and file actions of a spawn, destroyed when dropped: the child's standard
/// input, output and errors (`fds`, made its 0, 1 and 2), its folder (`dir`), its own process
/// group, an empty signal mask and the signals reset to their default (`to_default`).
struct Plan {
    attr: libc::posix_spawnattr_t,
    actions: libc::posix_spawn_file_actions_t,
    fds: [RawFd; 3],
    dir: CString,
}

thread_local! {
    /// The plan of this thread's last spawn, used again by the next one with the same
    /// descriptors and folder (a chain's steps: the pipes get the same numbers, the folder is
    /// the run's). glibc checks both descriptors of each `dup2` action against the process's
    /// limit as it is added (`prlimit64`: six system calls a spawn), and a plan is only read by
    /// `posix_spawn`.
    static LAST_PLAN: std::cell::RefCell<Option<Box<Plan>>> =
        const { std::cell::RefCell::new(None) };
}

impl Plan {
    fn new(fds: [RawFd; 3], dir: CString) -> io::Result<Box<Plan>> {
        // SAFETY: both are plain C structures, initialised by their init functions before use
        // and destroyed once (`Drop`); boxed so that they never move after initialisation.
        let mut plan = unsafe {
            let mut plan: Box<Plan> = Box::new(Plan {
                attr: std::mem::zeroed(),
                actions: std::mem::zeroed(),
                fds,
                dir,
            });
            check(libc::posix_spawnattr_init(&mut plan.attr))?;
            if let Err(e) = check(libc::posix_spawn_file_actions_init(&mut plan.actions)) {
                libc::posix_spawnattr_destroy(&mut plan.attr);
                // Not dropped: `Drop` would destroy the actions never initialised.
                std::mem::forget(plan);
                return Err(e);
            }
            plan
        };
        // SAFETY: both are initialised; `plan.dir` lives as long as the actions that name it
        // (glibc copies the path all the same); the sets are initialised before use.
        unsafe {
            let actions = &mut plan.actions;
            for (fd, to) in fds.into_iter().zip(0..) {
                check(libc::posix_spawn_file_actions_adddup2(actions, fd, to))?;
            }
            check(libc::posix_spawn_file_actions_addchdir_np(
                actions,
                plan.dir.as_ptr(),
            ))?;
            let attr = &mut plan.attr;
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            check(libc::posix_spawnattr_setsigmask(attr, &set))?;
            check(libc::posix_spawnattr_setsigdefault(attr, to_default()))?;
            check(libc::posix_spawnattr_setpgroup(attr, 0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETSIGMASK;
            check(libc::posix_spawnattr_setflags(attr, flags as libc::c_short))?;
        }
        Ok(plan)
    }
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: both were initialised in `Plan::new`.
        unsafe {
            libc::posix_spawn_file_actions_destroy(&mut self.actions);
            libc::posix_spawnattr_destroy(&mut self.attr);
        }
    }
}

/// Start `/bin/sh -c TEXT` (`shell` is the shell's path) in `cwd`, in a process group of its
/// own, with the inherited environment less the variables named in `unset` and those `env`
/// sets, plus `env`; standard input a pipe when `piped_stdin`, else `/dev/null`. Errors are
/// std's: the system's error number (`ENOENT`, `E2BIG`, `EMFILE`, ...), or `InvalidInput` for
/// a NUL in the text, the folder or a variable.
pub fn spawn_shell(
    shell: &str,
    text: &str,
    cwd: &Path,
    env: &[(&str, &str)],
    unset: &[&str],
    piped_stdin: bool,
) -> io::Result<Spawned> {
    let program = CString::new(shell).map_err(|_| nul_error())?;
    let argv_owned = [
        program.clone(),
        CString::new("-c").map_err(|_| nul_error())?,
        CString::new(text).map_err(|_| nul_error())?,
    ];
    let mut argv: Vec<*mut libc::c_char> =
        argv_owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let dir = CString::new(cwd.as_os_str().as_bytes()).map_err(|_| nul_error())?;
    // The environment: what is inherited and neither unset nor set again, then what is set
    // (a name set twice: the last value, as with std).
    let set: Vec<CString> = env
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| !env[i + 1..].iter().any(|(later, _)| later == k))
        .map(|(_, (k, v))| CString::new(format!("{k}={v}")).map_err(|_| nul_error()))
        .collect::<io::Result<_>>()?;
    let dropped = |name: &OsString| {
        let name = name.as_bytes();
        unset.iter().any(|u| u.as_bytes() == name) || env.iter().any(|(k, _)| k.as_bytes() == name)
    };
    let mut envp: Vec<*mut libc::c_char> = inherited()
        .iter()
        .filter(|(name, _)| !dropped(name))
        .map(|(_, entry)| entry.as_ptr().cast_mut())
        .chain(set.iter().map(|e| e.as_ptr().cast_mut()))
        .collect();
    envp.push(std::ptr::null_mut());

    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let stdin = if piped_stdin { Some(pipe()?) } else { None };
    let stdin_fd = match &stdin {
        Some((read, _)) => read.as_raw_fd(),
        None => dev_null()?,
    };

    let fds = [stdin_fd, out_write.as_raw_fd(), err_write.as_raw_fd()];
    let mut pid: libc::pid_t = 0;
    LAST_PLAN.with(|last| -> io::Result<()> {
        let mut last = last.borrow_mut();
        let plan = match last.take() {
            Some(plan) if plan.fds == fds && plan.dir == dir => plan,
            _ => Plan::new(fds, dir)?,
        };
        // SAFETY: every pointer passed lives until `posix_spawn` returns (the strings and
        // arrays above, the plan, the descriptors held by this function).
        check(unsafe {
            libc::posix_spawn(
                &mut pid,
                program.as_ptr(),
                &plan.actions,
                &plan.attr,
                argv.as_ptr(),
                envp.as_ptr(),
            )
        })?;
        *last = Some(plan);
        Ok(())
    })?;
    // The child's ends are the child's now: closed here (dropped) so that the pipes end when
    // the child and what it started have closed theirs.
    drop((out_write, err_write));
    let stdin = stdin.map(|(read, write)| {
        drop(read);
        File::from(write)
    });
    Ok(Spawned {
        pid,
        stdin,
        stdout: Some(out_read),
        stderr: Some(err_read),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn output(mut s: Spawned) -> (String, String, ExitStatus) {
        let mut out = String::new();
        let mut err = String::new();
        File::from(s.stdout.take().unwrap())
            .read_to_string(&mut out)
            .unwrap();
        File::from(s.stderr.take().unwrap())
            .read_to_string(&mut err)
            .unwrap();
        let status = s.wait().unwrap();
        (out, err, status)
    }

    #[test]
    fn the_shell_gets_its_folder_its_group_and_the_environment_as_std_gives_it() {
        let dir = std::env::temp_dir();
        // An inherited variable (cargo gives every test CARGO_MANIFEST_DIR) unset, and HOME
        // set twice: the last value.
        let s = spawn_shell(
            "/bin/sh",
            "pwd; echo \"${CARGO_MANIFEST_DIR-unset}\"; echo \"$HOME\"; echo \"$CORTEX_X\"; echo $$; echo err >&2; exit 3",
            &dir,
            &[("HOME", "/x"), ("CORTEX_X", "first"), ("HOME", "/nowhere"), ("CORTEX_X", "a b=c")],
            &["CARGO_MANIFEST_DIR"],
            false,
        )
        .unwrap();
        let pid = s.id();
        let (out, err, status) = output(s);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            Path::new(lines[0]).canonicalize().unwrap(),
            dir.canonicalize().unwrap()
        );
        assert_eq!(lines[1], "unset");
        assert_eq!(lines[2], "/nowhere");
        assert_eq!(lines[3], "a b=c");
        assert_eq!(lines.last().unwrap().parse::<u32>().unwrap(), pid);
        assert_eq!(err.trim_end().lines().last(), Some("err"));
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_spawned_shell_leads_a_group_of_its_own_with_sigpipe_at_its_default() {
        let s = spawn_shell("/bin/sh", "sleep 5", Path::new("/"), &[], &[], false).unwrap();
        let pid = s.id() as i32;
        let stat = crate::execute::procinfo::stat(pid).unwrap();
        assert_eq!(stat.pgrp, pid);
        // SIGPIPE: `yes | head -1` ends (yes dies of SIGPIPE) instead of writing on forever.
        let piped = spawn_shell(
            "/bin/sh",
            "yes | head -n 1",
            Path::new("/"),
            &[],
            &[],
            false,
        )
        .unwrap();
        let (out, _, status) = output(piped);
        assert_eq!(out, "y\n");
        assert!(status.success());
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let mut s = s;
        assert_eq!(s.wait().unwrap().signal(), Some(9));
    }

    #[test]
    fn standard_input_is_the_pipe_given_or_nothing() {
        let mut s = spawn_shell("/bin/sh", "cat", Path::new("/"), &[], &[], true).unwrap();
        let mut stdin = s.stdin.take().unwrap();
        stdin.write_all(b"given\n").unwrap();
        drop(stdin);
        assert_eq!(output(s).0, "given\n");
        let s = spawn_shell("/bin/sh", "cat", Path::new("/"), &[], &[], false).unwrap();
        assert_eq!(output(s).0, "");
    }

    #[test]
    fn a_plan_used_again_gives_each_child_its_own_pipes_and_folder() {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let run = |text: &str, dir: &Path| {
            let (out, _, status) =
                output(spawn_shell("/bin/sh", text, dir, &[], &[], false).unwrap());
            assert!(status.success());
            out
        };
        // The same descriptors and folder: the first plan is used again.
        assert_eq!(
            run("echo one; pwd", &tmp),
            format!("one\n{}\n", tmp.display())
        );
        assert_eq!(
            run("echo two; pwd", &tmp),
            format!("two\n{}\n", tmp.display())
        );
        // Another folder: a plan of its own.
        assert_eq!(run("pwd", Path::new("/")), "/\n");
        // Another descriptor held open meanwhile: the pipes get other numbers.
        let held = File::open("/dev/null").unwrap();
        assert_eq!(run("echo three", &tmp), "three\n");
        drop(held);
        assert_eq!(run("echo four", &tmp), "four\n");
    }

    #[test]
    fn failures_are_the_systems_errors() {
        let missing = spawn_shell(
            "/bin/sh",
            "true",
            Path::new("/no/such/folder"),
            &[],
            &[],
            false,
        )
        .unwrap_err();
        assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
        let nul = spawn_shell("/bin/sh", "echo a\0b", Path::new("/"), &[], &[], false).unwrap_err();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let nul = spawn_shell(
            "/bin/sh",
            "true",
            Path::new("/"),
            &[("X", "a\0")],
            &[],
            false,
        )
        .unwrap_err();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let big = "x".repeat(200 * 1024);
        let too_long = spawn_shell(
            "/bin/sh",
            "true",
            Path::new("/"),
            &[("X", &big)],
            &[],
            false,
        )
        .unwrap_err();
        assert_eq!(too_long.raw_os_error(), Some(libc::E2BIG));
    }
}
