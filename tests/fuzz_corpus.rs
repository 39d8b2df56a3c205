//! Replays the fuzz corpus through the same property checks the fuzz targets run, so that
//! `cargo test` catches a regression on any input the fuzzers have ever kept.
//!
//! Directories replayed, for every target in `checks::TARGETS`:
//! `fuzz/corpus/<target>/` (seeds and what `cargo fuzz` added), `fuzz/regressions/<target>/`
//! (committed inputs of fixed bugs) and `fuzz/artifacts/<target>/` (local crashes, git-ignored).

#[path = "../fuzz/checks.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// Run `check` on every file of `dirs`; the failures, as `path: message`, and how many ran.
fn replay(check: &dyn Fn(&[u8]), dirs: &[PathBuf]) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in dirs {
        for path in files(dir) {
            let data = std::fs::read(&path).expect("a readable corpus file");
            ran += 1;
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let first_line = message.lines().next().unwrap_or_default().to_string();
                failures.push(format!("{}: {first_line}", path.display()));
            }
        }
    }
    (failures, ran)
}

#[test]
fn every_corpus_and_regression_input_holds_its_properties() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    for (target, check) in checks::TARGETS {
        let corpus = fuzz.join("corpus").join(target);
        assert!(
            !files(&corpus).is_empty(),
            "fuzz/corpus/{target}/ has no seeds"
        );
        let dirs = [
            corpus,
            fuzz.join("regressions").join(target),
            fuzz.join("artifacts").join(target),
        ];
        let (failed, ran) = replay(check, &dirs);
        eprintln!("{target}: replayed {ran} inputs, {} failed", failed.len());
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} fuzz input(s) violate a property:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn exported_events_of_every_kind_round_trip() {
    // Inputs chosen so that, between them, the builder makes events of every variant.
    for seed in 0u8..=255 {
        let data: Vec<u8> = (0..512u32)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(seed)
                    .rotate_left(i % 7)
            })
            .collect();
        let lines = checks::export_lines(&data);
        assert!(!lines.is_empty());
        checks::check_export_jsonl(lines.join("\n").as_bytes());
    }
}

/// The `store-*.jsonl` seeds of the export_jsonl corpus are what the generator makes today
/// (the event format is pinned by them too); regenerate with
/// `CORTEX_UPDATE_FUZZ_SEEDS=1 cargo test --test fuzz_corpus`.
#[test]
fn export_seeds_are_current() {
    let dir = fuzz_dir().join("corpus").join("export_jsonl");
    for seed in 0u8..6 {
        let data: Vec<u8> = (0..160u32)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(37)
                    .wrapping_add(seed.wrapping_mul(41))
            })
            .collect();
        let mut text = checks::export_lines(&data).join("\n");
        text.push('\n');
        let path = dir.join(format!("store-{seed}.jsonl"));
        if std::env::var_os("CORTEX_UPDATE_FUZZ_SEEDS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "{} is stale: CORTEX_UPDATE_FUZZ_SEEDS=1 cargo test --test fuzz_corpus",
            path.display()
        );
    }
}
