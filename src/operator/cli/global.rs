//! The options every command takes (`--stack`, the Twilio key, the queue, table and bucket, the rates,
//! `--json`), and what they resolve to: the deployed stack's resources, the events table, the Twilio client.

use clap::Args;

use crate::archiver::rules::DEFAULT_PREFIX;
use crate::archiver::ApiKey;
use crate::aws::queue::SqsMediaQueue;
use crate::aws::{sdk, ssm};
use crate::message::TWILIO_VIDEO_BASE_URL;
use crate::operator::rest::TwilioRest;
use crate::operator::tasks::{self, Context};
use crate::twilio::api_keys::ApiKeys;

/// The options every command takes (clap's `global = true`: before or after the command's name).
#[derive(Debug, Args)]
pub struct Global {
    /// Read MEDIA_QUEUE_URL, EVENTS_TABLE and ARCHIVE_BUCKET from this CloudFormation stack's outputs
    /// (check: also its callback URL, spill and dead-letter queues, and token parameter).
    #[arg(long, env = "STACK_NAME", global = true)]
    stack: Option<String>,
    /// The Twilio account; media and rooms of other accounts (subaccounts) are left out when set (also
    /// when only TWILIO_ACCOUNT_SID is set in the environment: the terminal output then names it).
    #[arg(
        long,
        visible_alias = "account",
        env = "TWILIO_ACCOUNT_SID",
        global = true
    )]
    pub(super) account_sid: Option<String>,
    /// A Twilio API key (SK...) that may read (and, for prune --delete, delete) Video media.
    #[arg(long, env = "TWILIO_API_KEY_SID", global = true)]
    api_key_sid: Option<String>,
    /// The API key's secret.
    #[arg(
        long,
        env = "TWILIO_API_KEY_SECRET",
        hide_env_values = true,
        global = true
    )]
    api_key_secret: Option<String>,
    /// One Twilio API key per account, as a JSON document `{"AC...": "SK...:secret"}`: backfill,
    /// reconcile and prune then run over every account of it (or only --account), each with its own key
    /// and rate limit. Instead of TWILIO_API_KEY_SID/_SECRET.
    #[arg(
        long,
        env = "TWILIO_API_KEYS",
        hide_env_values = true,
        global = true,
        conflicts_with_all = ["api_key_sid", "api_key_secret", "api_keys_parameter"]
    )]
    api_keys: Option<String>,
    /// The SSM SecureString holding that document (the stack's TwilioApiKeysParameter).
    #[arg(
        long,
        env = "TWILIO_API_KEYS_PARAMETER",
        global = true,
        conflicts_with_all = ["api_key_sid", "api_key_secret"]
    )]
    api_keys_parameter: Option<String>,
    /// The media queue (the stack's MediaQueueUrl).
    #[arg(long, env = "MEDIA_QUEUE_URL", global = true)]
    queue_url: Option<String>,
    /// The events table (the stack's EventsTableName).
    #[arg(long, env = "EVENTS_TABLE", global = true)]
    table: Option<String>,
    /// The archive bucket (the stack's ArchiveBucketName).
    #[arg(long, env = "ARCHIVE_BUCKET", global = true)]
    bucket: Option<String>,
    /// The archive's key prefix, as the archiver was deployed with.
    #[arg(long, env = "ARCHIVE_PREFIX", default_value = DEFAULT_PREFIX, global = true)]
    prefix: String,
    /// Twilio's Video API (a local fake in tests).
    #[arg(long, env = "TWILIO_VIDEO_BASE_URL", default_value = TWILIO_VIDEO_BASE_URL, global = true)]
    twilio_base_url: String,
    /// Most Twilio reads a second (Twilio's default account limit is 80, shared with your other uses).
    #[arg(long, env = "TWILIO_READ_RATE", default_value_t = 40.0, global = true)]
    read_rate: f64,
    /// Most Twilio writes (deletes) a second (Twilio's default account limit is 20).
    #[arg(long, env = "TWILIO_WRITE_RATE", default_value_t = 10.0, global = true)]
    write_rate: f64,
    /// JSON on stdout instead of a table: one object (timeline: one object per line).
    #[arg(long, env = "OUTPUT_JSON", global = true)]
    pub(super) json: bool,
}

