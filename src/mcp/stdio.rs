//! The protocol's input: stdin, watched for the client hanging up, which stops the drives in
//! flight at once (there is nobody left to answer) instead of after the SDK's drain; and what
//! a line that is not JSON is told (`transport` reads the lines and answers such a one).

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::inflight::InFlight;

/// Why the drives in flight stop when the client closes the server's input (or it cannot be
/// read): recorded as the stop's message. No signal came, so none is named (the stop read
/// "(SIGHUP)" before, which nobody sent).
pub const HUNG_UP: &str = "the MCP client disconnected (its input closed)";

/// The longest line read (rmcp's limit, newline included); a longer one is dropped unread and
/// answered with a parse error.
pub const LONGEST: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

pub struct Watched<R> {
    inner: R,
    flights: InFlight,
}

impl<R> Watched<R> {
    pub fn new(inner: R, flights: InFlight) -> Watched<R> {
        Watched { inner, flights }
    }
}

/// A line that is not read: why (for the answer) and what the server's log says.
#[derive(Debug, PartialEq)]
pub struct Skipped {
    pub why: String,
    pub logged: String,
}

impl Skipped {
    pub fn too_long() -> Skipped {
        let why = format!(
            "it is longer than {} MiB, the most this server reads",
            LONGEST >> 20
        );
        Skipped {
            logged: format!("answered a line that is not read with a JSON-RPC parse error: {why}"),
            why,
        }
    }
}

/// Why a line of input is not JSON (the JSON-RPC parse error), if it is not; blank lines are
/// nothing.
pub fn not_json(line: &[u8], secrets: &crate::execute::Redactor) -> Option<Skipped> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return None;
    }
    // Read as the SDK reads it (into values, strings decoded): besides broken syntax, invalid
    // UTF-8 or a lone surrogate escape in a string, and nesting past serde_json's limit of
    // 128, are lines it drops. Merely skipping over the value would let those pass.
    let why = serde_json::from_slice::<serde_json::Value>(line)
        .err()?
        .to_string();
    // Scrubbed whole, then cut: a cut first could keep half a secret.
    let text = String::from_utf8_lossy(line);
    let text = secrets.redact(&text);
    let shown = crate::render::clip(&text, 81);
    Some(Skipped {
        logged: format!(
            "answered a line that is not JSON with a JSON-RPC parse error ({why}): {}",
            crate::render::one_line(&shown)
        ),
        why,
    })
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
            self.flights.hang_up(HUNG_UP);
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::Redactor;

    #[test]
    fn a_line_that_is_not_json_is_logged_without_the_secrets_it_holds() {
        let secrets = Redactor::from_env([("GITHUB_TOKEN", "ghp_0123456789abcdef")], &[]);
        let line =
            b"{\"method\":\"tools/call\",\"params\":{\"outputs\":{\"t\":\"ghp_0123456789abcdef";
        let logged = not_json(line, &secrets).unwrap().logged;
        assert!(logged.contains("\"t\":\"***"), "{logged}");
        assert!(!logged.contains("ghp_0123"), "{logged}");
    }

    #[test]
    fn a_line_that_is_not_json_is_named_and_json_and_blank_lines_are_not() {
        assert!(
            not_json(b"this is not json", &Redactor::default())
                .is_some_and(|w| w.logged.contains("parse error") && w.why.contains("expected"))
        );
        assert!(not_json(b"{\"jsonrpc\": \"2.0\"", &Redactor::default()).is_some());
        assert_eq!(not_json(b"{\"hello\": 1}", &Redactor::default()), None);
        assert_eq!(not_json(b"  \r", &Redactor::default()), None);
        assert!(
            not_json(b"\x1b]52;c;x\x07", &Redactor::default())
                .is_some_and(|w| !w.logged.contains('\u{1b}'))
        );
        // JSON in shape, but not text the parser reads.
        assert!(not_json(b"{\"run\": \"\xff\xfe\"}", &Redactor::default()).is_some());
        assert!(not_json(b"{\"run\": \"\\ud800\"}", &Redactor::default()).is_some());
        assert_eq!(
            not_json(b"{\"run\": \"\\ud83d\\ude00\"}", &Redactor::default()),
            None
        );
    }

    #[test]
    fn json_nested_past_the_parsers_limit_is_a_line_it_cannot_read() {
        let nested = |depth: usize| {
            format!(
                "{{\"a\": \"[[[\\\"\", \"b\": {}{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        for depth in [2, 127, 128, 129, 10_000] {
            let line = nested(depth);
            let parsed = serde_json::from_str::<serde_json::Value>(&line).is_ok();
            assert_eq!(
                not_json(line.as_bytes(), &Redactor::default()).is_none(),
                parsed,
                "depth {depth}"
            );
        }
    }
}
