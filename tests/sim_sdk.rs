//! The judges of the simulator's faithfulness: the official RingCentral SDKs, unmodified, against
//! an in-process simulator —
//! * JavaScript: `@ringcentral/sdk` + `@ringcentral/subscriptions`, pinned in
//!   tests/sdk-js/package-lock.json; the steps are in tests/sdk-js/check.mjs. The extensible SDK
//!   under it (`@rc-ex/core` + `@rc-ex/ws`) also runs on its own with REST sent over the socket
//!   (tests/sdk-js/check-rcex.mjs). Needs Node.js and
//!   npm; `npm ci` runs first when tests/sdk-js/node_modules is missing.
//! * Python: `ringcentral` (with its WebSocketClient), pinned in tests/sdk-python/requirements.txt;
//!   the steps are in tests/sdk-python/check.py. Needs python3 with pip; the packages are
//!   installed into tests/sdk-python/site when it is missing.
//!
//! Without the language on PATH a check says so and passes, so the Rust suite still runs on a
//! bare machine (CI has both).

use callboard::sim::{SimConfig, Simulator};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Safety net for `npm ci` and the check itself; both normally take seconds.
const PATIENCE: Duration = Duration::from_secs(240);

async fn tool_available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

/// Installs the SDK if needed; `None` when node or npm is missing (the check is skipped).
async fn sdk_dir() -> Option<PathBuf> {
    if !tool_available("node").await || !tool_available("npm").await {
        eprintln!("SKIPPED: node and npm are needed for the SDK check (tests/sdk-js)");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk-js");
    if !dir.join("node_modules").exists() {
        let install = tokio::time::timeout(
            PATIENCE,
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output(),
        )
        .await
        .expect("npm ci finishes")
        .expect("npm runs");
        assert!(
            install.status.success(),
            "npm ci failed:\n{}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extensible_sdk_works_with_rest_over_the_socket() {
    let Some(dir) = sdk_dir().await else { return };
    let report = run_script(&dir, "check-rcex.mjs", SimConfig::default(), false).await;
    assert_eq!(report["ok"], true);
    assert_eq!(report["recordingBytes"], 48000);
    assert!(report["numbers"].as_u64().unwrap() > 0);
    assert!(report["queues"].as_u64().unwrap() > 0);
}

/// Installs the Python SDK if needed; `None` when python3 or pip is missing (the check is
/// skipped).
async fn python_sdk_dir() -> Option<PathBuf> {
    let pip_works = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    if !pip_works {
        eprintln!("SKIPPED: python3 with pip is needed for the SDK check (tests/sdk-python)");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk-python");
    if !dir.join("site").join("ringcentral").exists() {
        let install = tokio::time::timeout(
            PATIENCE,
            Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--target",
                    "site",
                    "-r",
                    "requirements.txt",
                ])
                .current_dir(&dir)
                .output(),
        )
        .await
        .expect("pip install finishes")
        .expect("pip runs");
        assert!(
            install.status.success(),
            "pip install failed:\n{}",
            String::from_utf8_lossy(&install.stderr)
        );
    }
    Some(dir)
}

/// Runs check.mjs against a simulator started from `cfg`; returns its JSON report.
async fn run_check(dir: &std::path::Path, cfg: SimConfig, recovery: bool) -> serde_json::Value {
    run_script(dir, "check.mjs", cfg, recovery).await
}

/// Runs one node script of tests/sdk-js against a simulator started from `cfg`.
async fn run_script(
    dir: &std::path::Path,
    script: &str,
    cfg: SimConfig,
    recovery: bool,
) -> serde_json::Value {
    let sim = Simulator::start(cfg).await.unwrap();
    let creds = sim.credentials().clone();
    let run = tokio::time::timeout(
        PATIENCE,
        Command::new("node")
            .arg(script)
            .current_dir(dir)
            .env("RC_SERVER_URL", sim.base_url())
            .env("RC_CLIENT_ID", &creds.client_id)
            .env("RC_CLIENT_SECRET", &creds.client_secret)
            .env("RC_JWT", &creds.jwt)
            .env("SDK_CHECK_RECOVERY", if recovery { "1" } else { "0" })
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the SDK check finishes")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "SDK check failed:\n{stdout}\n{stderr}"
    );
    sim.shutdown().await;
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_javascript_sdk_works_unmodified() {
    let Some(dir) = sdk_dir().await else { return };
    // The default world (with its history of recorded calls) and the platform's default rate
    // limits: the SDK must live with the real ones.
    let report = run_check(&dir, SimConfig::default(), false).await;
    assert_eq!(report["ok"], true);
    assert_eq!(report["recordingBytes"], 48000);
    assert!(
        report["callRecordingBytes"].as_u64().unwrap() > 44,
        "a WAV with samples"
    );
    let event = report["event"].as_str().unwrap();
    assert!(
        event.ends_with("/telephony/sessions") || event.contains("/presence"),
        "{event}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_recovers_a_dropped_session() {
    let Some(dir) = sdk_dir().await else { return };
    // The SDK reuses its WebSocket token for reconnects; with single-use tokens it would only
    // recover once that token ages out (24 s), so this check lets it be reused.
    let cfg = SimConfig {
        ws_tokens_reusable: true,
        ..SimConfig::default()
    };
    let report = run_check(&dir, cfg, true).await;
    assert_eq!(report["recovered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_unmodified() {
    let Some(dir) = python_sdk_dir().await else {
        return;
    };
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.credentials().clone();
    let run = tokio::time::timeout(
        PATIENCE,
        Command::new("python3")
            .arg("check.py")
            .current_dir(&dir)
            .env("PYTHONPATH", dir.join("site"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("RC_SERVER_URL", sim.base_url())
            .env("RC_CLIENT_ID", &creds.client_id)
            .env("RC_CLIENT_SECRET", &creds.client_secret)
            .env("RC_JWT", &creds.jwt)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python SDK check finishes")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "Python SDK check failed:\n{stdout}\n{stderr}"
    );
    sim.shutdown().await;
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["recordingBytes"], 48000);
    assert_eq!(
        report["requestStatuses"],
        serde_json::json!([200, 200, 204])
    );
    let event = report["event"].as_str().unwrap();
    assert!(
        event.ends_with("/telephony/sessions") || event.contains("/presence"),
        "{event}"
    );
}
