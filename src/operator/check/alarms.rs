//! Step 2, the stack's alarms (with `--stack` only): each alarm of the stack in `ALARM` is a `fail`, with
//! its name, CloudWatch's reason and what to do (the README's alarm list).
//!
//! The alarms' names are the stack's resources of type `AWS::CloudWatch::Alarm` (CloudFormation's
//! ListStackResources). The template does not name its alarms, so CloudFormation names each
//! `{stack}-{LogicalId}-{suffix}`; when the stack lists none (moto does not model alarm resources), the
//! alarms are found by that name: the prefix `{stack}-` and one of the template's logical IDs after it,
//! so a stack whose name extends this one's (`...-dev`) does not lend it its alarms.

use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};

use super::Row;

/// The row's step name.
pub const STEP: &str = "plumbing: alarms";

/// The template's alarms (logical IDs) and what to do when each is in `ALARM` (the README's alarm list).
pub const ALARMS: &[(&str, &str)] = &[
    (
        "CallbacksStoppedAlarm",
        "no callback stored for the configured minutes: check that new rooms get the \
         TwilioStatusCallbackUrl output as StatusCallback (the `twilio: status callback` row), the \
         API's requests on the dashboard, and refusals after a token rotation",
    ),
    (
        "SpillBacklogAlarm",
        "callbacks have waited on the spill queue over 5 minutes: the events table is failing; nothing \
         is lost yet: check DynamoDB's health and the receiver's log (the `plumbing: spill queue` row)",
    ),
    (
        "SpillDeadLetterAlarm",
        "a spilled callback gave up after 30 tries or did not verify: fix what the receiver's log says, \
         then redrive the spill dead-letter queue to the spill queue (the `plumbing: spill dead-letter \
         queue` row names the command)",
    ),
    (
        "MediaBacklogAlarm",
        "the oldest media message is older than MediaMessageMaxAgeSeconds: the archiver is failing or \
         behind; read its log and the archiver row of the dashboard",
    ),
    (
        "ArchiveFailuresAlarm",
        "3 or more failed copies in 15 minutes: the archiver's log names Twilio's answer, the S3 or \
         DynamoDB error, or the API key to check; the messages retry on their own",
    ),
    (
        "DeadLetterQueueAlarm",
        "a media message failed every retry: fix the cause, then redrive the media dead-letter queue \
         (the `plumbing: media dead-letter queue` row names the command)",
    ),
    (
        "FunctionErrorsAlarm",
        "the callback receiver crashed or timed out, or a spill batch failed: read its log",
    ),
    (
        "FunctionThrottlesAlarm",
        "the callback receiver was throttled by Lambda: raise its concurrency (or the account's)",
    ),
    (
        "ArchiverErrorsAlarm",
        "the media archiver crashed or timed out: read its log",
    ),
    (
        "Api5xxAlarm",
        "Twilio got a 5xx: the table and the spill queue failed together, or the function did; read the \
         receiver's log (store_failed / enqueue_failed, spill_error)",
    ),
];

/// An alarm in `ALARM`, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// Its name.
    pub name: String,
    /// The template's logical ID, when known.
    pub logical_id: Option<String>,
    /// CloudWatch's reason for the state.
    pub reason: String,
    /// Since when (RFC 3339), when given.
    pub since: Option<String>,
}

/// The stack's alarms: how many there are, and those in `ALARM`; or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarms {
    /// How the names were found: `listed by the stack` or `named {stack}-...`.
    pub found: String,
    /// How many alarms the stack has.
    pub total: usize,
    /// Those in `ALARM`.
    pub firing: Vec<Firing>,
}

/// The alarm's logical ID if `name` is CloudFormation's name for one of the template's alarms in `stack`.
pub fn logical_id_of(stack: &str, name: &str) -> Option<&'static str> {
    let rest = name.strip_prefix(stack)?.strip_prefix('-')?;
    ALARMS.iter().map(|(id, _)| *id).find(|id| {
        rest.strip_prefix(id)
            .is_some_and(|suffix| suffix.starts_with('-'))
    })
}

