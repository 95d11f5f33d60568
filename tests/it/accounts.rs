//! Signing keys by account through the real Lambda edge and handler, with the real SDK clients against
//! moto's DynamoDB, SQS and SSM. The receiver's SSM calls go through a proxy that counts them, so the
//! tests can say how many reads a new account or a flood of made-up ones cost.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use lambda_http::request::LambdaRequest;
use twilio_video_callbacks::aws::queue::{SqsMediaQueue, SqsSpillQueue};
use twilio_video_callbacks::aws::store::DynamoEventStore;
use twilio_video_callbacks::receiver::gateway;
use twilio_video_callbacks::receiver::handler::Receiver;
use twilio_video_callbacks::receiver::item::UNATTRIBUTED;
use twilio_video_callbacks::receiver::spill::Spilled;
use twilio_video_callbacks::twilio::shared_key::header_value;
use twilio_video_callbacks::twilio::signature::{compute, compute_with, Algorithm};
use twilio_video_callbacks::twilio::signing_keys::SigningKeys;

use crate::helpers::fault_proxy::{self, FaultProxy};
use crate::helpers::*;

const DOMAIN: &str = "abc123defg.execute-api.us-east-1.amazonaws.com";
const PATH: &str = "/twilio/video";

fn url() -> String {
    format!("https://{DOMAIN}{PATH}")
}

fn sid(n: usize) -> String {
    format!("AC{n:032x}")
}

/// Account `n`'s entry: two auth tokens and one shared key, all derived from `n`.
fn entry(n: usize) -> serde_json::Value {
    serde_json::json!({
        "auth_tokens": [format!("primary-{n}"), format!("secondary-{n}")],
        "shared_keys": {format!("KS{n}"): format!("shared-{n}")},
    })
}

fn document(accounts: &[usize]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        accounts.iter().map(|n| (sid(*n), entry(*n))).collect();
    serde_json::Value::Object(map).to_string()
}

/// A room-created callback of `account` (or none), its room numbered `room`.
fn params(account: Option<&str>, room: usize) -> Vec<(String, String)> {
    let mut params = vec![
        ("RoomName".to_owned(), "standup".to_owned()),
        ("RoomSid".to_owned(), format!("RM{room:032x}")),
        ("RoomStatus".to_owned(), "in-progress".to_owned()),
        ("RoomType".to_owned(), "group".to_owned()),
        ("SequenceNumber".to_owned(), "0".to_owned()),
        ("StatusCallbackEvent".to_owned(), "room-created".to_owned()),
        ("Timestamp".to_owned(), "2026-11-27T09:00:00Z".to_owned()),
    ];
    if let Some(account) = account {
        params.push(("AccountSid".to_owned(), account.to_owned()));
    }
    params
}

/// How account `n` may sign: (what, settings header, signature of `params`).
fn signings(n: usize, params: &[(String, String)]) -> Vec<(String, Option<String>, String)> {
    let url = url();
    let shared = format!("shared-{n}");
    vec![
        (
            "primary".into(),
            None,
            compute(&format!("primary-{n}"), &url, params),
        ),
        (
            "secondary".into(),
            None,
            compute(&format!("secondary-{n}"), &url, params),
        ),
        (
            "shared HMAC_SHA1".into(),
            Some(header_value(&format!("KS{n}"), Algorithm::HmacSha1)),
            compute_with(Algorithm::HmacSha1, &shared, &url, params),
        ),
        (
            "shared HMAC_SHA256".into(),
            Some(header_value(&format!("KS{n}"), Algorithm::HmacSha256)),
            compute_with(Algorithm::HmacSha256, &shared, &url, params),
        ),
    ]
}

