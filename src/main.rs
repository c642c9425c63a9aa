//! `curtain`: the command-line entry point (`src/cli`): a committee member (`curtain node`), key
//! ceremonies (`dkg`, `reshare`) and dev committees (`committee new`), a local committee with a
//! load generator (`devnet`), the wallet side (`submit`, `watch`, `status`) and benchmarks of
//! the cryptographic pipeline (`bench`).

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
