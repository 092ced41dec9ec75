//! `capsule logs`: a service's or job's CloudWatch Logs events, oldest first, each line
//! prefixed with its time and short task id; `--follow` polls until interrupted. Reads only.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Workload;
use crate::aws::task::poll_interval;
use crate::aws::{AwsResultExt, FoundExt};
use crate::engine::Session;

/// The log stream awslogs writes a task's container to: `<prefix>/<container>/<task id>`.
fn stream_of(w: &Workload, task: &str) -> String {
    format!("{}/{}/{task}", w.stream_prefix, w.container)
}

/// The task id a stream name ends with, shortened as people read it.
fn short_task(stream: &str) -> &str {
    let id = stream.rsplit('/').next().unwrap_or(stream);
    // Eight characters, not bytes: a stream someone else wrote may have any name.
    id.char_indices().nth(8).map_or(id, |(end, _)| &id[..end])
}

/// `2026-12-02T04:30:01Z` of a CloudWatch Logs timestamp (milliseconds since the epoch).
fn time_of(millis: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or_default());
    humantime::format_rfc3339_seconds(t).to_string()
}

/// One event as `capsule logs` prints it.
pub fn line(millis: i64, stream: &str, message: &str) -> String {
    format!("{} {} {}", time_of(millis), short_task(stream), message.trim_end_matches(['\n', '\r']))
}

/// What `capsule logs` reads: since when, one task only, and whether to follow.
pub struct Query {
    pub since: Duration,
    pub task: Option<String>,
    pub follow: bool,
}

/// Events of the workload's streams from `start` (ms), oldest first, skipping `seen` ids.
async fn events_since(
    session: &Session,
    w: &Workload,
    prefix: &str,
    start: i64,
    seen: &mut BTreeSet<String>,
) -> anyhow::Result<Vec<(i64, String)>> {
    let logs = session.aws.logs(&w.region);
    let mut out = Vec::new();
    let mut pages = logs
        .filter_log_events()
        .log_group_name(&w.log_group)
        .log_stream_name_prefix(prefix)
        .start_time(start)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = page.aws("logs:FilterLogEvents").found()? else { break };
        for e in page.events() {
            if !seen.insert(e.event_id().unwrap_or_default().to_string()) {
                continue;
            }
            let (t, stream) = (e.timestamp().unwrap_or_default(), e.log_stream_name().unwrap_or_default());
            out.push((t, line(t, stream, e.message().unwrap_or_default())));
        }
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// `capsule logs`: prints the events; with `follow`, polls until Ctrl-C (then exits 0).
///
/// The Ctrl-C listener is set up before the first request and stays for the whole loop: a
/// signal that arrived while a request was in flight used to be swallowed (tokio's handler was
/// installed, nobody listened), and `--follow` then never ended.
pub async fn logs(session: &Session, w: &Workload, q: &Query) -> anyhow::Result<()> {
    if !q.follow {
        return print_since(session, w, q).await;
    }
    tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => Ok(()),
        r = print_since(session, w, q) => r,
    }
}

/// Prints the events from `q.since` on; with `follow`, polls for more forever.
async fn print_since(session: &Session, w: &Workload, q: &Query) -> anyhow::Result<()> {
    let prefix = match &q.task {
        Some(task) => stream_of(w, task),
        None => format!("{}/", w.stream_prefix),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut start = i64::try_from(now.saturating_sub(q.since).as_millis()).unwrap_or_default();
    let mut seen = BTreeSet::new();
    loop {
        for (t, text) in events_since(session, w, &prefix, start, &mut seen).await? {
            println!("{text}");
            // Events of the same millisecond may still arrive: ask from it again (ids dedupe).
            start = start.max(t);
        }
        if !q.follow {
            return Ok(());
        }
        tokio::time::sleep(poll_interval()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_time_the_short_task_id_and_the_message() {
        let l = line(1_764_649_801_000, "api/api/0123456789abcdef0123456789abcdef", "migrated 3 tables\n");
        assert_eq!(l, "2025-12-02T04:30:01Z 01234567 migrated 3 tables");
        assert_eq!(short_task("api/api/größenänderung"), "größenän", "cut at characters, never inside one");
        assert_eq!(short_task("api/api/abc"), "abc");
    }
}
