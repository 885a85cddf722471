//! Many clients at once: 32 connections × 200 mixed requests all succeed.

use crate::common::*;
use mobile_session::Client;
use mobile_session_proto::{SessionFilter, Status, VerifyStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_two_hundred_mixed_requests_each() {
    let d = Daemon::start();
    let mut tasks = Vec::new();
    for n in 0..32usize {
        let socket = d.socket.clone();
        tasks.push(tokio::spawn(async move {
            let c = Client::connect(&socket).await.expect("connect");
            for i in 0..200usize {
                match (n + i) % 8 {
                    0 => assert_eq!(c.apps().await.unwrap().len(), 2),
                    1 => assert_eq!(c.sessions(SessionFilter::default()).await.unwrap().len(), 3),
                    2 => assert!(c.show("1818").await.unwrap().contains(ANDROID_ID)),
                    3 => {
                        let v = c.verify(ANDROID_TOKEN).await.unwrap();
                        assert_eq!(v.status, VerifyStatus::Accepted);
                    }
                    4 => {
                        let s = if i % 2 == 0 {
                            Status::Pending
                        } else {
                            Status::Accepted
                        };
                        let r = c
                            .set_status(s, &[SEED_ID.to_string()], false)
                            .await
                            .unwrap();
                        assert_eq!(r.sessions[0].status, Some(s));
                    }
                    5 => {
                        let p = c.push(false).await.unwrap();
                        assert!(p.invalid.is_empty());
                    }
                    6 => assert_eq!(c.status().await.unwrap().on_disk, 3),
                    _ => assert!(c.path(IPAD_ID).await.unwrap().ends_with(IPAD_ID)),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("a client failed");
    }
    // Every rewrite was whole: the file is still valid.
    let p = serde_json::from_str::<serde_json::Value>(&d.ok(&["--json", "push"])).unwrap();
    assert_eq!(p["invalid"], serde_json::json!([]));
}
