//! A floor for the chain benchmark (`benches/run.sh`), not a tool: N runs of `/bin/sh -c true`,
//! one after another, spawned from a Rust process the way cortex spawns a step (std's
//! `Command`: stdin from /dev/null, stdout and stderr piped and read to their end, a process
//! group of its own, the working folder set), with none of cortex's bookkeeping. What cortex
//! costs beyond this row is the engine's own work between one step's end and the next start.
//!
//! `cargo run --release --example spawn_floor -- 1000`

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("spawn_floor: the count must be a whole number: {e}");
            std::process::exit(2);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let mut out = Vec::new();
    for _ in 0..n {
        let mut child = match Command::new("/bin/sh")
            .args(["-c", "true"])
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("spawn_floor: cannot start /bin/sh: {e}");
                std::process::exit(1);
            }
        };
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
        ]
        .into_iter()
        .flatten()
        {
            let mut pipe = pipe;
            out.clear();
            let _ = pipe.read_to_end(&mut out);
        }
        if let Err(e) = child.wait() {
            eprintln!("spawn_floor: cannot wait for /bin/sh: {e}");
            std::process::exit(1);
        }
    }
}
