//! Command-line interface.

mod bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "curtain",
    version,
    about = "Threshold-encrypted mempool sequencer"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the cryptographic pipeline of one block in-process.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// One batch through encrypt → batched validity → every member's shares → combine →
    /// third-party check of the openings, with medians over several rounds.
    ///
    /// Example: curtain bench crypto --nodes 16 --threshold 11 --batch 512
    Crypto(bench::CryptoArgs),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Bench(BenchCommand::Crypto(args)) => bench::crypto(args),
        }
    }
}