/// The API Gateway event of a POST of `params` with `signature` and the settings header, if any.
fn event(params: &[(String, String)], settings: Option<&str>, signature: &str) -> LambdaRequest {
    use base64::Engine as _;
    let body = serde_urlencoded::to_string(params).unwrap_or_else(|err| panic!("{err}"));
    let mut headers = vec![
        (
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("x-twilio-signature".to_owned(), signature.to_owned()),
    ];
    if let Some(settings) = settings {
        headers.push((
            "x-twilio-webhooks-signature-settings".to_owned(),
            settings.to_owned(),
        ));
    }
    let json = http_api_event(
        DOMAIN,
        PATH,
        "POST",
        &headers,
        &base64::engine::general_purpose::STANDARD.encode(body),
        true,
    );
    serde_json::from_value(json).unwrap_or_else(|err| panic!("{err}"))
}

async fn put_parameter(sdk: &SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|err| panic!("put {name}: {err:?}"));
}

/// A table and queue of this test's own, moto for set-up, and the receiver's SDK configuration through a
/// proxy that counts its SSM reads.
struct Setup {
    moto: SdkConfig,
    proxy: FaultProxy,
    table: String,
    queue_url: String,
}

impl Setup {
    async fn new() -> Self {
        let moto = moto_patient().await;
        let table = unique("events");
        create_table(&moto, &table).await;
        let queue_url = create_queue(&moto, &unique("media")).await;
        let proxy = fault_proxy::start(&moto_endpoint(), 0.0, Duration::from_secs(1), 20).await;
        Setup {
            moto,
            proxy,
            table,
            queue_url,
        }
    }

    async fn receiver(&self, extra: &[(&str, &str)]) -> AwsReceiver {
        receiver_for(
            &sdk_at(&self.proxy.url).await,
            &self.table,
            &self.queue_url,
            extra,
        )
        .await
    }

    fn reads(&self) -> usize {
        self.proxy.plan.ssm_reads()
    }
}

async fn status(receiver: &AwsReceiver, event: LambdaRequest) -> (u16, String) {
    let response = gateway::invoke(receiver, event, lambda_http::Context::default()).await;
    (response.status(), response.body_text())
}

#[tokio::test]
async fn each_account_verifies_with_its_own_keys_from_ssm_and_with_no_other_accounts() {
    let setup = Setup::new().await;
    let parameter = format!("/{}/signing-keys", unique("t"));
    put_parameter(&setup.moto, &parameter, &document(&[1, 2])).await;
    let receiver = setup
        .receiver(&[("TWILIO_SIGNING_KEYS_PARAMETER", parameter.as_str())])
        .await;
    assert_eq!(setup.reads(), 1, "one read at cold start");

    let mut room = 0;
    let mut accepted = 0;
    for named in [1, 2] {
        for signer in [1, 2] {
            room += 1;
            let params = params(Some(&sid(named)), room);
            for (what, settings, signature) in signings(signer, &params) {
                let (code, body) =
                    status(&receiver, event(&params, settings.as_deref(), &signature)).await;
                let expected = if named == signer { 200 } else { 403 };
                assert_eq!(
                    code,
                    expected,
                    "{what} of {} naming {}: {body}",
                    sid(signer),
                    sid(named)
                );
                accepted += usize::from(code == 200);
            }
        }
    }
    // Unknown account, key, algorithm; the header reordered and with an extra field.
    let stranger = sid(9);
    let params_9 = params(Some(&stranger), 90);
    let (code, body) = status(
        &receiver,
        event(&params_9, None, &compute("primary-1", &url(), &params_9)),
    )
    .await;
    assert_eq!(code, 403);
    assert!(body.contains(&stranger), "{body}");
    let params_1 = params(Some(&sid(1)), 91);
    let sha256 = compute_with(Algorithm::HmacSha256, "shared-1", &url(), &params_1);
    for (settings, expected_code, expected) in [
        ("key=KS2,algorithm=HMAC_SHA256", 403, "no shared key"),
        (
            "key=KS1,algorithm=HMAC_SHA384",
            403,
            "unsupported algorithm",
        ),
        ("algorithm=HMAC_SHA256,key=KS1", 200, "stored"),
        (
            "key=KS1,rule=RL0001,algorithm=HMAC_SHA256",
            200,
            "duplicate",
        ),
    ] {
        let (code, body) = status(&receiver, event(&params_1, Some(settings), &sha256)).await;
        assert_eq!(code, expected_code, "{settings}: {body}");
        assert!(body.contains(expected), "{settings}: {body}");
    }
    // No AccountSid: verified by account 2's secondary, kept malformed and unattributed.
    let orphan = params(None, 92);
    let (code, body) = status(
        &receiver,
        event(&orphan, None, &compute("secondary-2", &url(), &orphan)),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("malformed"), "{body}");

    let items = scan(&setup.moto, &setup.table).await;
    // Each account's four signings of one callback: stored once, then duplicates.
    assert_eq!(accepted, 2 * 4);
    assert_eq!(items.len(), 2 + 2);
    let unattributed: Vec<_> = items
        .iter()
        .filter(|item| item.pk == UNATTRIBUTED)
        .collect();
    assert_eq!(unattributed.len(), 1);
    assert_eq!(
        unattributed[0].verified_account.as_deref(),
        Some(sid(2).as_str())
    );
    assert!(unattributed[0].room_day.is_none());
    for item in items.iter().filter(|item| item.pk != UNATTRIBUTED) {
        assert!(item.verified_account.is_none());
        assert!(item.fields.account_sid == sid(1) || item.fields.account_sid == sid(2));
    }
}

