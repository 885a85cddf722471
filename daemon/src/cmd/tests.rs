//! The commands' rules against a core on a temporary copy of the example
//! data, driven through `execute` over an in-memory connection.

use std::sync::Arc;
use std::time::Instant;

use mobile_session_proto::{
    Connection, ErrorCode, Request, Response, Role, SessionFilter, Status, MAX_RESPONSE_FRAME,
};
use tokio::io::DuplexStream;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::Config;
use crate::core::Core;
use crate::store::SessionStore;
use mobile_session_tests::fixtures::{
    copy_tree, examples, snapshot, IOS, IPAD_ID, SEED_ID, SEED_TOKEN,
};

pub(super) fn context(role: Role) -> (tempfile::TempDir, Context) {
    context_with(role, Config::default())
}

fn context_with(role: Role, config: Config) -> (tempfile::TempDir, Context) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&examples(), dir.path());
    let store = SessionStore::open(dir.path()).unwrap();
    let state = crate::state::State::open(&dir.path().join("state"), store.root(), &config);
    let state = Arc::new(state.unwrap());
    let core = Arc::new(Core::open(store, config).unwrap());
    let info = Arc::new(DaemonInfo {
        data_dir: dir.path().to_path_buf(),
        socket: dir.path().join("test.sock"),
        started: Instant::now(),
        max_connections: 16,
    });
    let ctx = Context {
        core,
        info,
        role,
        shutdown: CancellationToken::new(),
        hooks: Arc::new(crate::hook::Hooks::new(4, CancellationToken::new())),
        notifier: Arc::new(crate::notify::Notifier::new(CancellationToken::new())),
        state,
        caller: Arc::new(crate::state::audit::Caller::new(Some(0), None)),
    };
    (dir, ctx)
}

/// Runs one request through `execute` and returns its first answer.
async fn ask(ctx: &Context, request: Request) -> Response {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let mut server: Connection<DuplexStream> = Connection::new(ours, 1 << 20);
    let mut client: Connection<DuplexStream> = Connection::new(theirs, MAX_RESPONSE_FRAME);
    let watching = matches!(request, Request::Watch { .. });
    let run = async {
        execute(ctx, &mut server, request).await;
        let _ = server.flush().await;
    };
    if watching {
        // A watch streams until the client leaves: read its first frame (a
        // push announces itself) while it runs, then hang up.
        let c = ctx.clone();
        let read = async {
            c.core.push(false).unwrap();
            let first: Response = client.recv().await.unwrap().unwrap();
            drop(client);
            first
        };
        let (_, first) = tokio::join!(run, read);
        return first;
    }
    run.await;
    client.recv().await.unwrap().unwrap()
}

