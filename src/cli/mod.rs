//! Command-line interface.

mod bench;
mod circuits;
mod client;
mod committee;
mod devnet;
mod dkg;
mod evidence;
mod node;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "curtain",
    version,
    about = "Threshold-encrypted mempool sequencer"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the cryptographic pipeline of one block in-process.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Committee set-up.
    #[command(subcommand)]
    Committee(CommitteeCommand),
    /// RLN circuit keys (anonymous admission).
    #[command(subcommand)]
    Circuits(CircuitsCommand),
    /// Run a local committee and a load generator of encrypted transactions (the main job).
    ///
    /// Examples: curtain devnet --rate 2000 --duration 30 --report devnet.json
    ///           curtain devnet            (500 tx/s until Ctrl-C)
    #[command(verbatim_doc_comment)]
    Devnet(devnet::DevnetArgs),
    /// Run one member's side of a key generation ceremony (Joint-Feldman DKG, no trusted
    /// dealer): writes committee.json, the member's encrypted keystore and node.toml.
    ///
    /// Example: curtain dkg --config ./member0/dkg.toml --passphrase-file ./pass
    Dkg(dkg::DkgArgs),
    /// Redistribute the committee's key to a new member set (same public key, new key
    /// epoch); with --refresh, fresh shares for the same members.
    ///
    /// Example: curtain reshare --config ./member0/reshare.toml --activate-at 5000
    /// (then restart every member with the written node.toml before height 5000)
    Reshare(dkg::ReshareArgs),
    /// Generate an ed25519 identity key into a new encrypted keystore.
    Keygen(committee::KeygenArgs),
    /// Encrypt one payload to the committee and submit it (--wait: await its release, verify it)
    ///
    /// Examples: curtain submit --node http://127.0.0.1:19200 --namespace 1 --data "hello"
    ///           curtain submit --namespace 1 --file tx.bin --wait
    #[command(verbatim_doc_comment)]
    Submit(client::SubmitArgs),
    /// Follow a namespace's released batches, verifying each (finality certificate, block
    /// contents, openings) before printing it.
    ///
    /// Example: curtain watch --node http://127.0.0.1:19200 --namespace 1
    Watch(client::WatchArgs),
    /// A committee's key and each given member's health and progress.
    ///
    /// Example: curtain status --node http://127.0.0.1:19200 --node http://127.0.0.1:19201
    Status(client::StatusArgs),
    /// Evidence of faults: check a piece against the committee alone, or read a member's.
    ///
    /// Examples: curtain evidence verify piece.bin --committee committee.json
    ///           curtain evidence list --node http://127.0.0.1:19200
    #[command(subcommand, verbatim_doc_comment)]
    Evidence(evidence::EvidenceCommand),
    /// Run one committee member.
    ///
    /// Example: curtain node --config ./committee/node0/node.toml
    Node(node::NodeArgs),
}

#[derive(Subcommand)]
enum CommitteeCommand {
    /// Deal a dev committee with a trusted dealer (dev shortcut: the dealer knows the key;
    /// use `curtain dkg` for a real committee): committee.json, per-member keystores and
    /// node.toml.
    ///
    /// Example: curtain committee new --nodes 4 --out ./committee
    New(committee::NewArgs),
}

#[derive(Subcommand)]
enum CircuitsCommand {
    /// Proving and verifying keys from the INSECURE deterministic dev setup (tests and
    /// devnets only): rln.pk and rln.vk.
    ///
    /// Example: curtain circuits setup --out ./rln
    Setup(circuits::SetupArgs),
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
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Bench(BenchCommand::Crypto(args)) => bench::crypto(args),
            Command::Committee(CommitteeCommand::New(args)) => committee::new(args),
            Command::Circuits(CircuitsCommand::Setup(args)) => circuits::setup(args),
            Command::Devnet(args) => devnet::devnet(args),
            Command::Dkg(args) => dkg::dkg(args),
            Command::Reshare(args) => dkg::reshare(args),
            Command::Keygen(args) => committee::keygen(args),
            Command::Node(args) => node::node(args),
            Command::Submit(args) => client::submit(args),
            Command::Watch(args) => client::watch(args),
            Command::Status(args) => client::status(args),
            Command::Evidence(command) => evidence::run(command),
        }
    }
}
