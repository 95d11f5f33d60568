//! A local Lambda Runtime API on loopback, to run a Lambda's real binary as Lambda runs it: the first
//! `GET .../invocation/next` hands out one event, later ones wait forever (the test kills the process);
//! the function's `POST .../response` (or `.../error`) is kept for the test to read.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

/// The runtime API serving one event.
pub struct RuntimeApi {
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: Arc<State>,
}

struct State {
    event: String,
    served: Mutex<bool>,
    handed_out: Notify,
    answer: Mutex<Option<(String, String)>>,
    answered: Notify,
}

impl RuntimeApi {
    /// Waits until the function has asked for the event and been given it.
    pub async fn handed_out(&self, within: Duration) {
        let waited = async {
            loop {
                let notified = self.state.handed_out.notified();
                if *self
                    .state
                    .served
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, waited)
            .await
            .unwrap_or_else(|_| panic!("the function did not ask for its event within {within:?}"));
    }

    /// The function's answer: (the path it posted to, the body), within `within`.
    pub async fn answer(&self, within: Duration) -> Option<(String, String)> {
        let waited = async {
            loop {
                let notified = self.state.answered.notified();
                if let Some(answer) = self
                    .state
                    .answer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                {
                    return answer;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, waited).await.ok()
    }
}

/// Serves `event` (JSON) to the first `GET next`.
pub async fn serve(event: String) -> RuntimeApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|err| panic!("{err}"))
        .to_string();
    let state = Arc::new(State {
        event,
        served: Mutex::new(false),
        handed_out: Notify::new(),
        answer: Mutex::new(None),
        answered: Notify::new(),
    });
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = shared.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| route(request, state.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    RuntimeApi { address, state }
}

async fn route(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() == hyper::Method::GET && path.ends_with("/invocation/next") {
        let first = {
            let mut served = state.served.lock().unwrap_or_else(PoisonError::into_inner);
            !std::mem::replace(&mut *served, true)
        };
        if !first {
            // One event per process: the test reads the answer, then kills the process.
            std::future::pending::<()>().await;
        }
        state.handed_out.notify_waiters();
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + 900_000;
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", "memory-1")
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:media-archiver",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(state.event.clone())))
            .unwrap_or_else(|err| panic!("{err}"));
        return Ok(response);
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    *state.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some((path, body));
    state.answered.notify_waiters();
    Ok(Response::builder()
        .status(202)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|err| panic!("{err}")))
}