/// The events table, for the commands that read it (and, for replay, the media queue when one is set).
pub(super) struct EventsTable {
    pub(super) dynamodb: aws_sdk_dynamodb::Client,
    pub(super) name: String,
    pub(super) queue: Option<SqsMediaQueue>,
}

/// The AWS configuration and the resources named by the options, or else by the stack's outputs; with
/// `--stack`, also the stack's outputs and parameters as read (for `check`).
pub(super) struct Deployment {
    pub(super) sdk: aws_config::SdkConfig,
    pub(super) queue_url: Option<String>,
    pub(super) table: Option<String>,
    bucket: Option<String>,
    pub(super) stack: Option<Stack>,
}

/// A CloudFormation stack as read: its name, outputs and parameters, as (key, value).
pub(super) struct Stack {
    pub(super) name: String,
    outputs: Vec<(String, String)>,
    parameters: Vec<(String, String)>,
}

impl Stack {
    /// The output `key`, if the stack has it (and it is not empty).
    pub(super) fn output(&self, key: &str) -> Option<String> {
        find(&self.outputs, key)
    }

    /// The parameter `key`, if the stack has it (and it is not empty).
    pub(super) fn parameter(&self, key: &str) -> Option<String> {
        find(&self.parameters, key)
    }
}

fn find(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

impl Global {
    /// What the commands that read the table need; an error when no table is named.
    pub(super) async fn events_table(&self) -> Result<EventsTable, String> {
        let deployment = self.deployment().await?;
        let sdk = &deployment.sdk;
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let name = deployment
            .table
            .ok_or("EVENTS_TABLE is not set: pass --table, set EVENTS_TABLE, or use --stack")?;
        let queue = deployment
            .queue_url
            .map(|url| SqsMediaQueue::new(aws_sdk_sqs::Client::new(sdk), url));
        Ok(EventsTable {
            dynamodb,
            name,
            queue,
        })
    }

    /// What backfill, reconcile and prune need, one context per account: with a key document
    /// (`TWILIO_API_KEYS`, `TWILIO_API_KEYS_PARAMETER`), every account of it (or only `--account`), each
    /// with its own key and its own pacing (Twilio's limits are per account); with one key, one context
    /// as before. An error without any key, before anything is read.
    pub(super) async fn twilio_contexts(&self) -> Result<Vec<Context>, String> {
        let single = match (self.api_key_sid.as_ref(), self.api_key_secret.as_ref()) {
            (Some(sid), Some(secret)) => Some(ApiKey::new(sid, secret)),
            _ => None,
        };
        if single.is_none() && self.api_keys.is_none() && self.api_keys_parameter.is_none() {
            return Err(
                "set TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET (or --api-key-sid/--api-key-secret) to a \
                 Twilio API key that may read Video media, or TWILIO_API_KEYS / TWILIO_API_KEYS_PARAMETER \
                 to one key per account"
                    .into(),
            );
        }
        let deployment = self.deployment().await?;
        let sdk = &deployment.sdk;
        let accounts: Vec<(Option<String>, ApiKey)> = match single {
            Some(key) => vec![(self.account_sid.clone(), key)],
            None => self.key_document(sdk).await?,
        };
        let mut contexts = Vec::with_capacity(accounts.len());
        for (account_sid, key) in accounts {
            let twilio =
                TwilioRest::new(key, &self.twilio_base_url, self.read_rate, self.write_rate)
                    .map_err(|err| err.to_string())?;
            contexts.push(Context {
                twilio,
                queue: deployment
                    .queue_url
                    .clone()
                    .map(|url| (aws_sdk_sqs::Client::new(sdk), url)),
                bucket: deployment
                    .bucket
                    .clone()
                    .map(|bucket| (sdk::s3_client(sdk), bucket)),
                prefix: self.prefix.clone(),
                table: deployment
                    .table
                    .clone()
                    .map(|table| (aws_sdk_dynamodb::Client::new(sdk), table)),
                account_sid,
                progress: tasks::progress(),
            });
        }
        Ok(contexts)
    }

    /// The accounts of the key document (inline, or read from SSM), with their keys; only `--account`'s
    /// when it is set (an error when the document has no key for it). Errors never quote a secret.
    async fn key_document(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Vec<(Option<String>, ApiKey)>, String> {
        let (document, source) = match (&self.api_keys, &self.api_keys_parameter) {
            (Some(inline), _) => (inline.clone(), "TWILIO_API_KEYS".to_owned()),
            (None, Some(parameter)) => (
                ssm::secure_string(sdk, parameter)
                    .await
                    .map_err(|err| err.to_string())?,
                format!("the parameter {parameter}"),
            ),
            (None, None) => return Ok(Vec::new()),
        };
        let ApiKeys::ByAccount(keys) =
            ApiKeys::parse_document(&document).map_err(|err| format!("{source}: {err}"))?
        else {
            return Err(format!("{source} is not a key document"));
        };
        match &self.account_sid {
            Some(account) => match keys.get(account) {
                Some(key) => Ok(vec![(Some(account.clone()), key.clone())]),
                None => Err(format!(
                    "{source} has no key for account {account}: add one, or leave out --account"
                )),
            },
            None => Ok(keys
                .into_iter()
                .map(|(account, key)| (Some(account), key))
                .collect()),
        }
    }

    /// Twilio's REST API with the API key, when one is set (`check` runs its Twilio step only then).
    pub(super) fn twilio_rest(&self) -> Result<Option<TwilioRest>, String> {
        let (Some(sid), Some(secret)) = (self.api_key_sid.as_ref(), self.api_key_secret.as_ref())
        else {
            return Ok(None);
        };
        TwilioRest::new(
            ApiKey::new(sid, secret),
            &self.twilio_base_url,
            self.read_rate,
            self.write_rate,
        )
        .map(Some)
        .map_err(|err| err.to_string())
    }

    /// An S3 client of the AWS configuration (for `decrypt`).
    pub(super) async fn s3_client(&self) -> Result<aws_sdk_s3::Client, String> {
        Ok(sdk::s3_client(&self.deployment().await?.sdk))
    }

    /// Loads the AWS configuration (a minute per operation) and reads the stack's outputs for what the
    /// options leave unset.
    pub(super) async fn deployment(&self) -> Result<Deployment, String> {
        let sdk = sdk::sdk_loader()
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await;
        let mut queue_url = self.queue_url.clone();
        let mut table = self.table.clone();
        let mut bucket = self.bucket.clone();
        let mut read = None;
        if let Some(name) = &self.stack {
            let stack = describe_stack(&sdk, name).await?;
            queue_url = queue_url.or_else(|| stack.output("MediaQueueUrl"));
            table = table.or_else(|| stack.output("EventsTableName"));
            bucket = bucket.or_else(|| stack.output("ArchiveBucketName"));
            read = Some(stack);
        }
        Ok(Deployment {
            sdk,
            queue_url,
            table,
            bucket,
            stack: read,
        })
    }
}

/// A CloudFormation stack's outputs and parameters.
async fn describe_stack(sdk: &aws_config::SdkConfig, stack: &str) -> Result<Stack, String> {
    let described = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|err| {
            format!(
                "could not read the outputs of stack {stack}: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(err)
            )
        })?;
    let stacks = described.stacks();
    Ok(Stack {
        name: stack.to_owned(),
        outputs: stacks
            .iter()
            .flat_map(|s| s.outputs())
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
        parameters: stacks
            .iter()
            .flat_map(|s| s.parameters())
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect(),
    })
}
