//! One connection to the daemon: connect, handshake, one exchange at a time,
//! and a cheap check that an idle connection is still open before reuse.

use mobile_session_proto::{
    ClientHello, Connection, FrameError, HelloOutcome, Request, Response, Role, ServerHello,
    SessionRow, MAGIC, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, PROTOCOL_VERSION,
};

use crate::{ClientError, Transport};

pub(crate) type Framed = Connection<Box<dyn Transport>>;

/// A connection past the handshake.
pub(crate) struct Conn {
    pub framed: Framed,
    pub role: Role,
    pub daemon_version: String,
}

/// The answer to one request: one frame, or the rows of every page of
/// `Sessions` (none when they went to a [`Pages`] sink as they came).
// Returned and taken apart at once: boxing the frame would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Answer {
    One(Response),
    Rows(Vec<SessionRow>),
}

/// Where the pages of a listing go as they come, instead of being gathered.
pub(crate) type Pages<'a> = &'a mut (dyn FnMut(Vec<SessionRow>) -> Result<(), ClientError> + Send);

/// How an exchange failed, for the retry decision: a request that never
/// left may be sent again on a fresh connection whatever it does.
pub(crate) enum Failure {
    /// Writing the request failed: the daemon did not get it.
    NotSent(ClientError),
    /// The request was written; the answer did not (all) arrive.
    NoAnswer(ClientError),
    /// A complete, meaningful failure (an error answer, a protocol error).
    Final(ClientError),
}

impl Failure {
    pub fn into_error(self) -> ClientError {
        match self {
            Failure::NotSent(e) | Failure::NoAnswer(e) | Failure::Final(e) => e,
        }
    }
}

/// Shakes hands on a stream just opened; `not_ours` is the error's
/// sentence when the peer is not a mobile-sessiond.
pub(crate) async fn handshake(
    stream: Box<dyn Transport>,
    not_ours: &str,
) -> Result<Conn, ClientError> {
    let mut framed = Connection::new(stream, MAX_RESPONSE_FRAME);
    // A request the daemon would refuse is not sent at all.
    framed.set_max_outgoing(Some(MAX_REQUEST_FRAME));
    framed
        .send(&ClientHello::current())
        .await
        .map_err(ClientError::frame)?;
    let not_ours = || {
        ClientError::Protocol(format!(
            "{not_ours} (its first answer is not a mobile-sessiond handshake)"
        ))
    };
    let hello: ServerHello = match framed.recv().await {
        Ok(Some(h)) => h,
        // Closed before answering: a daemon stopping, or one too full even
        // to say it is busy.
        Ok(None) => return Err(ClientError::closed()),
        Err(mobile_session_proto::FrameError::Io(source)) => return Err(ClientError::lost(source)),
        Err(_) => return Err(not_ours()),
    };
    if hello.magic != MAGIC {
        return Err(not_ours());
    }
    match hello.outcome {
        HelloOutcome::Refused { reason } => Err(ClientError::Refused { reason }),
        HelloOutcome::Busy { reason } => Err(ClientError::Busy { reason }),
        HelloOutcome::Welcome { .. } if hello.protocol != PROTOCOL_VERSION => {
            Err(ClientError::Protocol(format!(
                "mobile-sessiond {} speaks protocol {}, this client ({}) speaks {PROTOCOL_VERSION}: use matching versions",
                hello.daemon_version,
                hello.protocol,
                mobile_session_proto::VERSION
            )))
        }
        HelloOutcome::Welcome { role } => Ok(Conn {
            framed,
            role,
            daemon_version: hello.daemon_version,
        }),
    }
}

impl Conn {
    /// Whether an idle connection can be reused: nothing unread in our
    /// buffer, and the stream neither closed by the daemon (a restart, a
    /// shutdown) nor holding bytes nobody asked for.
    pub fn is_reusable(&self) -> bool {
        self.framed.buffered() == 0 && self.framed.get_ref().is_reusable()
    }

    /// Sends one request and reads its whole answer; the pages of a
    /// listing go to `pages` when given. Once a page went there, a failure
    /// is final: sending the request again would hand its rows over twice.
    pub async fn exchange(
        &mut self,
        req: &Request,
        mut pages: Option<Pages<'_>>,
    ) -> Result<Answer, Failure> {
        self.framed.send(req).await.map_err(|e| match e {
            FrameError::TooLong { max } => Failure::Final(ClientError::TooLarge { max }),
            e => Failure::NotSent(ClientError::frame(e)),
        })?;
        if !matches!(req, Request::Sessions(_)) {
            return self.recv().await.map(Answer::One);
        }
        let mut all = Vec::new();
        let mut handed = false;
        loop {
            let page = match self.recv().await {
                Err(Failure::NoAnswer(e)) if handed => return Err(Failure::Final(e)),
                page => page?,
            };
            match page {
                Response::SessionsPage { rows, done } => {
                    match pages.as_mut() {
                        Some(sink) => {
                            handed = true;
                            sink(rows).map_err(Failure::Final)?;
                        }
                        None => all.extend(rows),
                    }
                    if done {
                        return Ok(Answer::Rows(all));
                    }
                }
                other => return Err(Failure::Final(unexpected(other))),
            }
        }
    }

    /// One answer frame; an error answer is a `Final` failure.
    async fn recv(&mut self) -> Result<Response, Failure> {
        match self.framed.recv::<Response>().await {
            Ok(Some(Response::Error(e))) => Err(Failure::Final(ClientError::Daemon(e))),
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(Failure::NoAnswer(ClientError::closed())),
            Err(mobile_session_proto::FrameError::Io(source)) => {
                Err(Failure::NoAnswer(ClientError::ConnectionLost { source }))
            }
            Err(e) => Err(Failure::Final(ClientError::frame(e))),
        }
    }
}

/// An answer of the wrong kind: the daemon's error, or a protocol error.
pub(crate) fn unexpected(r: Response) -> ClientError {
    match r {
        Response::Error(e) => ClientError::Daemon(e),
        other => {
            // The variant's name only: answers such as `Show` carry tokens.
            let debug = format!("{other:?}");
            let name = debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default();
            ClientError::Protocol(format!("unexpected answer: {name}"))
        }
    }
}
