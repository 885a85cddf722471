//! Reveals a session file in the desktop's file manager: `path --open` and
//! the window's `o` share this one helper.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

/// What became of a request to reveal a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed {
    /// The file manager was started with this program.
    Opened { program: &'static str },
    /// No desktop to show a file manager on: nothing was started.
    NoDesktop,
    /// The program could not be started.
    Failed {
        program: &'static str,
        error: String,
    },
}

/// Opens the file manager on `path` (macOS: Finder with the file selected;
/// elsewhere `xdg-open` on its folder), detached from the terminal: no
/// input, output thrown away, so that it neither draws over the window nor
/// mixes with the command line's output; the child is reaped on the Tokio
/// runtime this is called from. Without a display (neither `DISPLAY` nor
/// `WAYLAND_DISPLAY`) nothing is started: `xdg-open` would fall back to a
/// text-mode browser that takes the terminal over.
pub fn reveal(path: &Path) -> Revealed {
    let (program, args) = match command(path, |k| std::env::var_os(k)) {
        Some(c) => c,
        None => return Revealed::NoDesktop,
    };
    let spawned = tokio::process::Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped in the background so that no zombie is left; a process
            // that exits first leaves it to init.
            tokio::spawn(async move { child.wait().await });
            Revealed::Opened { program }
        }
        Err(e) => Revealed::Failed {
            program,
            error: e.to_string(),
        },
    }
}

/// The program and arguments that reveal `path`, or `None` without a
/// desktop; `env` reads the environment.
fn command(
    path: &Path,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<(&'static str, Vec<OsString>)> {
    if cfg!(target_os = "macos") {
        return Some(("open", vec!["-R".into(), path.into()]));
    }
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| env(v).is_some_and(|s| !s.is_empty()));
    if !desktop {
        return None;
    }
    let folder = path.parent().unwrap_or(path);
    Some(("xdg-open", vec![folder.into()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn only_a_desktop_gets_a_file_manager() {
        let file = Path::new("/d/MobileApps/com.x/abcd");
        let none = |_: &str| None;
        assert_eq!(command(file, none), None);
        let empty = |_: &str| Some(OsString::new());
        assert_eq!(command(file, empty), None);
        let wayland = |k: &str| (k == "WAYLAND_DISPLAY").then(|| OsString::from("wayland-0"));
        assert_eq!(
            command(file, wayland),
            Some(("xdg-open", vec![OsString::from("/d/MobileApps/com.x")]))
        );
    }
}
