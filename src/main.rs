//! `curtain`: the command-line entry point. The node, its APIs and `curtain devnet` arrive with
//! their issues (see README.md); today the binary measures the threshold-encryption pipeline.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // Logs to stderr; RUST_LOG overrides the default (info for curtain, warn elsewhere).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,curtain=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::Cli::parse().run()
}
