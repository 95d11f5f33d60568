//! A fault-injecting HTTP proxy between the SDK clients and moto's server.
//!
//! Every request the SDK sends (DynamoDB and SQS alike) passes through. A chosen share of them is
//! failed, with one of: a 500, a throttling error, a reset connection or a stall (longer than the SDK's
//! attempt timeout), each either before the request reaches moto or after moto has carried it out (the
//! worst case: the write happened but the caller is told it failed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Forwarded untouched.
    Pass,
    /// Answered 500 without reaching moto.
    ServerErrorBefore,
    /// Answered with a throttling error without reaching moto.
    ThrottleBefore,
    /// Connection dropped without reaching moto.
    ResetBefore,
    /// Held past the SDK's attempt timeout, then dropped.
    Stall,
    /// Carried out by moto, then answered 500.
    ServerErrorAfter,
    /// Carried out by moto, then the connection dropped.
    ResetAfter,
}

/// Every fault the proxy injects.
pub const FAULTS: [Fault; 6] = [
    Fault::ServerErrorBefore,
    Fault::ThrottleBefore,
    Fault::ResetBefore,
    Fault::Stall,
    Fault::ServerErrorAfter,
    Fault::ResetAfter,
];

/// How often to fail, and the tally of what was done.
pub struct Plan {
    share: f64,
    stall: Duration,
    rng: Mutex<StdRng>,
    tally: Mutex<BTreeMap<Fault, usize>>,
    table_down: std::sync::atomic::AtomicBool,
    refused_while_down: std::sync::atomic::AtomicUsize,
    /// S3 part uploads to fail: (part number, how many more times).
    failing_part: Mutex<Option<(u32, usize)>>,
    /// SSM GetParameter calls seen (the signing keys' reads).
    ssm_reads: std::sync::atomic::AtomicUsize,
}

impl Plan {
    /// While `down`, every DynamoDB call is answered 500 without reaching moto (an outage of the table);
    /// SQS calls keep their usual share of faults.
    pub fn set_table_down(&self, down: bool) {
        self.table_down
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers 500 to the next `times` S3 uploads of part `number` (of any upload), without reaching moto.
    pub fn fail_part(&self, number: u32, times: usize) {
        *self
            .failing_part
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((number, times));
    }

    /// Whether this request is an upload of the failing part while it still fails (and counts it).
    fn part_fails(&self, request: &Request<Incoming>) -> bool {
        let mut failing = self
            .failing_part
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((number, times)) = failing.as_mut() else {
            return false;
        };
        let is_that_part = request.method() == hyper::Method::PUT
            && request.uri().query().is_some_and(|query| {
                query
                    .split('&')
                    .any(|pair| pair == format!("partNumber={number}"))
                    && query.contains("uploadId=")
            });
        if is_that_part && *times > 0 {
            *times -= 1;
            return true;
        }
        false
    }

    /// How many SSM GetParameter calls went through the proxy.
    pub fn ssm_reads(&self) -> usize {
        self.ssm_reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many DynamoDB calls the outage refused.
    pub fn refused_while_down(&self) -> usize {
        self.refused_while_down
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn choose(&self) -> Fault {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fault = if rng.gen_bool(self.share) {
            // Stalls cost the test seconds each: make them the rarest.
            let pick = rng.gen_range(0..FAULTS.len() * 3 + 1);
            if pick == 0 {
                Fault::Stall
            } else {
                FAULTS[(pick - 1) % FAULTS.len()]
            }
        } else {
            Fault::Pass
        };
        drop(rng);
        *self
            .tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(fault)
            .or_default() += 1;
        fault
    }

    /// How many requests got each treatment.
    pub fn tally(&self) -> BTreeMap<Fault, usize> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A running proxy.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, for the SDK's endpoint.
    pub url: String,
    /// Its plan and tally.
    pub plan: Arc<Plan>,
}

/// Starts a proxy to `upstream` (moto's URL) failing `share` of the requests, with a fixed `seed` so a
/// failure can be replayed.
pub async fn start(upstream: &str, share: f64, stall: Duration, seed: u64) -> FaultProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|err| panic!("bind: {err}"));
    let addr: SocketAddr = listener.local_addr().unwrap_or_else(|err| panic!("{err}"));
    let plan = Arc::new(Plan {
        share,
        stall,
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        tally: Mutex::new(BTreeMap::new()),
        table_down: std::sync::atomic::AtomicBool::new(false),
        refused_while_down: std::sync::atomic::AtomicUsize::new(0),
        failing_part: Mutex::new(None),
        ssm_reads: std::sync::atomic::AtomicUsize::new(0),
    });
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let upstream: Arc<str> = Arc::from(upstream.trim_end_matches('/'));
    let served = plan.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (plan, client, upstream) = (served.clone(), client.clone(), upstream.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    handle(request, plan.clone(), client.clone(), upstream.clone())
                });
                // A dropped connection ends here with an error: that is the point of a reset.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FaultProxy {
        url: format!("http://{addr}"),
        plan,
    }
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

fn error_response(status: StatusCode, kind: &str) -> Response<Full<Bytes>> {
    let body = format!("{{\"__type\":\"{kind}\",\"message\":\"injected by the fault proxy\"}}");
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-errortype", kind)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|err| panic!("{err}"))
}

async fn handle(
    request: Request<Incoming>,
    plan: Arc<Plan>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Arc<str>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let to_dynamodb = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|target| target.starts_with("DynamoDB_"));
    if request
        .headers()
        .get("x-amz-target")
        .is_some_and(|target| target == "AmazonSSM.GetParameter")
    {
        plan.ssm_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    if to_dynamodb && plan.table_down.load(std::sync::atomic::Ordering::SeqCst) {
        plan.refused_while_down
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return Ok(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
        ));
    }
    if plan.part_fails(&request) {
        return Ok(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
        ));
    }
    let fault = plan.choose();
    match fault {
        Fault::ServerErrorBefore => {
            return Ok(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
            ))
        }
        Fault::ThrottleBefore => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
            ))
        }
        Fault::ResetBefore => return Err(Dropped),
        Fault::Stall => {
            tokio::time::sleep(plan.stall).await;
            return Err(Dropped);
        }
        Fault::Pass | Fault::ServerErrorAfter | Fault::ResetAfter => {}
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let mut forward = Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let forward = forward.body(Full::new(body)).map_err(|_| Dropped)?;
    let response = client.request(forward).await.map_err(|_| Dropped)?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    match fault {
        Fault::ServerErrorAfter => Ok(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
        )),
        Fault::ResetAfter => Err(Dropped),
        _ => Ok(Response::from_parts(parts, Full::new(body))),
    }
}
