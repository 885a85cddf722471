//! SESSION and APP arguments: `resolve_session`, `resolve_app` and
//! `resolve_all` against a disk view and a live view built from the input
//! (files added, removed, invalid, labels, pushes, rescans; a live session
//! without a file comes from a push then a removal, as in the daemon, since
//! the disk view tracks those keys), each checked
//! against a brute-force reading of the rules over every entry.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mobile_session_proto::{ErrorCode, Status};
use mobile_sessiond::cmd::resolve::{
    resolve_all, resolve_app, resolve_session, Target, MIN_PREFIX,
};
use mobile_sessiond::cmd::CmdError;
use mobile_sessiond::model::app::AppLabel;
use mobile_sessiond::model::names::{
    is_app_folder_name, is_plain_name, is_session_name, SessionKey,
};
use mobile_sessiond::model::session::{content_hash, Fault, Invalid, SessionRecord};
use mobile_sessiond::model::view::{push_incremental, DiskEntry, DiskView, LiveView};

const FOLDERS: &[&str] = &[
    "UTT7VDX8W5.com.contactApp.Contact",
    "com.sample.tasks",
    "FAKETEAMID.com.sample.tasks",
    "com.contactApp.Contact",
    "T.a",
    "a",
];
const APP_IDS: &[&str] = &[
    "com.contactApp.Contact",
    "com.sample.tasks",
    "a",
    "T.a",
    "b",
];
const TEAMS: &[&str] = &["UTT7VDX8W5", "FAKETEAMID", "T", ""];
const HEX: &[u8] = b"0123456789abcdefABCDEF";

#[derive(Arbitrary, Debug)]
enum Folder {
    Known(u8),
    Other(String),
}

impl Folder {
    /// Only names the store admits as app folders.
    fn name(&self) -> Option<String> {
        let f = match self {
            Folder::Known(i) => FOLDERS[usize::from(*i) % FOLDERS.len()].to_string(),
            Folder::Other(s) => s.clone(),
        };
        is_app_folder_name(&f).then_some(f)
    }
}

/// A session file name: hex digits of either case.
#[derive(Arbitrary, Debug)]
struct Hex(Vec<u8>);

