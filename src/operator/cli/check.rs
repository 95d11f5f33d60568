//! `check`: after a deploy, prove the stack works end to end and find the rooms it will miss
//! ([`crate::operator::check`]): what it reads from the options, the environment and the stack, and how
//! it prints the report (a table on the terminal, one JSON document with `--json`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use super::global::{Deployment, Global, Stack};
use super::output::{self, clean};
use super::parse::parse_duration;
use crate::operator::check::alarms;
use crate::operator::check::plumbing::{self, Queue, Role};
use crate::operator::check::round_trip::{self, Target};
use crate::operator::check::signing::{signing_key, KeySource};
use crate::operator::check::{fresh_seed, twilio_rooms, without_overrides, Report, Row};

/// The options of `check`.
#[derive(Debug, Args)]
pub struct Check {
    /// Look for rooms Twilio created this far back (s, m, h or d: 24h, 90m, 7d).
    #[arg(long, env = "CHECK_SINCE", default_value = "24h", value_parser = parse_duration)]
    since: Duration,
    /// How long the test callback may take to appear in the table (a spilled one is stored later).
    #[arg(long, env = "CHECK_WAIT", default_value = "20s", value_parser = parse_duration)]
    wait: Duration,
    /// The URL Twilio calls, as the receiver verifies it (a `#...` of overrides is ignored); else the
    /// stack's WebhookUrl parameter, else its CallbackUrl output.
    #[arg(long, env = "CALLBACK_URL")]
    callback_url: Option<String>,
    /// The spill queue (the stack's SpillQueueUrl).
    #[arg(long, env = "SPILL_QUEUE_URL")]
    spill_queue_url: Option<String>,
    /// The media dead-letter queue (the stack's DeadLetterQueueUrl).
    #[arg(long, env = "DEAD_LETTER_QUEUE_URL")]
    dead_letter_queue_url: Option<String>,
    /// The spill dead-letter queue (the stack's SpillDeadLetterQueueUrl).
    #[arg(long, env = "SPILL_DEAD_LETTER_QUEUE_URL")]
    spill_dead_letter_queue_url: Option<String>,
    /// The auth token the receiver verifies with (several separated by commas: the first signs). Better
    /// from the environment than on the command line.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// The SSM SecureString holding the auth token (else the stack's AuthTokenParameterName).
    #[arg(long, env = "TWILIO_AUTH_TOKEN_PARAMETER")]
    auth_token_parameter: Option<String>,
    /// Signing keys by account, the receiver's document (`{"AC…": {"auth_tokens": [...], "shared_keys":
    /// {...}}}`): the account's first auth token signs, or else its first shared key (HMAC_SHA256).
    #[arg(long, env = "TWILIO_SIGNING_KEYS", hide_env_values = true)]
    signing_keys: Option<String>,
    /// The SSM SecureString holding the signing-keys document (else the stack's SigningKeysParameterName).
    #[arg(long, env = "TWILIO_SIGNING_KEYS_PARAMETER")]
    signing_keys_parameter: Option<String>,
    /// The SSM path under which each account's signing keys are a SecureString named by its AccountSid
    /// (else the stack's SigningKeysPath).
    #[arg(long, env = "TWILIO_SIGNING_KEYS_PATH")]
    signing_keys_path: Option<String>,
}

