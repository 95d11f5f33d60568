//! Step 2, the plumbing: the events table and its rooms-by-day index exist and are active; the media and
//! spill queues exist; a dead-letter queue holding messages is a `fail` naming the redrive; so is a spill
//! queue whose oldest message is older than the spill alarm's threshold. That age only CloudWatch knows
//! (AWS/SQS `ApproximateAgeOfOldestMessage`): peeking with ReceiveMessage would count toward the redrive
//! limit. The stack's alarms are in [`super::alarms`].

use aws_sdk_sqs::types::QueueAttributeName;

use super::Row;
use crate::receiver::item::ROOMS_INDEX;

/// The age (seconds) past which a spilled callback is stuck rather than draining: the template's
/// `SpillBacklogAlarm` threshold (5 minutes).
pub const SPILL_AGE_LIMIT_SECONDS: f64 = 300.0;

/// How far back the spill queue's age is read (SQS publishes it every minute to CloudWatch).
const SPILL_AGE_WINDOW_SECONDS: i64 = 15 * 60;

/// The age of the spill queue's oldest message, as CloudWatch last saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Age {
    /// Its latest datapoint (the maximum over a minute), in seconds.
    Seconds(f64),
    /// Not known, and why (no datapoints: a fresh queue, or no CloudWatch; or the read failed).
    Unknown(String),
}

/// A queue to look at, with what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// What it is: `media queue`, `spill queue`, `media dead-letter queue`, `spill dead-letter queue`.
    pub role: Role,
    /// Its URL.
    pub url: String,
}

/// What a queue is for, which decides what its messages mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// recording-completed and composition-available messages for the archiver and workers.
    Media,
    /// Verified callbacks waiting for the table.
    Spill,
    /// Media messages that failed 5 receives.
    MediaDeadLetter,
    /// Spilled callbacks that could not be stored after 30 receives.
    SpillDeadLetter,
}

impl Role {
    /// The row's step name.
    pub fn step(self) -> &'static str {
        match self {
            Role::Media => "plumbing: media queue",
            Role::Spill => "plumbing: spill queue",
            Role::MediaDeadLetter => "plumbing: media dead-letter queue",
            Role::SpillDeadLetter => "plumbing: spill dead-letter queue",
        }
    }
}

/// The table's row: it exists and is active, and so is its rooms-by-day index.
pub async fn table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Row {
    const STEP: &str = "plumbing: table";
    let described = match dynamodb.describe_table().table_name(table).send().await {
        Ok(described) => described,
        Err(err) => return Row::fail(
            STEP,
            format!(
                "cannot describe table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(err)
            ),
            "check the name (EVENTS_TABLE, --table or --stack), the region and your credentials",
        ),
    };
    let Some(description) = described.table() else {
        return Row::fail(STEP, format!("table {table} has no description"), "retry");
    };
    let status = description
        .table_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let index = description
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some(ROOMS_INDEX));
    let index_status = index.and_then(|index| index.index_status().map(|s| s.as_str().to_owned()));
    table_row(table, &status, index.is_some(), index_status.as_deref())
}

/// The table's row from what DescribeTable said (`index_status` may be absent: moto leaves it out).
pub fn table_row(table: &str, status: &str, has_index: bool, index_status: Option<&str>) -> Row {
    const STEP: &str = "plumbing: table";
    if !has_index {
        return Row::fail(
            STEP,
            format!("table {table} has no index {ROOMS_INDEX}"),
            "deploy the current template (it adds the index), then run `index-rooms` once",
        );
    }
    match (status, index_status.unwrap_or("ACTIVE")) {
        ("ACTIVE", "ACTIVE") => Row::ok(
            STEP,
            format!("table {table} and its index {ROOMS_INDEX} are active"),
        ),
        (table_status, index_status) => Row::warn(
            STEP,
            format!("table {table} is {table_status}, its index {ROOMS_INDEX} {index_status}"),
            "wait for the deploy to finish (an index being built is backfilling), then check again",
        ),
    }
}

