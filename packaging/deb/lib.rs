//! The Debian package of mobile-sessiond, as metadata only.
//!
//! `cargo deb` reads a package's `[package.metadata.deb]`; this crate exists
//! to carry that table (see `Cargo.toml` beside this file) so that neither
//! the daemon's nor the client's manifest has to, and it has no code.
//! `packaging/deb/build` builds the binaries, writes the man pages and shell
//! completions, then runs `cargo deb -p mobile-sessiond-deb --no-build`.
//! `tests/tests/packaging.rs` checks that the table lists every file that
//! must ship.
