//! The protocol's input: stdin, watched for the client hanging up, which stops the drives in
//! flight at once (there is nobody left to answer) instead of after the SDK's drain.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::inflight::InFlight;

/// SIGHUP: the client hung up, as a terminal closing ends the CLI's drive.
pub const HUNG_UP: i32 = 1;

pub struct Watched<R> {
    inner: R,
    flights: InFlight,
}

impl<R> Watched<R> {
    pub fn new(inner: R, flights: InFlight) -> Watched<R> {
        Watched { inner, flights }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Watched<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let hung_up = match &poll {
            // End of file: a read with room that brought nothing.
            Poll::Ready(Ok(())) => room && buf.filled().len() == before,
            Poll::Ready(Err(_)) => true,
            Poll::Pending => false,
        };
        if hung_up {
            self.flights.stop_all(HUNG_UP);
        }
        poll
    }
}
