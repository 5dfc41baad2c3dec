//! The `events` stream: listener requests acknowledged, no events sent.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{Inner, ReplyStream};
use crate::proto;

pub(super) async fn events(
    inner: &Arc<Inner>,
    request: Request<Streaming<proto::MapListenerRequest>>,
) -> Result<Response<ReplyStream<proto::MapListenerResponse>>, Status> {
    let mut inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(16);
    let closed = wait_closed(inner.closed.subscribe());
    tokio::spawn(async move {
        tokio::pin!(closed);
        let mut reading = true;
        loop {
            tokio::select! {
                message = inbound.message(), if reading => match message {
                    Ok(Some(r)) => {
                        if tx.send(Ok(acknowledge(r))).await.is_err() {
                            return;
                        }
                    }
                    // The client stopped sending: keep the stream open until it
                    // cancels (or the server shuts down).
                    Ok(None) => reading = false,
                    Err(_) => return,
                },
                () = &mut closed => return,
                () = tx.closed() => return,
            }
        }
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
}

pub(super) async fn wait_closed(mut closed: watch::Receiver<bool>) {
    loop {
        let now = *closed.borrow_and_update();
        if now {
            return;
        }
        if closed.changed().await.is_err() {
            // The service is gone; its streams end with the runtime.
            std::future::pending::<()>().await;
        }
    }
}

/// The answer Coherence's own proxy gives a listener request: `subscribed` for a subscribe
/// (and the INIT request every cache opens with), `unsubscribed` otherwise. No events
/// follow: see [`CoherenceService`].
pub(super) fn acknowledge(r: proto::MapListenerRequest) -> proto::MapListenerResponse {
    use proto::map_listener_response::ResponseType;
    let init = r.r#type == proto::map_listener_request::RequestType::Init as i32;
    let response = if r.subscribe || init {
        ResponseType::Subscribed(proto::MapListenerSubscribedResponse { uid: r.uid })
    } else {
        ResponseType::Unsubscribed(proto::MapListenerUnsubscribedResponse { uid: r.uid })
    };
    proto::MapListenerResponse {
        response_type: Some(response),
    }
}