/// What to do when the alarm `logical_id` is in `ALARM`.
pub fn advice(logical_id: Option<&str>) -> &'static str {
    ALARMS
        .iter()
        .find(|(id, _)| Some(*id) == logical_id)
        .map_or(
            "read the alarm's description (the README's alarm list) and the function's log",
            |(_, advice)| advice,
        )
}

/// The rows: one `fail` per alarm in `ALARM`; else one `ok` (a `warn` when the stack has no alarm).
pub fn rows(stack: &str, alarms: &Alarms) -> Vec<Row> {
    if alarms.total == 0 {
        return vec![Row::warn(
            STEP,
            format!("stack {stack} has no alarm (looked for: {})", alarms.found),
            "nobody is told when callbacks are lost: deploy this repository's template",
        )];
    }
    if alarms.firing.is_empty() {
        return vec![Row::ok(
            STEP,
            format!(
                "none of the {} alarm(s) of stack {stack} ({}) is in ALARM",
                alarms.total, alarms.found
            ),
        )];
    }
    alarms
        .firing
        .iter()
        .map(|alarm| {
            let since = alarm
                .since
                .as_deref()
                .map(|since| format!(" since {since}"))
                .unwrap_or_default();
            Row::fail(
                STEP,
                format!("{} is in ALARM{since}: {}", alarm.name, alarm.reason),
                advice(alarm.logical_id.as_deref()),
            )
        })
        .collect()
}

/// Reads the stack's alarms and their state: the rows, or one `warn` when they cannot be read.
pub async fn check(
    cloudformation: &aws_sdk_cloudformation::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    stack: &str,
) -> Vec<Row> {
    match read(cloudformation, cloudwatch, stack).await {
        Ok(alarms) => rows(stack, &alarms),
        Err(reason) => vec![Row::warn(
            STEP,
            format!("could not read the alarms of stack {stack}: {reason}"),
            "allow cloudformation:ListStackResources and cloudwatch:DescribeAlarms, or look at the \
             stack's dashboard (its DashboardUrl output)",
        )],
    }
}

async fn read(
    cloudformation: &aws_sdk_cloudformation::Client,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    stack: &str,
) -> Result<Alarms, String> {
    let listed = listed_alarms(cloudformation, stack).await?;
    if listed.is_empty() {
        // CloudFormation's names for the template's alarms.
        let prefix = format!("{stack}-");
        let all = describe(cloudwatch, |request| request.alarm_name_prefix(&prefix)).await?;
        let ours: Vec<(&'static str, &MetricAlarm)> = all
            .iter()
            .filter_map(|alarm| Some((logical_id_of(stack, alarm.alarm_name()?)?, alarm)))
            .collect();
        let total = ours.len();
        let firing = ours
            .into_iter()
            .filter_map(|(id, alarm)| firing(alarm, Some(id.to_owned())))
            .collect();
        return Ok(Alarms {
            found: format!("named {prefix}<alarm>-..."),
            total,
            firing,
        });
    }
    let mut firing_alarms = Vec::new();
    for chunk in listed.chunks(100) {
        let names: Vec<String> = chunk.iter().map(|(_, name)| name.clone()).collect();
        let alarms = describe(cloudwatch, |request| {
            request
                .set_alarm_names(Some(names.clone()))
                .state_value(StateValue::Alarm)
        })
        .await?;
        firing_alarms.extend(alarms.iter().filter_map(|alarm| {
            let name = alarm.alarm_name()?;
            let (id, _) = chunk.iter().find(|(_, listed)| listed == name)?;
            firing(alarm, Some(id.clone()))
        }));
    }
    Ok(Alarms {
        found: "listed by the stack".into(),
        total: listed.len(),
        firing: firing_alarms,
    })
}

/// The alarm as a [`Firing`] when it is in `ALARM` (moto ignores the state filter with names).
fn firing(alarm: &MetricAlarm, logical_id: Option<String>) -> Option<Firing> {
    (alarm.state_value() == Some(&StateValue::Alarm)).then(|| Firing {
        name: alarm.alarm_name().unwrap_or_default().to_owned(),
        logical_id,
        reason: alarm
            .state_reason()
            .unwrap_or("(no reason given)")
            .to_owned(),
        since: alarm.state_updated_timestamp().and_then(|at| {
            at.fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime)
                .ok()
        }),
    })
}

