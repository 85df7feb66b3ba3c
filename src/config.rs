//! The config file, the environment and where callboard keeps its files.
//!
//! Precedence, highest first: command-line flags, environment variables, the config file, built-in
//! defaults. The file is TOML in the XDG config dir (`~/.config/callboard/config.toml`), or the file
//! named by `--config` / `CALLBOARD_CONFIG`. Unknown keys are errors, so a typo never silently does
//! nothing; every error names the file, the line and what to write instead.
//!
//! Parsing is pure ([`Config::from_toml`] takes the text and an environment lookup) so good and bad
//! files are tested without touching the disk or the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::board::LabelGrammar;
use crate::ui::keys::KeyMap;

/// The file name inside the config dir.
pub const CONFIG_FILE_NAME: &str = "config.toml";

/// The RingCentral production platform, used when credentials are given without a server URL.
pub const DEFAULT_SERVER_URL: &str = "https://platform.ringcentral.com";

/// Where the relabel write goes; `{id}` is the phone number's id. Configurable because no public
/// endpoint documents label writes (PROTOCOL.md §4.2) and accounts differ.
pub const DEFAULT_RELABEL_PATH: &str = "/restapi/v1.0/account/~/phone-number/{id}";

/// How long a finished call stays on the board by default, in minutes: the same two hours as
/// [`crate::board::BoardConfig`]'s default horizon.
pub const DEFAULT_FINISHED_CALLS_MINUTES: u32 = 120;

/// The commented default written by `callboard config init`. Every value shown is the built-in
/// default, so writing this file changes nothing until the user edits it (a test holds us to that).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("config_default.toml");

/// The platform credentials, complete. Built only when all three secrets are known, so holding
/// one means "monitor the real platform".
#[derive(Clone, PartialEq, Eq)]
pub struct PlatformCredentials {
    pub server_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub jwt: String,
}

impl fmt::Debug for PlatformCredentials {
    // Secrets never reach logs, even through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformCredentials")
            .field("server_url", &self.server_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("jwt", &"<redacted>")
            .finish()
    }
}

/// Everything callboard reads from the config file and the environment, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file these settings came from; `None` when no file exists and defaults apply.
    pub source: Option<PathBuf>,
    /// `None` means no credentials anywhere: run the embedded simulator (DEMO).
    pub credentials: Option<PlatformCredentials>,
    /// Theme name from the file (flag and `CALLBOARD_THEME` are applied by the theme layer).
    pub theme: Option<String>,
    pub time_zone: Tz,
    /// Length of the rolling window, in minutes.
    pub rolling_window_minutes: u32,
    /// How long a finished call stays on the board (in memory) after it ended, in minutes.
    pub finished_calls_minutes: u32,
    /// Label grammar override: a regex with named groups `campaign` and `dn`, and the template
    /// relabelling writes with. `None`: the default grammar.
    pub label_grammar: Option<LabelGrammar>,
    /// Key overrides by action name; only the actions named here change.
    pub key_overrides: BTreeMap<String, Vec<String>>,
    pub read_only: bool,
    pub mouse: bool,
    pub bell: bool,
    pub relabel_path: String,
    /// Command that plays a recording; `{file}` is replaced by the exported file's path.
    pub recording_player: Option<String>,
    /// Where exports go unless told otherwise (the TUI's prompt proposes it, the CLI's `--out`
    /// defaults to it); `None`: the current directory.
    pub recording_export_dir: Option<PathBuf>,
    pub store_cap_bytes: u64,
    pub download_concurrency: usize,
}

/// A config file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{0}")]
    Environment(String),
}

