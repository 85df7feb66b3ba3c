//! Drives a real `callboard` process in a pseudo-terminal, so the figures are what a user's
//! terminal receives: bytes counted at the pty master, CPU and peak RSS read from /proc.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process attached to a pty, with a reader thread that counts and keeps its output.
pub struct PtyProcess {
    child: Child,
    master: File,
    bytes: Arc<AtomicU64>,
    output: Arc<Mutex<Output>>,
}

/// The tail of what the program wrote, with how much was dropped from its front, so positions
/// in it stay absolute (a byte count since launch) however long the run.
#[derive(Default)]
struct Output {
    dropped: u64,
    tail: Vec<u8>,
}

/// Where `needle` occurs in `haystack` at or after `from`.
fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

impl PtyProcess {
    /// Starts `program args…` on a new `cols`×`rows` pty as its controlling terminal.
    pub fn spawn<I, S>(
        program: &str,
        args: I,
        envs: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> PtyProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut master_fd: libc::c_int = -1;
        let mut slave_fd: libc::c_int = -1;
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two valid descriptors on success; we check the return value.
        let rc = unsafe {
            libc::openpty(
                &mut master_fd,
                &mut slave_fd,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty failed: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just returned by openpty and are owned by us alone.
        let (master, slave) = unsafe {
            (
                OwnedFd::from_raw_fd(master_fd),
                OwnedFd::from_raw_fd(slave_fd),
            )
        };
        let slave_raw = slave.as_raw_fd();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().expect("dup slave")))
            .stdout(Stdio::from(slave.try_clone().expect("dup slave")))
            .stderr(Stdio::from(slave));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::ioctl(slave_raw, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn callboard in a pty");
        let master = File::from(master);
        let bytes = Arc::new(AtomicU64::new(0));
        let output = Arc::new(Mutex::new(Output::default()));
        let mut reader = master.try_clone().expect("clone pty master");
        let (bytes_in, output_in) = (bytes.clone(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                let mut out = output_in.lock().expect("output lock");
                // Keep only the tail: enough to find the last frame, bounded for long runs.
                if out.tail.len() > 8 << 20 {
                    out.tail.drain(..4 << 20);
                    out.dropped += 4 << 20;
                }
                out.tail.extend_from_slice(&buf[..n]);
            }
        });
        PtyProcess {
            child,
            master,
            bytes,
            output,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Bytes the program has written to its terminal so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Waits until the output contains `needle`; returns the time waited, or None on timeout.
    pub fn wait_for(&self, needle: &[u8], timeout: Duration) -> Option<Duration> {
        self.wait_for_after(needle, 0, timeout)
            .map(|(waited, _)| waited)
    }

    /// Waits until `needle` occurs at or after absolute output position `from`; returns the
    /// time waited and the absolute position just past the match, or None on timeout.
    pub fn wait_for_after(
        &self,
        needle: &[u8],
        from: u64,
        timeout: Duration,
    ) -> Option<(Duration, u64)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            {
                let out = self.output.lock().expect("output lock");
                let local = from.saturating_sub(out.dropped) as usize;
                if let Some(at) = find_from(&out.tail, needle, local) {
                    return Some((start.elapsed(), out.dropped + (at + needle.len()) as u64));
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    /// How many times `needle` occurs in the output from absolute position `from` on (as far
    /// as the kept tail reaches).
    pub fn count_after(&self, needle: &[u8], from: u64) -> usize {
        let out = self.output.lock().expect("output lock");
        let mut at = from.saturating_sub(out.dropped) as usize;
        let mut count = 0;
        while let Some(found) = find_from(&out.tail, needle, at) {
            count += 1;
            at = found + needle.len();
        }
        count
    }

    /// Sends keys as the terminal would.
    pub fn send(&mut self, keys: &[u8]) {
        self.master.write_all(keys).expect("write to pty");
    }

    /// User + system CPU seconds the process has used, from /proc/PID/stat.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the command name (which may contain spaces) start after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat; 12 and 13 counting from after ')'.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / hz
    }

    /// Peak resident set size in bytes (VmHWM).
    pub fn peak_rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }

    /// Asks the program to quit with `q` and waits; kills it if it does not exit in time.
    pub fn quit(mut self, keys: &[u8]) {
        self.send(keys);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