impl Check {
    /// The checks clap's derive cannot express.
    pub(super) fn check_usage(&self) -> Result<(), String> {
        let set: Vec<&str> = [
            ("TWILIO_AUTH_TOKEN", self.auth_token.is_some()),
            (
                "TWILIO_AUTH_TOKEN_PARAMETER",
                self.auth_token_parameter.is_some(),
            ),
            ("TWILIO_SIGNING_KEYS", self.signing_keys.is_some()),
            (
                "TWILIO_SIGNING_KEYS_PARAMETER",
                self.signing_keys_parameter.is_some(),
            ),
            ("TWILIO_SIGNING_KEYS_PATH", self.signing_keys_path.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, is_set)| is_set.then_some(name))
        .collect();
        if set.len() > 1 {
            return Err(format!(
                "{} are set; set only one, as for the receiver",
                set.join(" and ")
            ));
        }
        match &self.callback_url {
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                Err(format!(
                "--callback-url {url:?} must be the full URL Twilio calls, starting with https://"
            ))
            }
            _ => Ok(()),
        }
    }

    /// Runs the three steps and prints the report; exit status 1 when a step failed.
    pub async fn run(&self, global: &Global) -> Result<ExitCode, String> {
        let deployment = global.deployment().await?;
        let report = self.report(global, &deployment).await?;
        print(global.json, &report)?;
        Ok(if report.failed() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// Where the receiver's keys are: the options (one at most, see `check_usage`), else the stack's
    /// parameters, in the receiver's order.
    fn key_source(&self, stack: Option<&Stack>) -> Option<KeySource> {
        let options = [
            self.auth_token.clone().map(KeySource::Token),
            self.auth_token_parameter.clone().map(KeySource::Parameter),
            self.signing_keys.clone().map(KeySource::Document),
            self.signing_keys_parameter
                .clone()
                .map(KeySource::DocumentParameter),
            self.signing_keys_path.clone().map(KeySource::DocumentPath),
        ];
        if let Some(source) = options.into_iter().flatten().next() {
            return Some(source);
        }
        let parameter = |name: &str| stack.and_then(|stack| stack.parameter(name));
        parameter("SigningKeysParameterName")
            .map(KeySource::DocumentParameter)
            .or_else(|| parameter("SigningKeysPath").map(KeySource::DocumentPath))
            .or_else(|| parameter("AuthTokenParameterName").map(KeySource::Parameter))
    }

    async fn report(&self, global: &Global, deployment: &Deployment) -> Result<Report, String> {
        let stack = deployment.stack.as_ref();
        let from_stack = |key: &str| stack.and_then(|stack| stack.output(key));
        let url = self
            .callback_url
            .clone()
            .or_else(|| stack.and_then(|stack| stack.parameter("WebhookUrl")))
            .or_else(|| from_stack("CallbackUrl"))
            .map(|url| without_overrides(&url).to_owned());
        let mut report = Report {
            callback_url: url.clone(),
            ..Report::default()
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(&deployment.sdk);
        let sqs = aws_sdk_sqs::Client::new(&deployment.sdk);
        let table = deployment.table.as_deref();

        // 1. Round trip.
        let source = self.key_source(stack);
        let account = global.account_sid.as_deref();
        match (&url, table, source, account) {
            (Some(url), Some(table), Some(source), Some(account)) => {
                match signing_key(&source, account, &deployment.sdk).await {
                    Ok(key) => {
                        let target = Target {
                            url,
                            dynamodb: &dynamodb,
                            table,
                            wait: self.wait,
                        };
                        let (room, rows) = round_trip::round_trip(&target, &key, &fresh_seed()).await;
                        report.test_room = Some(room);
                        report.rows.extend(rows);
                    }
                    Err(reason) => report.rows.push(Row::fail(
                        "round trip: signing key",
                        format!("could not read {}: {reason}", source.describe()),
                        "the receiver cannot read it either if this is its parameter: check the name \
                         and that it is a SecureString your credentials may decrypt",
                    )),
                }
            }
            (url, table, source, account) => {
                let mut missing = Vec::new();
                if url.is_none() {
                    missing.push("the callback URL (CALLBACK_URL or --stack)");
                }
                if table.is_none() {
                    missing.push("the table (EVENTS_TABLE, --table or --stack)");
                }
                if source.is_none() {
                    missing.push(
                        "the signing key (TWILIO_AUTH_TOKEN, TWILIO_AUTH_TOKEN_PARAMETER, TWILIO_SIGNING_KEYS, \
                         TWILIO_SIGNING_KEYS_PARAMETER, TWILIO_SIGNING_KEYS_PATH or --stack)",
                    );
                }
                if account.is_none() {
                    missing.push("the account (TWILIO_ACCOUNT_SID or --account-sid)");
                }
                report.rows.push(Row::fail(
                    "round trip",
                    format!("not run: {} not set", missing.join(", ")),
                    "set what is missing, or pass --stack with the deployed stack's name",
                ));
            }
        }

        // 2. Plumbing.
        if let Some(table) = table {
            report.rows.push(plumbing::table(&dynamodb, table).await);
        }
        let queues: Vec<Queue> = [
            (Role::Media, deployment.queue_url.clone()),
            (
                Role::Spill,
                self.spill_queue_url
                    .clone()
                    .or_else(|| from_stack("SpillQueueUrl")),
            ),
            (
                Role::MediaDeadLetter,
                self.dead_letter_queue_url
                    .clone()
                    .or_else(|| from_stack("DeadLetterQueueUrl")),
            ),
            (
                Role::SpillDeadLetter,
                self.spill_dead_letter_queue_url
                    .clone()
                    .or_else(|| from_stack("SpillDeadLetterQueueUrl")),
            ),
        ]
        .into_iter()
        .filter_map(|(role, url)| url.map(|url| Queue { role, url }))
        .collect();
        if !queues.iter().any(|queue| queue.role == Role::Media) {
            report.rows.push(Row::fail(
                Role::Media.step(),
                "not named: MEDIA_QUEUE_URL is not set",
                "set MEDIA_QUEUE_URL (or --queue-url), or pass --stack",
            ));
        }
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&deployment.sdk);
        report
            .rows
            .extend(plumbing::queues(&sqs, &cloudwatch, &queues).await);
        for (role, variable) in [
            (Role::Spill, "SPILL_QUEUE_URL"),
            (Role::MediaDeadLetter, "DEAD_LETTER_QUEUE_URL"),
            (Role::SpillDeadLetter, "SPILL_DEAD_LETTER_QUEUE_URL"),
        ] {
            if !queues.iter().any(|queue| queue.role == role) {
                report.not_checked.push(format!(
                    "{}: not named ({variable} or --stack)",
                    role.step()
                ));
            }
        }
        match stack {
            Some(stack) => {
                let cloudformation = aws_sdk_cloudformation::Client::new(&deployment.sdk);
                report
                    .rows
                    .extend(alarms::check(&cloudformation, &cloudwatch, &stack.name).await);
            }
            None => report.not_checked.push(
                "plumbing: alarms: read only with --stack (their names come from the stack's resources)"
                    .into(),
            ),
        }

        // 3. Twilio points at us.
        match (global.twilio_rest()?, &url, table) {
            (Some(rest), Some(url), Some(table)) => {
                let now = OffsetDateTime::now_utc();
                let since = time::Duration::try_from(self.since)
                    .ok()
                    .and_then(|since| now.checked_sub(since))
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                let after = crate::twilio::timestamp::format(since);
                report.rows.extend(
                    twilio_rooms::rows(&rest, &after, account, url, &dynamodb, table).await,
                );
            }
            (None, _, _) => report.not_checked.push(
                "twilio: the rooms' status callbacks need an API key (TWILIO_API_KEY_SID, \
                 TWILIO_API_KEY_SECRET) that may read Video rooms"
                    .into(),
            ),
            _ => report
                .not_checked
                .push("twilio: needs the callback URL and the table".into()),
        }
        Ok(report)
    }
}

/// The report as one JSON document, or as a table (step, status, detail, next) with the unchecked
/// listed after it.
fn print(json: bool, report: &Report) -> Result<(), String> {
    if json {
        let mut value = serde_json::to_value(report).map_err(|err| err.to_string())?;
        value["status"] = report.status().as_str().into();
        println!("{value}");
        return Ok(());
    }
    let mut out = output::table();
    out.set_header(vec!["step", "status", "detail", "next"]);
    for row in &report.rows {
        out.add_row(clean(vec![
            row.step.clone(),
            row.status.as_str().to_owned(),
            row.detail.clone(),
            row.next.clone().unwrap_or_default(),
        ]));
    }
    println!("{out}");
    for note in &report.not_checked {
        eprintln!("not checked: {note}");
    }
    eprintln!(
        "check: {} against {}",
        report.status().as_str(),
        report
            .callback_url
            .as_deref()
            .unwrap_or("(no callback URL)")
    );
    Ok(())
}
