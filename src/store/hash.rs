//! The hash chain: how one event's hash is computed from the stored bytes of its columns.
//!
//! STABILITY: changing anything here invalidates every existing log. The pinned-hash test below
//! fails on any drift.

/// Domain-separation context for `blake3::derive_key` mode: a hash made for anything else can
/// never be mistaken for an event hash.
pub const CHAIN_CONTEXT: &str = "cortex 2026-11-21 event log chain v1";

/// Domain-separation context of a snapshot's digest: never mistaken for an event hash.
pub const SNAPSHOT_CONTEXT: &str = "cortex 2026-11-21 state snapshot v1";

/// The previous hash of a run's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// blake3 (keyed by the context) over the run id, the sequence number, the previous hash and the
/// exact stored bytes of every other column. Every variable-length field is length-prefixed so
/// that no two different rows hash the same byte stream.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    run_id: &[u8],
    seq: i64,
    prev_hash: &[u8],
    id: &[u8],
    time: &[u8],
    type_name: &[u8],
    version: i64,
    body: &[u8],
) -> [u8; 32] {
    // The hasher keyed by the context, made once: `new_derive_key` hashes the context first,
    // which was a third of an append's hashing. A clone starts from the same state.
    static CHAIN: std::sync::OnceLock<blake3::Hasher> = std::sync::OnceLock::new();
    let mut hasher = CHAIN
        .get_or_init(|| blake3::Hasher::new_derive_key(CHAIN_CONTEXT))
        .clone();
    // The same byte stream as one `update` per field, handed over at once (blake3's output
    // does not depend on how its input is split).
    let fields = [
        run_id,
        &seq.to_le_bytes(),
        prev_hash,
        id,
        time,
        type_name,
        &version.to_le_bytes(),
        body,
    ];
    let mut stream = Vec::with_capacity(fields.iter().map(|f| f.len() + 8).sum());
    for bytes in fields {
        stream.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        stream.extend_from_slice(bytes);
    }
    hasher.update(&stream);
    *hasher.finalize().as_bytes()
}

/// The digest that binds a snapshot of a run's state to the chain: blake3 (keyed by its own
/// context) over the run id, the seq and the hash (hex) of the event the snapshot was taken
/// after, and the state's JSON, each length-prefixed. It catches a snapshot edited, damaged or
/// moved to another run or position by anyone who does not recompute it; `log verify` replays
/// to catch the rest.
pub fn snapshot_digest(run_id: &str, seq: u64, event_hash: &str, state: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(SNAPSHOT_CONTEXT);
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(run_id.as_bytes());
    field(&seq.to_le_bytes());
    field(event_hash.as_bytes());
    field(state.as_bytes());
    *hasher.finalize().as_bytes()
}

/// Lower-case hex of a hash (on every event read: no per-byte formatting).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex_into(&mut out, bytes);
    out
}

/// `bytes` as lowercase hex, written over `out` (whose room is kept: a stream of hashes
/// reuses one buffer).
pub(crate) fn hex_into(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = std::mem::take(out).into_bytes();
    buf.clear();
    buf.resize(bytes.len() * 2, 0);
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 15) as usize];
    }
    *out = String::from_utf8(buf).expect("hex digits are ASCII");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain format is pinned: if this changes, every stored log stops verifying.
    #[test]
    fn pinned_hash_of_a_known_event() {
        let h = event_hash(
            b"01JDTESTRUN0000000000000000",
            0,
            &GENESIS,
            b"01JDTESTEVT0000000000000000",
            b"2026-11-21T00:00:00.000Z",
            b"run_stopped",
            1,
            b"{}",
        );
        insta::assert_snapshot!(hex(&h), @"5e35924269b9d32dad8908ccee0ec27d5fca72cee11eb29427ff1f049a185745");
    }

    /// A snapshot's digest differs whenever any of what it binds differs, and never equals
    /// the event hash of the same bytes (its own context).
    #[test]
    fn a_snapshot_digest_binds_run_seq_hash_and_state() {
        let base = snapshot_digest("R", 5, "ab", "{}");
        assert_ne!(base, snapshot_digest("S", 5, "ab", "{}"));
        assert_ne!(base, snapshot_digest("R", 6, "ab", "{}"));
        assert_ne!(base, snapshot_digest("R", 5, "ac", "{}"));
        assert_ne!(base, snapshot_digest("R", 5, "ab", "{ }"));
        // Length prefixes: moving a byte from one field to the next changes the digest.
        assert_ne!(
            snapshot_digest("R", 5, "ab", "c"),
            snapshot_digest("R", 5, "a", "bc")
        );
        assert_eq!(base, snapshot_digest("R", 5, "ab", "{}"));
    }
}