// ---- the file's shape ------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    platform: PlatformSection,
    #[serde(default)]
    display: DisplaySection,
    #[serde(default)]
    labels: LabelsSection,
    #[serde(default)]
    keys: BTreeMap<String, Spanned<Vec<String>>>,
    #[serde(default)]
    relabel: RelabelSection,
    #[serde(default)]
    recordings: RecordingsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformSection {
    server_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    jwt: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisplaySection {
    theme: Option<String>,
    time_zone: Option<Spanned<String>>,
    rolling_window_minutes: Option<Spanned<u32>>,
    finished_calls_minutes: Option<Spanned<u32>>,
    read_only: Option<bool>,
    mouse: Option<bool>,
    bell: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsSection {
    grammar: Option<Spanned<String>>,
    template: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelabelSection {
    path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingsSection {
    player: Option<String>,
    export_dir: Option<PathBuf>,
    store_cap_mb: Option<Spanned<u64>>,
    download_concurrency: Option<Spanned<usize>>,
}

// ---- loading ---------------------------------------------------------------------------------

/// Where the config file is: the explicit path (`--config` / `CALLBOARD_CONFIG`) or the XDG default.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => project_dirs().map(|dirs| dirs.config_dir().join(CONFIG_FILE_NAME)),
    }
}

/// The directory holding user themes (`<config dir>/themes`), beside the config file in use.
pub fn themes_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .map(|dir| dir.join("themes"))
        .unwrap_or_else(|| PathBuf::from("themes"))
}

/// The data dir for logs and the store: `CALLBOARD_DATA_DIR`, else the XDG data dir.
pub fn data_dir() -> Result<PathBuf, ConfigError> {
    if let Some(dir) = std::env::var_os("CALLBOARD_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    project_dirs()
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or_else(|| {
            ConfigError::Environment(
                "cannot find a home directory for callboard's data; set CALLBOARD_DATA_DIR".into(),
            )
        })
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "callboard")
}

impl Config {
    /// Reads the config file (missing is fine unless it was named explicitly) and the process
    /// environment.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(path) = config_path(explicit) else {
            return Config::from_toml(None, "", &env);
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::from_toml(Some(&path), &text, &env),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                Config::from_toml(None, "", &env)
            }
            Err(err) => Err(ConfigError::Unreadable {
                path: path.display().to_string(),
                reason: if err.kind() == std::io::ErrorKind::NotFound {
                    "no such file (run `callboard config init` to write one)".into()
                } else {
                    err.to_string()
                },
            }),
        }
    }

    /// Parses `text` (the content of `path`, if any) and applies the environment given by `env`.
    pub fn from_toml(
        path: Option<&Path>,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let shown_path = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<defaults>".into());
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((1, 1));
            ConfigError::Invalid {
                path: shown_path.clone(),
                line,
                column,
                message,
            }
        };
        let file: ConfigFile = toml::from_str(text)
            .map_err(|err| at(err.span(), err.message().trim_end().to_string()))?;

        let credentials = resolve_credentials(&file.platform, env)?;

        let time_zone = match (&file.display.time_zone, env("TZ")) {
            (Some(zone), _) => zone.get_ref().parse::<Tz>().map_err(|_| {
                at(
                    Some(zone.span()),
                    format!(
                        "unknown time zone {:?}; use an IANA name such as \"Europe/London\" or \"America/Chicago\"",
                        zone.get_ref()
                    ),
                )
            })?,
            (None, Some(zone)) => zone
                .trim_start_matches(':')
                .parse::<Tz>()
                .unwrap_or_else(|_| system_time_zone()),
            (None, None) => system_time_zone(),
        };

        let rolling_window_minutes = match &file.display.rolling_window_minutes {
            Some(minutes) if !(1..=24 * 60).contains(minutes.get_ref()) => {
                return Err(at(
                    Some(minutes.span()),
                    format!(
                        "rolling_window_minutes = {} is out of range; use 1 to 1440",
                        minutes.get_ref()
                    ),
                ));
            }
            Some(minutes) => *minutes.get_ref(),
            None => 30,
        };

        let finished_calls_minutes = match &file.display.finished_calls_minutes {
            Some(minutes) if !(5..=24 * 60).contains(minutes.get_ref()) => {
                return Err(at(
                    Some(minutes.span()),
                    format!(
                        "finished_calls_minutes = {} is out of range; use 5 to 1440",
                        minutes.get_ref()
                    ),
                ));
            }
            Some(minutes) => *minutes.get_ref(),
            None => DEFAULT_FINISHED_CALLS_MINUTES,
        };

        let label_grammar = match (&file.labels.grammar, &file.labels.template) {
            (None, None) => None,
            (Some(grammar), Some(template)) => Some(
                LabelGrammar::custom(grammar.get_ref(), template.get_ref())
                    .map_err(|err| at(Some(grammar.span()), format!("[labels] {err}")))?,
            ),
            (Some(grammar), None) => {
                return Err(at(
                    Some(grammar.span()),
                    "[labels] grammar needs a template too, so a relabel writes what the grammar reads back, e.g. template = \"{campaign} {dn}\"".into(),
                ));
            }
            (None, Some(template)) => {
                return Err(at(
                    Some(template.span()),
                    "[labels] template needs a grammar (a regex with named groups campaign and dn)"
                        .into(),
                ));
            }
        };

        let read_only = file.display.read_only.unwrap_or(false);
        let key_overrides: BTreeMap<String, Vec<String>> = file
            .keys
            .iter()
            .map(|(action, keys)| (action.clone(), keys.get_ref().clone()))
            .collect();
        if let Err(err) = KeyMap::build(&key_overrides, read_only) {
            let span = file.keys.get(err.action()).map(|keys| keys.span());
            return Err(at(span, format!("[keys] {err}")));
        }

        let relabel_path = match &file.relabel.path {
            Some(path) if !path.get_ref().contains("{id}") || !path.get_ref().starts_with('/') => {
                return Err(at(
                    Some(path.span()),
                    format!(
                        "relabel.path {:?} must start with '/' and contain {{id}}, e.g. \"{DEFAULT_RELABEL_PATH}\"",
                        path.get_ref()
                    ),
                ));
            }
            Some(path) => path.get_ref().clone(),
            None => DEFAULT_RELABEL_PATH.to_string(),
        };

        let store_cap_mb = match &file.recordings.store_cap_mb {
            Some(cap) if *cap.get_ref() < 16 => {
                return Err(at(
                    Some(cap.span()),
                    format!(
                        "store_cap_mb = {} is too small to hold a recording; use at least 16",
                        cap.get_ref()
                    ),
                ));
            }
            Some(cap) => *cap.get_ref(),
            None => 2048,
        };
        let download_concurrency = match &file.recordings.download_concurrency {
            Some(n) if !(1..=8).contains(n.get_ref()) => {
                return Err(at(
                    Some(n.span()),
                    format!(
                        "download_concurrency = {} is out of range; use 1 to 8 (RingCentral's heavy rate-limit group allows about 10 requests a minute)",
                        n.get_ref()
                    ),
                ));
            }
            Some(n) => *n.get_ref(),
            None => 2,
        };

        Ok(Config {
            source: path.map(Path::to_path_buf),
            credentials,
            theme: file.display.theme.clone(),
            time_zone,
            rolling_window_minutes,
            finished_calls_minutes,
            label_grammar,
            key_overrides,
            read_only,
            mouse: file.display.mouse.unwrap_or(false),
            bell: file.display.bell.unwrap_or(false),
            relabel_path,
            recording_player: file
                .recordings
                .player
                .clone()
                .filter(|p| !p.trim().is_empty()),
            recording_export_dir: file
                .recordings
                .export_dir
                .clone()
                .filter(|dir| !dir.as_os_str().is_empty()),
            store_cap_bytes: store_cap_mb * 1024 * 1024,
            download_concurrency,
        })
    }
}

