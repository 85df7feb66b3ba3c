//! The real binary in a real terminal: tmux runs `callboard` against its embedded simulator
//! (no credentials → DEMO), the test types keys and reads the screen, and after the program
//! ends it checks the terminal was given back (raw mode off, alternate screen left, cursor
//! shown) — after `q`, after SIGHUP and after tmux's own kill-session.
//!
//! Waits poll the screen with generous timeouts; nothing here depends on how fast the machine
//! is beyond those safety nets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// One tmux server of our own (its own socket), so the user's tmux is never touched.
struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let status = Command::new("tmux").arg("-V").output();
        assert!(
            status.is_ok_and(|o| o.status.success()),
            "tmux is required for this test (CI installs it: apt-get install tmux)"
        );
        Tmux {
            socket: format!("callboard-e2e-{name}-{}", std::process::id()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts callboard in a fresh session. The shell around it records the pid, the exit
    /// status and the terminal settings after it ends, then waits so the pane can be read.
    fn start(&self, session: &str, width: u16, height: u16) {
        self.start_with(session, width, height, &[]);
    }

    /// The environment callboard runs with: a fresh home, no credentials unless `extra` sets
    /// them, colour allowed, UTC.
    fn env_words(&self, extra: &[(&str, String)]) -> String {
        let home = self.dir.path().display().to_string();
        let mut words = format!(
            "env -u RC_SERVER_URL -u RC_CLIENT_ID -u RC_CLIENT_SECRET -u RC_JWT -u NO_COLOR \
             HOME='{home}' XDG_CONFIG_HOME='{home}/config' CALLBOARD_DATA_DIR='{home}/data' \
             TERM=xterm-256color TZ=UTC"
        );
        for (name, value) in extra {
            words.push_str(&format!(" {name}='{value}'"));
        }
        words
    }

    /// As [`Tmux::start`], with extra environment (e.g. credentials).
    fn start_with(&self, session: &str, width: u16, height: u16, extra: &[(&str, String)]) {
        let bin = env!("CARGO_BIN_EXE_callboard");
        let script = format!(
            // `\$\$`: the pane's own shell must pass `$$` through to the inner one.
            "echo \\$\\$ > '{pid}'; exec {env} '{bin}'",
            pid = self.path(&format!("{session}.pid")).display(),
            env = self.env_words(extra),
        );
        let wrapper = format!(
            "sh -c \"{}\"; echo \"[exit $?]\"; stty -a > '{stty}'; sleep 600",
            script.replace('"', "\\\""),
            stty = self.path(&format!("{session}.stty")).display(),
        );
        self.new_session(session, width, height, &wrapper);
    }

    /// A detached session of `width`×`height` running `command`.
    fn new_session(&self, session: &str, width: u16, height: u16, command: &str) {
        let out = self.tmux(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An interactive shell with job control (so Ctrl-Z stops a job and `fg` resumes it),
    /// where the test types its own commands.
    fn start_shell(&self, session: &str, width: u16, height: u16) {
        self.new_session(
            session,
            width,
            height,
            "env PS1='shell$ ' bash --norc --noprofile -i",
        );
        self.wait_text(session, "shell$");
    }

    fn screen(&self, session: &str) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", session]).stdout)
            .into_owned()
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", session, key]);
            // Let an Esc stand alone, so it is not read as the start of an Alt chord.
            std::thread::sleep(Duration::from_millis(if *key == "Escape" {
                250
            } else {
                60
            }));
        }
    }

    /// Types text literally (no key-name lookup).
    fn type_text(&self, session: &str, text: &str) {
        self.tmux(&["send-keys", "-t", session, "-l", text]);
        std::thread::sleep(Duration::from_millis(60));
    }

    fn wait_for(&self, session: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen(session);
            if test(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, session: &str, text: &str) -> String {
        self.wait_for(session, text, |s| s.contains(text))
    }

    fn format(&self, session: &str, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", session, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn pid(&self, session: &str) -> i32 {
        let path = self.path(&format!("{session}.pid"));
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(pid) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            assert!(Instant::now() < deadline, "no pid file");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// After the program ended: the shell printed its status and the terminal is the user's
    /// again.
    fn assert_exited_and_restored(&self, session: &str) -> String {
        let screen = self.wait_for(session, "the exit status line", |s| s.contains("[exit "));
        assert_eq!(
            self.format(session, "#{alternate_on}"),
            "0",
            "alternate screen left"
        );
        assert_eq!(self.format(session, "#{cursor_flag}"), "1", "cursor shown");
        assert_eq!(
            self.format(session, "#{mouse_any_flag}"),
            "0",
            "mouse capture off"
        );
        let stty_path = self.path(&format!("{session}.stty"));
        let deadline = Instant::now() + WAIT;
        let stty = loop {
            if let Ok(text) = std::fs::read_to_string(&stty_path)
                && !text.is_empty()
            {
                break text;
            }
            assert!(Instant::now() < deadline, "no stty output");
            std::thread::sleep(Duration::from_millis(50));
        };
        let words: Vec<&str> = stty.split_whitespace().collect();
        for setting in ["icanon", "echo", "isig"] {
            assert!(
                words.contains(&setting),
                "raw mode left on ({setting} missing):\n{stty}"
            );
        }
        screen
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("data").join("callboard.log")).unwrap_or_default()
    }

    /// The DEMO's in-process simulator address, from the log (it listens on a free loopback
    /// port).
    fn demo_sim_url(&self) -> String {
        let log = self.log();
        log.split("url=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|u| u.trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("no simulator url in the log:\n{log}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn wait_gone(pid: i32) {
    let deadline = Instant::now() + WAIT;
    while pid_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "callboard (pid {pid}) did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Queues have filled when the roll-up row shows calls offered.
fn queues_filled(screen: &str) -> bool {
    screen.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("All") && words.nth(1) == Some("queues") && line.contains(':')
    }) && screen.contains("● live")
}

#[test]
fn a_supervisor_session_start_to_quit() {
    let tmux = Tmux::new("session");
    tmux.start("board", 120, 32);
    let screen = tmux.wait_for(
        "board",
        "queues to fill over a live connection",
        queues_filled,
    );
    assert!(screen.contains("DEMO"), "{screen}");
    assert!(
        screen.contains("Queue") && screen.contains("SL%/goal"),
        "{screen}"
    );

    tmux.keys("board", &["3"]);
    tmux.wait_for("board", "the Calls view", |s| {
        s.contains("In st.") && s.contains("Caller")
    });

    tmux.keys("board", &["/"]);
    tmux.type_text("board", "no-such-caller-anywhere");
    tmux.keys("board", &["Enter"]);
    tmux.wait_text("board", "no rows match the filter");
    tmux.keys("board", &["Escape"]);
    tmux.wait_for("board", "the filter cleared", |s| {
        !s.contains("no rows match")
    });

    tmux.keys("board", &["1", "Enter"]);
    tmux.wait_for("board", "a queue's calls", |s| {
        s.contains("Queues ›") && s.contains(" calls")
    });
    tmux.keys("board", &["Enter"]);
    tmux.wait_text("board", "Timeline");
    tmux.keys("board", &["Escape", "Escape"]);
    tmux.wait_for("board", "back at the queues", |s| {
        s.contains("SL%/goal") && !s.contains("Queues ›")
    });

    tmux.keys("board", &["?"]);
    tmux.wait_text("board", "Keys — from your key map");
    tmux.keys("board", &["Escape"]);
    tmux.wait_for("board", "help closed", |s| {
        !s.contains("Keys — from your key map")
    });

    tmux.keys("board", &["q"]);
    let screen = tmux.assert_exited_and_restored("board");
    assert!(screen.contains("[exit 0]"), "{screen}");
}

#[test]
fn sighup_and_kill_session_quit_cleanly_and_restore_the_terminal() {
    let tmux = Tmux::new("hup");
    tmux.start("hup", 100, 30);
    tmux.wait_for("hup", "the board", queues_filled);
    let pid = tmux.pid("hup");
    // SAFETY: sends SIGHUP to the callboard process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let screen = tmux.assert_exited_and_restored("hup");
    assert!(screen.contains("[exit 0]"), "{screen}");
    assert!(
        tmux.log().contains("HangUp"),
        "the log says why it stopped:\n{}",
        tmux.log()
    );

    // tmux's kill-session hangs up the pane: the process must still quit on its own.
    tmux.start("killed", 100, 30);
    tmux.wait_for("killed", "the board", queues_filled);
    let pid = tmux.pid("killed");
    tmux.tmux(&["kill-session", "-t", "killed"]);
    wait_gone(pid);
}

#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_resumes() {
    let tmux = Tmux::new("suspend");
    tmux.start_shell("job", 100, 30);
    let bin = env!("CARGO_BIN_EXE_callboard");
    tmux.type_text("job", &format!("{} '{bin}'", tmux.env_words(&[])));
    tmux.keys("job", &["Enter"]);
    tmux.wait_for("job", "the board", queues_filled);
    assert_eq!(tmux.format("job", "#{alternate_on}"), "1");

    tmux.keys("job", &["C-z"]);
    let screen = tmux.wait_for("job", "the shell's job-stopped line", |s| {
        s.contains("Stopped")
    });
    assert_eq!(
        tmux.format("job", "#{alternate_on}"),
        "0",
        "the shell gets the normal screen back:\n{screen}"
    );
    assert_eq!(tmux.format("job", "#{cursor_flag}"), "1", "cursor shown");
    // The shell reads lines again: raw mode is off while callboard is stopped.
    let stty = tmux.path("stopped.stty");
    tmux.type_text("job", &format!("stty -a > '{}'", stty.display()));
    tmux.keys("job", &["Enter"]);
    let deadline = Instant::now() + WAIT;
    let settings = loop {
        if let Ok(text) = std::fs::read_to_string(&stty)
            && !text.is_empty()
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no stty output");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        settings.split_whitespace().any(|w| w == "icanon"),
        "raw mode left on while suspended:\n{settings}"
    );

    tmux.type_text("job", "fg");
    tmux.keys("job", &["Enter"]);
    tmux.wait_for("job", "the board redrawn after fg", |s| {
        queues_filled(s) && !s.contains("Stopped")
    });
    assert_eq!(tmux.format("job", "#{alternate_on}"), "1");
    // Still answering keys after the resume.
    tmux.keys("job", &["3"]);
    tmux.wait_for("job", "the Calls view", |s| s.contains("In st."));
    tmux.keys("job", &["q"]);
    tmux.wait_for("job", "the shell prompt after quitting", |s| {
        s.lines().rev().find(|l| !l.trim().is_empty()) == Some("shell$")
    });
    assert_eq!(tmux.format("job", "#{alternate_on}"), "0");
}

/// A `callboard sim` process of its own, with the credentials it prints.
struct SimProcess {
    child: std::process::Child,
    env: Vec<(&'static str, String)>,
    _home: tempfile::TempDir,
}

impl SimProcess {
    fn start() -> SimProcess {
        use std::io::BufRead;
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_callboard"))
            .args(["sim", "--listen", "127.0.0.1:0"])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env_remove("CALLBOARD_CONFIG")
            .env_remove("RC_CLIENT_ID")
            .env_remove("RC_CLIENT_SECRET")
            .env_remove("RC_JWT")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut env = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().take(5) {
            let line = line.unwrap();
            for name in [
                "RC_SERVER_URL",
                "RC_CLIENT_ID",
                "RC_CLIENT_SECRET",
                "RC_JWT",
            ] {
                if let Some(value) = line.strip_prefix(&format!("{name}=")) {
                    env.push((name, value.to_string()));
                }
            }
        }
        assert_eq!(env.len(), 4, "the simulator printed its credentials");
        SimProcess {
            child,
            env,
            _home: home,
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_credentials_the_status_line_names_the_account_not_demo() {
    let sim = SimProcess::start();
    let tmux = Tmux::new("account");
    tmux.start_with("acct", 120, 30, &sim.env);
    let screen = tmux.wait_for("acct", "the board with the account named", |s| {
        queues_filled(s) && s.contains("acct ")
    });
    assert!(!screen.contains("DEMO"), "{screen}");
    tmux.keys("acct", &["q"]);
    tmux.assert_exited_and_restored("acct");
}

/// POSTs a JSON body to the simulator's control API (plain HTTP/1.1 on loopback).
fn sim_post(base_url: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let host = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    answer
}

#[test]
fn hostile_caller_names_from_the_simulator_stay_inert() {
    let tmux = Tmux::new("hostile");
    tmux.start("hostile", 160, 50);
    tmux.wait_for("hostile", "the board", queues_filled);
    let url = tmux.demo_sim_url();
    sim_post(&url, "/_sim/fault", r#"{"kind":"hostile_strings"}"#);
    sim_post(&url, "/_sim/burst", r#"{"count":200}"#);
    tmux.keys("hostile", &["3"]);
    let screen = tmux.wait_text("hostile", "Mallory Title");
    // OSC 0 would have set the window title; ESC [2J would have erased the screen.
    assert!(!tmux.format("hostile", "#{pane_title}").contains("pwned"));
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("1 Queues")),
        "{screen}"
    );
    assert!(
        screen.contains("]0;you have been pwnedMallory Title"),
        "shown as inert text:\n{screen}"
    );
    tmux.keys("hostile", &["q"]);
    tmux.assert_exited_and_restored("hostile");
}

#[test]
fn help_teaches_and_config_init_writes_a_file() {
    let bin = Path::new(env!("CARGO_BIN_EXE_callboard"));
    let help = Command::new(bin).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for must in [
        "Examples:",
        "RC_JWT",
        "CALLBOARD_CONFIG",
        "NO_COLOR",
        "callboard config init",
    ] {
        assert!(text.contains(must), "--help lacks {must}:\n{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cb.toml");
    let run = |force: bool| {
        let mut cmd = Command::new(bin);
        cmd.args(["config", "init", "--config"]).arg(&config);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    assert!(run(false).status.success());
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("[display]")
    );
    let again = run(false);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(run(true).status.success());
}

#[test]
fn a_bad_config_is_reported_before_the_terminal_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cb.toml");
    std::fs::write(&config, "[display]\nmosue = true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_callboard"))
        .arg("--config")
        .arg(&config)
        .env("CALLBOARD_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:1: unknown field `mosue`", config.display())),
        "{err}"
    );
}

/// What stays put on a paused board between two captures: timers and clocks (digits, `:` and
/// the `h`/`m`/`s` of durations) and spacing are dropped, so only the rows' words remain.
fn without_timers(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|line| {
            line.chars()
                .filter(|c| !c.is_ascii_digit() && !matches!(c, ':' | 'h' | 'm' | 's' | ' '))
                .collect()
        })
        .collect()
}

/// The status line says the last event arrived at least two seconds ago (`last event 2s ago`,
/// `1m05s ago`…): with the simulator paused, every event sent has been drawn.
fn events_quiet(screen: &str) -> bool {
    let Some(age) = screen
        .split("last event ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
    else {
        return false;
    };
    match age.strip_suffix('s').map(str::parse::<u32>) {
        Some(Ok(seconds)) => seconds >= 2,
        // `1m05s`, `1h02m`: longer still.
        _ => age.contains('m') || age.contains('h'),
    }
}

/// How far the top line (the tabs, and `DEMO` at the right edge) reaches, in columns: it moves
/// with the width the program painted at, where tmux cropping or padding the old screen on a
/// resize leaves it where it was.
fn top_line_reach(screen: &str) -> Option<usize> {
    let top = screen.lines().next()?.trim_end();
    top.ends_with("DEMO").then(|| top.chars().count())
}

impl Tmux {
    /// Polls until the screen passes `test` and two captures in a row show the same rows once
    /// timers are set aside (timers keep ticking on a paused board); returns the last capture.
    fn wait_settled(&self, session: &str, what: &str, test: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut previous: Option<Vec<String>> = None;
        loop {
            let screen = self.screen(session);
            let rows = without_timers(&screen);
            if test(&screen) && previous.as_ref() == Some(&rows) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} to settle; the screen:\n{screen}"
            );
            previous = Some(rows);
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls until the screen's rows (timers set aside) differ from `before`, or `patience`
    /// passes: pacing only, so the caller goes on either way.
    fn wait_changed(&self, session: &str, before: &[String], patience: Duration) {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline && without_timers(&self.screen(session)) == before {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn scrolled_calls_rows_match_a_full_repaint() {
    let tmux = Tmux::new("scroll");
    tmux.start("scroll", 120, 40);
    tmux.wait_for("scroll", "the board", queues_filled);
    let url = tmux.demo_sim_url();
    tmux.keys("scroll", &["3"]);
    tmux.wait_for("scroll", "the Calls view", |s| {
        s.contains("In st.") && s.contains("Caller")
    });
    // Traffic moves rows up and down the Calls table: the scrolling backend scrolls them. Small
    // bursts, each drawn before the next is sent, so most rows move rather than all being
    // replaced by new calls in one frame.
    for _ in 0..6 {
        let before = without_timers(&tmux.screen("scroll"));
        sim_post(&url, "/_sim/burst", r#"{"count":8}"#);
        tmux.wait_changed("scroll", &before, Duration::from_secs(5));
    }
    sim_post(&url, "/_sim/pause", "{}");
    let incremental = tmux.wait_settled("scroll", "the last events", events_quiet);
    // The columns the top line leaves free at its right: the same at any width.
    let margin = top_line_reach(&incremental)
        .and_then(|reach| 120usize.checked_sub(reach))
        .unwrap_or_else(|| panic!("no top line ending in DEMO:\n{incremental}"));
    let painted_at = |width: usize| {
        move |s: &str| top_line_reach(s).and_then(|reach| width.checked_sub(reach)) == Some(margin)
    };
    // A resize clears the terminal and paints every cell: the reference.
    tmux.tmux(&["resize-window", "-t", "scroll", "-x", "119", "-y", "40"]);
    tmux.wait_settled("scroll", "the repaint at 119 columns", painted_at(119));
    tmux.tmux(&["resize-window", "-t", "scroll", "-x", "120", "-y", "40"]);
    let repainted = tmux.wait_settled("scroll", "the repaint at 120 columns", painted_at(120));
    assert!(
        events_quiet(&repainted),
        "an event arrived during the repaint, so the two screens show different boards:\n{repainted}"
    );
    assert_eq!(
        without_timers(&incremental),
        without_timers(&repainted),
        "after scrolling:\n{incremental}\nafter a full repaint:\n{repainted}"
    );
    tmux.keys("scroll", &["q"]);
    tmux.assert_exited_and_restored("scroll");
}
