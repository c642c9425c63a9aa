//! `curtain`: the command-line entry point. The node, its APIs and `curtain devnet` arrive with
//! their issues (see README.md); today the binary measures the threshold-encryption pipeline.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    cli::Cli::parse().run()
}
