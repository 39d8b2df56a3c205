//! The protocol's input: stdin, watched for the client hanging up, which stops the drives in
//! flight at once (there is nobody left to answer) instead of after the SDK's drain.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::Log;
use super::inflight::InFlight;

/// SIGHUP: the client hung up, as a terminal closing ends the CLI's drive.
pub const HUNG_UP: i32 = 1;

/// The longest line looked at for being JSON; a longer one is left to the SDK (which refuses
/// lines past its own limit).
const LONGEST_CHECKED: usize = 1 << 20;

pub struct Watched<R> {
    inner: R,
    flights: InFlight,
    /// The line read so far, to tell the log about a line that is not JSON: the SDK skips
    /// such a line without a word (it cannot answer it: JSON-RPC's parse error, `-32700`,
    /// has no place in its transport), so the server's log says it was ignored.
    line: Vec<u8>,
    too_long: bool,
    log: Log,
}

impl<R> Watched<R> {
    pub fn new(inner: R, flights: InFlight, log: Log) -> Watched<R> {
        Watched {
            inner,
            flights,
            line: Vec::new(),
            too_long: false,
            log,
        }
    }

    /// Look at bytes just read: each line they end that is not JSON is logged.
    fn look(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b != b'\n' {
                if self.line.len() < LONGEST_CHECKED {
                    self.line.push(b);
                } else {
                    self.too_long = true;
                }
                continue;
            }
            if !self.too_long
                && let Some(why) = not_json(&self.line)
            {
                (self.log)(&why);
            }
            self.line.clear();
            self.too_long = false;
        }
    }
}

/// Why a line of input is not JSON (the JSON-RPC parse error), if it is not; blank lines are
/// nothing.
fn not_json(line: &[u8]) -> Option<String> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return None;
    }
    let e = serde_json::from_slice::<serde::de::IgnoredAny>(line).err()?;
    let text = String::from_utf8_lossy(line);
    let shown: String = text.chars().take(80).collect();
    let more = if text.chars().count() > 80 { "…" } else { "" };
    Some(format!(
        "ignored a line that is not JSON (JSON-RPC parse error: {e}): {}{more}",
        crate::render::one_line(&shown)
    ))
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
        if let Poll::Ready(Ok(())) = &poll {
            self.look(&buf.filled()[before..]);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_json_is_named_and_json_and_blank_lines_are_not() {
        assert!(not_json(b"this is not json").is_some_and(|w| w.contains("parse error")));
        assert!(not_json(b"{\"jsonrpc\": \"2.0\"").is_some());
        assert_eq!(not_json(b"{\"hello\": 1}"), None);
        assert_eq!(not_json(b"  \r"), None);
        assert!(not_json(b"\x1b]52;c;x\x07").is_some_and(|w| !w.contains('\u{1b}')));
    }
}
