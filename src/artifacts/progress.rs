//! Progress of long transfers: a bar with bytes and files on a terminal, plain throttled
//! lines in CI (`CI=true`) or when stderr is not a terminal, inside a `::group::` block under
//! GitHub Actions (`GITHUB_ACTIONS=true`).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    state: Mutex<(u64, u64, Instant)>,
    total_files: u64,
    total_bytes: u64,
    grouped: bool,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(label: &str, total_files: u64, total_bytes: u64) -> Progress {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let bar = (!ci && std::io::stderr().is_terminal() && total_files > 0).then(|| {
            let bar = ProgressBar::new(total_bytes);
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("{label}: 0/{total_files} files"));
            bar
        });
        let grouped = bar.is_none() && total_files > 0 && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        if grouped {
            eprintln!("::group::{label}: {total_files} files, {total_bytes} bytes");
        }
        Progress {
            label: label.to_string(),
            bar,
            state: Mutex::new((0, 0, Instant::now())),
            total_files,
            total_bytes,
            grouped,
        }
    }

    /// One more file of `bytes` done.
    pub fn file_done(&self, bytes: u64) {
        let Ok(mut s) = self.state.lock() else { return };
        s.0 += 1;
        s.1 += bytes;
        match &self.bar {
            Some(bar) => {
                bar.set_position(s.1);
                bar.set_message(format!("{}: {}/{} files", self.label, s.0, self.total_files));
            }
            None if s.2.elapsed() >= LINE_EVERY => {
                eprintln!("{}: {}/{} files, {}/{} bytes", self.label, s.0, self.total_files, s.1, self.total_bytes);
                s.2 = Instant::now();
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_none()
            && let Ok(s) = self.state.lock()
            && s.0 > 0
        {
            eprintln!("{}: {}/{} files, {}/{} bytes, done", self.label, s.0, self.total_files, s.1, self.total_bytes);
        }
        if self.grouped {
            eprintln!("::endgroup::");
        }
    }
}
