//! Themes map *meanings* (roles such as `call.waiting` or `sla.breach`) to styles. Four presets
//! are embedded from `themes/*.toml`; a user file `<config dir>/themes/NAME.toml` overrides a
//! preset (or the default, for a new name) role by role. `NO_COLOR` selects mono here, in the
//! theme layer, rather than leaning on crossterm (which also drops bold and reverse under it).

use std::ops::Range;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

/// A meaning the UI styles. The theme file's name for each is [`Role::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    CallSetup,
    CallWaiting,
    CallTalking,
    CallHold,
    CallEnded,
    CallAbandoned,
    SlaOk,
    SlaBreach,
    RowChanged,
    StatusLive,
    StatusDegraded,
    StatusOffline,
    TabActive,
    TabInactive,
    Selection,
    Header,
    Footer,
    FooterKey,
    Rollup,
    Title,
    DemoBanner,
    Muted,
    Error,
    Sparkline,
    Border,
    Input,
}

impl Role {
    pub const ALL: [Role; 26] = [
        Role::CallSetup,
        Role::CallWaiting,
        Role::CallTalking,
        Role::CallHold,
        Role::CallEnded,
        Role::CallAbandoned,
        Role::SlaOk,
        Role::SlaBreach,
        Role::RowChanged,
        Role::StatusLive,
        Role::StatusDegraded,
        Role::StatusOffline,
        Role::TabActive,
        Role::TabInactive,
        Role::Selection,
        Role::Header,
        Role::Footer,
        Role::FooterKey,
        Role::Rollup,
        Role::Title,
        Role::DemoBanner,
        Role::Muted,
        Role::Error,
        Role::Sparkline,
        Role::Border,
        Role::Input,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::CallSetup => "call.setup",
            Role::CallWaiting => "call.waiting",
            Role::CallTalking => "call.talking",
            Role::CallHold => "call.hold",
            Role::CallEnded => "call.ended",
            Role::CallAbandoned => "call.abandoned",
            Role::SlaOk => "sla.ok",
            Role::SlaBreach => "sla.breach",
            Role::RowChanged => "row.changed",
            Role::StatusLive => "status.live",
            Role::StatusDegraded => "status.degraded",
            Role::StatusOffline => "status.offline",
            Role::TabActive => "tab.active",
            Role::TabInactive => "tab.inactive",
            Role::Selection => "selection",
            Role::Header => "header",
            Role::Footer => "footer",
            Role::FooterKey => "footer_key",
            Role::Rollup => "rollup",
            Role::Title => "title",
            Role::DemoBanner => "demo_banner",
            Role::Muted => "muted",
            Role::Error => "error",
            Role::Sparkline => "sparkline",
            Role::Border => "border",
            Role::Input => "input",
        }
    }

    fn index(self) -> usize {
        Role::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The presets compiled into the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// A resolved theme: one style per role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: [Style; Role::ALL.len()],
}

/// A theme that could not be loaded, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    #[error("{source_name}:{line}:{column}: {message}")]
    Invalid {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "unknown theme {name:?}: the built-in themes are default, light, high-contrast and mono; for your own, create {dir}/{name}.toml"
    )]
    Unknown { name: String, dir: String },
    #[error("cannot read theme file {path}: {reason}")]
    Unreadable { path: String, reason: String },
}

impl Theme {
    pub fn style(&self, role: Role) -> Style {
        self.styles[role.index()]
    }

    /// A built-in preset by name, without user files. `None` for an unknown name.
    pub fn built_in(name: &str) -> Option<Theme> {
        let text = BUILT_IN.iter().find(|(n, _)| *n == name)?.1;
        let mut theme = match name {
            "default" => Theme::empty(name),
            _ => Theme::built_in("default")?,
        };
        theme.name = name.to_string();
        // Embedded presets are checked by a test, so a parse failure here is a build defect.
        theme.layer(&format!("themes/{name}.toml"), text).ok()?;
        Some(theme)
    }

    /// Loads theme `name`: the default preset, then the preset called `name` if there is one, then
    /// `<themes_dir>/<name>.toml` if it exists. Each layer replaces only the roles it names.
    pub fn load(name: &str, themes_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let mut theme = Theme::built_in(name)
            .or_else(|| Theme::built_in("default"))
            .unwrap_or_else(|| Theme::empty(name));
        theme.name = name.to_string();
        let is_built_in = BUILT_IN.iter().any(|(n, _)| *n == name);
        let user_file = themes_dir.map(|dir| dir.join(format!("{name}.toml")));
        match user_file.as_deref().filter(|path| path.is_file()) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|err| ThemeError::Unreadable {
                    path: path.display().to_string(),
                    reason: err.to_string(),
                })?;
                theme.layer(&path.display().to_string(), &text)?;
            }
            None if !is_built_in => {
                return Err(ThemeError::Unknown {
                    name: name.to_string(),
                    dir: themes_dir
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|| "~/.config/callboard/themes".into()),
                });
            }
            None => {}
        }
        Ok(theme)
    }

    fn empty(name: &str) -> Theme {
        Theme {
            name: name.to_string(),
            styles: [Style::new(); Role::ALL.len()],
        }
    }

    /// Applies one theme file over this theme, role by role.
    pub fn layer(&mut self, source_name: &str, text: &str) -> Result<(), ThemeError> {
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((1, 1));
            ThemeError::Invalid {
                source_name: source_name.to_string(),
                line,
                column,
                message,
            }
        };
        let file: ThemeFile = toml::from_str(text)
            .map_err(|err| at(err.span(), err.message().trim_end().to_string()))?;
        for (role, spec) in file.roles() {
            if let Some(spec) = spec {
                let style = spec.to_style().map_err(|(span, message)| {
                    at(Some(span), format!("{}: {message}", role.name()))
                })?;
                self.styles[role.index()] = style;
            }
        }
        Ok(())
    }
}

