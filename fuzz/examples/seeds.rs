//! Writes the seed inputs of every target into `fuzz/seeds/<target>/`:
//! real frames made by the real encoder, the sample session files and
//! manifests, real tokens, real sign-in bodies. `fuzz/run seed` runs it,
//! then minimises seeds and campaign findings into `fuzz/corpus/`.

use std::fs;
use std::path::{Path, PathBuf};

use mobile_session_proto::connection::encode;
use mobile_session_proto::{
    BlockRequest, BlockTarget, ClientHello, HistoryCursor, HistoryQuery, PurgeRequest, Request,
    SessionFilter, Status,
};

const SAMPLES: &str = "../examples/Data/MobileApps";
const IOS: &str = "UTT7VDX8W5.com.contactApp.Contact";
const IOS_ID: &str = "7023d9205074199d1c16fc00d24354e778137675";
const PAD_ID: &str = "a6a3a4506513270e269e0d37f2a74de452e6b438";
const ANDROID: &str = "com.sample.tasks";
const ANDROID_ID: &str = "1818e811892f902bd23f0824128b2f330c5c7fd0";

fn main() {
    let out = PathBuf::from("seeds");
    let _ = fs::remove_dir_all(&out);
    let sample = |folder: &str, name: &str| {
        fs::read(Path::new(SAMPLES).join(folder).join(name)).expect("sample file")
    };
    let sessions = [
        sample(IOS, IOS_ID),
        sample(IOS, PAD_ID),
        sample(ANDROID, ANDROID_ID),
    ];
    let manifests = [
        sample(IOS, "manifest.json"),
        sample(ANDROID, "manifest.json"),
    ];
    let token_of = |s: &[u8]| -> String {
        let v: serde_json::Value = serde_json::from_slice(s).expect("sample is JSON");
        v["token"].as_str().expect("sample has a token").to_string()
    };
    let tokens: Vec<String> = sessions.iter().map(|s| token_of(s)).collect();

    // frame_request: byte 0 is the read size.
    let body = sign_in_bodies();
    let requests = vec![
        Request::Apps,
        Request::Sessions(SessionFilter {
            app: Some(IOS.into()),
            status: Some(Status::Pending),
            email: Some("marie.dupont@example.com".into()),
            device_token: Some("f3a9c1d2".into()),
            invalid: true,
            ..SessionFilter::default()
        }),
        Request::Show {
            session: IOS_ID[..8].into(),
        },
        Request::Path {
            session: format!("{IOS}/{IOS_ID}"),
        },
        Request::SetStatus {
            status: Status::Accepted,
            sessions: vec![PAD_ID.into(), "1818".into()],
            push: true,
        },
        Request::Delete {
            sessions: vec![ANDROID_ID.into()],
            push: false,
            dry_run: false,
        },
        Request::Push { full: true },
        Request::Refresh,
        Request::Verify {
            token: tokens[0].clone(),
        },
        Request::Authenticate {
            body: body[0].clone(),
        },
        Request::Status,
        Request::Watch {
            app: Some(ANDROID.into()),
        },
        Request::UserInfo {
            token: tokens[2].clone(),
            body: r#"{"userInfo":{"a":1},"device":{"token":"push"}}"#.into(),
        },
        Request::Logout {
            token: tokens[1].clone(),
        },
        Request::PushPreview { full: false },
        Request::Purge(PurgeRequest {
            app: Some(IOS.into()),
            inactive_secs: 90 * 86_400,
            dry_run: true,
            ..PurgeRequest::default()
        }),
        Request::Block(BlockRequest {
            target: BlockTarget::Device {
                app: ANDROID.into(),
                device: "D".repeat(8 * 1024),
            },
            reason: Some("lost".into()),
        }),
        Request::History(HistoryQuery {
            target: Some(PAD_ID[..6].into()),
            since_secs: Some(3600),
            cursor: Some(HistoryCursor { file: 7, offset: 99 }),
        }),
    ];
    let frame = |body: Vec<u8>| {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend(body);
        f
    };
    let hello = frame(encode(&ClientHello::current()).expect("encodes"));
    let dir = out.join("frame_request");
    for (i, r) in requests.iter().enumerate() {
        let mut s = vec![0u8];
        s.extend(&hello);
        s.extend(frame(encode(r).expect("encodes")));
        write(&dir, &format!("request-{i:02}"), &s);
    }
    let mut pipelined = vec![7u8];
    pipelined.extend(&hello);
    for r in &requests {
        pipelined.extend(frame(encode(r).expect("encodes")));
    }
    write(&dir, "pipelined-split", &pipelined);
    let mut forged = vec![0u8];
    forged.extend(&hello);
    forged.extend(u32::MAX.to_be_bytes());
    write(&dir, "forged-length", &forged);
    let mut over = vec![1u8];
    over.extend(&hello);
    over.extend(((1u32 << 20) + 1).to_be_bytes());
    write(&dir, "over-limit", &over);

    // session_file: byte 0 picks the location mode and the new status.
    let dir = out.join("session_file");
    for (i, s) in sessions.iter().enumerate() {
        for mode in [0u8, 3] {
            write(
                &dir,
                &format!("session-{i}-{mode}"),
                &[&[mode][..], s].concat(),
            );
        }
    }
    let mut crlf = b"\xEF\xBB\xBF".to_vec();
    crlf.extend(
        String::from_utf8_lossy(&sessions[0])
            .replace('\n', "\r\n")
            .bytes(),
    );
    write(&dir, "bom-crlf", &[&[5u8][..], &crlf].concat());
    for (i, m) in manifests.iter().enumerate() {
        write(&dir, &format!("manifest-{i}"), &[&[2u8][..], m].concat());
    }

    // token: four zero bytes pick the raw variant.
    let dir = out.join("token");
    for (i, t) in tokens.iter().enumerate() {
        write(
            &dir,
            &format!("token-{i}"),
            &[&[0u8; 4][..], t.as_bytes()].concat(),
        );
    }
    let padded = format!("{}==", tokens[0]);
    write(&dir, "padded", &[&[0u8; 4][..], padded.as_bytes()].concat());

    let dir = out.join("signin_body");
    for (i, b) in body.iter().enumerate() {
        write(&dir, &format!("body-{i}"), b.as_bytes());
    }
    // resolve: structured input, grown by the fuzzer from nothing.
    fs::create_dir_all(out.join("resolve")).expect("mkdir");
}

fn sign_in_bodies() -> Vec<String> {
    vec![
        r#"{"email":"marie.dupont@example.com","password":"p","send":"link","application":{"id":"com.contactApp.Contact","name":"Contact","version":"1.0.0"},"team":{"id":"UTT7VDX8W5"},"language":{"id":"fr_FR","code":"fr","region":"FR"},"device":{"id":"0DC5132E-1EF4-407C-A832-5FE33D818AF3","description":"iPhone 15","version":"17.4","os":"iOS","simulator":false},"parameters":{"customer":42},"session":{"ip":"::ffff:10.0.0.7"}}"#.into(),
        "\u{feff}{\n  \"email\": \"li.wei@example.com\",\n  \"application\": {\"id\": \"com.sample.tasks\", \"version\": \"2.0.0\"},\n  \"device\": {\"id\": \"9774d56d682e549c\", \"os\": \"Android\"},\n  \"session\": {\"ip\": \"::ffff:10.0.0.8\"}\n}\n".into(),
        r#"{"application":{"id":"com.x"},"team":{"id":""},"device":{"id":"D1"},"email":null}"#.into(),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::write(dir.join(name), bytes).expect("write seed");
}
