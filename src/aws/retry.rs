//! Bounded retries of whole adapter operations for what AWS documents as temporary:
//! throttling, 5xx, and eventual consistency (a resource just created is not visible yet).
//! Whether an error is worth retrying is `error.rs`'s decision; this module only waits,
//! with a deadline, exponential backoff with jitter, and a progress line. It retries only
//! operations that are idempotent by the adapter contract (observe, create, update, delete).

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

use super::AwsError;

/// How long one operation keeps being retried: long enough for IAM, ACM and EC2
/// propagation (AWS quotes seconds to a couple of minutes), short enough to fail a run.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// A progress line at most this often, so a long wait is visible but not noisy.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The retry budget: `CAPSULE_AWS_RETRY_TIMEOUT` (a duration such as `2m`, `30s`; `0s`
/// turns retries off) or two minutes.
pub fn deadline() -> Duration {
    std::env::var("CAPSULE_AWS_RETRY_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(DEFAULT_DEADLINE)
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or `budget`
/// has passed (then the last error is returned). `what` names the operation in the
/// progress line, e.g. the resource's address.
pub async fn settle<T, F, Fut>(what: &str, budget: Duration, mut op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut reported: Option<Instant> = None;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) if !e.kind.is_retryable() => return Err(e),
            Err(e) => e,
        };
        let elapsed = start.elapsed();
        if elapsed + delay > budget {
            return Err(if attempts > 1 { err.after_retries(attempts, elapsed) } else { err });
        }
        if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            eprintln!(
                "  {what}: {err}; retrying (attempt {attempts}, {}s of {}s)",
                elapsed.as_secs(),
                budget.as_secs()
            );
            reported = Some(Instant::now());
        }
        // Full jitter: concurrent applies hitting one throttle do not retry in step.
        let sleep = rand::rng().random_range(delay / 2..=delay);
        tokio::time::sleep(sleep).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::aws::ErrorKind;

    fn transient() -> AwsError {
        AwsError::new(ErrorKind::Transient, "ec2:DescribeSecurityGroups", "not found right after it was written")
    }

    #[tokio::test]
    async fn a_temporary_error_is_retried_until_it_clears() {
        let calls = AtomicU32::new(0);
        let out = settle("sg", Duration::from_secs(10), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err(transient()) } else { Ok(7) }
        })
        .await;
        assert_eq!(out.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_error_that_is_not_temporary_is_returned_at_once() {
        let calls = AtomicU32::new(0);
        let out: Result<(), _> = settle("sg", Duration::from_secs(10), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AwsError::new(ErrorKind::Invalid, "ec2:CreateSecurityGroup", "bad description"))
        })
        .await;
        assert_eq!(out.map_err(|e| e.kind), Err(ErrorKind::Invalid));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_stop_at_the_deadline_with_the_last_error() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let out: Result<(), _> = settle("sg", Duration::from_millis(700), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(transient())
        })
        .await;
        let err = out.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
        assert!(calls.load(Ordering::SeqCst) >= 2);
        assert!(err.contains("not found right after it was written") && err.contains("attempts"), "{err}");
    }
}
