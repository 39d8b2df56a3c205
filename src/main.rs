//! The `cortex` binary: a thin shell over the library's command-line layer.

/// mimalloc instead of glibc's malloc: a step's turn allocates and frees many small values
/// (events, rows, JSON), and glibc's allocator was a third of the driver's instructions
/// (BENCHMARKS.md, "Where the time goes now").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cortex::cli::main());
}
