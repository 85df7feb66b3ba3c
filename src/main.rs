//! The `callboard` binary: parses the command line and hands over to the layer that does the work.
//! Each subcommand's arguments live beside the code that runs it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Live call board for RingCentral call queues and tracking-number campaigns.
///
/// With no RingCentral credentials, callboard starts its embedded simulator on loopback and
/// monitors it (marked DEMO). Set RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT (or
/// the config file) to monitor your real account.
#[derive(Debug, Parser)]
#[command(name = "callboard", version, about, long_about, after_long_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    board: BoardArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

const AFTER_HELP: &str = "\
Examples:
  callboard                          the live board (DEMO without credentials)
  callboard --theme light --read-only
  callboard config init              write a commented config file to edit
  callboard config path              show where config, themes, data and logs live

In the board: ? lists every key (from your key map), : opens the command line
(:calls, :theme mono, :window rolling, :quit), / filters (re:REGEX, !TEXT), q quits.

Environment:
  RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET, RC_JWT   RingCentral credentials (JWT flow)
  CALLBOARD_CONFIG    config file (default ~/.config/callboard/config.toml)
  CALLBOARD_THEME     theme: default, light, high-contrast, mono or your own
  CALLBOARD_DATA_DIR  data dir for the store and the log (default ~/.local/share/callboard)
  CALLBOARD_LOG       log filter, e.g. debug or callboard::rc=trace (log: <data dir>/callboard.log)
  NO_COLOR            no colours (the mono theme) unless a theme is chosen
  TZ                  the zone \"today\" starts in, unless the config names one";

/// Options of the live board (the default command).
#[derive(Debug, Args)]
struct BoardArgs {
    /// Config file to read instead of the default.
    #[arg(long, global = true, env = "CALLBOARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Theme: default, light, high-contrast, mono, or NAME for <config dir>/themes/NAME.toml.
    #[arg(long, env = "CALLBOARD_THEME", value_name = "NAME")]
    theme: Option<String>,
    /// Remove every action that changes the account (relabelling) from the keys and help, and
    /// refuse `numbers relabel`.
    #[arg(long, global = true)]
    read_only: bool,
    /// Capture the mouse (off by default: it steals your terminal's text selection).
    #[arg(long)]
    mouse: bool,
    /// Ring the terminal bell when a queue newly breaches its service level.
    #[arg(long)]
    bell: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay recorded WebSocket traffic (JSON lines) through the board and print the result.
    Replay(callboard::board::replay::ReplayArgs),
    /// Run the embedded RingCentral platform simulator on loopback (for demos, tests and SDKs).
    Sim(callboard::sim::SimArgs),
    /// Monitor without the board: one line (or JSON line) per event, then the final board.
    Watch(callboard::rc::watch::WatchArgs),
    /// Export the event journal that `watch --journal` records, for `callboard replay`.
    Journal(callboard::store::journal_cli::JournalArgs),
    /// Write or locate the config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the account's numbers, or relabel one (the same rules and audit as the board).
    #[command(subcommand)]
    Numbers(callboard::app::numbers::NumbersCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Write a commented default config file (every setting shown with its default).
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show where the config file, user themes, the data dir and the log are.
    Path,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => callboard::app::launch(callboard::app::LaunchOptions {
            config: cli.board.config,
            theme: cli.board.theme,
            read_only: cli.board.read_only,
            mouse: cli.board.mouse,
            bell: cli.board.bell,
        }),
        Some(Command::Config(command)) => run_config(command, cli.board.config),
        Some(Command::Replay(args)) => return callboard::board::replay::run(&args),
        Some(Command::Sim(args)) => return args.run(),
        Some(Command::Watch(args)) => return callboard::rc::watch::run(args, cli.board.config),
        Some(Command::Journal(args)) => return args.run(cli.board.config),
        Some(Command::Numbers(command)) => {
            return callboard::app::numbers::run(command, cli.board.config, cli.board.read_only);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("callboard: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_config(command: ConfigCommand, explicit: Option<PathBuf>) -> anyhow::Result<()> {
    use callboard::config;
    let path = config::config_path(explicit.as_deref()).ok_or_else(|| {
        anyhow::anyhow!("cannot find a home directory for the config file; pass --config FILE")
    })?;
    match command {
        ConfigCommand::Init { force } => {
            config::write_default_config(&path, force)?;
            println!("wrote {}", path.display());
            println!(
                "edit it, then run callboard; `callboard config path` shows where things live"
            );
        }
        ConfigCommand::Path => {
            let data = config::data_dir()?;
            let exists = if path.exists() {
                ""
            } else {
                "  (not written yet: callboard config init)"
            };
            println!("config  {}{exists}", path.display());
            println!("themes  {}", config::themes_dir(&path).display());
            println!("data    {}", data.display());
            println!(
                "log     {}",
                data.join(callboard::app::LOG_FILE_NAME).display()
            );
        }
    }
    Ok(())
}
