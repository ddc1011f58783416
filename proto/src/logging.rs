//! Log setup shared by the `beacon` and `portal` binaries: `tracing` to stderr, filtered by
//! `RUST_LOG` (default `info`), coloured only on a terminal.

/// Installs the global `tracing` subscriber (call once, from a binary's `main`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
