//! The protocol's transport: rmcp's newline-delimited JSON-RPC over stdio, with a line that
//! cannot be read as JSON answered by JSON-RPC's parse error (`-32700`) — which rmcp, on
//! purpose, skips without a word.
//!
//! rmcp's transport reads each line and drops one that is not JSON (its reason: a peer that
//! echoes an answer back as more garbage would make an error storm; the other SDKs drop such
//! lines too). A client that sends a broken request would then wait for an answer that never
//! comes. Here the reader in `stdio.rs` sees every line as it passes and tells this transport
//! of each one that is not JSON; the transport sends the parse error through rmcp's own
//! writer, so the answer is one whole line among the others, never mixed into one of them. As
//! MCP says for an error whose request id cannot be read, the answer has no `id`. The storm
//! cannot start from here: the answer is valid JSON, so a peer echoing it back sends a line
//! that is no parse error.

use rmcp::RoleServer;
use rmcp::model::ErrorData;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Where the reader says why a line was not read.
pub type Unread = UnboundedSender<String>;
/// Where the transport hears it.
pub type Notices = UnboundedReceiver<String>;

/// The reader's end and the transport's.
pub fn notices() -> (Unread, Notices) {
    unbounded_channel()
}

/// rmcp's transport, answering the lines it skips.
pub struct Answering<T> {
    inner: T,
    unread: Notices,
}

impl<T> Answering<T> {
    pub fn new(inner: T, unread: Notices) -> Answering<T> {
        Answering { inner, unread }
    }
}

/// The answer to a line that is not JSON.
pub fn parse_error(why: &str) -> TxJsonRpcMessage<RoleServer> {
    TxJsonRpcMessage::<RoleServer>::error(
        ErrorData::parse_error(
            format!(
                "Parse error: the line is not JSON ({why}); each message is one line of JSON-RPC"
            ),
            None,
        ),
        None,
    )
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for Answering<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            // Both branches may be cancelled (rmcp polls `receive` in a `select!`) without
            // losing anything: rmcp's read keeps a partial line, and a notice is taken only
            // when its answer is handed to a task of its own.
            tokio::select! {
                biased;
                Some(why) = self.unread.recv() => {
                    let sending = self.inner.send(parse_error(&why));
                    tokio::spawn(async move {
                        // Only a closed stdout fails it: nobody is left to tell.
                        let _ = sending.await;
                    });
                }
                message = self.inner.receive() => return message,
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_is_json_rpcs_minus_32700_without_an_id() {
        let answer =
            serde_json::to_value(parse_error("expected value at line 1 column 1")).unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["error"]["code"], -32700);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expected value at line 1 column 1"),
            "{answer}"
        );
        assert!(answer.get("id").is_none(), "{answer}");
    }
}