/// One row per queue: it exists; what its messages mean (for a spill queue holding messages, with the
/// age of its oldest from `cloudwatch`).
pub async fn queues(
    sqs: &aws_sdk_sqs::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    queues: &[Queue],
) -> Vec<Row> {
    let mut rows = Vec::with_capacity(queues.len());
    for queue in queues {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await;
        rows.push(match attributes {
            Ok(out) => {
                let get = |name: QueueAttributeName| {
                    out.attributes()
                        .and_then(|attributes| attributes.get(&name))
                        .cloned()
                        .unwrap_or_default()
                };
                let count = |name| get(name).parse::<u64>().unwrap_or(0);
                let waiting = count(QueueAttributeName::ApproximateNumberOfMessages);
                let in_flight = count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
                let arn = get(QueueAttributeName::QueueArn);
                if queue.role == Role::Spill && waiting + in_flight > 0 {
                    let age = oldest_age(cloudwatch, queue_name(&queue.url)).await;
                    spill_row(queue, waiting, in_flight, &arn, &age)
                } else {
                    queue_row(queue, waiting, in_flight, &arn)
                }
            }
            Err(err) => Row::fail(
                queue.role.step(),
                format!(
                    "cannot read queue {}: {}",
                    queue.url,
                    aws_sdk_sqs::error::DisplayErrorContext(err)
                ),
                "check the URL (the stack's outputs, or the variable naming it) and your credentials",
            ),
        });
    }
    rows
}

/// A queue's row from its message counts: a dead-letter queue holding messages fails, naming the redrive.
pub fn queue_row(queue: &Queue, waiting: u64, in_flight: u64, arn: &str) -> Row {
    let step = queue.role.step();
    let url = &queue.url;
    let counts = format!("{waiting} waiting, {in_flight} in flight");
    let redrive = format!(
        "then move them back: aws sqs start-message-move-task --source-arn {}",
        if arn.is_empty() { "<its ARN>" } else { arn }
    );
    match queue.role {
        Role::Media => Row::ok(step, format!("{url} exists ({counts})")),
        Role::Spill if waiting + in_flight == 0 => Row::ok(step, format!("{url} exists, empty")),
        Role::Spill => spill_row(
            queue,
            waiting,
            in_flight,
            arn,
            &Age::Unknown("not read".into()),
        ),
        Role::MediaDeadLetter | Role::SpillDeadLetter if waiting + in_flight == 0 => {
            Row::ok(step, format!("{url} is empty"))
        }
        Role::MediaDeadLetter => Row::fail(
            step,
            format!(
                "{url} holds {} media message(s) no worker could handle",
                waiting + in_flight
            ),
            format!("fix what the archiver's log says, {redrive} (to the media queue)"),
        ),
        Role::SpillDeadLetter => Row::fail(
            step,
            format!(
                "{url} holds {} callback(s) that could not be stored (or did not verify)",
                waiting + in_flight
            ),
            format!("fix what the receiver's log says, {redrive} (to the spill queue)"),
        ),
    }
}

/// A spill queue holding messages: a `fail` naming the redrive when its oldest is older than
/// [`SPILL_AGE_LIMIT_SECONDS`], a `warn` (draining) when younger or when the age is unknown.
pub fn spill_row(queue: &Queue, waiting: u64, in_flight: u64, arn: &str, age: &Age) -> Row {
    let step = queue.role.step();
    let url = &queue.url;
    let counts = format!("{waiting} waiting, {in_flight} in flight");
    match age {
        Age::Seconds(seconds) if *seconds > SPILL_AGE_LIMIT_SECONDS => Row::fail(
            step,
            format!(
                "{url}: {counts}; the oldest has waited {seconds:.0} s (over {SPILL_AGE_LIMIT_SECONDS:.0} s): \
                 the events table is not taking the spilled callbacks"
            ),
            format!(
                "the spill consumer (the receiver's SpillDrain event source) retries each message every \
                 60 s and after 30 receives moves it to the spill dead-letter queue: fix the table \
                 (DynamoDB's health; the receiver's log: \"spilled callback not stored yet\"), check that \
                 the SpillDrain event source mapping is enabled, then redrive what reached the spill \
                 dead-letter queue: aws sqs start-message-move-task --source-arn <its ARN, the \
                 `plumbing: spill dead-letter queue` row> --destination-arn {}",
                if arn.is_empty() { "<the spill queue's ARN>" } else { arn }
            ),
        ),
        Age::Seconds(seconds) => Row::warn(
            step,
            format!(
                "{url}: {counts}; the oldest has waited {seconds:.0} s: callbacks the table could not \
                 take yet, draining"
            ),
            "the spill consumer stores them when the table answers; run check again in a few minutes \
             (over 5 minutes, the table is failing: the receiver's log)",
        ),
        Age::Unknown(why) => Row::warn(
            step,
            format!(
                "{url}: {counts}: callbacks the table could not take yet; the age of the oldest is \
                 unknown ({why})"
            ),
            "the spill consumer stores them when the table answers; if they stay, look at the \
             receiver's log (their age is on the stack's dashboard)",
        ),
    }
}