/// Env wins over the file, field by field. Either all three secrets are known or none is: a
/// half-configured account is an error that says what is missing, never a silent DEMO.
fn resolve_credentials(
    file: &PlatformSection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PlatformCredentials>, ConfigError> {
    let pick = |var: &str, from_file: &Option<String>| {
        env(var).or_else(|| from_file.clone().filter(|v| !v.is_empty()))
    };
    let server_url = pick("RC_SERVER_URL", &file.server_url);
    let client_id = pick("RC_CLIENT_ID", &file.client_id);
    let client_secret = pick("RC_CLIENT_SECRET", &file.client_secret);
    let jwt = pick("RC_JWT", &file.jwt);
    match (client_id, client_secret, jwt) {
        (None, None, None) => Ok(None),
        (Some(client_id), Some(client_secret), Some(jwt)) => Ok(Some(PlatformCredentials {
            server_url: server_url.unwrap_or_else(|| DEFAULT_SERVER_URL.to_string()),
            client_id,
            client_secret,
            jwt,
        })),
        (client_id, client_secret, jwt) => {
            let missing: Vec<&str> = [
                ("RC_CLIENT_ID", client_id.is_none()),
                ("RC_CLIENT_SECRET", client_secret.is_none()),
                ("RC_JWT", jwt.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            Err(ConfigError::Environment(format!(
                "RingCentral credentials are incomplete: {} not set (in the environment or [platform] of the config file); set all of RC_CLIENT_ID, RC_CLIENT_SECRET and RC_JWT, or none to run the demo",
                missing.join(", ")
            )))
        }
    }
}

/// The system zone from `/etc/localtime` (a symlink into the zoneinfo tree), else UTC.
fn system_time_zone() -> Tz {
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            let (_, name) = target.split_once("zoneinfo/")?;
            name.parse::<Tz>().ok()
        })
        .unwrap_or(Tz::UTC)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, last)| last)
        .chars()
        .count()
        + 1;
    (line, column)
}

