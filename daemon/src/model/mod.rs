//! What a session is, with no I/O and no locks: names and keys, the 4D
//! token, a session file and its validity, app labels, the disk and live
//! views, how what is read of the files changes the disk view, and the
//! events a change produces. Everything above (store, core,
//! commands) builds on these types; nothing here knows about them.

pub mod app;
pub mod event;
pub mod json_object;
pub mod json_span;
pub mod names;
pub mod reconcile;
pub mod seen;
pub mod session;
#[cfg(test)]
pub(crate) mod testgen;
pub mod token;
pub mod view;