/// One of each request. The `match` below does not compile when a request
/// is added to the protocol: add it here too, and its role is tested.
fn every_request() -> Vec<Request> {
    let all = vec![
        Request::Apps,
        Request::Sessions(SessionFilter::default()),
        Request::Show {
            session: SEED_ID.into(),
        },
        Request::Path {
            session: SEED_ID.into(),
        },
        Request::SetStatus {
            status: Status::Pending,
            sessions: vec![SEED_ID.into()],
            push: true,
        },
        Request::Delete {
            sessions: vec![IPAD_ID.into()],
            push: true,
            dry_run: false,
        },
        Request::Push { full: true },
        Request::Refresh,
        Request::Verify {
            token: SEED_TOKEN.into(),
        },
        Request::Authenticate {
            body: r#"{"application":{"id":"com.x"},"device":{"id":"D1"},"email":"a@b.c"}"#.into(),
        },
        Request::Status,
        Request::Watch { app: None },
        Request::UserInfo {
            token: SEED_TOKEN.into(),
            body: r#"{"userInfo":{"a":1},"device":{"token":"push"}}"#.into(),
        },
        Request::Logout {
            token: SEED_TOKEN.into(),
        },
        Request::AuthenticateFrom {
            body: r#"{"application":{"id":"com.y"},"device":{"id":"D2"}}"#.into(),
            ip: "::1".into(),
        },
        Request::Notify(mobile_session_proto::NotifyRequest {
            app: "com.sample.tasks".into(),
            recipients: mobile_session_proto::NotifyRecipients {
                all: true,
                ..Default::default()
            },
            message: mobile_session_proto::NotifyMessage {
                title: "Hi".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        Request::PushPreview { full: true },
        Request::Purge(mobile_session_proto::PurgeRequest {
            inactive_secs: 1,
            ..Default::default()
        }),
        Request::Dedupe(Default::default()),
        Request::Block(mobile_session_proto::BlockRequest {
            target: mobile_session_proto::BlockTarget::Sessions(vec![IPAD_ID.into()]),
            reason: None,
        }),
        Request::Unblock {
            app: "com.sample.tasks".into(),
            device: "D1".into(),
        },
        Request::Blocked,
        Request::History(Default::default()),
    ];
    for r in &all {
        match r {
            Request::Apps
            | Request::Sessions(_)
            | Request::Show { .. }
            | Request::Path { .. }
            | Request::SetStatus { .. }
            | Request::Delete { .. }
            | Request::Push { .. }
            | Request::Refresh
            | Request::Verify { .. }
            | Request::Authenticate { .. }
            | Request::Status
            | Request::Watch { .. }
            | Request::UserInfo { .. }
            | Request::Logout { .. }
            | Request::AuthenticateFrom { .. }
            | Request::Notify(_)
            | Request::History(_)
            | Request::Blocked
            | Request::Unblock { .. }
            | Request::Block(_)
            | Request::Dedupe(_)
            | Request::Purge(_)
            | Request::PushPreview { .. } => {}
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cannot_run_any_mutating_request() {
    let (dir, ctx) = context(Role::Reader);
    let before = snapshot(dir.path());
    let live_before = ctx.core.counts();
    for request in every_request() {
        let needs_admin = required_role(&request) == Role::Admin;
        let shown = format!("{request:?}");
        let answer = ask(&ctx, request).await;
        let denied = matches!(&answer, Response::Error(e) if e.code == ErrorCode::PermissionDenied);
        assert_eq!(denied, needs_admin, "{shown}: {answer:?}");
        // Nothing a reader ran changed a file or the live view.
        assert_eq!(snapshot(dir.path()), before, "{shown} changed files");
        assert_eq!(ctx.core.counts(), live_before, "{shown} changed the views");
    }
}

#[test]
fn every_request_that_writes_needs_an_admin() {
    for request in every_request() {
        let writes = matches!(
            request,
            Request::SetStatus { .. }
                | Request::Delete { .. }
                | Request::Push { .. }
                | Request::Refresh
                | Request::Authenticate { .. }
                | Request::UserInfo { .. }
                | Request::Logout { .. }
                | Request::AuthenticateFrom { .. }
                // Sends, and removes the tokens the services call gone.
                | Request::Notify(_)
                // Delete files, change the deny-list.
                | Request::Dedupe(_)
                | Request::Unblock { .. }
                | Request::Purge(_)
                | Request::Block(_)
                // Reads, but admins' only: who administers (uids,
                // processes), devices' ids, a rescan of every file.
                | Request::History(_)
                | Request::Blocked
                | Request::PushPreview { .. }
        );
        assert_eq!(
            permits(Role::Reader, required_role(&request)),
            !writes,
            "{request:?}"
        );
        assert!(permits(Role::Admin, required_role(&request)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_status_changes_only_status_and_is_not_live_before_a_push() {
    let (dir, ctx) = context(Role::Admin);
    let path = dir.path().join("MobileApps").join(IOS).join(SEED_ID);
    let before = std::fs::read_to_string(&path).unwrap();
    let answer = ask(
        &ctx,
        Request::SetStatus {
            status: Status::Pending,
            sessions: vec!["7023".into()],
            push: false,
        },
    )
    .await;
    let Response::Changed(report) = answer else {
        panic!("{answer:?}")
    };
    assert!(report.sessions[0].changed && report.push.is_none());
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(after, before.replacen("\"accepted\"", "\"pending\"", 1));
    assert_eq!(
        verify::reply(&ctx, SEED_TOKEN).status,
        mobile_session_proto::VerifyStatus::Accepted
    );
    ask(&ctx, Request::Push { full: false }).await;
    assert_eq!(
        verify::reply(&ctx, SEED_TOKEN).status,
        mobile_session_proto::VerifyStatus::Pending
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_tokens_redacted() {
    let (_dir, ctx) = context(Role::Reader);
    let Response::Show { json } = ask(
        &ctx,
        Request::Show {
            session: IPAD_ID.into(),
        },
    )
    .await
    else {
        panic!("show failed")
    };
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["token"], redact::REDACTED);
    assert_eq!(doc["device"]["token"], redact::REDACTED);
    let Response::SessionsPage { rows, done } =
        ask(&ctx, Request::Sessions(SessionFilter::default())).await
    else {
        panic!("sessions failed")
    };
    assert!(done && rows.len() == 3);
    assert!(rows.iter().all(|r| !r.device.contains("f3a9c1d2")));
}

#[test]
fn a_token_naming_the_folder_the_other_way_is_unknown() {
    // `UTT7VDX8W5.com.contactApp.Contact` is team UTT7VDX8W5's app
    // com.contactApp.Contact — or, read the other way, a team-less app of
    // that whole name. Only the file's own reading is its token.
    let (_dir, ctx) = context(Role::Reader);
    let genuine =
        crate::model::token::encode("com.contactApp.Contact", SEED_ID, Some("UTT7VDX8W5"));
    assert_eq!(genuine, SEED_TOKEN);
    assert_eq!(
        verify::reply(&ctx, &genuine).status,
        mobile_session_proto::VerifyStatus::Accepted
    );
    let other = crate::model::token::encode(IOS, SEED_ID, None);
    assert_eq!(
        verify::reply(&ctx, &other).status,
        mobile_session_proto::VerifyStatus::Unknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_of_the_app_sharing_a_folder_does_not_take_another_apps_session() {
    // The team-less app `UTT7VDX8W5.com.contactApp.Contact` signs in with
    // the device id of team UTT7VDX8W5's app's session: same folder, same
    // device, another app. It gets a session of its own.
    let open = Config::parse("[policy]\nsign_in = \"open\"").unwrap();
    let (dir, ctx) = context_with(Role::Admin, open);
    let path = dir.path().join("MobileApps").join(IOS).join(SEED_ID);
    let before = std::fs::read(&path).unwrap();
    let body = serde_json::json!({
        "email": "other@example.com",
        "application": {"id": IOS},
        "device": {"id": "0DC5132E-1EF4-407C-A832-5FE33D818AF3"},
    });
    let answer = ask(
        &ctx,
        Request::Authenticate {
            body: body.to_string(),
        },
    )
    .await;
    let Response::Authenticated(reply) = answer else {
        panic!("{answer:?}")
    };
    let id = reply.id.expect("a session");
    assert_ne!(id, SEED_ID);
    let claims = crate::model::token::decode(&reply.token.expect("a token")).unwrap();
    assert_eq!((claims.app_id.as_str(), claims.team_id.as_str()), (IOS, ""));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the other app's file"
    );
}