/// What `callboard config init` did.
#[derive(Debug, PartialEq, Eq)]
pub enum InitOutcome {
    Written(PathBuf),
}

/// Writes [`DEFAULT_CONFIG_TOML`] to `path`, creating its directory; refuses to overwrite an
/// existing file unless `force`. The file is created 0600: it may come to hold secrets.
pub fn write_default_config(path: &Path, force: bool) -> Result<InitOutcome, ConfigError> {
    let unreadable = |reason: String| ConfigError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    if path.exists() && !force {
        return Err(unreadable(
            "it already exists; pass --force to replace it with the defaults".into(),
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|err| unreadable(format!("cannot create {}: {err}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|err| unreadable(format!("cannot write: {err}")))?;
    std::io::Write::write_all(&mut file, DEFAULT_CONFIG_TOML.as_bytes())
        .map_err(|err| unreadable(format!("cannot write: {err}")))?;
    Ok(InitOutcome::Written(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Some(Path::new("/tmp/cb.toml")), text, &no_env)
    }

    fn error_text(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_commented_default_file_equals_the_built_in_defaults() {
        let written = parse(DEFAULT_CONFIG_TOML).unwrap();
        let empty = parse("").unwrap();
        assert_eq!(written.credentials, empty.credentials);
        assert_eq!(written.theme, empty.theme);
        assert_eq!(written.rolling_window_minutes, 30);
        assert_eq!(empty.rolling_window_minutes, 30);
        assert_eq!(written.finished_calls_minutes, 120);
        assert_eq!(empty.finished_calls_minutes, 120);
        assert!(written.key_overrides.is_empty());
        assert!(written.label_grammar.is_none());
        assert_eq!(
            (written.read_only, written.mouse, written.bell),
            (false, false, false)
        );
        assert_eq!(written.relabel_path, DEFAULT_RELABEL_PATH);
        assert_eq!(written.store_cap_bytes, empty.store_cap_bytes);
        assert_eq!(written.download_concurrency, 2);
    }

    #[test]
    fn a_full_good_file_is_read() {
        let config = parse(
            r#"
[platform]
server_url = "https://platform.devtest.ringcentral.com"
client_id = "cid"
client_secret = "secret"
jwt = "eyJ.x.y"

[display]
theme = "light"
time_zone = "America/Chicago"
rolling_window_minutes = 15
finished_calls_minutes = 60
read_only = true
mouse = true
bell = true

[labels]
grammar = '^(?P<campaign>.*?)\s*\|\s*(?P<dn>\+\d+)$'
template = "{campaign} | {dn}"

[keys]
quit = ["x", "ctrl-q"]

[relabel]
path = "/restapi/v2/accounts/~/phone-numbers/{id}"

[recordings]
player = "mpv {file}"
export_dir = "/srv/calls"
store_cap_mb = 512
download_concurrency = 4
"#,
        )
        .unwrap();
        let creds = config.credentials.unwrap();
        assert_eq!(creds.server_url, "https://platform.devtest.ringcentral.com");
        assert_eq!(creds.jwt, "eyJ.x.y");
        assert_eq!(config.theme.as_deref(), Some("light"));
        assert_eq!(config.time_zone, chrono_tz::America::Chicago);
        assert_eq!(config.rolling_window_minutes, 15);
        assert_eq!(config.finished_calls_minutes, 60);
        assert!(config.read_only && config.mouse && config.bell);
        let grammar = config.label_grammar.unwrap();
        let parsed = grammar.parse(Some("Spring | +14155550100")).unwrap();
        assert_eq!(
            (parsed.campaign.as_str(), parsed.dn.as_deref()),
            ("Spring", Some("+14155550100"))
        );
        assert_eq!(config.key_overrides["quit"], vec!["x", "ctrl-q"]);
        assert_eq!(config.recording_player.as_deref(), Some("mpv {file}"));
        assert_eq!(
            config.recording_export_dir.as_deref(),
            Some(Path::new("/srv/calls"))
        );
        assert_eq!(config.store_cap_bytes, 512 * 1024 * 1024);
        assert_eq!(config.download_concurrency, 4);
    }

    #[test]
    fn a_typo_in_a_key_names_file_line_and_the_unknown_field() {
        let text = error_text("[display]\ntheme = \"light\"\nmosue = true\n");
        assert!(text.starts_with("/tmp/cb.toml:3:1: "), "{text}");
        assert!(text.contains("unknown field `mosue`"), "{text}");
        assert!(text.contains("mouse"), "lists the valid names: {text}");
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let text = error_text("[display]\nbell = tru\n");
        assert!(text.starts_with("/tmp/cb.toml:2:"), "{text}");
    }

    #[test]
    fn a_finished_calls_horizon_out_of_range_is_explained() {
        let text = error_text("[display]\nfinished_calls_minutes = 2\n");
        assert_eq!(
            text,
            "/tmp/cb.toml:2:26: finished_calls_minutes = 2 is out of range; use 5 to 1440"
        );
    }

    #[test]
    fn a_wrong_type_names_its_line() {
        let text = error_text("\n\n[display]\nrolling_window_minutes = \"thirty\"\n");
        assert!(text.starts_with("/tmp/cb.toml:4:"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }

    #[test]
    fn an_unknown_time_zone_is_explained() {
        let text = error_text("[display]\ntime_zone = \"Mars/Olympus\"\n");
        assert_eq!(
            text,
            "/tmp/cb.toml:2:13: unknown time zone \"Mars/Olympus\"; use an IANA name such as \"Europe/London\" or \"America/Chicago\""
        );
    }

    #[test]
    fn an_out_of_range_window_is_explained() {
        let text = error_text("[display]\nrolling_window_minutes = 0\n");
        assert_eq!(
            text,
            "/tmp/cb.toml:2:26: rolling_window_minutes = 0 is out of range; use 1 to 1440"
        );
    }

    #[test]
    fn a_bad_label_grammar_is_refused_with_its_line() {
        let text = error_text("[labels]\ngrammar = '(?P<name>.*)'\ntemplate = \"{campaign}\"\n");
        assert!(text.starts_with("/tmp/cb.toml:2:11: [labels] "), "{text}");
        assert!(text.contains("campaign"), "{text}");
        let text = error_text("[labels]\ngrammar = '(?P<campaign>.*'\ntemplate = \"{campaign}\"\n");
        assert!(text.starts_with("/tmp/cb.toml:2:11: [labels] "), "{text}");
        let text = error_text("[labels]\ngrammar = '(?P<campaign>.*)'\n");
        assert!(text.contains("grammar needs a template too"), "{text}");
    }

    #[test]
    fn a_bad_key_override_names_the_action_line() {
        let text = error_text("[keys]\nhelp = [\"?\"]\nquit = [\"ctrl-banana\"]\n");
        assert!(text.starts_with("/tmp/cb.toml:3:8: [keys] "), "{text}");
        assert!(text.contains("ctrl-banana"), "{text}");
        let text = error_text("[keys]\nfly = [\"f\"]\n");
        assert!(text.contains("unknown action \"fly\""), "{text}");
    }

    #[test]
    fn env_credentials_win_over_the_file() {
        let env = |name: &str| match name {
            "RC_JWT" => Some("from-env".to_string()),
            _ => None,
        };
        let config = Config::from_toml(
            None,
            "[platform]\nclient_id = \"a\"\nclient_secret = \"b\"\njwt = \"from-file\"\n",
            &env,
        )
        .unwrap();
        let creds = config.credentials.unwrap();
        assert_eq!(creds.jwt, "from-env");
        assert_eq!(creds.server_url, DEFAULT_SERVER_URL);
    }

    #[test]
    fn incomplete_credentials_say_what_is_missing() {
        let env = |name: &str| (name == "RC_CLIENT_ID").then(|| "id".to_string());
        let err = Config::from_toml(None, "", &env).unwrap_err().to_string();
        assert!(err.contains("RC_CLIENT_SECRET, RC_JWT not set"), "{err}");
    }

    #[test]
    fn credentials_debug_output_hides_secrets() {
        let creds = PlatformCredentials {
            server_url: "https://x".into(),
            client_id: "id".into(),
            client_secret: "hunter2".into(),
            jwt: "eyJsecret".into(),
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("eyJsecret"),
            "{shown}"
        );
    }

    #[test]
    fn init_writes_once_and_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/config.toml");
        assert_eq!(
            write_default_config(&path, false).unwrap(),
            InitOutcome::Written(path.clone())
        );
        std::fs::write(&path, "# mine\n").unwrap();
        let err = write_default_config(&path, false).unwrap_err().to_string();
        assert!(err.contains("already exists; pass --force"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
        write_default_config(&path, true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_CONFIG_TOML);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_explicit_missing_file_is_an_error_that_suggests_init() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(Some(&dir.path().join("absent.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("callboard config init"), "{err}");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncdé\nx", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé\nx", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé\nx", 8), (3, 1));
    }
}
