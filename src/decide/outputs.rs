//! The bound on a unit's outputs, whichever way they arrive: a step's `$CORTEX_OUTPUT`, a
//! report's `--output` (CLI or MCP), Claude Code's result. Checked where a report is decided
//! (`finish_attempt`), so no route records more: at most `MAX_OUTPUT_BYTES` of `key=value`
//! lines and `MAX_OUTPUT_KEYS` keys.

/// The most a unit's outputs may hold, in the bytes of their `key=value` lines. Outputs are
/// values that later steps and conditions read (each reaches a command as an environment
/// variable, which Linux holds to 128 KiB), and each is an event of the log, replayed with
/// the run: data belongs in a file, its path in an output. `$CORTEX_OUTPUT` is refused by its
/// size past it before it is read (`execute::take_outputs`).
pub const MAX_OUTPUT_BYTES: u64 = 1024 * 1024;

/// The most keys a unit's outputs may have. Each key is an event of the log and a line of
/// `status`, so the byte bound alone let 1 MiB of `k=v` lines become 100,000 events
/// (hundreds of MB for every replay of the run): outputs are a few named values.
pub const MAX_OUTPUT_KEYS: usize = 1000;

/// Why outputs with `keys` keys cannot be taken; `have` says whose, with its verb
/// (`its outputs have`).
pub fn too_many_keys(have: &str, keys: usize) -> String {
    format!(
        "{have} {keys} keys, more than the {MAX_OUTPUT_KEYS} outputs may have: write data to a file and its path as an output"
    )
}

/// Why what holds `bytes` bytes cannot be taken as outputs; `holds` says what, with its
/// verb (`$CORTEX_OUTPUT holds`, `its outputs hold`).
pub fn too_large(holds: &str, bytes: u64) -> String {
    format!(
        "{holds} {bytes} bytes, more than the {} KiB outputs may hold: write data to a file and its path as an output",
        MAX_OUTPUT_BYTES / 1024
    )
}

/// The size of `outputs` as `key=value` lines: never more than the `$CORTEX_OUTPUT` file
/// they were read from.
pub fn outputs_bytes<'a>(outputs: impl IntoIterator<Item = (&'a String, &'a String)>) -> u64 {
    outputs
        .into_iter()
        .map(|(k, v)| k.len() as u64 + v.len() as u64 + 2)
        .sum()
}

/// The problem with `outputs`, when they are more than outputs may hold (in bytes, or in
/// distinct keys).
pub fn outputs_too_large(outputs: &[(String, String)]) -> Option<String> {
    let bytes = outputs_bytes(outputs.iter().map(|(k, v)| (k, v)));
    if bytes > MAX_OUTPUT_BYTES {
        return Some(too_large("its outputs hold", bytes));
    }
    let keys = outputs
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    (keys > MAX_OUTPUT_KEYS).then(|| too_many_keys("its outputs have", keys))
}
