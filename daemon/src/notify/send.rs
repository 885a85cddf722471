//! One `notify` command's sending: every device over the kept connection
//! of its service, many streams in flight, retries as `retry` says, and a
//! stop once a service refuses the credentials (the rest would be refused
//! alike).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mobile_session_proto::Platform;
use serde_json::{Map, Value};

use super::credentials::{ApnsCredentials, FcmCredentials};
use super::http::{Endpoint, Pool};
use super::jwt::{unix_now, ProviderTokens};
use super::oauth::{AccessTokens, TokenError};
use super::retry::{with_retries, Attempt};
use super::verdict::Verdict;
use super::{apns, fcm};
use crate::locks::lock;

/// Requests in flight at once for one command (HTTP/2 streams; the
/// server's own limit applies too).
pub const IN_FLIGHT: usize = 500;

/// What a command sends: the credentials and payload per service, and
/// the devices.
pub struct Job {
    pub apns: Option<(ApnsCredentials, Bytes)>,
    pub fcm: Option<(FcmCredentials, Map<String, Value>)>,
    /// Platform and push token, in the order of the results.
    pub targets: Vec<(Platform, String)>,
}

/// How one device fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The service says the token is gone for good.
    Gone(String),
    Failed(String),
}

#[derive(Debug, Default)]
pub struct Sent {
    /// One per target, in order.
    pub outcomes: Vec<Outcome>,
    /// What failed for a whole service (it cannot be reached, its
    /// certificate is refused…).
    pub errors: Vec<String>,
    /// A service refused the credentials while sending.
    pub config_error: Option<String>,
}

/// Caches kept across commands.
#[derive(Default)]
pub struct Caches {
    pub provider_tokens: ProviderTokens,
    pub access_tokens: AccessTokens,
}

/// What every send of one command shares.
struct Run<'a> {
    pool: &'a Pool,
    caches: &'a Caches,
    /// Set by the first refusal of the credentials, with its reason.
    refused: Mutex<Option<String>>,
    stop: AtomicBool,
}

enum One {
    Done(Outcome),
    Refused(String),
}

impl Run<'_> {
    fn refuse(&self, reason: String) -> Outcome {
        let mut r = lock(&self.refused);
        if r.is_none() {
            tracing::error!("notify: {reason}");
            *r = Some(reason.clone());
        }
        self.stop.store(true, Ordering::Release);
        Outcome::Failed(reason)
    }

    fn finish(&self, one: Result<One, super::retry::GaveUp>) -> Outcome {
        match one {
            Ok(One::Done(o)) => o,
            Ok(One::Refused(reason)) => self.refuse(reason),
            Err(g) => Outcome::Failed(g.reason),
        }
    }

    fn stopped(&self) -> Option<Outcome> {
        if !self.stop.load(Ordering::Acquire) {
            return None;
        }
        let why = lock(&self.refused).clone().unwrap_or_default();
        Some(Outcome::Failed(format!("not sent: {why}")))
    }

    async fn apns(&self, creds: &ApnsCredentials, body: &Bytes, device: &str) -> Outcome {
        if let Some(o) = self.stopped() {
            return o;
        }
        let tokens = &self.caches.provider_tokens;
        let one = with_retries(|_| async {
            let jwt = match tokens.get(&creds.key, &creds.signer, Instant::now(), unix_now()) {
                Ok(j) => j,
                Err(e) => return Attempt::Done(One::Refused(format!("cannot sign the APNs provider token: {e}"))),
            };
            let request = match apns::request(creds, &jwt, device) {
                Ok(r) => r,
                Err(e) => return Attempt::Done(One::Done(Outcome::Failed(e))),
            };
            let reply = match self.pool.send(&creds.endpoint, request, body.clone()).await {
                Ok(r) => r,
                Err(e) if e.is_transient() => return again(e.to_string(), None),
                Err(e) => return Attempt::Done(One::Done(Outcome::Failed(e.to_string()))),
            };
            match apns::verdict(&reply) {
                Verdict::Expired if tokens.expired(&creds.key, &jwt, Instant::now()) => {
                    again("403 ExpiredProviderToken".into(), Some(Duration::ZERO))
                }
                Verdict::Expired => Attempt::Done(One::Refused(
                    "APNs calls a provider token younger than 20 minutes expired: check the system clock".into(),
                )),
                v => settle(v),
            }
        })
        .await;
        self.finish(one)
    }

    async fn fcm(
        &self,
        creds: &FcmCredentials,
        template: &Map<String, Value>,
        device: &str,
    ) -> Outcome {
        if let Some(o) = self.stopped() {
            return o;
        }
        let access = &self.caches.access_tokens;
        let body = fcm::body(template, device);
        let one = with_retries(|n| {
            let body = body.clone();
            async move {
                let bearer = match access.get(self.pool, creds).await {
                    Ok(t) => t,
                    Err(e) if e.is_transient() => return again(e.to_string(), None),
                    Err(e) => return Attempt::Done(One::Refused(e.to_string())),
                };
                let request = match fcm::request(creds, &bearer) {
                    Ok(r) => r,
                    Err(e) => return Attempt::Done(One::Done(Outcome::Failed(e))),
                };
                let reply = match self.pool.send(&creds.endpoint, request, body).await {
                    Ok(r) => r,
                    Err(e) if e.is_transient() => return again(e.to_string(), None),
                    Err(e) => return Attempt::Done(One::Done(Outcome::Failed(e.to_string()))),
                };
                match fcm::verdict(&reply) {
                    // A token revoked early: one more try with a new one.
                    Verdict::Unauthenticated(r) if n == 1 => {
                        access.forget(creds, &bearer);
                        again(r, Some(Duration::ZERO))
                    }
                    Verdict::Unauthenticated(r) => Attempt::Done(One::Refused(format!(
                        "FCM refused a fresh access token: {r}"
                    ))),
                    v => settle(v),
                }
            }
        })
        .await;
        self.finish(one)
    }
}