/// The stack's alarm resources: (logical ID, alarm name).
async fn listed_alarms(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut alarms = Vec::new();
    let mut token = None;
    loop {
        let page = cloudformation
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| aws_sdk_cloudformation::error::DisplayErrorContext(err).to_string())?;
        alarms.extend(
            page.stack_resource_summaries()
                .iter()
                .filter(|resource| resource.resource_type() == Some("AWS::CloudWatch::Alarm"))
                .filter_map(|resource| {
                    Some((
                        resource.logical_resource_id()?.to_owned(),
                        resource.physical_resource_id()?.to_owned(),
                    ))
                }),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(alarms);
        }
    }
}

/// Every metric alarm DescribeAlarms returns for `filter`, paged.
async fn describe(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    filter: impl Fn(
        aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder,
    ) -> aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder,
) -> Result<Vec<MetricAlarm>, String> {
    let mut alarms = Vec::new();
    let mut token = None;
    loop {
        let page = filter(cloudwatch.describe_alarms())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| aws_sdk_cloudwatch::error::DisplayErrorContext(err).to_string())?;
        alarms.extend(page.metric_alarms().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(alarms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::check::Status;

    #[test]
    fn cloudformation_names_are_matched_to_the_stack_and_not_to_a_longer_one() {
        let stack = "twilio-video-callbacks";
        assert_eq!(
            logical_id_of(stack, "twilio-video-callbacks-SpillBacklogAlarm-1A2B3C"),
            Some("SpillBacklogAlarm")
        );
        assert_eq!(
            logical_id_of(stack, "twilio-video-callbacks-dev-SpillBacklogAlarm-1A2B3C"),
            None
        );
        assert_eq!(
            logical_id_of(stack, "twilio-video-callbacks-SomethingElse-1"),
            None
        );
        assert_eq!(
            logical_id_of(stack, "twilio-video-callbacks-SpillBacklogAlarmX-1"),
            None
        );
    }

    #[test]
    fn an_alarm_in_alarm_fails_with_its_reason_and_what_to_do_and_none_is_ok() {
        let mut alarms = Alarms {
            found: "listed by the stack".into(),
            total: 3,
            firing: Vec::new(),
        };
        let ok = rows("s", &alarms);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].status, Status::Ok);
        alarms.firing.push(Firing {
            name: "s-DeadLetterQueueAlarm-X".into(),
            logical_id: Some("DeadLetterQueueAlarm".into()),
            reason: "Threshold Crossed".into(),
            since: Some("2026-01-01T00:00:00Z".into()),
        });
        let failed = rows("s", &alarms);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].status, Status::Fail);
        assert!(failed[0]
            .detail
            .contains("s-DeadLetterQueueAlarm-X is in ALARM since"));
        assert!(failed[0].detail.contains("Threshold Crossed"));
        assert!(failed[0]
            .next
            .as_deref()
            .unwrap_or_default()
            .contains("redrive"));
        alarms.total = 0;
        alarms.firing.clear();
        assert_eq!(rows("s", &alarms)[0].status, Status::Warn);
        assert!(ALARMS
            .iter()
            .all(|(id, _)| advice(Some(id)) != advice(None)));
    }

    #[test]
    fn every_alarm_of_the_template_has_its_advice() {
        let template = include_str!("../../../template.yaml");
        let lines: Vec<&str> = template.lines().collect();
        let in_template: Vec<&str> = lines
            .windows(2)
            .filter(|pair| pair[1].trim() == "Type: AWS::CloudWatch::Alarm")
            .map(|pair| pair[0].trim().trim_end_matches(':'))
            .collect();
        assert_eq!(in_template.len(), ALARMS.len(), "{in_template:?}");
        for id in in_template {
            assert!(ALARMS.iter().any(|(known, _)| *known == id), "{id}");
        }
    }
}
