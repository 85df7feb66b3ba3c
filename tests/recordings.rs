//! Issue 6 end to end: the real `callboard recordings` binary against the embedded simulator,
//! with a loopback proxy in between where a test needs the connection cut or held. What the
//! download engine does against a scripted server is proven in `tests/store_download.rs`; here
//! each behaviour is shown through the CLI a supervisor (or a script) would use.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callboard::rc::{RestClient, RestConfig};
use callboard::sim::{SimConfig, SimHandle, Simulator};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Safety net for anything that waits on the simulator or a child process.
const SAFETY_NET: Duration = Duration::from_secs(90);

/// A data dir and config file of its own, so tests never touch the user's store.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(config_toml: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config_toml).unwrap();
        Scratch { dir }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `callboard recordings ARGS…` signed in to `server_url` with the simulator's credentials.
    fn command(&self, sim: &SimHandle, server_url: &str, args: &[&str]) -> Command {
        let creds = sim.credentials();
        let mut command = Command::new(env!("CARGO_BIN_EXE_callboard"));
        command
            .arg("recordings")
            .args(args)
            .env("CALLBOARD_CONFIG", self.dir.path().join("config.toml"))
            .env("CALLBOARD_DATA_DIR", self.data_dir())
            .env("RC_SERVER_URL", server_url)
            .env("RC_CLIENT_ID", &creds.client_id)
            .env("RC_CLIENT_SECRET", &creds.client_secret)
            .env("RC_JWT", &creds.jwt)
            .env_remove("CALLBOARD_LOG")
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, sim: &SimHandle, server_url: &str, args: &[&str]) -> Output {
        let mut command = self.command(sim, server_url, args);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap());
        tokio::time::timeout(SAFETY_NET, output)
            .await
            .expect("callboard recordings did not finish")
            .unwrap()
    }

    /// The stored bytes of `recording_id` as a crash now would leave them: the sled files are
    /// copied aside (a copy carries no lock) and listed from there. `None` while the copy has
    /// no record of it, or cannot be read yet (caught mid-write: try again).
    async fn durable_partial_bytes(&self, sim: &SimHandle, recording_id: &str) -> Option<u64> {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(
            &self.data_dir().join("store.sled"),
            &copy.path().join("store.sled"),
        )
        .ok()?;
        let copy_dir = copy.path().to_str().unwrap().to_owned();
        let output = self
            .run(
                sim,
                sim.base_url(),
                &["list", "--json", "--data-dir", &copy_dir],
            )
            .await;
        if !output.status.success() {
            return None;
        }
        let listed: Vec<Value> = serde_json::from_slice(&output.stdout).ok()?;
        (status_of(&listed, recording_id).as_deref() == Some("partial"))
            .then(|| stored_bytes_of(&listed, recording_id))
    }

    async fn listed(&self, sim: &SimHandle) -> Vec<Value> {
        let output = self.run(sim, sim.base_url(), &["list", "--json"]).await;
        assert_success(&output, "list --json");
        serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

async fn start_sim(configure: impl FnOnce(&mut SimConfig)) -> SimHandle {
    callboard::rc::rest::install_crypto_provider();
    let mut config = SimConfig::for_tests(6);
    configure(&mut config);
    Simulator::start(config).await.unwrap()
}

/// A quiet simulator: no traffic of its own, recordings only from `POST /_sim/recording`.
async fn quiet_sim() -> SimHandle {
    let sim = start_sim(|_| {}).await;
    control(&sim, "/_sim/pause", None).await;
    sim
}

async fn control(sim: &SimHandle, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", sim.base_url());
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.post(url),
    };
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// A quiet simulator with one recording of `bytes`, fetched into a fresh scratch store by
/// `callboard recordings fetch`.
async fn fetched_by_the_cli(bytes: u64) -> (SimHandle, String, Scratch) {
    let sim = quiet_sim().await;
    let recording_id = add_recording(&sim, bytes).await;
    let scratch = Scratch::new("");
    assert_success(
        &scratch
            .run(&sim, sim.base_url(), &["fetch", &recording_id])
            .await,
        "fetch",
    );
    (sim, recording_id, scratch)
}

/// A standalone recording of `bytes` bytes; returns its id.
async fn add_recording(sim: &SimHandle, bytes: u64) -> String {
    let made = control(sim, "/_sim/recording", Some(json!({ "bytes": bytes }))).await;
    made["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| made["id"].to_string())
}

/// The simulator's own bytes of a recording, read with the platform client.
async fn platform_content(sim: &SimHandle, recording_id: &str) -> Vec<u8> {
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    let rest = RestClient::connect(credentials, RestConfig::default()).unwrap();
    let mut stream = rest.recording_content(recording_id, None).await.unwrap();
    let mut content = Vec::new();
    while let Some(piece) = stream.body.next().await {
        content.extend_from_slice(&piece.unwrap());
    }
    content
}

async fn export(scratch: &Scratch, sim: &SimHandle, recording_id: &str) -> (Output, PathBuf) {
    let out = scratch.dir.path().join(format!("export-{recording_id}"));
    let output = scratch
        .run(
            sim,
            sim.base_url(),
            &["export", recording_id, "--out", out.to_str().unwrap()],
        )
        .await;
    (output, out)
}

/// The store's chunk size: whole chunks are what a download has stored.
const CHUNK_BYTES: u64 = callboard::store::DEFAULT_CHUNK_BYTES as u64;

fn stored_bytes_of(listed: &[Value], recording_id: &str) -> u64 {
    listed
        .iter()
        .find(|r| r["recording_id"] == recording_id)
        .and_then(|r| r["stored_bytes"].as_u64())
        .unwrap_or_else(|| panic!("no stored_bytes for {recording_id} in {listed:?}"))
}

/// Copies a directory tree (files and subdirectories).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn status_of(listed: &[Value], recording_id: &str) -> Option<String> {
    listed
        .iter()
        .find(|r| r["recording_id"] == recording_id)
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
}

// ---------------------------------------------------------------------------------------------
// A proxy between the CLI and the simulator that can cut or hold a download
// ---------------------------------------------------------------------------------------------

/// What the proxy does to the simulator's answers once a connection has carried `after` bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Interference {
    None,
    /// Close the connection, once.
    CutOnce {
        after: u64,
    },
    /// Stop forwarding (the download stalls) until the process on the other end is killed.
    Hold {
        after: u64,
    },
}