fn again(reason: String, after: Option<Duration>) -> Attempt<One> {
    Attempt::Again { reason, after }
}

/// A verdict that needs nothing of the service's own.
fn settle(v: Verdict) -> Attempt<One> {
    match v {
        Verdict::Sent => Attempt::Done(One::Done(Outcome::Sent)),
        Verdict::Gone(r) => Attempt::Done(One::Done(Outcome::Gone(r))),
        Verdict::Again { reason, after } => again(reason, after),
        Verdict::Config(r) => Attempt::Done(One::Refused(r)),
        Verdict::Failed(r) | Verdict::Unauthenticated(r) => {
            Attempt::Done(One::Done(Outcome::Failed(r)))
        }
        Verdict::Expired => Attempt::Done(One::Done(Outcome::Failed(
            "403 ExpiredProviderToken".into(),
        ))),
    }
}

/// Opens the connection to `ep` (with retries), so that a service that
/// cannot be reached, or whose certificate is refused, is found once.
async fn reach(pool: &Pool, ep: &Endpoint) -> Result<(), String> {
    with_retries(|_| async {
        match pool.warm(ep).await {
            Ok(()) => Attempt::Done(Ok(())),
            Err(e) if e.is_transient() => Attempt::Again {
                reason: e.to_string(),
                after: None,
            },
            Err(e) => Attempt::Done(Err(e.to_string())),
        }
    })
    .await
    .unwrap_or_else(|g| Err(g.reason))
}

