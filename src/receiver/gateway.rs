//! The API Gateway edge: from a Lambda event to a [`Request`], and from a [`Response`] back.
//!
//! `lambda_http::run` would do this conversion itself, but it decodes a base64 body with `expect`, so one
//! malformed event would panic the invocation and API Gateway would answer 502 instead of our 400. Here
//! the same `lambda_http` event types are converted with the body decoded by us: a body that does not
//! decode becomes an [`UndecodableBody`] marker the receiver answers with 400, and the process carries
//! on. The URL Twilio called is reconstructed from the raw event at the same time ([`called_url`]).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::http::HeaderMap;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use serde::Serialize;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::receiver::handler::{CalledUrl, Receiver, UndecodableBody};
use crate::receiver::ports::{EventStore, MediaQueue, SpillQueue};

/// Which API Gateway payload the event came in, and so the response shape it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// REST API (payload 1.0).
    RestApi,
    /// HTTP API (payload 2.0).
    HttpApi,
}

/// The response API Gateway expects for the event's payload version.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GatewayResponse {
    /// For a REST API event.
    RestApi(ApiGatewayProxyResponse),
    /// For an HTTP API event.
    HttpApi(ApiGatewayV2httpResponse),
}

impl GatewayResponse {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        let code = match self {
            GatewayResponse::RestApi(response) => response.status_code,
            GatewayResponse::HttpApi(response) => response.status_code,
        };
        u16::try_from(code).unwrap_or(500)
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        let body = match self {
            GatewayResponse::RestApi(response) => &response.body,
            GatewayResponse::HttpApi(response) => &response.body,
        };
        body.as_ref()
            .map(|body| String::from_utf8_lossy(body.as_ref()).into_owned())
            .unwrap_or_default()
    }
}

/// What one invocation of the receiver's function answers: API Gateway's response, or the spill
/// consumer's partial batch response.
// One answer per invocation, serialized once: the variants' size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// To API Gateway.
    Http(GatewayResponse),
    /// To the spill queue's event source mapping.
    Batch(SqsBatchResponse),
}

/// One invocation of the receiver's function, which has two event sources: API Gateway (Twilio's
/// callbacks) and the spill queue (SQS). An SQS event is told apart by its records' `eventSource`.
pub async fn dispatch<S: EventStore, Q: MediaQueue, P: SpillQueue>(
    receiver: &Receiver<S, Q, P>,
    payload: serde_json::Value,
    context: Context,
) -> Result<Answer, serde_json::Error> {
    let from_sqs = payload
        .get("Records")
        .and_then(|records| records.get(0))
        .and_then(|record| record.get("eventSource"))
        .and_then(serde_json::Value::as_str)
        == Some("aws:sqs");
    if from_sqs {
        let event: SqsEvent = serde_json::from_value(payload)?;
        return Ok(Answer::Batch(receiver.drain_spill(event).await));
    }
    let event: LambdaRequest = serde_json::from_value(payload)?;
    Ok(Answer::Http(invoke(receiver, event, context).await))
}

/// Handles one Lambda invocation from API Gateway.
pub async fn invoke<S: EventStore, Q: MediaQueue, P: SpillQueue>(
    receiver: &Receiver<S, Q, P>,
    event: LambdaRequest,
    context: Context,
) -> GatewayResponse {
    let (origin, request) = into_request(event);
    let response = receiver.handle(request.with_lambda_context(context)).await;
    into_gateway_response(origin, response)
}

/// Converts an API Gateway event into a request, decoding the body without panicking.
pub fn into_request(mut event: LambdaRequest) -> (Origin, Request) {
    let url = called_url(&event);
    let (origin, body) = match &mut event {
        LambdaRequest::ApiGatewayV1(ag) => (
            Origin::RestApi,
            decode_body(ag.body.take(), std::mem::take(&mut ag.is_base64_encoded)),
        ),
        LambdaRequest::ApiGatewayV2(ag) => (
            Origin::HttpApi,
            decode_body(ag.body.take(), std::mem::take(&mut ag.is_base64_encoded)),
        ),
    };
    let mut request: Request = event.into();
    match body {
        Ok(bytes) => *request.body_mut() = Body::Binary(bytes),
        Err(reason) => {
            request.extensions_mut().insert(UndecodableBody(reason));
        }
    }
    if let Some(url) = url {
        request.extensions_mut().insert(CalledUrl(url));
    }
    (origin, request)
}

