//! `callboard journal …`: the event journal that `watch --journal` records, exported as JSON
//! lines that `callboard replay` reads back, so a shift can be replayed later.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{Store, StoreConfig};
use crate::config::{self, Config};

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    command: JournalCommand,
    /// Where the store lives; default: $CALLBOARD_DATA_DIR, else the user's data dir.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Write every journaled frame, oldest first, one JSON line each, exactly as received.
    ///
    /// Example: callboard journal export > shift.jsonl && callboard replay shift.jsonl
    Export,
    /// Say how many frames the journal holds and where it lives.
    Info,
}

impl JournalArgs {
    pub fn run(self, config_file: Option<PathBuf>) -> ExitCode {
        match self.execute(config_file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("callboard journal: {err:#}");
                ExitCode::FAILURE
            }
        }
    }

    fn execute(self, config_file: Option<PathBuf>) -> anyhow::Result<()> {
        let config = Config::load(config_file.as_deref())?;
        let dir = match self.data_dir {
            Some(dir) => dir,
            None => config::data_dir()?,
        };
        let store_config = StoreConfig {
            cap_bytes: config.store_cap_bytes,
            ..StoreConfig::default()
        };
        let store = Store::open(&dir, store_config)
            .with_context(|| format!("cannot open the store in {}", dir.display()))?;
        match self.command {
            JournalCommand::Export => {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                let export = store.journal_export(&mut out)?;
                out.flush()
                    .context("cannot write the journal to standard output")?;
                eprintln!(
                    "callboard journal: exported {} frames ({} bytes) from {}",
                    export.frames,
                    export.bytes,
                    dir.display()
                );
            }
            JournalCommand::Info => {
                println!("{} frames in {}", store.journal_len(), dir.display());
                if store.journal_len() == 0 {
                    println!("record one with: callboard watch --journal");
                }
            }
        }
        Ok(())
    }
}