/// Sends `job`. `Err` is a configuration error found before anything was
/// sent (the service account refused).
pub async fn run(pool: &Pool, caches: &Caches, job: Job) -> Result<Sent, String> {
    let n = job.targets.len();
    let wants = |p: Platform| job.targets.iter().any(|(q, _)| *q == p);
    let (want_ios, want_android) = (wants(Platform::Ios), wants(Platform::Android));
    let mut unreachable: Vec<(Platform, String)> = Vec::new();
    if let (Some((creds, _)), true) = (&job.fcm, want_android) {
        let token = with_retries(|_| async {
            match caches.access_tokens.get(pool, creds).await {
                Ok(t) => Attempt::Done(Ok(t)),
                Err(e) if e.is_transient() => Attempt::Again {
                    reason: e.to_string(),
                    after: None,
                },
                Err(e) => Attempt::Done(Err(e)),
            }
        })
        .await;
        match token {
            Ok(Ok(_)) => {}
            Ok(Err(e @ TokenError::Refused { .. })) | Ok(Err(e @ TokenError::Sign(_))) => {
                return Err(e.to_string())
            }
            Ok(Err(e)) => unreachable.push((Platform::Android, e.to_string())),
            Err(g) => unreachable.push((Platform::Android, g.reason)),
        }
        if unreachable.is_empty() {
            if let Err(e) = reach(pool, &creds.endpoint).await {
                unreachable.push((Platform::Android, e));
            }
        }
    }
    if let (Some((creds, _)), true) = (&job.apns, want_ios) {
        if let Err(e) = reach(pool, &creds.endpoint).await {
            unreachable.push((Platform::Ios, e));
        }
    }
    let run = Run {
        pool,
        caches,
        refused: Mutex::new(None),
        stop: AtomicBool::new(false),
    };
    let run = &run;
    let (apns_job, fcm_job) = (job.apns.as_ref(), job.fcm.as_ref());
    let unreachable = &unreachable;
    let mut outcomes: Vec<(usize, Outcome)> =
        futures::stream::iter(job.targets.into_iter().enumerate())
            .map(|(i, (platform, device))| async move {
                let device = device.as_str();
                if let Some((_, why)) = unreachable.iter().find(|(p, _)| *p == platform) {
                    return (i, Outcome::Failed(why.clone()));
                }
                let o = match (platform, apns_job, fcm_job) {
                    (Platform::Ios, Some((c, body)), _) => run.apns(c, body, device).await,
                    (Platform::Android, _, Some((c, t))) => run.fcm(c, t, device).await,
                    _ => Outcome::Failed("no credentials for this platform".into()),
                };
                (i, o)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    outcomes.sort_by_key(|(i, _)| *i);
    debug_assert_eq!(outcomes.len(), n);
    let config_error = lock(&run.refused).clone();
    let mut errors: Vec<String> = unreachable.iter().map(|(_, e)| e.clone()).collect();
    errors.extend(config_error.clone());
    Ok(Sent {
        outcomes: outcomes.into_iter().map(|(_, o)| o).collect(),
        errors,
        config_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::AppLabel;
    use crate::notify::credentials;
    use crate::notify::settings::NotifySettings;
    use mobile_session_push_standin::{keys, ApnsStandIn, TestCa};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_streams_in_flight_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let key = keys::apns_key();
        let apns = ApnsStandIn::start(&ca, &key, "K1", "T1");
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
        let folder = dir.path().join("T1.com.a");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("AuthKey_K1.p8"), &key.pem).unwrap();
        let settings: NotifySettings =
            toml::from_str(&format!("apns_url = \"{}\"", apns.url())).unwrap();
        let label = AppLabel {
            app_id: "com.a".into(),
            name: None,
            team_id: Some("T1".into()),
        };
        let creds = credentials::apns(&settings, "T1.com.a", &folder, &label).unwrap();
        let tls = crate::notify::tls::client_config(Some(&dir.path().join("ca.pem"))).unwrap();
        let pool = Pool::new(tls, tokio_util::sync::CancellationToken::new());
        let n = 50;
        apns.hold_until_in_flight(n);
        let job = Job {
            apns: Some((
                creds,
                Bytes::from_static(br#"{"aps":{"alert":{"title":"x"}}}"#),
            )),
            fcm: None,
            targets: (0..n)
                .map(|i| (Platform::Ios, format!("{i:064x}")))
                .collect(),
        };
        let caches = Caches::default();
        let sent = run(&pool, &caches, job).await.unwrap();
        assert!(
            sent.outcomes.iter().all(|o| *o == Outcome::Sent),
            "{:?}",
            sent.outcomes
        );
        assert_eq!(apns.max_in_flight(), n);
    }
}