/// The queue's name: the last segment of its URL (CloudWatch's `QueueName` dimension).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The latest `ApproximateAgeOfOldestMessage` (maximum per minute) of `queue` over the last 15 minutes.
pub async fn oldest_age(cloudwatch: &aws_sdk_cloudwatch::Client, queue: &str) -> Age {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let read = cloudwatch
        .get_metric_statistics()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
        .start_time(DateTime::from_secs(now - SPILL_AGE_WINDOW_SECONDS))
        .end_time(DateTime::from_secs(now + 60))
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await;
    match read {
        Ok(out) => out
            .datapoints()
            .iter()
            .filter_map(|point| Some((point.timestamp()?.secs(), point.maximum()?)))
            .max_by_key(|(at, _)| *at)
            .map_or_else(
                || {
                    Age::Unknown(
                        "CloudWatch has no ApproximateAgeOfOldestMessage for it in the last 15 minutes"
                            .into(),
                    )
                },
                |(_, seconds)| Age::Seconds(seconds),
            ),
        Err(err) => Age::Unknown(format!(
            "CloudWatch: {}",
            aws_sdk_cloudwatch::error::DisplayErrorContext(err)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::check::Status;

    fn queue(role: Role) -> Queue {
        Queue {
            role,
            url: "https://sqs/q".into(),
        }
    }

    #[test]
    fn a_dead_letter_queue_with_messages_fails_and_names_the_redrive() {
        let row = queue_row(&queue(Role::MediaDeadLetter), 2, 1, "arn:aws:sqs:r:1:dlq");
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("3 media message"), "{}", row.detail);
        let next = row.next.unwrap_or_default();
        assert!(next.contains("start-message-move-task --source-arn arn:aws:sqs:r:1:dlq"));
        assert_eq!(
            queue_row(&queue(Role::SpillDeadLetter), 0, 0, "").status,
            Status::Ok
        );
        assert_eq!(
            queue_row(&queue(Role::SpillDeadLetter), 1, 0, "").status,
            Status::Fail
        );
    }

    #[test]
    fn a_busy_media_queue_is_fine_and_a_spill_queue_with_messages_is_a_warning() {
        assert_eq!(
            queue_row(&queue(Role::Media), 100, 5, "").status,
            Status::Ok
        );
        assert_eq!(queue_row(&queue(Role::Spill), 0, 0, "").status, Status::Ok);
        assert_eq!(
            queue_row(&queue(Role::Spill), 1, 0, "").status,
            Status::Warn
        );
    }

    #[test]
    fn a_spill_queue_with_an_old_message_fails_naming_the_redrive_and_a_young_one_warns() {
        let spill = queue(Role::Spill);
        let old = spill_row(&spill, 1, 0, "arn:aws:sqs:r:1:spill", &Age::Seconds(301.0));
        assert_eq!(old.status, Status::Fail);
        assert!(old.detail.contains("301 s"), "{}", old.detail);
        let next = old.next.unwrap_or_default();
        assert!(
            next.contains("start-message-move-task") && next.contains("arn:aws:sqs:r:1:spill"),
            "{next}"
        );
        let young = spill_row(&spill, 1, 0, "", &Age::Seconds(300.0));
        assert_eq!(young.status, Status::Warn);
        assert!(young.detail.contains("draining"), "{}", young.detail);
        let unknown = spill_row(&spill, 1, 0, "", &Age::Unknown("no datapoints".into()));
        assert_eq!(unknown.status, Status::Warn);
        assert!(unknown.detail.contains("unknown (no datapoints)"));
        assert_eq!(
            queue_name("https://sqs.eu-west-1.amazonaws.com/123456789012/stack-SpillQueue-AB"),
            "stack-SpillQueue-AB"
        );
    }

    #[test]
    fn a_table_without_its_index_fails_and_one_being_built_warns() {
        assert_eq!(table_row("t", "ACTIVE", true, None).status, Status::Ok);
        assert_eq!(
            table_row("t", "ACTIVE", true, Some("ACTIVE")).status,
            Status::Ok
        );
        assert_eq!(
            table_row("t", "ACTIVE", true, Some("CREATING")).status,
            Status::Warn
        );
        let missing = table_row("t", "ACTIVE", false, None);
        assert_eq!(missing.status, Status::Fail);
        assert!(missing.next.unwrap_or_default().contains("index-rooms"));
    }
}
