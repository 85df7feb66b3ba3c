//! `callboard numbers list` and `callboard numbers relabel`: the account's numbers and their
//! labels, for people who automate. Relabelling goes through the same rules and the same
//! [`RelabelWriter`] as the TUI, so a script gets the same validation, pending-write safety and
//! audit as a supervisor at the keyboard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::app::relabel::{LabelSpec, PlannedRelabel, RelabelWriter, WriteOutcome, build_label};
use crate::board::label::LabelGrammar;
use crate::board::{Board, BoardConfig, Window};
use crate::config::Config;
use crate::rc::records::PhoneNumber;
use crate::rc::{Credentials, RestClient, RestConfig};
use crate::store::{Store, StoreConfig};
use crate::text::sanitize;

/// `callboard numbers …`
#[derive(Debug, Subcommand)]
pub enum NumbersCommand {
    /// List every phone number of the account with its label, campaign and DN, its live calls
    /// now and its calls today.
    ///
    /// "Now" is the moment of the run: the live calls are read once, as callboard reads them at
    /// start (every extension's detailed presence, then each call it names). "Today" counts the
    /// calls to the number since local midnight in the configured time zone, from the call log
    /// plus the live calls.
    List(ListArgs),
    /// Change one number's label (checked first; kept as pending until the platform confirms).
    Relabel(RelabelArgs),
    /// Every relabel, newest first: when, number, old → new, result, who; and writes still pending.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The audit as a JSON array (newest first), each entry as the store keeps it.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per number, as an array.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Comma-separated values with a header line.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["campaign", "label"])))]
pub struct RelabelArgs {
    /// The number to relabel: E.164 (+14155550100) or the platform's phone-number id.
    pub number: String,
    /// The campaign to move the number to. Without --dn the number keeps its current DN.
    #[arg(long)]
    pub campaign: Option<String>,
    /// The DN (E.164) the label names, with --campaign.
    #[arg(long, requires = "campaign")]
    pub dn: Option<String>,
    /// The whole label exactly as given (instead of --campaign/--dn).
    #[arg(long, conflicts_with_all = ["campaign", "dn"])]
    pub label: Option<String>,
    /// Show what would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs a `numbers` subcommand. `read_only` is the global `--read-only` flag.
pub fn run(command: NumbersCommand, config_file: Option<PathBuf>, read_only: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("callboard numbers: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let config = Config::load(config_file.as_deref())?;
        match command {
            NumbersCommand::List(args) => list(&config, &args).await,
            NumbersCommand::Relabel(args) => {
                let data_dir = crate::config::data_dir()?;
                relabel(&config, &args, read_only, &data_dir).await
            }
            NumbersCommand::Audit(args) => {
                let data_dir = crate::config::data_dir()?;
                audit(&config, &args, &data_dir)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("callboard numbers: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(config: &Config) -> anyhow::Result<Arc<RestClient>> {
    let Some(platform) = &config.credentials else {
        bail!(
            "no RingCentral credentials: set RC_SERVER_URL, RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT (or the config file); `callboard sim` prints a set for the simulator"
        );
    };
    crate::rc::rest::install_crypto_provider();
    let rest = RestClient::connect(
        Credentials::from_config(platform)?,
        RestConfig {
            relabel_path: config.relabel_path.clone(),
            ..RestConfig::default()
        },
    )?;
    Ok(Arc::new(rest))
}

fn grammar_of(config: &Config) -> LabelGrammar {
    config.label_grammar.clone().unwrap_or_default()
}

/// One number as `numbers list` prints it. Every string is sanitised: it reaches a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberRow {
    pub id: String,
    pub phone_number: String,
    pub label: String,
    pub campaign: String,
    pub dn: String,
    pub usage_type: String,
    /// The extension or call queue the number rings.
    pub rings: String,
    /// Calls to the number live at the moment of the run.
    pub live_now: i64,
    /// Calls to the number since local midnight (finished and live).
    pub calls_today: i64,
}

/// What was happening on one number when `numbers list` ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumberActivity {
    pub live_now: i64,
    pub calls_today: i64,
}

/// Each number's live calls and today's calls (by E.164), as the board counts them after the
/// same read the monitor does at start.
pub fn activity_by_number(
    board: &Board,
    now: chrono::DateTime<Utc>,
) -> BTreeMap<String, NumberActivity> {
    board
        .number_rows(Window::Today, now)
        .into_iter()
        .map(|row| {
            let activity = NumberActivity {
                live_now: row.live,
                calls_today: row.offered,
            };
            (row.number, activity)
        })
        .collect()
}

/// The rows of `numbers list`, sorted by number; a number missing from `activity` had no calls.
pub fn number_rows(
    grammar: &LabelGrammar,
    numbers: &[PhoneNumber],
    activity: &BTreeMap<String, NumberActivity>,
) -> Vec<NumberRow> {
    let mut rows: Vec<NumberRow> = numbers
        .iter()
        .map(|n| {
            let parsed = grammar.parse(n.label.as_deref());
            let rings = n.extension.as_ref().map(|ext| {
                match (ext.name.as_deref(), ext.extension_number.as_deref()) {
                    (Some(name), Some(number)) => format!("{name} ({number})"),
                    (Some(name), None) => name.to_owned(),
                    (None, Some(number)) => format!("ext {number}"),
                    (None, None) => ext.id.clone().unwrap_or_default(),
                }
            });
            let seen = activity.get(&n.phone_number).copied().unwrap_or_default();
            NumberRow {
                live_now: seen.live_now,
                calls_today: seen.calls_today,
                id: sanitize(&n.id).into_owned(),
                phone_number: sanitize(&n.phone_number).into_owned(),
                label: sanitize(n.label.as_deref().unwrap_or("")).into_owned(),
                campaign: parsed
                    .as_ref()
                    .map(|p| sanitize(&p.campaign).into_owned())
                    .unwrap_or_else(|| crate::board::UNLABELLED.to_owned()),
                dn: parsed
                    .and_then(|p| p.dn)
                    .map(|dn| sanitize(&dn).into_owned())
                    .unwrap_or_default(),
                usage_type: sanitize(n.usage_type.as_deref().unwrap_or("")).into_owned(),
                rings: sanitize(rings.as_deref().unwrap_or("")).into_owned(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.phone_number.cmp(&b.phone_number));
    rows
}

/// One CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// `numbers list` in CSV, header first.
pub fn rows_to_csv(rows: &[NumberRow]) -> String {
    // New columns go last, so scripts that read the older columns by position keep working.
    let mut out =
        String::from("id,phone_number,label,campaign,dn,usage_type,rings,live_now,calls_today\n");
    for r in rows {
        let live = r.live_now.to_string();
        let today = r.calls_today.to_string();
        let fields = [
            &r.id,
            &r.phone_number,
            &r.label,
            &r.campaign,
            &r.dn,
            &r.usage_type,
            &r.rings,
            &live,
            &today,
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// `numbers list` as an aligned table.
pub fn rows_to_table(rows: &[NumberRow]) -> String {
    use unicode_width::UnicodeWidthStr;
    let header = [
        "NUMBER", "CAMPAIGN", "DN", "LIVE", "TODAY", "USAGE", "RINGS", "ID",
    ];
    let counts: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.live_now.to_string(), r.calls_today.to_string()))
        .collect();
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .zip(&counts)
        .map(|(r, (live, today))| {
            [
                r.phone_number.as_str(),
                r.campaign.as_str(),
                r.dn.as_str(),
                live.as_str(),
                today.as_str(),
                r.usage_type.as_str(),
                r.rings.as_str(),
                r.id.as_str(),
            ]
        })
        .collect();
    let mut widths = header.map(UnicodeWidthStr::width);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(cells.iter()) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(w - cell.width() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

async fn list(config: &Config, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let rest = connect(config).await?;
    // The monitor's own start-up read, once: the numbers, today's call log and the live calls,
    // counted by the board, so the CLI and the Numbers view agree.
    let snapshot = crate::rc::sync::bootstrap(&rest, config.time_zone, Vec::new())
        .await
        .context("cannot read the account's numbers and calls")?;
    for warning in &snapshot.warnings {
        eprintln!("callboard numbers list: {}", sanitize(warning));
    }
    let Some(numbers) = snapshot.numbers.as_deref() else {
        bail!("the account's phone numbers could not be read (see above); try again in a moment");
    };
    let mut board = Board::new(
        BoardConfig {
            time_zone: config.time_zone,
            label_grammar: grammar_of(config),
            ..BoardConfig::default()
        },
        Vec::<String>::new(),
    );
    let now = Utc::now();
    crate::rc::apply::apply_snapshot(&mut board, &snapshot, now);
    let rows = number_rows(
        &grammar_of(config),
        numbers,
        &activity_by_number(&board, now),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if args.csv {
        print!("{}", rows_to_csv(&rows));
    } else {
        print!("{}", rows_to_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// Finds `wanted` (E.164 or id) among the account's numbers.
pub fn find_number<'a>(numbers: &'a [PhoneNumber], wanted: &str) -> Option<&'a PhoneNumber> {
    let wanted = wanted.trim();
    numbers
        .iter()
        .find(|n| n.phone_number == wanted || n.id == wanted)
}

/// Works out the write for `args` against the account's current numbers: nothing is sent.
pub fn plan(
    grammar: &LabelGrammar,
    numbers: &[PhoneNumber],
    args: &RelabelArgs,
) -> anyhow::Result<PlannedRelabel> {
    let number = find_number(numbers, &args.number).with_context(|| {
        format!(
            "no number {} in the account; `callboard numbers list` shows them",
            sanitize(&args.number)
        )
    })?;
    let spec = match (&args.label, &args.campaign) {
        (Some(label), _) => LabelSpec::Raw(label.clone()),
        (None, Some(campaign)) => LabelSpec::Fields {
            campaign: campaign.clone(),
            dn: args.dn.clone().or_else(|| {
                grammar
                    .parse(number.label.as_deref())
                    .and_then(|parsed| parsed.dn)
            }),
        },
        (None, None) => bail!("say what to write: --campaign C [--dn DN] or --label L"),
    };
    let new_label = build_label(grammar, &spec)
        .with_context(|| format!("cannot relabel {}", number.phone_number))?;
    Ok(PlannedRelabel {
        number_id: number.id.clone(),
        phone_number: number.phone_number.clone(),
        old_label: number.label.clone().filter(|l| !l.trim().is_empty()),
        new_label,
    })
}

fn describe_plan(plan: &PlannedRelabel) -> String {
    format!(
        "{} (id {}): \"{}\" → \"{}\"",
        sanitize(&plan.phone_number),
        sanitize(&plan.number_id),
        sanitize(plan.old_label.as_deref().unwrap_or("")),
        plan.new_label
    )
}

fn audit(config: &Config, args: &AuditArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let store = Store::open(data_dir, StoreConfig::default())?;
    let mut entries = store.audit_log()?;
    entries.reverse();
    let pending = store.pending_relabels()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    for write in &pending {
        println!(
            "pending  {}  \"{}\" → \"{}\"  {} tr{} so far{}",
            sanitize(&write.phone_number),
            sanitize(write.old_label.as_deref().unwrap_or("")),
            sanitize(&write.new_label),
            write.attempts,
            if write.attempts == 1 { "y" } else { "ies" },
            write
                .last_error
                .as_deref()
                .map(|e| format!("; last: {}", sanitize(e)))
                .unwrap_or_default()
        );
    }
    for entry in &entries {
        println!(
            "{}",
            crate::app::relabel::audit_line(entry, config.time_zone)
        );
    }
    if entries.is_empty() && pending.is_empty() {
        println!("no relabels yet");
    }
    Ok(ExitCode::SUCCESS)
}

/// An outcome as the CLI prints it. A deferred write is not retried by this run (the TUI's
/// worker does that), so the line says it stays pending rather than when it will be retried.
fn describe_for_cli(outcome: &WriteOutcome) -> String {
    match outcome {
        WriteOutcome::Deferred { reason, code } => format!(
            "relabel still pending: {reason}{}",
            code.as_deref()
                .map(|code| format!(" ({})", sanitize(code)))
                .unwrap_or_default()
        ),
        landed_or_failed => landed_or_failed.describe(),
    }
}

/// The message `--read-only` (or `read_only = true`) gives every relabel path.
pub const READ_ONLY_REFUSAL: &str =
    "read-only mode is on (--read-only or read_only = true in the config): relabelling is disabled";

async fn relabel(
    config: &Config,
    args: &RelabelArgs,
    read_only: bool,
    data_dir: &Path,
) -> anyhow::Result<ExitCode> {
    if (read_only || config.read_only) && !args.dry_run {
        bail!(READ_ONLY_REFUSAL);
    }
    let rest = connect(config).await?;
    let numbers = rest.phone_numbers().await?;
    let plan = plan(&grammar_of(config), &numbers, args)?;
    if args.dry_run {
        println!("would relabel {}", describe_plan(&plan));
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(data_dir, StoreConfig::default())
        .context("relabelling keeps each write in the store until the platform confirms it")?;
    let writer = RelabelWriter::for_token_owner(rest, store).await;

    // Writes an earlier run left pending go first, in the order they were confirmed.
    let earlier = writer.store().pending_relabels()?;
    if !earlier.is_empty() {
        println!(
            "resuming {} relabel(s) left pending by an earlier run",
            earlier.len()
        );
        let summary = writer
            .drain(|report| {
                println!(
                    "  {}: {}",
                    sanitize(&report.write.phone_number),
                    describe_for_cli(&report.outcome)
                )
            })
            .await?;
        if summary.still_pending > 0 {
            bail!(
                "{} earlier relabel(s) are still pending (the platform cannot take them now); try again later",
                summary.still_pending
            );
        }
    }

    let confirmed = writer.confirm(std::slice::from_ref(&plan), Utc::now())?;
    let mut failed = false;
    for write in &confirmed {
        let report = writer.write(write).await?;
        println!(
            "{}: {}",
            sanitize(&write.phone_number),
            describe_for_cli(&report.outcome)
        );
        failed |= !report.outcome.landed();
        if let WriteOutcome::Deferred { .. } = report.outcome {
            eprintln!(
                "the write is kept as pending; run `callboard numbers relabel` again or start callboard to finish it"
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(id: &str, phone: &str, label: Option<&str>) -> PhoneNumber {
        serde_json::from_value(serde_json::json!({
            "id": id.parse::<u64>().unwrap(),
            "phoneNumber": phone,
            "label": label,
            "usageType": "CompanyNumber",
            "extension": {"id": 7, "name": "Sales, West", "extensionNumber": "201"}
        }))
        .unwrap()
    }

    fn args(number: &str) -> RelabelArgs {
        RelabelArgs {
            number: number.into(),
            campaign: None,
            dn: None,
            label: None,
            dry_run: false,
        }
    }

    #[test]
    fn list_rows_parse_labels_and_csv_quotes_commas() {
        let numbers = [
            number("2", "+14155550111", None),
            number("1", "+14155550110", Some("Zillow +14155550100")),
        ];
        let activity = BTreeMap::from([(
            "+14155550110".to_owned(),
            NumberActivity {
                live_now: 1,
                calls_today: 4,
            },
        )]);
        let rows = number_rows(&LabelGrammar::default(), &numbers, &activity);
        assert_eq!(rows[0].phone_number, "+14155550110");
        assert_eq!(rows[0].campaign, "Zillow");
        assert_eq!(rows[0].dn, "+14155550100");
        assert_eq!((rows[0].live_now, rows[0].calls_today), (1, 4));
        assert_eq!(rows[1].campaign, crate::board::UNLABELLED);
        assert_eq!((rows[1].live_now, rows[1].calls_today), (0, 0));
        let csv = rows_to_csv(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "id,phone_number,label,campaign,dn,usage_type,rings,live_now,calls_today"
        );
        assert_eq!(
            lines[1],
            "1,+14155550110,Zillow +14155550100,Zillow,+14155550100,CompanyNumber,\"Sales, West (201)\",1,4"
        );
        let table = rows_to_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("NUMBER        CAMPAIGN      DN            LIVE  TODAY"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("+14155550110  Zillow        +14155550100  1     4"),
            "{table}"
        );
    }

    #[test]
    fn the_cli_says_a_deferred_write_stays_pending_without_promising_a_retry() {
        let deferred = WriteOutcome::Deferred {
            reason: "rate limited".into(),
            code: Some("CMN-301".into()),
        };
        assert_eq!(
            describe_for_cli(&deferred),
            "relabel still pending: rate limited (CMN-301)"
        );
        let failed = WriteOutcome::Failed {
            code: Some("CMN-102".into()),
            message: "number not found on the account (HTTP 404, CMN-102)".into(),
        };
        assert_eq!(
            describe_for_cli(&failed),
            "relabel failed: number not found on the account (HTTP 404, CMN-102)"
        );
    }

    #[test]
    fn a_campaign_change_keeps_the_dn_unless_one_is_given() {
        let numbers = [number("1", "+14155550110", Some("Zillow +14155550100"))];
        let grammar = LabelGrammar::default();
        let mut a = args("+14155550110");
        a.campaign = Some("Yelp".into());
        let planned = plan(&grammar, &numbers, &a).unwrap();
        assert_eq!(planned.new_label, "Yelp +14155550100");
        assert_eq!(planned.old_label.as_deref(), Some("Zillow +14155550100"));
        a.dn = Some("+14155550199".into());
        assert_eq!(
            plan(&grammar, &numbers, &a).unwrap().new_label,
            "Yelp +14155550199"
        );
        let mut by_id = args("1");
        by_id.label = Some("Billboard 101".into());
        assert_eq!(
            plan(&grammar, &numbers, &by_id).unwrap().new_label,
            "Billboard 101"
        );
        let mut bad = args("+14155550110");
        bad.campaign = Some("Yelp".into());
        bad.dn = Some("555".into());
        let err = plan(&grammar, &numbers, &bad).unwrap_err();
        assert!(format!("{err:#}").contains("E.164"), "{err:#}");
        let err = plan(&grammar, &numbers, &args("+19999999999")).unwrap_err();
        assert!(err.to_string().contains("numbers list"), "{err}");
    }
}
