//! The server's token never leaves in what it serves: every answer's body (pages, API
//! documents, raw logs, event streams) passes through `scrub`, which replaces the token —
//! as written, and as JSON, HTML and an address write it — with `***`, streaming (a raw log
//! of many megabytes is never read whole; an event is never held back, as a token has no
//! line break). A step can read the token (the server's command line or environment) and
//! print it; whatever recorded that output — a run started from another terminal, an old log
//! — this server does not hand it to a reader who was not given the token.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::StreamExt;

use crate::execute::scrub_bytes;

/// The forms of the token that an answer may hold, longest first.
#[derive(Debug)]
pub struct Served {
    forms: Vec<Vec<u8>>,
}

impl Served {
    /// The token as written, escaped in a JSON string, escaped in HTML, and percent-encoded.
    pub fn of(token: &str) -> Served {
        let json = serde_json::to_string(token).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or(token)
            .to_string();
        let html = maud::html! { (token) }.into_string();
        let url = form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>();
        let mut forms: Vec<Vec<u8>> = Vec::new();
        for f in [
            token.to_string(),
            json,
            html,
            url.clone(),
            url.replace('+', "%20"),
        ] {
            if !f.is_empty() && !forms.iter().any(|g| g == f.as_bytes()) {
                forms.push(f.into_bytes());
            }
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Served { forms }
    }

    /// `bytes` with every whole form of the token replaced by `***`.
    fn scrub(&self, bytes: &[u8]) -> Vec<u8> {
        self.scrub_with(bytes, false)
    }

    /// `scrub`, or with `same_length` each form replaced by as many `*` as it has bytes (an
    /// answer whose `Content-Length` was given before its body is read keeps it true).
    fn scrub_with(&self, bytes: &[u8], same_length: bool) -> Vec<u8> {
        scrub_bytes(bytes, self.forms.iter().map(Vec::as_slice), same_length).into_owned()
    }

    /// How many bytes at the end of `bytes` begin a form of the token (the next piece may
    /// complete it): those are held back until it comes.
    fn pending(&self, bytes: &[u8]) -> usize {
        let mut longest = 0;
        for form in &self.forms {
            let most = (form.len() - 1).min(bytes.len());
            for n in (longest + 1..=most).rev() {
                if bytes[bytes.len() - n..] == form[..n] {
                    longest = n;
                    break;
                }
            }
        }
        longest
    }
}

/// The longest answer of a known length that is read whole to be scrubbed (its length is
/// then said anew); a longer one (a raw log) keeps its length, each form of the token masked
/// by as many `*`.
const WHOLE: u64 = 1 << 20;

/// `response`, of `length` bytes at most, read whole and scrubbed, its length said anew.
async fn whole(served: Arc<Served>, response: Response, length: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, length as usize + 1).await {
        Ok(bytes) => {
            let clean = served.scrub(&bytes);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, clean.len().into());
            Response::from_parts(parts, Body::from(clean))
        }
        // The body failed as it was read: nothing of it is passed on.
        Err(_) => Response::from_parts(parts, Body::empty()),
    }
}

/// `response` with its body scrubbed of the token: read whole when it is short and its length
/// is known; else as it streams — its length then unknown, or, when it was given (a raw log
/// of many megabytes), kept.
pub async fn scrub(served: Arc<Served>, mut response: Response) -> Response {
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body held whole (a document, a page) says its length itself: hyper writes it.
    let held = axum::body::HttpBody::size_hint(response.body()).exact();
    if let Some(length) = length.or(held).filter(|l| *l <= WHOLE) {
        return whole(served, response, length).await;
    }
    let same_length = length.is_some();
    if !same_length {
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    let (parts, body) = response.into_parts();
    struct Flow {
        body: axum::body::BodyDataStream,
        served: Arc<Served>,
        held: Vec<u8>,
        ended: bool,
        same_length: bool,
    }
    let flow = Flow {
        body: body.into_data_stream(),
        served,
        held: Vec::new(),
        ended: false,
        same_length,
    };
    let stream = futures_util::stream::unfold(flow, |mut f| async move {
        loop {
            if f.ended {
                return None;
            }
            match f.body.next().await {
                Some(Ok(chunk)) => {
                    let mut all = std::mem::take(&mut f.held);
                    all.extend_from_slice(&chunk);
                    let mut clean = f.served.scrub_with(&all, f.same_length);
                    let keep = f.served.pending(&clean);
                    f.held = clean.split_off(clean.len() - keep);
                    if clean.is_empty() {
                        continue;
                    }
                    return Some((Ok::<Bytes, axum::Error>(Bytes::from(clean)), f));
                }
                Some(Err(e)) => {
                    f.ended = true;
                    return Some((Err(e), f));
                }
                None => {
                    f.ended = true;
                    let rest = std::mem::take(&mut f.held);
                    if rest.is_empty() {
                        return None;
                    }
                    let clean = f.served.scrub_with(&rest, f.same_length);
                    return Some((Ok(Bytes::from(clean)), f));
                }
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_split_across_pieces_is_scrubbed_and_nothing_else_is_held() {
        let s = Served::of("ab\"<cdefghijklmnop");
        assert_eq!(s.scrub(b"x ab\"<cdefghijklmnop y"), b"x *** y");
        assert_eq!(
            s.scrub(br#"{"v":"ab\"<cdefghijklmnop"}"#),
            br#"{"v":"***"}"#
        );
        assert_eq!(s.scrub(b"<p>ab&quot;&lt;cdefghijklmnop</p>"), b"<p>***</p>");
        assert_eq!(s.pending(b"data: x\n\n"), 0);
        assert_eq!(s.pending(b"data: ab\"<cd"), 6);
        assert_eq!(s.pending(b"data: ab&qu"), 5);
        assert_eq!(
            s.scrub_with(b"x ab\"<cdefghijklmnop", true),
            b"x ******************"
        );
    }
}
