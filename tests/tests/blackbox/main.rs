//! The black-box tests, in one binary (one link instead of a dozen): each
//! starts the real `mobile-sessiond` on a temporary copy of the example data
//! and drives it through the real `mobile-session`, the client library or a
//! raw socket. `inotify_limit` stays a binary of its own: it lowers a
//! system-wide limit for a moment, which must not touch these tests.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod authenticate;
mod beside_4d;
mod block;
mod cli;
mod cli_habits;
mod client_lib;
mod completion;
mod concurrency;
mod discovery;
mod history;
mod hooks;
mod hostile;
mod last_seen;
mod lifecycle;
mod notify;
mod on_push;
mod packaging;
mod protocol;
mod purge;
mod push;
mod remote;
mod rewrite;
mod safety;
mod service;
mod signin;
mod ui;
mod verify;
mod watcher;
mod writing;
