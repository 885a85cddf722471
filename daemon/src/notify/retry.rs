//! Retries of a notification the service could not take now (429, 5xx, a
//! connection that broke): a few more tries, each after a growing pause or
//! after the service's `Retry-After`, then a failure.

use std::future::Future;
use std::time::Duration;

/// Tries in all, the first one included.
pub const MAX_ATTEMPTS: u32 = 4;
/// The pause after the first failure; it doubles after each.
pub const BASE_DELAY: Duration = Duration::from_secs(1);
/// A `Retry-After` longer than this is not waited for: the notification
/// fails, saying when the service would take it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What one try came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Worth trying again, after `after` if the service said so.
    Again {
        reason: String,
        after: Option<Duration>,
    },
}

/// Every try failed: the last reason, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    pub reason: String,
    pub attempts: u32,
}

/// The pause before try number `next` (2, 3, …): the service's
/// `Retry-After` when given, else [`BASE_DELAY`] doubled per failure, less
/// up to a fifth at random so that many failed requests do not come back
/// at the same instant. `None` when no try is left or the service asks for
/// more than [`MAX_RETRY_AFTER`].
pub fn pause(next: u32, retry_after: Option<Duration>, jitter: u8) -> Option<Duration> {
    if next > MAX_ATTEMPTS {
        return None;
    }
    if let Some(after) = retry_after {
        return (after <= MAX_RETRY_AFTER).then_some(after);
    }
    let backoff = BASE_DELAY * 2u32.saturating_pow(next.saturating_sub(2));
    Some(backoff - backoff / 5 * u32::from(jitter) / 255)
}

/// Runs `attempt(n)` for n = 1, 2, … until it is done or no try is left.
pub async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T, GaveUp>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Attempt::Done(t) => return Ok(t),
            Attempt::Again { reason, after } => {
                let Some(wait) = pause(n + 1, after, random_byte()) else {
                    let reason = match after {
                        Some(a) if a > MAX_RETRY_AFTER => {
                            format!(
                                "{reason} (the service asks to retry after {}s)",
                                a.as_secs()
                            )
                        }
                        _ => format!("{reason} (after {n} tries)"),
                    };
                    return Err(GaveUp {
                        reason,
                        attempts: n,
                    });
                };
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

fn random_byte() -> u8 {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    b[0]
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now_unix: u64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    http_date(v).map(|at| Duration::from_secs(at.saturating_sub(now_unix)))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds.
fn http_date(v: &str) -> Option<u64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms[..] else { return None };
    if !(1970..10_000).contains(&year) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days since the epoch (civil calendar to days, proleptic Gregorian).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn pauses_double_and_honour_retry_after() {
        let s = Duration::from_secs;
        assert_eq!(pause(2, None, 0), Some(s(1)));
        assert_eq!(pause(3, None, 0), Some(s(2)));
        assert_eq!(pause(4, None, 0), Some(s(4)));
        assert_eq!(pause(5, None, 0), None);
        // Jitter takes at most a fifth off.
        assert_eq!(pause(4, None, 255), Some(Duration::from_millis(3200)));
        assert_eq!(pause(2, Some(s(7)), 255), Some(s(7)));
        assert_eq!(pause(2, Some(s(0)), 0), Some(s(0)));
        assert_eq!(pause(2, Some(s(61)), 0), None);
        assert_eq!(pause(5, Some(s(1)), 0), None);
    }

    #[test]
    fn retry_after_values() {
        assert_eq!(
            parse_retry_after(" 120 ", 0),
            Some(Duration::from_secs(120))
        );
        // RFC 9110's example date.
        let at = 784_111_777;
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(at));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at - 30),
            Some(Duration::from_secs(30))
        );
        // A date past is "now".
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at + 30),
            Some(Duration::ZERO)
        );
        for bad in [
            "soon",
            "-1",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_wait_then_give_up() {
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r: Result<(), GaveUp> = with_retries(|_| {
            tries.fetch_add(1, Ordering::SeqCst);
            async {
                Attempt::Again {
                    reason: "503 ServiceUnavailable".into(),
                    after: None,
                }
            }
        })
        .await;
        let e = r.unwrap_err();
        assert_eq!(tries.load(Ordering::SeqCst), MAX_ATTEMPTS);
        assert_eq!(e.attempts, MAX_ATTEMPTS);
        assert!(
            e.reason.contains("503") && e.reason.contains("4 tries"),
            "{}",
            e.reason
        );
        // 1 + 2 + 4 s, less jitter of at most a fifth.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(5600) && waited <= Duration::from_secs(7),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_for_then_success() {
        let start = tokio::time::Instant::now();
        let r = with_retries(|n| async move {
            if n < 3 {
                Attempt::Again {
                    reason: "429".into(),
                    after: Some(Duration::from_secs(10)),
                }
            } else {
                Attempt::Done(n)
            }
        })
        .await;
        assert_eq!(r, Ok(3));
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        let too_long = with_retries(|_| async {
            Attempt::<()>::Again {
                reason: "429".into(),
                after: Some(Duration::from_secs(3600)),
            }
        })
        .await
        .unwrap_err();
        assert_eq!(too_long.attempts, 1);
        assert!(
            too_long.reason.contains("retry after 3600s"),
            "{}",
            too_long.reason
        );
    }
}
