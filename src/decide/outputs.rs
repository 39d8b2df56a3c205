//! The bound on a unit's outputs, whichever way they arrive: a step's `$CORTEX_OUTPUT`, a
//! report's `--output` (CLI or MCP), Claude Code's result. Checked where a report is decided
//! (`finish_attempt`), so no route records more.

/// The most a unit's outputs may hold, in the bytes of their `key=value` lines. Outputs are
/// values that later steps and conditions read (each reaches a command as an environment
/// variable, which Linux holds to 128 KiB), and each is an event of the log, replayed with
/// the run: data belongs in a file, its path in an output. `$CORTEX_OUTPUT` is refused by its
/// size past it before it is read (`execute::take_outputs`).
pub const MAX_OUTPUT_BYTES: u64 = 1024 * 1024;

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

/// The problem with `outputs`, when they are more than outputs may hold.
pub fn outputs_too_large(outputs: &[(String, String)]) -> Option<String> {
    let bytes = outputs_bytes(outputs.iter().map(|(k, v)| (k, v)));
    (bytes > MAX_OUTPUT_BYTES).then(|| too_large("its outputs hold", bytes))
}
