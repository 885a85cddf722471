//! `show` and `path`: one session's file.

use mobile_session::{Client, ClientError, ErrorCode};

use crate::exit::emit;
use crate::render::{self, View};
use crate::reveal;

pub async fn show(client: &Client, session: &str, view: &View) -> anyhow::Result<()> {
    let text = client.show(session).await?;
    // Admins get an invalid file as stored, which may not be JSON.
    match serde_json::from_str::<serde_json::Value>(&text) {
        // Valid JSON text holds no raw control character.
        Ok(serde_json::Value::Object(_)) if view.json => emit(&format!("{}\n", text.trim_end())),
        Ok(v) if view.json => Err(not_an_object(session, &v).into()),
        Ok(v) => emit(&format!("{}\n", serde_json::to_string_pretty(&v)?)),
        Err(e) if view.json => Err(not_json(session, &e).into()),
        Err(_) => emit(&render::stored_text(&text)),
    }
}

pub async fn path(client: &Client, session: &str, open: bool, view: &View) -> anyhow::Result<()> {
    let path = client.path(session).await?;
    if view.json {
        emit(&format!(
            "{}\n",
            serde_json::json!({ "path": path.display().to_string() })
        ))?;
    } else {
        emit(&format!("{}\n", path.display()))?;
    }
    if open {
        // A file on another host is not this desktop's to show.
        if let Some(host) = client.host() {
            eprintln!("not opened: the file is on {host}, not on this machine");
            return Ok(());
        }
        // The path is printed above whatever happens here.
        match reveal::reveal(&path) {
            reveal::Revealed::Opened { .. } => {}
            reveal::Revealed::NoDesktop => {
                eprintln!("not opened: no desktop to open a file manager on")
            }
            reveal::Revealed::Failed { program, error } => {
                anyhow::bail!("cannot run {program} to reveal the file: {error}")
            }
        }
    }
    Ok(())
}

/// `show --json` of a file that is not JSON: nothing on stdout, and the
/// error (and exit status) of an invalid file.
fn not_json(session: &str, e: &serde_json::Error) -> ClientError {
    ClientError::Daemon(mobile_session::ErrorReply {
        code: ErrorCode::InvalidFile,
        message: format!(
            "the session file of {session} is not valid JSON ({e}); \
             `mobile-session show {session}` without --json prints it as stored"
        ),
    })
}

/// `show --json` of a file that is JSON but not an object (4D's code 2).
fn not_an_object(session: &str, v: &serde_json::Value) -> ClientError {
    let kind = match v {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    };
    ClientError::Daemon(mobile_session::ErrorReply {
        code: ErrorCode::InvalidFile,
        message: format!(
            "the session file of {session} is {kind}, not a JSON object; \
             `mobile-session show {session}` without --json prints it as stored"
        ),
    })
}