/// Which theme to use: the flag, then `CALLBOARD_THEME`, then the config file, then mono when
/// `NO_COLOR` is set (no-color.org: explicit user choices win over it), else default.
pub fn choose_theme_name<'a>(
    flag: Option<&'a str>,
    env_theme: Option<&'a str>,
    config_theme: Option<&'a str>,
    no_color: bool,
) -> &'a str {
    flag.or(env_theme)
        .or(config_theme)
        .filter(|name| !name.is_empty())
        .unwrap_or(if no_color { "mono" } else { "default" })
}

// ---- the file's shape ------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    call: CallRoles,
    #[serde(default)]
    sla: SlaRoles,
    #[serde(default)]
    row: RowRoles,
    #[serde(default)]
    status: StatusRoles,
    #[serde(default)]
    tab: TabRoles,
    selection: Option<StyleSpec>,
    header: Option<StyleSpec>,
    footer: Option<StyleSpec>,
    footer_key: Option<StyleSpec>,
    rollup: Option<StyleSpec>,
    title: Option<StyleSpec>,
    demo_banner: Option<StyleSpec>,
    muted: Option<StyleSpec>,
    error: Option<StyleSpec>,
    sparkline: Option<StyleSpec>,
    border: Option<StyleSpec>,
    input: Option<StyleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallRoles {
    setup: Option<StyleSpec>,
    waiting: Option<StyleSpec>,
    talking: Option<StyleSpec>,
    hold: Option<StyleSpec>,
    ended: Option<StyleSpec>,
    abandoned: Option<StyleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaRoles {
    ok: Option<StyleSpec>,
    breach: Option<StyleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowRoles {
    changed: Option<StyleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRoles {
    live: Option<StyleSpec>,
    degraded: Option<StyleSpec>,
    offline: Option<StyleSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TabRoles {
    active: Option<StyleSpec>,
    inactive: Option<StyleSpec>,
}

impl ThemeFile {
    fn roles(&self) -> [(Role, Option<&StyleSpec>); Role::ALL.len()] {
        [
            (Role::CallSetup, self.call.setup.as_ref()),
            (Role::CallWaiting, self.call.waiting.as_ref()),
            (Role::CallTalking, self.call.talking.as_ref()),
            (Role::CallHold, self.call.hold.as_ref()),
            (Role::CallEnded, self.call.ended.as_ref()),
            (Role::CallAbandoned, self.call.abandoned.as_ref()),
            (Role::SlaOk, self.sla.ok.as_ref()),
            (Role::SlaBreach, self.sla.breach.as_ref()),
            (Role::RowChanged, self.row.changed.as_ref()),
            (Role::StatusLive, self.status.live.as_ref()),
            (Role::StatusDegraded, self.status.degraded.as_ref()),
            (Role::StatusOffline, self.status.offline.as_ref()),
            (Role::TabActive, self.tab.active.as_ref()),
            (Role::TabInactive, self.tab.inactive.as_ref()),
            (Role::Selection, self.selection.as_ref()),
            (Role::Header, self.header.as_ref()),
            (Role::Footer, self.footer.as_ref()),
            (Role::FooterKey, self.footer_key.as_ref()),
            (Role::Rollup, self.rollup.as_ref()),
            (Role::Title, self.title.as_ref()),
            (Role::DemoBanner, self.demo_banner.as_ref()),
            (Role::Muted, self.muted.as_ref()),
            (Role::Error, self.error.as_ref()),
            (Role::Sparkline, self.sparkline.as_ref()),
            (Role::Border, self.border.as_ref()),
            (Role::Input, self.input.as_ref()),
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<Spanned<ColorSpec>>,
    bg: Option<Spanned<ColorSpec>>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

/// A colour as written: a name, `#rrggbb`, or an index 0–255.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ColorSpec {
    Name(String),
    Index(i64),
}

impl StyleSpec {
    fn to_style(&self) -> Result<Style, (Range<usize>, String)> {
        let mut style = Style::new();
        if let Some(fg) = &self.fg {
            style =
                style.fg(parse_color(fg.get_ref()).map_err(|m| (fg.span(), format!("fg: {m}")))?);
        }
        if let Some(bg) = &self.bg {
            style =
                style.bg(parse_color(bg.get_ref()).map_err(|m| (bg.span(), format!("bg: {m}")))?);
        }
        for (flag, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            if flag == Some(true) {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

const COLOR_NAMES: &[(&str, Color)] = &[
    ("reset", Color::Reset),
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("dark_gray", Color::DarkGray),
    ("light_red", Color::LightRed),
    ("light_green", Color::LightGreen),
    ("light_yellow", Color::LightYellow),
    ("light_blue", Color::LightBlue),
    ("light_magenta", Color::LightMagenta),
    ("light_cyan", Color::LightCyan),
    ("white", Color::White),
];

fn parse_color(spec: &ColorSpec) -> Result<Color, String> {
    match spec {
        ColorSpec::Index(n) => u8::try_from(*n)
            .map(Color::Indexed)
            .map_err(|_| format!("colour index {n} is out of range 0-255")),
        ColorSpec::Name(name) => {
            let lower = name.to_ascii_lowercase().replace(['-', ' '], "_");
            if let Some((_, color)) = COLOR_NAMES.iter().find(|(n, _)| *n == lower) {
                return Ok(*color);
            }
            if let Some(hex) = lower.strip_prefix('#').filter(|h| h.len() == 6)
                && let Ok(rgb) = u32::from_str_radix(hex, 16)
            {
                return Ok(Color::Rgb((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8));
            }
            Err(format!(
                "unknown colour {name:?}; use one of {}, \"#rrggbb\" or 0-255",
                COLOR_NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, l)| l)
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_parses_and_names_every_role() {
        for (name, text) in BUILT_IN {
            let file: ThemeFile = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for (role, spec) in file.roles() {
                assert!(spec.is_some(), "{name} leaves {} out", role.name());
            }
            assert!(Theme::built_in(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_default_theme_uses_only_the_16_named_colours() {
        let theme = Theme::built_in("default").unwrap();
        for role in Role::ALL {
            let style = theme.style(role);
            for color in [style.fg, style.bg].into_iter().flatten() {
                assert!(
                    !matches!(color, Color::Rgb(..) | Color::Indexed(_)),
                    "{} uses {color:?}",
                    role.name()
                );
            }
        }
    }

    #[test]
    fn mono_has_no_colour_at_all() {
        let theme = Theme::built_in("mono").unwrap();
        for role in Role::ALL {
            let style = theme.style(role);
            assert_eq!((style.fg, style.bg), (None, None), "{}", role.name());
        }
        assert!(
            theme
                .style(Role::SlaBreach)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn a_user_file_overrides_only_the_roles_it_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("light.toml"),
            "[sla]\nbreach = { fg = \"#ff00ff\", underlined = true }\n",
        )
        .unwrap();
        let theme = Theme::load("light", Some(dir.path())).unwrap();
        let preset = Theme::built_in("light").unwrap();
        assert_eq!(
            theme.style(Role::SlaBreach),
            Style::new()
                .fg(Color::Rgb(255, 0, 255))
                .add_modifier(Modifier::UNDERLINED)
        );
        assert_eq!(
            theme.style(Role::CallWaiting),
            preset.style(Role::CallWaiting)
        );
    }

    #[test]
    fn a_new_user_theme_starts_from_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("night.toml"), "muted = { fg = 8 }\n").unwrap();
        let theme = Theme::load("night", Some(dir.path())).unwrap();
        assert_eq!(theme.style(Role::Muted), Style::new().fg(Color::Indexed(8)));
        assert_eq!(
            theme.style(Role::Header),
            Theme::built_in("default").unwrap().style(Role::Header)
        );
    }

    #[test]
    fn bad_theme_files_name_the_line_and_the_problem() {
        let mut theme = Theme::built_in("default").unwrap();
        let err = theme
            .layer("night.toml", "[call]\nwaiting = { fg = \"chartreuse\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("night.toml:2:18: call.waiting: fg: unknown colour \"chartreuse\"; use one of reset, black"),
            "{err}"
        );
        let err = theme
            .layer("night.toml", "[call]\nwaitin = { fg = \"red\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("night.toml:2:1: unknown field `waitin`"),
            "{err}"
        );
        let err = theme
            .layer("night.toml", "muted = { fg = 300 }\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "night.toml:1:16: muted: fg: colour index 300 is out of range 0-255"
        );
        let err = theme
            .layer("night.toml", "muted = { blink = true }\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `blink`"), "{err}");
    }

    #[test]
    fn an_unknown_theme_says_where_to_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Theme::load("solarized", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("built-in themes are default, light, high-contrast and mono"),
            "{err}"
        );
        assert!(err.ends_with("/solarized.toml"), "{err}");
    }

    #[test]
    fn no_color_selects_mono_unless_the_user_chose() {
        assert_eq!(choose_theme_name(None, None, None, true), "mono");
        assert_eq!(choose_theme_name(None, None, None, false), "default");
        assert_eq!(choose_theme_name(None, None, Some("light"), true), "light");
        assert_eq!(
            choose_theme_name(Some("high-contrast"), Some("light"), Some("mono"), false),
            "high-contrast"
        );
        assert_eq!(
            choose_theme_name(None, Some("light"), Some("mono"), false),
            "light"
        );
    }
}