fn decode_body(body: Option<String>, is_base64_encoded: bool) -> Result<Vec<u8>, String> {
    let body = body.unwrap_or_default();
    if is_base64_encoded {
        BASE64
            .decode(body.as_bytes())
            .map_err(|err| format!("isBase64Encoded is set but the body is not base64 ({err})"))
    } else {
        Ok(body.into_bytes())
    }
}

/// The URL Twilio called: `https://` + the API's domain name + the path as called + the raw query.
///
/// HTTP API events carry the path and query exactly as called (`rawPath` includes a named stage). REST
/// API events carry the path as called in `requestContext.path` (stage included); their query string is
/// only available decoded, so it is re-encoded in name order: a REST API called with a query string
/// should set `TWILIO_WEBHOOK_URL` instead.
pub fn called_url(event: &LambdaRequest) -> Option<String> {
    match event {
        LambdaRequest::ApiGatewayV2(ag) => {
            let domain = ag
                .request_context
                .domain_name
                .as_deref()
                .or_else(|| host(&ag.headers))?;
            let path = ag.raw_path.as_deref().unwrap_or("/");
            let query = ag.raw_query_string.as_deref().unwrap_or("");
            Some(join_url(domain, path, query))
        }
        LambdaRequest::ApiGatewayV1(ag) => {
            let context = &ag.request_context;
            let domain = context
                .domain_name
                .as_deref()
                .or_else(|| host(&ag.headers))
                .or_else(|| host(&ag.multi_value_headers))?;
            let path = match (&context.path, &context.stage, &ag.path) {
                (Some(path), _, _) => path.clone(),
                (None, Some(stage), Some(path)) => format!("/{stage}{path}"),
                (None, None, Some(path)) => path.clone(),
                (None, _, None) => "/".to_owned(),
            };
            let query_map = if ag.multi_value_query_string_parameters.is_empty() {
                &ag.query_string_parameters
            } else {
                &ag.multi_value_query_string_parameters
            };
            let mut pairs: Vec<(&str, &str)> = query_map.iter().collect();
            pairs.sort();
            let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
            Some(join_url(domain, &path, &query))
        }
    }
}

/// The `Host` header, for events without `requestContext.domainName` (the shape of some test tooling's
/// events). Safe to trust: the URL is inside the signature, so a forged host cannot verify.
fn host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(lambda_http::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| !host.is_empty())
}

fn join_url(domain: &str, path: &str, query: &str) -> String {
    if query.is_empty() {
        format!("https://{domain}{path}")
    } else {
        format!("https://{domain}{path}?{query}")
    }
}

