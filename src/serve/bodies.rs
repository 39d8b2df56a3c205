//! The deadline a request's body is read under (`--body-timeout`): set when its head has come,
//! before anything reads the body, so that whatever reads it — `auth::guard` for a form's
//! token, an extractor for a handler — gives up once it passes, and the request is answered
//! 408 and its connection closed (`auth::guard`). Before, the head had a deadline and the body
//! none: eight `POST /login` heads promising a body that never came (the sign-in reads its
//! form before any token is asked for) held a `--max-connections 8` server at 503 for good.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use futures_util::StreamExt;

/// Whether a request's body was still coming when its deadline passed.
#[derive(Debug, Clone, Default)]
pub struct Late(Arc<AtomicBool>);

impl Late {
    /// The deadline passed while the body was read: the read failed, and the request is
    /// answered 408 whatever its handler made of that failure.
    pub fn passed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a body's read failed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within its deadline")]
struct PastDeadline;

/// Hold `req`'s body to `timeout` from now: read after that, it fails (and `Late::passed`
/// says so). A body already whole — none, as a GET's — is left as it is. Nothing is read
/// here: a request refused before its body is read (a change without the token) is refused
/// at once, as before.
pub fn deadline(req: &mut Request, timeout: Duration) -> Late {
    let late = Late::default();
    if req.body().is_end_stream() {
        return late;
    }
    let at = tokio::time::Instant::now() + timeout;
    let body = std::mem::replace(req.body_mut(), Body::empty());
    let seen = late.clone();
    let pieces = futures_util::stream::unfold(Some(body.into_data_stream()), move |rest| {
        let seen = seen.clone();
        async move {
            let mut rest = rest?;
            match tokio::time::timeout_at(at, rest.next()).await {
                Ok(Some(piece)) => Some((piece, Some(rest))),
                Ok(None) => None,
                Err(_) => {
                    seen.0.store(true, Ordering::SeqCst);
                    Some((Err(axum::Error::new(PastDeadline)), None))
                }
            }
        }
    });
    *req.body_mut() = Body::from_stream(pieces);
    late
}
