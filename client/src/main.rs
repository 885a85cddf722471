//! `mobile-session`: renders what the daemon answers. No business logic here.
//!
//! Exit codes: 0 success; 1 error; 2 bad usage; 3 `verify` of a pending
//! session; 4 `verify` of an unknown token; 69 the daemon cannot be reached.

mod cli;
mod render;
mod ui;

use std::io::Read;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, StatusArg};
use mobile_session::{Client, ClientError};
use mobile_session_proto::{SessionFilter, Status, VerifyStatus};
use serde_json::json;

const EXIT_ERROR: u8 = 1;
const EXIT_PENDING: u8 = 3;
const EXIT_UNKNOWN: u8 = 4;
const EXIT_UNAVAILABLE: u8 = 69;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Local commands need no daemon.
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "mobile-session",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            return match man.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&anyhow::anyhow!("cannot write the man page: {e}")),
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = match e.downcast_ref::<ClientError>() {
                Some(ClientError::Unreachable { .. }) => EXIT_UNAVAILABLE,
                _ => EXIT_ERROR,
            };
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(EXIT_ERROR)
}

fn status_of(s: StatusArg) -> Status {
    match s {
        StatusArg::Accepted => Status::Accepted,
        StatusArg::Pending => Status::Pending,
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let socket = mobile_session_proto::paths::socket_path(cli.socket.as_deref());
    let json = cli.json;
    // Read a request body before connecting: a missing file is the user's error, not the daemon's.
    let body = match &cli.command {
        Command::Authenticate { file } => Some(read_body(file.as_deref())?),
        _ => None,
    };
    let mut client = Client::connect(&socket).await?;
    match cli.command {
        Command::Apps => render::apps(&client.apps().await?, json),
        Command::Refresh => render::apps(&client.refresh().await?, json),
        Command::Sessions {
            app,
            status,
            email,
            device_token,
        } => {
            let filter = SessionFilter {
                app,
                status: status.map(status_of),
                email,
                device_token,
                invalid: false,
            };
            render::sessions(&client.sessions(filter).await?, json);
        }
        Command::Show { session } => {
            let text = client.show(&session).await?;
            if json {
                println!("{}", text.trim_end());
            } else {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
        }
        Command::Path { session, open } => {
            let path = client.path(&session).await?;
            if json {
                print_json(&json!({ "path": path.display().to_string() }));
            } else {
                println!("{}", path.display());
            }
            if open {
                reveal(&path)?;
            }
        }
        Command::SetStatus {
            status,
            sessions,
            push,
        } => render::changed(
            &client
                .set_status(status_of(status), &sessions, push)
                .await?,
            json,
        ),
        Command::Accept { sessions, push } => render::changed(
            &client.set_status(Status::Accepted, &sessions, push).await?,
            json,
        ),
        Command::Delete { sessions, push } => {
            render::changed(&client.delete(&sessions, push).await?, json)
        }
        Command::Push { full } => render::push(&client.push(full).await?, json),
        Command::Verify { token } => {
            let reply = client.verify(&token).await?;
            if json {
                print_json(
                    &json!({ "status": reply.status.as_str(), "app": reply.app, "id": reply.id }),
                );
            } else {
                println!("{}", reply.status.as_str());
            }
            return Ok(match reply.status {
                VerifyStatus::Accepted => 0,
                VerifyStatus::Pending => EXIT_PENDING,
                VerifyStatus::Unknown => EXIT_UNKNOWN,
            });
        }
        Command::Authenticate { .. } => {
            let reply = client
                .authenticate(body.as_deref().unwrap_or_default())
                .await?;
            let user_info: Option<serde_json::Value> = reply
                .user_info
                .as_deref()
                .and_then(|u| serde_json::from_str(u).ok());
            if json {
                print_json(&json!({
                    "success": reply.success,
                    "id": reply.id,
                    "status": reply.status.map(|s| s.as_str()),
                    "token": reply.token,
                    "statusText": reply.status_text,
                    "userInfo": user_info,
                }));
            } else {
                if let Some(id) = &reply.id {
                    println!("id:     {id}");
                }
                if let Some(s) = reply.status {
                    println!("status: {s}");
                }
                if let Some(t) = &reply.token {
                    println!("token:  {t}");
                }
                println!("{}", reply.status_text);
            }
        }
        Command::Status => render::status(&client.status().await?, json),
        Command::Watch => {
            let mut events = client.watch(None).await?;
            while let Some(event) = events.next().await? {
                render::event(&event, json);
            }
        }
        Command::Ui => ui::run(client, &socket).await?,
        Command::Completions { .. } | Command::Man => {}
    }
    Ok(0)
}

fn read_body(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    use anyhow::Context;
    match file {
        Some(p) if p.as_os_str() != "-" => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the request body from {}", p.display())),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the request body from standard input")?;
            Ok(s)
        }
    }
}

/// Shows the file in the desktop's file manager.
fn reveal(path: &std::path::Path) -> anyhow::Result<()> {
    let (program, args): (&str, Vec<std::ffi::OsString>) = if cfg!(target_os = "macos") {
        ("open", vec!["-R".into(), path.into()])
    } else {
        ("xdg-open", vec![path.parent().unwrap_or(path).into()])
    };
    std::process::Command::new(program)
        .args(&args)
        .spawn()
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot run {program} to reveal the file: {e} (the path is printed above)"
            )
        })
}