/// Converts the receiver's response into the shape API Gateway expects.
pub fn into_gateway_response(origin: Origin, response: Response<Body>) -> GatewayResponse {
    let (parts, body) = response.into_parts();
    let (is_base64_encoded, body) = match body {
        Body::Empty => (false, None),
        text @ Body::Text(_) => (false, Some(text)),
        binary @ Body::Binary(_) => (true, Some(binary)),
    };
    let status_code = i64::from(parts.status.as_u16());
    match origin {
        Origin::RestApi => GatewayResponse::RestApi(ApiGatewayProxyResponse {
            status_code,
            headers: HeaderMap::new(),
            multi_value_headers: parts.headers,
            body,
            is_base64_encoded,
        }),
        Origin::HttpApi => GatewayResponse::HttpApi(ApiGatewayV2httpResponse {
            status_code,
            headers: parts.headers,
            multi_value_headers: HeaderMap::new(),
            body,
            is_base64_encoded,
            cookies: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> LambdaRequest {
        serde_json::from_value(json).unwrap_or_else(|err| panic!("not an API Gateway event: {err}"))
    }

    fn http_api(raw_path: &str, raw_query: &str, body: &str, base64: bool) -> LambdaRequest {
        event(serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /twilio/video",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": {"content-type": "application/x-www-form-urlencoded"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {"method": "POST", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.1", "userAgent": "TwilioProxy/1.1"},
                "requestId": "r1",
                "routeKey": "POST /twilio/video",
                "stage": "$default",
                "time": "27/Nov/2026:09:00:00 +0000",
                "timeEpoch": 1795770000000_i64
            },
            "body": body,
            "isBase64Encoded": base64
        }))
    }

    fn rest_api(
        stage: &str,
        path: &str,
        context_path: Option<&str>,
        query: serde_json::Value,
    ) -> LambdaRequest {
        let mut context = serde_json::json!({
            "accountId": "123456789012",
            "resourceId": "res1",
            "stage": stage,
            "domainName": "xyz789.execute-api.eu-west-1.amazonaws.com",
            "requestId": "r2",
            "identity": {"sourceIp": "203.0.113.1"},
            "resourcePath": path,
            "httpMethod": "POST",
            "apiId": "xyz789"
        });
        if let Some(context_path) = context_path {
            context["path"] = serde_json::Value::from(context_path);
        }
        event(serde_json::json!({
            "resource": path,
            "path": path,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "multiValueHeaders": {"Content-Type": ["application/x-www-form-urlencoded"]},
            "queryStringParameters": query.clone(),
            "multiValueQueryStringParameters": null,
            "requestContext": context,
            "body": "A=1",
            "isBase64Encoded": false
        }))
    }

    #[test]
    fn http_api_url_is_domain_raw_path_and_raw_query() {
        let url = called_url(&http_api("/twilio/video", "tenant=a%20b&x=1", "", false));
        assert_eq!(
            url.as_deref(),
            Some(
                "https://abc123.execute-api.eu-west-1.amazonaws.com/twilio/video?tenant=a%20b&x=1"
            )
        );
        let staged = called_url(&http_api("/prod/twilio/video", "", "", false));
        assert_eq!(
            staged.as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/twilio/video")
        );
    }

    #[test]
    fn rest_api_url_includes_the_stage() {
        let from_context = called_url(&rest_api(
            "prod",
            "/twilio/video",
            Some("/prod/twilio/video"),
            serde_json::Value::Null,
        ));
        assert_eq!(
            from_context.as_deref(),
            Some("https://xyz789.execute-api.eu-west-1.amazonaws.com/prod/twilio/video")
        );
        let rebuilt = called_url(&rest_api(
            "prod",
            "/twilio/video",
            None,
            serde_json::json!({"b": "2", "a": "x y"}),
        ));
        assert_eq!(
            rebuilt.as_deref(),
            Some("https://xyz789.execute-api.eu-west-1.amazonaws.com/prod/twilio/video?a=x+y&b=2")
        );
    }

    #[test]
    fn base64_body_is_decoded_and_a_bad_one_is_marked_not_panicked() {
        let (origin, request) = into_request(http_api("/t", "", "QT0x", true));
        assert_eq!(origin, Origin::HttpApi);
        assert_eq!(request.body().as_ref(), b"A=1");
        assert!(request.extensions().get::<UndecodableBody>().is_none());
        assert!(request.extensions().get::<CalledUrl>().is_some());

        let (_, bad) = into_request(http_api("/t", "", "%%% not base64 %%%", true));
        assert!(bad.extensions().get::<UndecodableBody>().is_some());
        assert_eq!(bad.body().as_ref(), b"");
    }

    #[test]
    fn responses_take_the_shape_of_the_payload_version() {
        let response = Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(Body::Text("{\"error\":\"x\"}".into()))
            .unwrap_or_else(|err| panic!("{err}"));
        let v2 = into_gateway_response(Origin::HttpApi, response);
        assert!(
            matches!(&v2, GatewayResponse::HttpApi(r) if r.headers.contains_key("content-type"))
        );
        assert_eq!(v2.status(), 403);
        assert_eq!(v2.body_text(), "{\"error\":\"x\"}");
        let json = serde_json::to_value(&v2).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(json["statusCode"], 403);
        assert_eq!(json["isBase64Encoded"], false);

        let v1 = into_gateway_response(Origin::RestApi, Response::new(Body::Empty));
        assert!(
            matches!(&v1, GatewayResponse::RestApi(r) if r.status_code == 200 && r.body.is_none())
        );
    }
}
