//! A web server that lets a request through only with the bearer token of
//! an accepted session: the check 4D does on every request of a mobile app.
//! It uses Tokio alone (a real server would put the same `authorize`
//! function in an axum or hyper middleware layer).
//!
//! ```sh
//! cargo run -p mobile-session --example verify_middleware -- 127.0.0.1:8080
//! curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/
//! ```
//!
//! One `Client` is created at start-up and cloned into every connection
//! task: clones share a small pool of daemon connections, and the handle
//! reconnects by itself after a daemon restart.

use std::time::Duration;

use mobile_session::{Client, ClientError, VerifyStatus};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The middleware: what the request may do, from its `Authorization` header.
enum Decision {
    /// Serve it, on behalf of this session.
    Allow { app: String, id: String },
    /// 401: no bearer token.
    Unauthenticated,
    /// 403: the token is unknown, or its device still awaits validation.
    Forbidden(&'static str),
    /// 503: the session daemon cannot answer; refuse rather than guess.
    Unavailable(ClientError),
}

async fn authorize(client: &Client, authorization: Option<&str>) -> Decision {
    let Some(token) = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Decision::Unauthenticated;
    };
    match client.verify(token).await {
        Ok(reply) => match (reply.status, reply.app, reply.id) {
            (VerifyStatus::Accepted, Some(app), Some(id)) => Decision::Allow { app, id },
            (VerifyStatus::Pending, ..) => Decision::Forbidden("pending validation"),
            _ => Decision::Forbidden("unknown session"),
        },
        Err(e) => Decision::Unavailable(e),
    }
}

/// Reads the request head and answers it; the body, if any, is not read.
async fn serve(client: Client, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut authorization = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let (status, body) = match authorize(&client, authorization.as_deref()).await {
        Decision::Allow { app, id } => ("200 OK", format!("hello, session {id} of {app}\n")),
        Decision::Unauthenticated => ("401 Unauthorized", "bearer token required\n".into()),
        Decision::Forbidden(why) => ("403 Forbidden", format!("{why}\n")),
        Decision::Unavailable(e) => ("503 Service Unavailable", format!("{e}\n")),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    reader.get_mut().write_all(response.as_bytes()).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    // A token check must be fast or fail: a short timeout turns a stuck
    // daemon into 503s instead of piling up requests.
    let client = Client::builder()
        .request_timeout(Some(Duration::from_secs(2)))
        .build();
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "listening on http://{addr}, checking tokens with mobile-sessiond at {}",
        client.socket_path().display()
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(client, stream).await {
                eprintln!("connection: {e}");
            }
        });
    }
}
