//! The example data (`examples/Data`) as tests know it — its ids, tokens
//! and app folders — and the tree helpers every test of files needs. The
//! black-box tests and the daemon's unit tests both use these; nothing
//! here needs more than the standard library.

use std::path::{Path, PathBuf};

pub const SEED_ID: &str = "7023d9205074199d1c16fc00d24354e778137675";
pub const SEED_TOKEN: &str = "eyJhcHBOYW1lSUQiOiJjb20uY29udGFjdEFwcC5Db250YWN0IiwiaWQiOiI3MDIzZDkyMDUwNzQxOTlkMWMxNmZjMDBkMjQzNTRlNzc4MTM3Njc1IiwidGVhbUlEIjoiVVRUN1ZEWDhXNSJ9";
pub const IPAD_ID: &str = "a6a3a4506513270e269e0d37f2a74de452e6b438";
pub const IPAD_TOKEN: &str = "eyJhcHBOYW1lSUQiOiJjb20uY29udGFjdEFwcC5Db250YWN0IiwiaWQiOiJhNmEzYTQ1MDY1MTMyNzBlMjY5ZTBkMzdmMmE3NGRlNDUyZTZiNDM4IiwidGVhbUlEIjoiVVRUN1ZEWDhXNSJ9";
pub const ANDROID_ID: &str = "1818e811892f902bd23f0824128b2f330c5c7fd0";
pub const ANDROID_TOKEN: &str = "eyJhcHBOYW1lSUQiOiJjb20uc2FtcGxlLnRhc2tzIiwiaWQiOiIxODE4ZTgxMTg5MmY5MDJiZDIzZjA4MjQxMjhiMmYzMzBjNWM3ZmQwIiwidGVhbUlEIjoiIn0";
pub const IOS: &str = "UTT7VDX8W5.com.contactApp.Contact";
pub const ANDROID: &str = "com.sample.tasks";

/// The example data tree shipped in the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/Data")
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Every file under `root` with its bytes (for "untouched" checks).
pub fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}