struct Proxy {
    url: String,
    mode: Arc<Mutex<Interference>>,
    /// Set once the interference took effect.
    struck: Arc<AtomicBool>,
    /// Bytes forwarded to the client on the connection that was interfered with.
    forwarded_when_struck: Arc<AtomicU64>,
    /// Every request head the client sent, lower-cased.
    requests: Arc<Mutex<String>>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr, mode: Interference) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            url: format!("http://{}", listener.local_addr().unwrap()),
            mode: Arc::new(Mutex::new(mode)),
            struck: Arc::new(AtomicBool::new(false)),
            forwarded_when_struck: Arc::new(AtomicU64::new(0)),
            requests: Arc::new(Mutex::new(String::new())),
        };
        let (mode, struck, forwarded, requests) = (
            proxy.mode.clone(),
            proxy.struck.clone(),
            proxy.forwarded_when_struck.clone(),
            proxy.requests.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream).await.unwrap();
                tokio::spawn(relay(
                    client,
                    server,
                    mode.clone(),
                    struck.clone(),
                    forwarded.clone(),
                    requests.clone(),
                ));
            }
        });
        proxy
    }

    fn set_mode(&self, mode: Interference) {
        *self.mode.lock().unwrap() = mode;
        self.struck.store(false, Ordering::SeqCst);
    }

    /// The `from` of every `Range: bytes=from-` request seen.
    fn range_starts(&self) -> Vec<u64> {
        self.requests
            .lock()
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix("range: bytes="))
            .filter_map(|spec| spec.split('-').next()?.trim().parse().ok())
            .collect()
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    mode: Arc<Mutex<Interference>>,
    struck: Arc<AtomicBool>,
    forwarded_when_struck: Arc<AtomicU64>,
    requests: Arc<Mutex<String>>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            requests
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]).to_lowercase());
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buffer = vec![0u8; 16 * 1024];
    let mut forwarded = 0u64;
    while let Ok(n) = server_read.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let current = *mode.lock().unwrap();
        let limit = match current {
            Interference::CutOnce { after } | Interference::Hold { after }
                if !struck.load(Ordering::SeqCst) =>
            {
                Some(after)
            }
            _ => None,
        };
        if let Some(after) = limit
            && forwarded + n as u64 > after
        {
            let allowed = usize::try_from(after - forwarded).unwrap();
            let _ = client_write.write_all(&buffer[..allowed]).await;
            forwarded += allowed as u64;
            forwarded_when_struck.store(forwarded, Ordering::SeqCst);
            struck.store(true, Ordering::SeqCst);
            if matches!(current, Interference::Hold { .. }) {
                // Keep both sockets open and silent until the client goes away.
                std::future::pending::<()>().await;
            }
            break;
        }
        if client_write.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        forwarded += n as u64;
    }
    upstream.abort();
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_call_recording_that_appears_late_is_waited_for_then_fetched() {
    let sim = start_sim(|config| {
        // Calls long enough to be caught live, recordings published well after hang-up.
        config.world.recording_probability = 1.0;
        config.world.recording_delay_seconds = 3.0;
        config.world.calls_per_minute = 60.0;
    })
    .await;
    let session_id = live_recorded_call(&sim).await;
    let scratch = Scratch::new("");

    let output = scratch
        .run(&sim, sim.base_url(), &["fetch", &session_id])
        .await;

    assert_success(&output, "fetch by telephonySessionId");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("waiting for the recording"),
        "the wait is not reported: {stderr}"
    );
    let listed = scratch.listed(&sim).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "complete");
    assert_eq!(
        listed[0]["call"]["telephony_session_id"],
        session_id.as_str()
    );
    let recording_id = listed[0]["recording_id"].as_str().unwrap().to_owned();
    let (exported, path) = export(&scratch, &sim, &recording_id).await;
    assert_success(&exported, "export");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        platform_content(&sim, &recording_id).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_is_byte_identical_private_and_a_second_fetch_fetches_nothing() {
    let sim = quiet_sim().await;
    let recording_id = add_recording(&sim, 700_000).await;
    let scratch = Scratch::new("");

    let fetched = scratch
        .run(&sim, sim.base_url(), &["fetch", &recording_id])
        .await;
    assert_success(&fetched, "fetch");
    let again = scratch
        .run(&sim, sim.base_url(), &["fetch", &recording_id])
        .await;
    assert_success(&again, "second fetch");
    assert!(
        text(&again.stdout).starts_with("already stored"),
        "{}",
        text(&again.stdout)
    );

    let out_dir = scratch.dir.path().join("exports");
    std::fs::create_dir(&out_dir).unwrap();
    let exported = scratch
        .run(
            &sim,
            sim.base_url(),
            &["export", &recording_id, "--out", out_dir.to_str().unwrap()],
        )
        .await;
    assert_success(&exported, "export");
    let files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let extension = file.extension().unwrap().to_str().unwrap();
    assert!(extension == "wav" || extension == "mp3", "{file:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read(file).unwrap(),
        platform_content(&sim, &recording_id).await
    );
    assert_eq!(
        std::fs::metadata(scratch.data_dir())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_connection_resumes_with_range_where_it_stopped() {
    let sim = quiet_sim().await;
    let recording_id = add_recording(&sim, 1_500_000).await;
    let proxy = Proxy::start(sim.addr(), Interference::CutOnce { after: 600_000 }).await;
    let scratch = Scratch::new("");

    let output = scratch
        .run(&sim, &proxy.url, &["fetch", &recording_id])
        .await;

    assert_success(&output, "fetch through a cut connection");
    assert!(proxy.struck.load(Ordering::SeqCst), "the proxy never cut");
    let resumed_from: Vec<u64> = proxy
        .range_starts()
        .into_iter()
        .filter(|&from| from > 0)
        .collect();
    assert_eq!(resumed_from.len(), 1, "{:?}", proxy.range_starts());
    assert!(
        resumed_from[0] <= proxy.forwarded_when_struck.load(Ordering::SeqCst),
        "resumed past what was received"
    );
    let (exported, path) = export(&scratch, &sim, &recording_id).await;
    assert_success(&exported, "export");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        platform_content(&sim, &recording_id).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_fetch_leaves_no_complete_looking_partial_and_the_next_one_resumes() {
    let sim = quiet_sim().await;
    let recording_id = add_recording(&sim, 2_000_000).await;
    let proxy = Proxy::start(sim.addr(), Interference::Hold { after: 900_000 }).await;
    let scratch = Scratch::new("");

    let mut child: Child = scratch
        .command(&sim, &proxy.url, &["fetch", &recording_id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill only once the store on disk holds every whole chunk received before the hold:
    // what a crash at that moment leaves is read from a copy of the sled files (the running
    // fetch keeps the store itself locked), so no sleep has to guess how long flushing takes.
    let held_chunks = 900_000 / CHUNK_BYTES * CHUNK_BYTES;
    let durable = tokio::time::timeout(SAFETY_NET, async {
        loop {
            if let Some(stored) = scratch
                .durable_partial_bytes(&sim, &recording_id)
                .await
                .filter(|&stored| stored >= held_chunks)
            {
                return stored;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the held download's chunks never reached the disk");
    assert!(proxy.struck.load(Ordering::SeqCst));
    child.kill().unwrap();
    child.wait().unwrap();

    let listed = scratch.listed(&sim).await;
    assert_eq!(
        status_of(&listed, &recording_id).as_deref(),
        Some("partial")
    );
    let stored = stored_bytes_of(&listed, &recording_id);
    assert!(
        stored >= durable,
        "{stored} stored, {durable} seen on disk before the kill"
    );
    let table = scratch.run(&sim, sim.base_url(), &["list"]).await;
    assert_success(&table, "list");
    let table = text(&table.stdout);
    assert!(
        table.contains(&format!("{recording_id}: partial,")) && table.contains("resumes on fetch"),
        "{table}"
    );
    let (refused, path) = export(&scratch, &sim, &recording_id).await;
    assert!(
        !refused.status.success(),
        "a partial recording was exported"
    );
    assert!(text(&refused.stderr).contains("not completely downloaded"));
    assert!(!path.exists());

    proxy.set_mode(Interference::None);
    let output = scratch
        .run(&sim, &proxy.url, &["fetch", &recording_id])
        .await;
    assert_success(&output, "fetch after the kill");
    assert!(
        text(&output.stdout).starts_with("stored (resumed)"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        proxy.range_starts().contains(&stored),
        "did not resume at the {stored} bytes stored: {:?}",
        proxy.range_starts()
    );
    let (exported, path) = export(&scratch, &sim, &recording_id).await;
    assert_success(&exported, "export");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        platform_content(&sim, &recording_id).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_fetch_waits_out_retry_after() {
    let sim = quiet_sim().await;
    let recording_id = add_recording(&sim, 300_000).await;
    control(
        &sim,
        "/_sim/fault",
        Some(json!({"kind": "rate_limit", "group": "heavy", "seconds": 3})),
    )
    .await;
    let scratch = Scratch::new("");

    let output = scratch
        .run(&sim, sim.base_url(), &["fetch", &recording_id])
        .await;

    assert_success(&output, "fetch while rate-limited");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rate-limited"), "{stderr}");
    assert_eq!(
        status_of(&scratch.listed(&sim).await, &recording_id).as_deref(),
        Some("complete")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_size_cap_stops_a_fetch_with_a_clear_error_and_damages_nothing() {
    let sim = quiet_sim().await;
    let small = add_recording(&sim, 200_000).await;
    // The smallest cap the config accepts is 16 MiB.
    let large = add_recording(&sim, 17 * 1024 * 1024).await;
    let scratch = Scratch::new("[recordings]\nstore_cap_mb = 16\n");

    assert_success(
        &scratch.run(&sim, sim.base_url(), &["fetch", &small]).await,
        "fetch under the cap",
    );
    let refused = scratch.run(&sim, sim.base_url(), &["fetch", &large]).await;

    assert!(!refused.status.success(), "the cap was not enforced");
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("size cap"), "{stderr}");
    assert!(stderr.contains("store_cap"), "no way out offered: {stderr}");
    let listed = scratch.listed(&sim).await;
    assert_eq!(status_of(&listed, &small).as_deref(), Some("complete"));
    assert_ne!(status_of(&listed, &large).as_deref(), Some("complete"));
    let (exported, path) = export(&scratch, &sim, &small).await;
    assert_success(&exported, "export of what was stored before");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        platform_content(&sim, &small).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_chunk_is_reported_on_export_marked_and_refetched() {
    let (sim, recording_id, scratch) = fetched_by_the_cli(600_000).await;
    flip_a_byte(&content_file(&scratch.data_dir(), &recording_id), 300_000);

    let (refused, path) = export(&scratch, &sim, &recording_id).await;

    assert!(!refused.status.success(), "corrupted content was exported");
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(stderr.contains("refetch"), "{stderr}");
    assert!(!path.exists(), "a damaged export was left behind");
    assert_eq!(
        status_of(&scratch.listed(&sim).await, &recording_id).as_deref(),
        Some("needs_refetch")
    );
    assert_success(
        &scratch
            .run(&sim, sim.base_url(), &["fetch", &recording_id])
            .await,
        "refetch",
    );
    let (exported, path) = export(&scratch, &sim, &recording_id).await;
    assert_success(&exported, "export after the refetch");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        platform_content(&sim, &recording_id).await
    );
}

/// The TUI's way for an ended call: look the recording up in the call log (waiting while the
/// platform has not written it), then download it under its own id, keeping what the board knew.
#[tokio::test(flavor = "multi_thread")]
async fn the_board_fetches_an_ended_call_by_its_session_and_keeps_what_it_knew() {
    use callboard::app::recordings::RecordingFetcher;
    use callboard::store::download::{Backoff, DownloadConfig, DownloadUpdate, WaitReason};
    use callboard::store::{CallInfo, Store, StoreConfig};

    let sim = start_sim(|config| {
        config.world.recording_probability = 1.0;
        config.world.recording_delay_seconds = 2.0;
        config.world.calls_per_minute = 60.0;
    })
    .await;
    let session_id = live_recorded_call(&sim).await;
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    let rest = Arc::new(RestClient::connect(credentials, RestConfig::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    // Quicker than the default, yet under the client's own Heavy-group pacing (10 a minute),
    // which would otherwise hold the lookups back.
    let quick = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(3),
    };
    let config = DownloadConfig {
        availability_backoff: quick,
        ..DownloadConfig::default()
    };
    let (events_tx, mut events) = tokio::sync::mpsc::channel(256);
    let fetcher = RecordingFetcher::new(rest, store.clone(), config, events_tx.clone()).unwrap();
    let (found_tx, found_rx) = tokio::sync::oneshot::channel();
    let board_knew = CallInfo {
        queue: Some("Sales".into()),
        campaign: Some("Billboard I-80".into()),
        ..CallInfo::default()
    };
    fetcher.start_for_session(
        session_id.clone(),
        board_knew,
        events_tx,
        move |session, recording| {
            let _ = found_tx.send((session, recording));
        },
    );

    let mut waited_under_session = false;
    let meta = tokio::time::timeout(SAFETY_NET, async {
        while let Some(event) = events.recv().await {
            match event.update {
                DownloadUpdate::Waiting {
                    reason: WaitReason::NotYetAvailable,
                    ..
                } if event.recording_id == session_id => waited_under_session = true,
                DownloadUpdate::Finished { meta, .. } => return meta,
                DownloadUpdate::Failed { error } => panic!("fetch failed: {error}"),
                _ => {}
            }
        }
        panic!("the events ended without a finished download");
    })
    .await
    .unwrap();

    assert!(waited_under_session, "the call-log wait was not reported");
    let (session, recording_id) = found_rx.await.unwrap();
    assert_eq!(session, session_id);
    assert_eq!(meta.recording_id, recording_id);
    assert_eq!(
        meta.call.telephony_session_id.as_deref(),
        Some(session_id.as_str())
    );
    assert_eq!(meta.call.queue.as_deref(), Some("Sales"));
    assert_eq!(meta.call.campaign.as_deref(), Some("Billboard I-80"));
    assert!(
        meta.call.caller.is_some(),
        "the call log's caller was not kept"
    );
    let stored = store.recording(&recording_id).unwrap().unwrap();
    assert!(stored.is_complete());
}

/// Ctrl-C while the CLI waits for a call's recording to appear in the call log: it stops at
/// once, says so, exits 130 like any command stopped by Ctrl-C, and stores nothing.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_waiting_lookup_cleanly_and_stores_nothing() {
    let sim = quiet_sim().await;
    let scratch = Scratch::new("");
    let mut child = scratch
        .command(&sim, sim.base_url(), &["fetch", "s-never-recorded"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let waiting = tokio::task::spawn_blocking(move || {
        let line = lines
            .iter()
            .find(|line| line.contains("waiting for the recording"));
        (line, lines)
    });
    let (line, lines) = tokio::time::timeout(SAFETY_NET, waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(line.is_some(), "the lookup never said it waits");

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: signalling a child this test spawned and has not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = tokio::time::timeout(
        SAFETY_NET,
        tokio::task::spawn_blocking(move || child.wait().unwrap()),
    )
    .await
    .expect("Ctrl-C did not stop the fetch")
    .unwrap();
    reader.join().unwrap();
    let rest: Vec<String> = lines.try_iter().collect();

    assert_eq!(status.code(), Some(130), "{rest:?}");
    let said = rest.join("\n");
    assert!(said.contains("was cancelled; nothing was stored"), "{said}");
    assert!(scratch.listed(&sim).await.is_empty());
}

/// The TUI's lookup, held back by the client's rate limiter (the Heavy group is paused by a
/// 429), says "paced" with the wait, not a stale retry; cancelling it ends it under its call.
#[tokio::test(flavor = "multi_thread")]
async fn a_paced_lookup_says_so_and_its_cancel_ends_it() {
    use callboard::app::recordings::RecordingFetcher;
    use callboard::store::download::{DownloadConfig, DownloadUpdate, WaitReason};
    use callboard::store::{CallInfo, Store, StoreConfig};

    let sim = quiet_sim().await;
    control(
        &sim,
        "/_sim/fault",
        Some(json!({"kind": "rate_limit", "group": "heavy", "seconds": 30})),
    )
    .await;
    let credentials = sim.client_credentials(sim.base_url()).unwrap();
    let rest = Arc::new(RestClient::connect(credentials, RestConfig::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let (events_tx, mut events) = tokio::sync::mpsc::channel(256);
    let fetcher = RecordingFetcher::new(
        rest,
        store.clone(),
        DownloadConfig::default(),
        events_tx.clone(),
    )
    .unwrap();
    let cancel = fetcher.start_for_session(
        "s-held-back".to_owned(),
        CallInfo::default(),
        events_tx,
        |_, _| panic!("a recording was found for a call that has none"),
    );

    // The first word from the lookup is the limiter's wait: the call log answered nothing yet.
    let first = tokio::time::timeout(SAFETY_NET, events.recv())
        .await
        .expect("the held-back lookup said nothing")
        .expect("events ended");
    assert_eq!(first.recording_id, "s-held-back");
    let DownloadUpdate::Waiting {
        reason: WaitReason::Paced,
        retry_in: paced,
    } = first.update
    else {
        panic!("expected a rate-limit pacing, got {:?}", first.update);
    };
    assert!(
        paced > Duration::ZERO && paced <= Duration::from_secs(30),
        "{paced:?}"
    );

    cancel.cancel();
    let ended = tokio::time::timeout(SAFETY_NET, async {
        loop {
            let event = events.recv().await.expect("events ended");
            if !matches!(event.update, DownloadUpdate::Waiting { .. }) {
                return event;
            }
        }
    })
    .await
    .expect("the cancelled lookup did not end");
    assert_eq!(ended.recording_id, "s-held-back");
    assert_eq!(ended.update, DownloadUpdate::Cancelled);
    assert!(store.recordings().unwrap().is_empty());
}

/// After the lookup hands over to the download, the token it returned (what `x` on the row
/// reaches) cancels the download too: the download ends as cancelled under its recording id,
/// leaving a partial to resume, never a complete-looking one.
#[tokio::test(flavor = "multi_thread")]
async fn the_lookups_token_cancels_the_download_it_handed_over_to() {
    use callboard::app::recordings::RecordingFetcher;
    use callboard::store::download::{Backoff, DownloadConfig, DownloadUpdate};
    use callboard::store::{CallInfo, RecordingStatus, Store, StoreConfig};

    let sim = start_sim(|config| {
        config.world.recording_probability = 1.0;
        config.world.recording_delay_seconds = 1.0;
        config.world.calls_per_minute = 60.0;
        // Talk of 10 s or more: recordings of 160 kB and up (8 kHz, 16-bit WAV).
        config.world.min_talk_seconds = 10.0;
        config.world.mean_talk_seconds = 12.0;
    })
    .await;
    let session_id = live_recorded_call(&sim).await;
    // The content download holds once it has carried 100 kB; the REST calls stay far below.
    let proxy = Proxy::start(sim.addr(), Interference::Hold { after: 100_000 }).await;
    let credentials = sim.client_credentials(&proxy.url).unwrap();
    let rest = Arc::new(RestClient::connect(credentials, RestConfig::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let config = DownloadConfig {
        availability_backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(3),
        },
        ..DownloadConfig::default()
    };
    let (events_tx, mut events) = tokio::sync::mpsc::channel(256);
    let fetcher = RecordingFetcher::new(rest, store.clone(), config, events_tx.clone()).unwrap();
    let (found_tx, found_rx) = tokio::sync::oneshot::channel();
    let cancel = fetcher.start_for_session(
        session_id.clone(),
        CallInfo::default(),
        events_tx,
        move |_, recording_id| {
            let _ = found_tx.send(recording_id);
        },
    );
    let recording_id = tokio::time::timeout(SAFETY_NET, found_rx)
        .await
        .expect("the recording was never found")
        .unwrap();
    let held = tokio::time::timeout(SAFETY_NET, async {
        while !proxy.struck.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(held.is_ok(), "the download never reached the hold");

    cancel.cancel();
    let ended = tokio::time::timeout(SAFETY_NET, async {
        loop {
            let event = events.recv().await.expect("events ended");
            if event.recording_id == recording_id
                && matches!(
                    event.update,
                    DownloadUpdate::Cancelled
                        | DownloadUpdate::Failed { .. }
                        | DownloadUpdate::Finished { .. }
                )
            {
                return event.update;
            }
        }
    })
    .await
    .expect("the download went on after its lookup's token was cancelled");
    assert_eq!(ended, DownloadUpdate::Cancelled);
    let stored = store.recording(&recording_id).unwrap().unwrap();
    assert_eq!(stored.status, RecordingStatus::Partial);
}

/// Export never replaces a file unless told to (`--force`), writes 0600, and says plainly
/// when the place cannot be written to.
#[tokio::test(flavor = "multi_thread")]
async fn export_keeps_an_existing_file_without_force_and_names_an_unwritable_place() {
    use std::os::unix::fs::PermissionsExt;

    let (sim, recording_id, scratch) = fetched_by_the_cli(300_000).await;
    let out = scratch.dir.path().join("call.wav");
    std::fs::write(&out, b"someone else's file").unwrap();
    let out_arg = out.to_str().unwrap();

    let refused = scratch
        .run(
            &sim,
            sim.base_url(),
            &["export", &recording_id, "--out", out_arg],
        )
        .await;
    assert!(!refused.status.success(), "replaced a file without --force");
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("already exists; pass --force"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"someone else's file");

    let forced = scratch
        .run(
            &sim,
            sim.base_url(),
            &["export", &recording_id, "--out", out_arg, "--force"],
        )
        .await;
    assert_success(&forced, "export --force");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        platform_content(&sim, &recording_id).await
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let nowhere = scratch.dir.path().join("no-such-dir").join("call.wav");
    let missing = scratch
        .run(
            &sim,
            sim.base_url(),
            &["export", &recording_id, "--out", nowhere.to_str().unwrap()],
        )
        .await;
    assert!(!missing.status.success());
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("is not a directory; create it or choose another place"),
        "{stderr}"
    );

    // Permissions do not stop root: check a read-only directory only as another user.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let locked = scratch.dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let denied = scratch
            .run(
                &sim,
                sim.base_url(),
                &["export", &recording_id, "--out", locked.to_str().unwrap()],
            )
            .await;
        assert!(!denied.status.success());
        let stderr = text(&denied.stderr);
        assert!(
            stderr.contains("cannot write") && stderr.contains("choose a place you can write to"),
            "{stderr}"
        );
    }
}

/// A call that is live and being recorded now (its recording is not published until it ends).
async fn live_recorded_call(sim: &SimHandle) -> String {
    let deadline = Instant::now() + SAFETY_NET;
    loop {
        assert!(Instant::now() < deadline, "no recorded call appeared");
        let truth: Value = reqwest::get(format!("{}/_sim/truth", sim.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let live_recorded = truth["calls"].as_array().and_then(|calls| {
            calls
                .iter()
                .find(|c| c["recording"]["active"] == true)
                .and_then(|c| c["telephonySessionId"].as_str().map(str::to_owned))
        });
        if let Some(id) = live_recorded {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the store keeps a recording's bytes (store::recordings module docs).
fn content_file(data_dir: &Path, recording_id: &str) -> PathBuf {
    data_dir
        .join("recordings")
        .join(format!("{}.content", hex::encode(recording_id)))
}

fn flip_a_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The Recordings view and its download gauges (TestBackend snapshots, keys through the app)
// ---------------------------------------------------------------------------------------------

mod ui_support;

mod view {
    use std::path::PathBuf;
    use std::time::Duration;

    use callboard::app::{App, Msg};
    use callboard::store::download::{DownloadEvent, DownloadUpdate, Progress, WaitReason};
    use callboard::store::recordings::{CallInfo, RecordingMeta, RecordingStatus};
    use callboard::ui::downloads::RowKind;
    use callboard::ui::recording_actions::FetchFrom;
    use callboard::ui::update::Effect;

    use super::ui_support::{now, press, screen, scripted_app};

    fn download(app: &mut App, id: &str, update: DownloadUpdate) {
        download_at(app, id, update, now());
    }

    fn download_at(
        app: &mut App,
        id: &str,
        update: DownloadUpdate,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        app.handle(
            Msg::Download(DownloadEvent {
                recording_id: id.to_owned(),
                update,
            }),
            at,
        );
    }

    fn stored(id: &str, session: &str) -> RecordingMeta {
        RecordingMeta {
            recording_id: id.to_owned(),
            call: CallInfo {
                telephony_session_id: Some(session.to_owned()),
                caller: Some("+19175550177".into()),
                campaign: Some("Billboard I-80".into()),
                queue: Some("Sales".into()),
                agent: Some("Chloe Park".into()),
                duration_seconds: Some(95),
            },
            content_type: Some("audio/mpeg".into()),
            length: Some(2_411_520),
            sha256: Some("ab".repeat(32)),
            started_at: now() - chrono::Duration::hours(26),
            fetched_at: Some(now() - chrono::Duration::hours(25)),
            status: RecordingStatus::Complete,
            refetch_reason: None,
        }
    }

    /// A download interrupted at 12.9 of 48 MiB (the process was killed, say).
    fn partial(id: &str, session: &str) -> RecordingMeta {
        RecordingMeta {
            length: Some(48 * 1024 * 1024),
            sha256: None,
            started_at: now() - chrono::Duration::hours(27),
            fetched_at: None,
            status: RecordingStatus::Partial,
            ..stored(id, session)
        }
    }

    /// A recording whose stored content failed its sha256 check on export.
    fn damaged(id: &str, session: &str) -> RecordingMeta {
        RecordingMeta {
            started_at: now() - chrono::Duration::hours(28),
            status: RecordingStatus::NeedsRefetch,
            refetch_reason: Some("sha256 mismatch in chunk 3".into()),
            ..stored(id, session)
        }
    }

    const PARTIAL_BYTES: u64 = 13_526_000;

    /// The store holds a complete, a partial and a damaged recording; downloads: one flowing,
    /// one just finished, and two ended calls looked up in the call log — one waiting for the
    /// platform to publish its recording, one held back by the client's rate limiter. The
    /// waits were announced a few seconds before the frame, so their countdowns have moved on.
    fn app_with_downloads() -> App {
        let mut app = scripted_app();
        app.ui.stored_recordings = vec![
            stored("rec-6900", "s-yesterday"),
            partial("rec-6950", "s-killed"),
            damaged("rec-6940", "s-flipped"),
        ];
        app.ui
            .partial_bytes
            .insert("rec-6950".to_owned(), PARTIAL_BYTES);
        download(
            &mut app,
            "rec-7002",
            DownloadUpdate::Progress(Progress {
                bytes: 1_572_864,
                total: Some(3_932_160),
                bytes_per_second: 524_288.0,
                eta: Some(Duration::from_secs(5)),
            }),
        );
        let five_seconds_ago = now() - chrono::Duration::seconds(5);
        for session in ["s-ended-unpublished", "s-abandoned"] {
            app.ui
                .downloads
                .requested(session, RowKind::Lookup, five_seconds_ago);
        }
        download_at(
            &mut app,
            "s-ended-unpublished",
            DownloadUpdate::Waiting {
                reason: WaitReason::NotYetAvailable,
                retry_in: Duration::from_secs(12),
            },
            five_seconds_ago,
        );
        download_at(
            &mut app,
            "s-abandoned",
            DownloadUpdate::Waiting {
                reason: WaitReason::Paced,
                retry_in: Duration::from_secs(9),
            },
            five_seconds_ago,
        );
        download(
            &mut app,
            "rec-6900",
            DownloadUpdate::Finished {
                meta: Box::new(stored("rec-6900", "s-yesterday")),
                already_stored: false,
            },
        );
        app
    }

    fn select(app: &mut App, key: &str) {
        app.ui.screen_mut().selected = Some(key.to_owned());
    }

    /// Complete, partial (12.9 of 48 MiB: "◐ partial 27%", size "13 of 48 MiB") and damaged
    /// entries; gauges for a download (bytes, rate, time left), a wait for the recording and a
    /// rate-limit pacing, each counting down from when it was announced (12 s and 9 s, five
    /// seconds ago: 7 s and 4 s left).
    #[test]
    fn recordings_view_with_download_gauges() {
        for (width, height) in [(80, 24), (160, 48)] {
            let mut app = app_with_downloads();
            press(&mut app, "6");
            let shown = screen(&app, width, height);
            assert!(
                shown.contains("waiting for the recording — next try in 7 s"),
                "{shown}"
            );
            assert!(
                shown.contains("paced by rate limit — next try in 4 s"),
                "{shown}"
            );
            insta::assert_snapshot!(format!("recordings_downloads_{width}x{height}"), shown);
        }
    }

    /// A selected partial says how much is stored and that fetching resumes it; `f` does.
    #[test]
    fn a_partial_recording_says_it_resumes_and_f_resumes_it() {
        let mut app = app_with_downloads();
        press(&mut app, "6");
        select(&mut app, "rec-6950");
        let shown = screen(&app, 80, 24);
        assert!(
            shown.contains("rec-6950: partial, 13 of 48 MiB stored — resumes on fetch (f)"),
            "{shown}"
        );
        insta::assert_snapshot!("recordings_partial_selected_80x24", shown);

        let effects = press(&mut app, "f");
        assert!(
            matches!(effects.as_slice(),
                [Effect::FetchRecording { from: FetchFrom::Recording(id), .. }] if id == "rec-6950"),
            "{effects:?}"
        );

        select(&mut app, "rec-6940");
        let shown = screen(&app, 80, 24);
        assert!(
            shown.contains("rec-6940: damaged — f fetches it again (sha256 mismatch in chunk 3)"),
            "{shown}"
        );
    }

    /// A call-log lookup is a row of its own: selectable, and `x` cancels it like a download.
    #[test]
    fn x_cancels_a_call_log_lookup_like_a_download() {
        let mut app = app_with_downloads();
        press(&mut app, "6");
        select(&mut app, "s-abandoned");
        let effects = press(&mut app, "x");
        assert_eq!(
            effects,
            [Effect::CancelDownload("s-abandoned".into())],
            "x on the lookup's row"
        );
        download(&mut app, "s-abandoned", DownloadUpdate::Cancelled);
        assert!(
            press(&mut app, "x").is_empty(),
            "cancelled twice: the lookup no longer runs"
        );
        // Once found, the lookup's row gives way to its download under the recording id.
        app.handle(
            Msg::RecordingFound {
                session_id: "s-ended-unpublished".into(),
                recording_id: "rec-7100".into(),
            },
            now(),
        );
        assert!(app.ui.downloads.row("s-ended-unpublished").is_none());
    }

    /// From the Calls view, `f` on an ended call the board has no recording id for starts a
    /// call-log lookup; it shows first in the Recordings view, where `x` cancels it.
    #[test]
    fn an_ended_calls_lookup_started_from_calls_is_cancelled_from_recordings() {
        let mut app = scripted_app();
        press(&mut app, "3");
        select(&mut app, "s-abandoned");
        let effects = press(&mut app, "f");
        assert!(
            matches!(effects.as_slice(),
                [Effect::FetchRecording { from: FetchFrom::Session(id), .. }] if id == "s-abandoned"),
            "{effects:?}"
        );
        let flash = app.ui.flash.as_ref().map(|f| f.text.clone());
        assert!(
            flash.is_some_and(|text| text.starts_with("looking the call's recording up")),
            "no word on where the lookup shows"
        );

        press(&mut app, "6");
        let shown = screen(&app, 80, 24);
        let first_row = shown.lines().nth(3).unwrap_or_default();
        assert!(
            first_row.contains("… call log") && first_row.contains("+17185550144"),
            "the lookup is not the first row: {shown}"
        );
        assert_eq!(
            press(&mut app, "x"),
            [Effect::CancelDownload("s-abandoned".into())]
        );
    }

    /// `o` proposes `<export dir>/recording-<id>.<ext>`; the path can be edited; Enter exports
    /// without replacing; an existing file asks first, and only a yes replaces it.
    #[test]
    fn export_asks_where_and_asks_before_replacing() {
        for (width, height) in [(80, 24), (160, 48)] {
            let mut app = app_with_downloads();
            app.ui.export_dir = PathBuf::from("/home/sup/calls");
            press(&mut app, "6");
            select(&mut app, "rec-6900");
            assert!(
                press(&mut app, "o").is_empty(),
                "exported before asking where"
            );
            insta::assert_snapshot!(
                format!("recordings_export_prompt_{width}x{height}"),
                screen(&app, width, height)
            );
        }

        let mut app = app_with_downloads();
        app.ui.export_dir = PathBuf::from("/home/sup/calls");
        press(&mut app, "6");
        select(&mut app, "rec-6900");
        press(&mut app, "o");
        // The proposed name is edited in place: .mp3 becomes .wav.
        let effects = press(&mut app, "<bs><bs><bs>wav<enter>");
        assert_eq!(
            effects,
            [Effect::ExportRecording {
                recording_id: "rec-6900".into(),
                path: PathBuf::from("/home/sup/calls/recording-rec-6900.wav"),
                replace: false,
            }]
        );

        app.handle(
            Msg::ConfirmExportOverwrite {
                recording_id: "rec-6900".into(),
                path: PathBuf::from("/home/sup/calls/recording-rec-6900.wav"),
            },
            now(),
        );
        insta::assert_snapshot!("recordings_export_overwrite_80x24", screen(&app, 80, 24));
        assert!(press(&mut app, "n").is_empty(), "replaced without a yes");
        assert!(app.ui.overlay.is_none());

        app.handle(
            Msg::ConfirmExportOverwrite {
                recording_id: "rec-6900".into(),
                path: PathBuf::from("/home/sup/calls/recording-rec-6900.wav"),
            },
            now(),
        );
        assert_eq!(
            press(&mut app, "y"),
            [Effect::ExportRecording {
                recording_id: "rec-6900".into(),
                path: PathBuf::from("/home/sup/calls/recording-rec-6900.wav"),
                replace: true,
            }]
        );

        // An emptied prompt says what it needs and stays open.
        press(&mut app, "o<c-u>");
        assert!(press(&mut app, "<enter>").is_empty());
        assert!(
            app.ui.input.is_some(),
            "an empty destination closed the prompt"
        );
        // A partial recording cannot be exported: it says to fetch it first.
        press(&mut app, "<esc>");
        select(&mut app, "rec-6950");
        assert!(press(&mut app, "o").is_empty());
        assert!(app.ui.input.is_none());
    }

    #[test]
    fn fetch_on_a_recorded_call_asks_for_its_recording_with_what_the_board_knows() {
        let mut app = scripted_app();
        // The Calls view lists live calls first: a caller still waiting (not recorded), then the
        // talking call whose recording is rec-7002.
        assert!(
            press(&mut app, "3f").is_empty(),
            "fetched an unrecorded call"
        );
        let effects = press(&mut app, "jf");
        let [Effect::FetchRecording { from, call }] = effects.as_slice() else {
            panic!("expected one fetch, got {effects:?}");
        };
        assert_eq!(from, &FetchFrom::Recording("rec-7002".into()));
        assert!(call.telephony_session_id.is_some());
        assert!(call.agent.is_some(), "{call:?}");
        let flash = app.ui.flash.as_ref().map(|f| f.text.as_str());
        assert_eq!(
            flash,
            Some("fetching the recording: progress in 6 Recordings (x there cancels)"),
            "a fetch from the Calls view must say where to follow it"
        );
        // A second press while it runs does not start it twice.
        assert!(press(&mut app, "f").is_empty());
    }

    #[test]
    fn delete_asks_first_and_read_only_has_no_delete() {
        let mut app = scripted_app();
        app.ui.stored_recordings = vec![stored("rec-6900", "s-yesterday")];
        press(&mut app, "6G");
        assert!(press(&mut app, "D").is_empty(), "deleted without asking");
        insta::assert_snapshot!("recordings_delete_confirm_80x24", screen(&app, 80, 24));
        let effects = press(&mut app, "y");
        assert!(
            matches!(effects.as_slice(), [Effect::DeleteRecording(id)] if id == "rec-6900"),
            "{effects:?}"
        );
        press(&mut app, "D");
        assert!(press(&mut app, "n").is_empty());

        let mut read_only = scripted_app();
        read_only.ui.keymap =
            callboard::ui::keys::KeyMap::build(&Default::default(), true).unwrap();
        read_only.ui.stored_recordings = vec![stored("rec-6900", "s-yesterday")];
        press(&mut read_only, "6G");
        assert!(press(&mut read_only, "D").is_empty());
        assert!(
            read_only.ui.overlay.is_none(),
            "read-only mode asked to delete"
        );
        assert!(
            !press(&mut read_only, "y")
                .iter()
                .any(|e| matches!(e, Effect::DeleteRecording(_)))
        );
    }
}
