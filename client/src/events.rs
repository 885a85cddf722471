//! [`EventStream`]: the events of `watch` as a [`futures_core::Stream`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use mobile_session_proto::{Event, FrameError, Response};

use crate::conn::{unexpected, Framed};
use crate::ClientError;

type Read = Pin<Box<dyn Future<Output = (Framed, Result<Option<Response>, FrameError>)> + Send>>;

/// The events of [`Client::watch`](crate::Client::watch), as they happen.
///
/// It yields `Ok(event)` until the daemon closes the stream (it stopped or
/// restarted): then `None`. A broken connection or an error answer yields
/// one `Err` and then `None`. Events the daemon could not deliver because
/// this reader was slow arrive as one `Lagged` event with their count.
pub struct EventStream {
    state: State,
}

enum State {
    Idle(Box<Framed>),
    Reading(Read),
    Done,
}

impl EventStream {
    pub(crate) fn new(framed: Framed) -> Self {
        Self {
            state: State::Idle(Box::new(framed)),
        }
    }

    /// The next event, or `None` once the stream ended; the same as
    /// `StreamExt::next` without depending on a futures utility crate.
    pub async fn next_event(&mut self) -> Option<Result<Event, ClientError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for EventStream {
    type Item = Result<Event, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(mut framed) => {
                    // The read owns the connection while it runs, so the
                    // future is 'static; it hands the connection back.
                    self.state = State::Reading(Box::pin(async move {
                        let r = framed.recv::<Response>().await;
                        (*framed, r)
                    }));
                }
                State::Reading(mut read) => {
                    let (framed, result) = match read.as_mut().poll(cx) {
                        Poll::Pending => {
                            self.state = State::Reading(read);
                            return Poll::Pending;
                        }
                        Poll::Ready(done) => done,
                    };
                    return Poll::Ready(match result {
                        Ok(Some(Response::Event(e))) => {
                            self.state = State::Idle(Box::new(framed));
                            Some(Ok(e))
                        }
                        Ok(Some(other)) => Some(Err(unexpected(other))),
                        Ok(None) => None,
                        Err(e) => Some(Err(ClientError::frame(e))),
                    });
                }
            }
        }
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Reading(_) => "reading",
            State::Done => "done",
        };
        f.debug_struct("EventStream")
            .field("state", &state)
            .finish()
    }
}