#[tokio::test]
async fn a_new_account_works_without_a_restart_and_a_flood_of_unknown_ones_costs_a_read_a_period() {
    let setup = Setup::new().await;
    let parameter = format!("/{}/signing-keys", unique("t"));
    put_parameter(&setup.moto, &parameter, &document(&[1])).await;
    let receiver = setup
        .receiver(&[
            ("TWILIO_SIGNING_KEYS_PARAMETER", parameter.as_str()),
            ("TWILIO_SIGNING_KEYS_REFRESH_SECONDS", "1"),
        ])
        .await;
    assert_eq!(setup.reads(), 1);
    put_parameter(&setup.moto, &parameter, &document(&[1, 3])).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let params_3 = params(Some(&sid(3)), 1);
    let signature = compute("primary-3", &url(), &params_3);
    let (code, body) = status(&receiver, event(&params_3, None, &signature)).await;
    assert_eq!(code, 200, "the new account, after one re-read: {body}");
    assert_eq!(setup.reads(), 2);

    // 300 made-up accounts, as fast as the function answers.
    let started = Instant::now();
    for n in 1000..1300 {
        let params = params(Some(&sid(n)), n);
        let (code, _) = status(
            &receiver,
            event(&params, None, &compute("x", &url(), &params)),
        )
        .await;
        assert_eq!(code, 403);
    }
    let periods = started.elapsed().as_secs() as usize + 1;
    let flood_reads = setup.reads() - 2;
    assert!(
        flood_reads <= periods,
        "{flood_reads} reads in {periods} periods of one second for 300 unknown accounts"
    );
    // A failed re-read keeps the document: the parameter deleted, account 1 still verifies.
    aws_sdk_ssm::Client::new(&setup.moto)
        .delete_parameter()
        .name(&parameter)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let params_8 = params(Some(&sid(8)), 8);
    let (code, _) = status(
        &receiver,
        event(&params_8, None, &compute("primary-8", &url(), &params_8)),
    )
    .await;
    assert_eq!(code, 403);
    let params_1 = params(Some(&sid(1)), 2);
    let (code, body) = status(
        &receiver,
        event(&params_1, None, &compute("secondary-1", &url(), &params_1)),
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn a_few_hundred_accounts_under_a_path_are_read_once_each_and_made_up_ones_are_capped() {
    let setup = Setup::new().await;
    let path = format!("/{}/accounts", unique("t"));
    let accounts = 300;
    for n in 0..accounts {
        put_parameter(
            &setup.moto,
            &format!("{path}/{}", sid(n)),
            &entry(n).to_string(),
        )
        .await;
    }
    let receiver = setup
        .receiver(&[
            ("TWILIO_SIGNING_KEYS_PATH", path.as_str()),
            ("TWILIO_SIGNING_KEYS_REFRESH_SECONDS", "3600"),
        ])
        .await;
    assert_eq!(setup.reads(), 0, "nothing read at cold start");
    for round in 0..2 {
        for n in 0..accounts {
            let params = params(Some(&sid(n)), n);
            let (what, settings, signature) = signings(n, &params).swap_remove((n + round) % 4);
            let (code, body) =
                status(&receiver, event(&params, settings.as_deref(), &signature)).await;
            assert_eq!(code, 200, "{} by its {what}: {body}", sid(n));
        }
    }
    assert_eq!(setup.reads(), accounts, "one read per account, then kept");
    // Account 1's callback signed by account 0: refused, and (read recently) not read again.
    let params_1 = params(Some(&sid(1)), 1);
    let (code, _) = status(
        &receiver,
        event(&params_1, None, &compute("primary-0", &url(), &params_1)),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(setup.reads(), accounts);
    // A flood of made-up accounts: at most 10 reads this period.
    for n in 5000..5200 {
        let params = params(Some(&sid(n)), n);
        let (code, _) = status(
            &receiver,
            event(&params, None, &compute("x", &url(), &params)),
        )
        .await;
        assert_eq!(code, 403);
    }
    assert_eq!(setup.reads(), accounts + 10);
    assert_eq!(scan(&setup.moto, &setup.table).await.len(), accounts);
}

#[tokio::test]
async fn the_spill_consumer_verifies_again_with_the_keys_of_the_account() {
    let setup = Setup::new().await;
    let spill_url = create_queue(&setup.moto, &unique("spill")).await;
    let keys = || SigningKeys::parse(&document(&[1, 2])).unwrap_or_else(|err| panic!("{err}"));
    // The table is unreachable: every verified callback goes to the spill queue.
    let dead = sdk_at(&dead_endpoint()).await;
    let sqs = aws_sdk_sqs::Client::new(&setup.moto);
    let spilling = Receiver::new(
        keys(),
        DynamoEventStore::new(aws_sdk_dynamodb::Client::new(&dead), &setup.table),
        SqsMediaQueue::new(sqs.clone(), &setup.queue_url),
    )
    .with_spill(Some(SqsSpillQueue::new(sqs, &spill_url)));
    let params_1 = params(Some(&sid(1)), 1);
    let settings = header_value("KS1", Algorithm::HmacSha256);
    let signature = compute_with(Algorithm::HmacSha256, "shared-1", &url(), &params_1);
    let response = gateway::invoke(
        &spilling,
        event(&params_1, Some(&settings), &signature),
        lambda_http::Context::default(),
    )
    .await;
    assert_eq!(response.status(), 202, "{}", response.body_text());

    // A copy claiming account 2, written by someone who can send to the queue.
    let received = receive_as_event(&setup.moto, &spill_url).await;
    let body = received.records[0].body.clone().unwrap_or_default();
    let mut forged: Spilled = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        forged.signature_settings.as_deref(),
        Some(settings.as_str())
    );
    forged.body = forged.body.replace(&sid(1), &sid(2));
    aws_sdk_sqs::Client::new(&setup.moto)
        .send_message()
        .queue_url(&spill_url)
        .message_body(serde_json::to_string(&forged).unwrap_or_default())
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));

    let consumer = Receiver::new(
        keys(),
        DynamoEventStore::new(aws_sdk_dynamodb::Client::new(&setup.moto), &setup.table),
        SqsMediaQueue::new(aws_sdk_sqs::Client::new(&setup.moto), &setup.queue_url),
    );
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..10 {
        let batch = receive_as_event(&setup.moto, &spill_url).await;
        for record in batch.records {
            let kept = consumer
                .restore(record.body.as_deref().unwrap_or_default())
                .await;
            outcomes.insert(record.message_id.unwrap_or_default(), kept.is_ok());
        }
        if outcomes.len() >= 2 {
            break;
        }
    }
    let mut kept: Vec<bool> = outcomes.into_values().collect();
    kept.sort();
    assert_eq!(
        kept,
        [false, true],
        "the forged copy refused, the original stored"
    );
    let items = scan(&setup.moto, &setup.table).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].fields.account_sid, sid(1));
}
