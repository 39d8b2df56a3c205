//! The soft limits this process runs under (`ulimit`), as the errors that meet them name
//! them: open files, processes and threads, file size.

/// A limit of the process.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// RLIMIT_NOFILE, `ulimit -n`.
    OpenFiles,
    /// RLIMIT_NPROC, `ulimit -u`: processes and threads of the user.
    Processes,
    /// RLIMIT_FSIZE, `ulimit -f`, in bytes.
    FileSize,
}

/// The soft limit `which`, if there is one.
pub fn soft_limit(which: Limit) -> Option<u64> {
    let resource = match which {
        Limit::OpenFiles => nix::libc::RLIMIT_NOFILE,
        Limit::Processes => nix::libc::RLIMIT_NPROC,
        Limit::FileSize => nix::libc::RLIMIT_FSIZE,
    };
    let mut limit = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: getrlimit writes the struct it is given and nothing else.
    let ok = unsafe { nix::libc::getrlimit(resource, &mut limit) } == 0;
    #[allow(clippy::unnecessary_cast)]
    (ok && limit.rlim_cur != nix::libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
}