impl Hex {
    fn text(&self) -> String {
        self.0
            .iter()
            .take(48)
            .map(|b| char::from(HEX[usize::from(*b) % HEX.len()]))
            .collect()
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    File {
        folder: Folder,
        name: Hex,
        valid: bool,
        pending: bool,
    },
    Remove {
        folder: Folder,
        name: Hex,
    },
    SessionLabel {
        folder: Folder,
        app: u8,
        team: u8,
    },
    Manifest {
        folder: Folder,
        app: u8,
        team: Option<u8>,
    },
    RemoveApp {
        folder: Folder,
    },
    Push,
    Rescan,
}

#[derive(Arbitrary, Debug)]
enum AppArg {
    Folder(Folder),
    AppId(u8),
    Raw(String),
}

impl AppArg {
    fn text(&self) -> String {
        match self {
            AppArg::Folder(Folder::Known(i)) => FOLDERS[usize::from(*i) % FOLDERS.len()].into(),
            AppArg::Folder(Folder::Other(s)) | AppArg::Raw(s) => s.clone(),
            AppArg::AppId(i) => APP_IDS[usize::from(*i) % APP_IDS.len()].into(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Arg {
    Raw(String),
    Id {
        app: Option<AppArg>,
        id: Hex,
    },
    /// A prefix of a name in the views, so that matches are common.
    PrefixOf {
        which: u8,
        len: u8,
        upper: bool,
        app: Option<AppArg>,
    },
    App(AppArg),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
    args: Vec<Arg>,
}

fn record(name: &str, pending: bool) -> Arc<SessionRecord> {
    Arc::new(SessionRecord {
        id: name.into(),
        status: if pending {
            Status::Pending
        } else {
            Status::Accepted
        },
        device_id: None,
        email: None,
        device: "null".into(),
        hash: content_hash(name.as_bytes()),
        claims: 0,
    })
}

fn label(app: u8, team: Option<u8>) -> AppLabel {
    AppLabel {
        app_id: APP_IDS[usize::from(app) % APP_IDS.len()].into(),
        name: None,
        team_id: team
            .map(|t| TEAMS[usize::from(t) % TEAMS.len()].to_string())
            .filter(|t| !t.is_empty()),
    }
}

fn build(ops: &[Op]) -> (DiskView, LiveView) {
    let mut disk = DiskView::default();
    let mut live = LiveView::default();
    let root = Path::new("/m");
    for op in ops.iter().take(64) {
        match op {
            Op::File {
                folder,
                name,
                valid,
                pending,
            } => {
                let (Some(f), n) = (folder.name(), name.text()) else {
                    continue;
                };
                if !is_session_name(&n) {
                    continue;
                }
                let state = if *valid {
                    Ok(record(&n, *pending))
                } else {
                    Err(Invalid::new(Fault::Json, "fuzz"))
                };
                disk.insert(
                    &f,
                    DiskEntry {
                        name: n.into(),
                        state,
                    },
                );
            }
            Op::Remove { folder, name } => {
                if let Some(f) = folder.name() {
                    disk.remove(&SessionKey::new(&f, &name.text()));
                }
            }
            Op::SessionLabel { folder, app, team } => {
                if let Some(f) = folder.name() {
                    disk.app_mut(&f)
                        .meta
                        .offer_session_label("0000", label(*app, Some(*team)));
                }
            }
            Op::Manifest { folder, app, team } => {
                if let Some(f) = folder.name() {
                    disk.app_mut(&f).meta.manifest_label = Some(label(*app, *team));
                }
            }
            Op::RemoveApp { folder } => {
                if let Some(f) = folder.name() {
                    disk.remove_app(&f);
                }
            }
            Op::Push => {
                push_incremental(root, &mut disk, &mut live);
            }
            Op::Rescan => disk.mark_all_dirty(),
        }
    }
    (disk, live)
}

/// Every name either view knows, in a stable order.
fn known_names(disk: &DiskView, live: &LiveView) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = disk
        .entries()
        .map(|(f, e)| (f.to_string(), e.name.to_string()))
        .chain(
            live.keys()
                .map(|k| (k.folder().to_string(), k.id().to_string())),
        )
        .collect();
    v.sort();
    v.dedup();
    v
}

fn render(arg: &Arg, names: &[(String, String)]) -> String {
    let with_app = |app: &Option<AppArg>, id: String| match app {
        Some(a) => format!("{}/{id}", a.text()),
        None => id,
    };
    match arg {
        Arg::Raw(s) => s.clone(),
        Arg::Id { app, id } => with_app(app, id.text()),
        Arg::PrefixOf {
            which,
            len,
            upper,
            app,
        } => {
            let Some((_, name)) = names.get(usize::from(*which) % names.len().max(1)) else {
                return String::new();
            };
            let mut p: String = name.chars().take(usize::from(*len)).collect();
            if *upper {
                p.make_ascii_uppercase();
            }
            with_app(app, p)
        }
        Arg::App(a) => a.text(),
    }
}

fn reference_app(disk: &DiskView, live: &LiveView, arg: &str) -> Result<String, ErrorCode> {
    if arg.contains('\0') || arg.starts_with('/') || !is_plain_name(arg) || !is_app_folder_name(arg)
    {
        return Err(ErrorCode::BadRequest);
    }
    if disk.app(arg).is_some() || live.keys().any(|k| k.folder() == arg) {
        return Ok(arg.to_string());
    }
    let matches: Vec<&String> = disk
        .apps()
        .iter()
        .filter(|(f, a)| a.label(f).app_id == arg)
        .map(|(f, _)| f)
        .collect();
    match matches.as_slice() {
        [] => Err(ErrorCode::NotFound),
        [one] => Ok((*one).clone()),
        _ => Err(ErrorCode::Ambiguous),
    }
}

fn reference_session(disk: &DiskView, live: &LiveView, arg: &str) -> Result<Target, ErrorCode> {
    if arg.contains('\0') || arg.starts_with('/') {
        return Err(ErrorCode::BadRequest);
    }
    let (app, id) = match arg.split_once('/') {
        Some((_, id)) if id.contains('/') => return Err(ErrorCode::BadRequest),
        Some((app, id)) => (Some(reference_app(disk, live, app)?), id),
        None => (None, arg),
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) || id.len() < MIN_PREFIX {
        return Err(ErrorCode::BadRequest);
    }
    let want = id.to_ascii_lowercase();
    let in_app = |f: &str| app.as_deref().is_none_or(|a| a == f);
    // Every file, then every live session whose file is gone.
    let mut found: Vec<Target> = disk
        .entries()
        .filter(|(f, e)| in_app(f) && e.name.to_ascii_lowercase().starts_with(&want))
        .map(|(f, e)| Target {
            folder: f.to_string(),
            name: e.name.to_string(),
        })
        .collect();
    for k in live.keys() {
        if disk.get(k).is_none() && in_app(k.folder()) && k.id().starts_with(&want) {
            let rec = live.get_key(k).expect("listed");
            found.push(Target {
                folder: k.folder().to_string(),
                name: rec.id.to_string(),
            });
        }
    }
    if found.iter().any(|t| t.name.eq_ignore_ascii_case(&want)) {
        found.retain(|t| t.name.eq_ignore_ascii_case(&want));
    }
    match found.as_slice() {
        [] => Err(ErrorCode::NotFound),
        [one] => Ok(one.clone()),
        _ => Err(ErrorCode::Ambiguous),
    }
}

fn code<T>(r: &Result<T, CmdError>) -> Result<&T, ErrorCode> {
    r.as_ref().map_err(|e| e.code)
}

fn by_ref<T>(r: &Result<T, ErrorCode>) -> Result<&T, ErrorCode> {
    r.as_ref().map_err(|e| *e)
}

fuzz_target!(|input: Input| {
    let (disk, live) = build(&input.ops);
    let names = known_names(&disk, &live);
    let args: Vec<String> = input
        .args
        .iter()
        .take(16)
        .map(|a| render(a, &names))
        .collect();
    for a in &args {
        let got = resolve_session(&disk, &live, a);
        assert_eq!(
            code(&got),
            by_ref(&reference_session(&disk, &live, a)),
            "SESSION {a:?}"
        );
        let got = resolve_app(&disk, &live, a);
        assert_eq!(
            code(&got),
            by_ref(&reference_app(&disk, &live, a)),
            "APP {a:?}"
        );
    }
    let all = resolve_all(&disk, &live, &args);
    let want = if args.is_empty() {
        Err(ErrorCode::BadRequest)
    } else {
        args.iter().try_fold(Vec::new(), |mut out: Vec<Target>, a| {
            let t = reference_session(&disk, &live, a)?;
            if !out.contains(&t) {
                out.push(t);
            }
            Ok(out)
        })
    };
    assert_eq!(code(&all), by_ref(&want), "all of {args:?}");
});
