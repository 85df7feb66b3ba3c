//! The `callboard` binary: parses the command line and hands over to the layer that does the work.
//! Each subcommand's arguments live beside the code that runs it.

use clap::{Parser, Subcommand};

/// Live call board for RingCentral call queues and tracking-number campaigns.
///
/// With no RingCentral credentials, callboard starts its embedded simulator on loopback and
/// monitors it (marked DEMO). Set RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT (or
/// the config file) to monitor your real account.
#[derive(Debug, Parser)]
#[command(name = "callboard", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay recorded WebSocket traffic (JSON lines) through the board and print the result.
    Replay(callboard::board::replay::ReplayArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            eprintln!("callboard: the live board is not built yet; see `callboard --help`");
            std::process::ExitCode::FAILURE
        }
        Some(Command::Replay(args)) => callboard::board::replay::run(&args),
    }
}
