//! The `:` command line: parsing and Tab completion. Pure: the app applies the parsed command.

use crate::ui::state::{MetricWindow, Tab};
use crate::ui::theme::BUILT_IN;

/// A parsed `:` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    View(Tab),
    Theme(String),
    Window(MetricWindow),
    Help,
    Quit,
    /// The relabel audit view.
    Audit,
}

/// The words the command line knows, for completion and for the error message.
const VERBS: &[&str] = &[
    "queues",
    "campaigns",
    "calls",
    "agents",
    "numbers",
    "recordings",
    "audit",
    "theme",
    "window",
    "help",
    "quit",
];

/// Parses one command. Unique prefixes work (`:cam` is `:campaigns`), as in vim.
pub fn parse(input: &str) -> Result<Command, String> {
    let mut words = input.split_whitespace();
    let Some(verb) = words.next() else {
        return Err("type a command: ".to_string() + &VERBS.join(", "));
    };
    // `:q` quits, as in vim, although "q" alone would not be a unique prefix otherwise.
    let verb = if verb == "q" { "quit" } else { verb };
    let argument = words.next();
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} after {verb}"));
    }
    let verb = resolve(verb, VERBS).map_err(|candidates| match candidates.as_slice() {
        [] => format!("unknown command {verb:?}; try {}", VERBS.join(", ")),
        many => format!("{verb:?} could be {}", many.join(" or ")),
    })?;
    if let Some(tab) = Tab::ALL.iter().find(|t| t.command() == verb) {
        return no_argument(verb, argument).map(|()| Command::View(*tab));
    }
    match verb {
        "help" => no_argument(verb, argument).map(|()| Command::Help),
        "audit" => no_argument(verb, argument).map(|()| Command::Audit),
        "quit" => no_argument(verb, argument).map(|()| Command::Quit),
        "theme" => match argument {
            Some(name) => Ok(Command::Theme(name.to_string())),
            None => Err(format!(
                "theme needs a name: {} or one of your own",
                theme_names().join(", ")
            )),
        },
        "window" => match argument.map(|a| resolve(a, &["today", "rolling"])) {
            Some(Ok("today")) => Ok(Command::Window(MetricWindow::Today)),
            Some(Ok(_)) => Ok(Command::Window(MetricWindow::Rolling)),
            _ => Err("window needs today or rolling".into()),
        },
        _ => Err(format!("unknown command {verb:?}")),
    }
}

fn no_argument(verb: &str, argument: Option<&str>) -> Result<(), String> {
    match argument {
        None => Ok(()),
        Some(arg) => Err(format!("{verb} takes no argument (got {arg:?})")),
    }
}

/// The one word `prefix` names: an exact match, else the only word it begins.
fn resolve<'a>(prefix: &str, words: &[&'a str]) -> Result<&'a str, Vec<&'a str>> {
    let prefix = prefix.to_ascii_lowercase();
    if let Some(exact) = words.iter().find(|w| **w == prefix) {
        return Ok(exact);
    }
    let candidates: Vec<&str> = words
        .iter()
        .filter(|w| w.starts_with(&prefix))
        .copied()
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        _ => Err(candidates),
    }
}

fn theme_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(name, _)| *name).collect()
}

/// Completions for what is typed so far, as whole replacement lines, sorted. `user_themes` are
/// the names of theme files in the user's themes dir.
pub fn complete(input: &str, user_themes: &[String]) -> Vec<String> {
    let ends_with_space = input.ends_with(' ');
    let words: Vec<&str> = input.split_whitespace().collect();
    match (words.as_slice(), ends_with_space) {
        ([], _) => VERBS.iter().map(|v| v.to_string()).collect(),
        ([verb], false) => VERBS
            .iter()
            .filter(|v| v.starts_with(&verb.to_ascii_lowercase()))
            .map(|v| v.to_string())
            .collect(),
        ([verb], true) | ([verb, _], false) => {
            let typed = words.get(1).copied().unwrap_or("");
            let Ok(verb) = resolve(verb, VERBS) else {
                return Vec::new();
            };
            let mut options: Vec<String> = match verb {
                "theme" => theme_names()
                    .into_iter()
                    .map(String::from)
                    .chain(user_themes.iter().cloned())
                    .collect(),
                "window" => vec!["today".into(), "rolling".into()],
                _ => Vec::new(),
            };
            options.sort();
            options.dedup();
            options
                .into_iter()
                .filter(|o| o.starts_with(typed))
                .map(|o| format!("{verb} {o}"))
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_by_name_or_unique_prefix() {
        assert_eq!(parse("queues"), Ok(Command::View(Tab::Queues)));
        assert_eq!(parse("cam"), Ok(Command::View(Tab::Campaigns)));
        assert_eq!(parse("  rec  "), Ok(Command::View(Tab::Recordings)));
        assert_eq!(parse("q"), Ok(Command::Quit));
        assert_eq!(parse("quit"), Ok(Command::Quit));
    }

    #[test]
    fn arguments() {
        assert_eq!(parse("theme light"), Ok(Command::Theme("light".into())));
        assert_eq!(
            parse("window roll"),
            Ok(Command::Window(MetricWindow::Rolling))
        );
        assert_eq!(
            parse("window today"),
            Ok(Command::Window(MetricWindow::Today))
        );
    }

    #[test]
    fn errors_say_what_would_work() {
        assert_eq!(parse("c").unwrap_err(), "\"c\" could be campaigns or calls");
        assert!(
            parse("fly")
                .unwrap_err()
                .starts_with("unknown command \"fly\"; try queues")
        );
        assert_eq!(
            parse("window monthly").unwrap_err(),
            "window needs today or rolling"
        );
        assert_eq!(
            parse("quit now").unwrap_err(),
            "quit takes no argument (got \"now\")"
        );
        assert!(
            parse("theme")
                .unwrap_err()
                .contains("default, light, high-contrast, mono")
        );
    }

    #[test]
    fn completion_of_verbs_and_arguments() {
        assert_eq!(complete("c", &[]), vec!["campaigns", "calls"]);
        assert_eq!(complete("w", &[]), vec!["window"]);
        assert_eq!(
            complete("window ", &[]),
            vec!["window rolling", "window today"]
        );
        assert_eq!(complete("window r", &[]), vec!["window rolling"]);
        assert_eq!(
            complete("theme ", &["night".to_string()]),
            vec![
                "theme default",
                "theme high-contrast",
                "theme light",
                "theme mono",
                "theme night"
            ]
        );
        assert!(complete("queues x y", &[]).is_empty());
    }
}
