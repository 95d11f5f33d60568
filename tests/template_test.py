"""What a reviewer would otherwise check by eye in template.yaml. Run by scripts/test.sh with .venv's Python
(cfn-lint's loader reads CloudFormation's short-form tags): python -m unittest tests/template_test.py"""
import re
import sys
import unittest
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]


def refs(node):
    """Logical ids and parameters a template node refers to (Ref, GetAtt, ${...} in Sub)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(str(value))
            elif key == "Fn::GetAtt":
                found.add(str(value[0] if isinstance(value, list) else value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(re.findall(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}", str(text)))
                found.update(refs(value[1]) if isinstance(value, list) else set())
            else:
                found.update(refs(value))
    elif isinstance(node, list):
        for item in node:
            found.update(refs(item))
    return found


def env_vars(path):
    """Every variable a settings file reads (get("NAME") / require("NAME", ...))."""
    source = (ROOT / path).read_text()
    return set(re.findall(r'(?:get|require)\(\s*"([A-Z][A-Z0-9_]+)"', source))


def receiver_env_vars():
    """Every variable src/receiver/settings.rs reads."""
    return env_vars("src/receiver/settings.rs")


def archiver_env_vars():
    """Every variable src/archiver/settings.rs reads."""
    return env_vars("src/archiver/settings.rs")


# Read by the allocator (mimalloc, in both binaries), not by our code.
ALLOCATOR_SETTINGS = {"MIMALLOC_ARENA_EAGER_COMMIT": "0"}


def policy_statements(role):
    statements = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                statements.extend(s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
            else:
                statements.append(statement)
    return statements


class ReceiverFunction(unittest.TestCase):
    function = RESOURCES["CallbackReceiver"]
    props = function["Properties"]

    def test_runtime_architecture_and_handler(self):
        self.assertEqual(self.function["Type"], "AWS::Serverless::Function")
        self.assertEqual(self.props["Runtime"], "provided.al2023")
        self.assertEqual(self.props["Architectures"], ["arm64"])
        self.assertEqual(self.props["Handler"], "bootstrap")

    def test_build_method_names_a_binary_of_the_crate(self):
        metadata = self.function["Metadata"]
        self.assertEqual(metadata["BuildMethod"], "rust-cargolambda")
        binary = metadata["BuildProperties"]["Binary"]
        self.assertEqual(binary, "callback-receiver")
        self.assertIn(f'name = "{binary}"', (ROOT / "Cargo.toml").read_text())

    def test_timeout_is_below_twilios_15_second_read_timeout(self):
        self.assertLess(self.props["Timeout"], 15)

    def test_logs_are_json_in_a_group_with_retention(self):
        logging = self.props["LoggingConfig"]
        self.assertEqual(logging["LogFormat"], "JSON")
        group = RESOURCES[logging["LogGroup"]["Ref"]]
        self.assertIn("RetentionInDays", group["Properties"])

    def test_every_variable_the_receiver_reads_is_set_except_the_inline_token(self):
        read = receiver_env_vars()
        self.assertTrue({"EVENTS_TABLE", "MEDIA_QUEUE_URL", "TWILIO_AUTH_TOKEN_PARAMETER"} <= read, read)
        variables = self.props["Environment"]["Variables"]
        # TWILIO_AUTH_TOKEN is the local alternative: a deployed secret lives in SSM, never in the template.
        self.assertEqual(read - {"TWILIO_AUTH_TOKEN"}, set(variables) - set(ALLOCATOR_SETTINGS),
                         "template and src/config.rs disagree")
        self.assertEqual({k: variables.get(k) for k in ALLOCATOR_SETTINGS}, ALLOCATOR_SETTINGS)
        self.assertNotIn("TWILIO_AUTH_TOKEN", variables)
        self.assertEqual(variables["EVENTS_TABLE"], {"Ref": "EventsTable"})
        self.assertEqual(variables["MEDIA_QUEUE_URL"], {"Ref": "MediaQueue"})
        self.assertEqual(variables["TWILIO_AUTH_TOKEN_PARAMETER"], {"Ref": "AuthTokenParameterName"})
        self.assertEqual(variables["SPILL_QUEUE_URL"], {"Ref": "SpillQueue"})

    def test_one_post_route_with_payload_2_0(self):
        event = self.props["Events"]["TwilioCallback"]
        self.assertEqual(event["Type"], "HttpApi")
        self.assertEqual(event["Properties"]["Method"], "POST")
        self.assertEqual(event["Properties"]["PayloadFormatVersion"], "2.0")
        self.assertEqual(event["Properties"]["ApiId"], {"Ref": "CallbackApi"})


    def test_consumes_the_spill_queue_with_partial_batch_failures_and_a_concurrency_cap(self):
        self.assertEqual(set(self.props["Events"]), {"TwilioCallback", "SpillDrain"})
        drain = self.props["Events"]["SpillDrain"]
        self.assertEqual(drain["Type"], "SQS")
        self.assertEqual(drain["Properties"]["Queue"], {"Fn::GetAtt": ["SpillQueue", "Arn"]})
        self.assertEqual(drain["Properties"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertLessEqual(drain["Properties"]["ScalingConfig"]["MaximumConcurrency"], 5)

    def test_the_spill_queue_has_a_dead_letter_queue_and_alarms(self):
        spill = RESOURCES["SpillQueue"]["Properties"]
        self.assertGreaterEqual(spill["VisibilityTimeout"], 6 * self.props["Timeout"])
        self.assertEqual(spill["RedrivePolicy"]["deadLetterTargetArn"],
                         {"Fn::GetAtt": ["SpillDeadLetterQueue", "Arn"]})
        watched = {
            alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
            for alarm in RESOURCES.values()
            if alarm["Type"] == "AWS::CloudWatch::Alarm"
            and alarm["Properties"].get("Namespace") == "AWS/SQS"
        }
        self.assertLessEqual({"SpillQueue", "SpillDeadLetterQueue"}, watched)

    def test_the_url_to_paste_makes_twilio_retry_5xx_and_timeouts_within_its_limits(self):
        url = TEMPLATE["Outputs"]["TwilioStatusCallbackUrl"]["Value"]["Fn::Sub"]
        signed, fragment = url.split("#")
        self.assertEqual(signed, TEMPLATE["Outputs"]["CallbackUrl"]["Value"]["Fn::Sub"])
        overrides = dict(pair.split("=") for pair in fragment.split("&"))
        # Twilio's "Webhooks connection overrides" page: ct 100-10000, rt 100-15000, tt 100-15000,
        # rc 0-5, rp one of 4xx, 5xx, ct, rt, all.
        self.assertTrue(100 <= int(overrides["ct"]) <= 10000)
        self.assertTrue(100 <= int(overrides["rt"]) <= 15000)
        self.assertTrue(100 <= int(overrides["tt"]) <= 15000)
        self.assertTrue(1 <= int(overrides["rc"]) <= 5)
        self.assertIn(overrides["rp"], {"5xx", "all"})
        self.assertGreater(int(overrides["rt"]), RESOURCES["CallbackReceiver"]["Properties"]["Timeout"] * 500,
                           "Twilio waits longer than a slow answer takes")


class LeastPrivilege(unittest.TestCase):
    role = RESOURCES["CallbackReceiverRole"]
    allowed = {
        "EventsTable", "MediaQueue", "SpillQueue", "AuthTokenParameterName", "AuthTokenKmsKeyArn",
        "ReceiverLogGroup",
        "AWS::Partition", "AWS::Region", "AWS::AccountId",
    }

    def test_statements_name_only_the_table_the_queue_the_parameter_and_the_log_group(self):
        statements = policy_statements(self.role)
        self.assertGreaterEqual(len(statements), 5)
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            self.assertTrue(all("*" not in action for action in actions), f"wildcard action in {statement}")
            if statement["Resource"] == "*":
                # Only X-Ray, which has no resource-level permissions.
                self.assertTrue(all(a.startswith("xray:") for a in actions), statement)
                continue
            self.assertTrue(refs(statement["Resource"]), f"resource names nothing: {statement}")
            self.assertLessEqual(refs(statement["Resource"]), self.allowed, statement)

    def test_each_capability_is_granted_on_its_own_resource(self):
        by_sid = {s["Sid"]: s for s in policy_statements(self.role)}
        self.assertEqual(refs(by_sid["StoreCallbacks"]["Resource"]), {"EventsTable"})
        self.assertNotIn("dynamodb:DeleteItem", by_sid["StoreCallbacks"]["Action"])
        self.assertEqual(by_sid["EnqueueMediaEvents"]["Action"], ["sqs:SendMessage", "sqs:GetQueueAttributes"])
        self.assertEqual(refs(by_sid["EnqueueMediaEvents"]["Resource"]), {"MediaQueue"})
        self.assertEqual(by_sid["ReadAuthToken"]["Action"], "ssm:GetParameter")
        self.assertIn("AuthTokenParameterName", refs(by_sid["ReadAuthToken"]["Resource"]))
        self.assertEqual(by_sid["DecryptAuthToken"]["Action"], "kms:Decrypt")


class MediaArchiver(unittest.TestCase):
    function = RESOURCES["MediaArchiver"]
    props = function["Properties"]

    def test_is_an_arm64_rust_function_of_this_crate_that_can_be_left_out(self):
        self.assertEqual(self.function["Condition"], "WithArchiver")
        self.assertEqual(self.props["Runtime"], "provided.al2023")
        self.assertEqual(self.props["Architectures"], ["arm64"])
        self.assertEqual(self.function["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(self.function["Metadata"]["BuildProperties"]["Binary"], "media-archiver")
        self.assertIn('name = "media-archiver"', (ROOT / "Cargo.toml").read_text())
        for name in ["ArchiveBucket", "ArchiveBucketPolicy", "ArchiverLogGroup", "MediaArchiverRole", "ArchiverErrorsAlarm"]:
            self.assertEqual(RESOURCES[name].get("Condition"), "WithArchiver", name)

    def test_consumes_the_queue_with_partial_batch_responses_and_a_small_batch(self):
        (event,) = self.props["Events"].values()
        self.assertEqual(event["Type"], "SQS")
        self.assertEqual(event["Properties"]["Queue"], {"Fn::GetAtt": ["MediaQueue", "Arn"]})
        self.assertEqual(event["Properties"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertLessEqual(event["Properties"]["BatchSize"], 5)

    def test_queue_visibility_is_at_least_six_times_the_timeout(self):
        visibility = RESOURCES["MediaQueue"]["Properties"]["VisibilityTimeout"]
        self.assertGreaterEqual(visibility, 6 * self.props["Timeout"])

    def test_every_variable_the_archiver_reads_is_set_except_the_inline_key_and_local_base_url(self):
        read = archiver_env_vars()
        variables = self.props["Environment"]["Variables"]
        local_only = {"TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_MEDIA_BASE_URL"}
        self.assertEqual(read - local_only, set(variables) - set(ALLOCATOR_SETTINGS))
        self.assertEqual({k: variables.get(k) for k in ALLOCATOR_SETTINGS}, ALLOCATOR_SETTINGS)
        self.assertFalse(local_only & set(variables), "no API key secret in the template")

    def test_bucket_is_private_encrypted_versioned_and_kept(self):
        bucket = RESOURCES["ArchiveBucket"]
        props = bucket["Properties"]
        self.assertEqual(bucket["DeletionPolicy"], "Retain")
        self.assertTrue(all(props["PublicAccessBlockConfiguration"].values()))
        self.assertEqual(props["VersioningConfiguration"]["Status"], "Enabled")
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        self.assertEqual(rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        self.assertIn("ArchiveTransitionDays", TEMPLATE["Parameters"])

    def test_least_privilege(self):
        statements = {s["Sid"]: s for s in policy_statements(RESOURCES["MediaArchiverRole"])}
        allowed = {"ArchiveBucket", "ArchivePrefix", "EventsTable", "MediaQueue", "TwilioApiKeyParameterName",
                   "ArchiverLogGroup", "AWS::Partition", "AWS::Region", "AWS::AccountId"}
        for statement in statements.values():
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            self.assertTrue(all("*" not in a for a in actions), statement)
            if statement["Resource"] == "*":
                self.assertTrue(all(a.startswith("xray:") for a in actions), statement)
                continue
            self.assertLessEqual(refs(statement["Resource"]), allowed, statement)
        self.assertEqual(refs(statements["WriteArchivedMedia"]["Resource"]), {"ArchiveBucket", "ArchivePrefix"})
        self.assertEqual(statements["RecordOutcomes"]["Action"], "dynamodb:PutItem")
        self.assertIn("s3:AbortMultipartUpload", statements["WriteArchivedMedia"]["Action"])


class Storage(unittest.TestCase):
    def test_table_keeps_the_record(self):
        table = RESOURCES["EventsTable"]
        props = table["Properties"]
        self.assertEqual(table["DeletionPolicy"], "Retain")
        self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual({k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}, {"pk": "HASH", "sk": "RANGE"})
        self.assertEqual({a["AttributeType"] for a in props["AttributeDefinitions"]}, {"S"})
        self.assertEqual(props["TimeToLiveSpecification"], {"AttributeName": "expires_at", "Enabled": True})
        self.assertTrue(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
        self.assertTrue(props["SSESpecification"]["SSEEnabled"])
        self.assertEqual(props["DeletionProtectionEnabled"], {"Fn::If": ["IsProd", True, False]})

    def test_rooms_index_is_sparse_keys_only_and_named_as_the_code_reads_it(self):
        props = RESOURCES["EventsTable"]["Properties"]
        (index,) = props["GlobalSecondaryIndexes"]
        item_rs = (ROOT / "src/receiver/item.rs").read_text()
        constant = lambda name: re.search(rf'pub const {name}: &str = "([^"]+)";', item_rs).group(1)
        self.assertEqual(index["IndexName"], constant("ROOMS_INDEX"))
        self.assertEqual({k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]},
                         {constant("ROOM_DAY"): "HASH", constant("ROOM_KEY"): "RANGE"})
        self.assertEqual(index["Projection"], {"ProjectionType": "KEYS_ONLY"})
        defined = {a["AttributeName"] for a in props["AttributeDefinitions"]}
        self.assertEqual(defined, {"pk", "sk", constant("ROOM_DAY"), constant("ROOM_KEY")})
        # The local set-up makes the same index.
        local = (ROOT / "scripts/local_aws.py").read_text()
        self.assertIn(f'"IndexName": "{constant("ROOMS_INDEX")}"', local)

    def test_queue_has_an_encrypted_dead_letter_queue_after_at_least_five_receives(self):
        queue = RESOURCES["MediaQueue"]["Properties"]
        self.assertGreaterEqual(queue["RedrivePolicy"]["maxReceiveCount"], 5)
        self.assertEqual(refs(queue["RedrivePolicy"]["deadLetterTargetArn"]), {"MediaDeadLetterQueue"})
        self.assertTrue(queue["SqsManagedSseEnabled"])
        self.assertTrue(RESOURCES["MediaDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"])


class Operations(unittest.TestCase):
    def test_alarms_cover_dead_letters_errors_throttles_and_5xx(self):
        alarms = [r for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
        watched = {(r["Properties"]["MetricName"], next(iter(refs(r["Properties"]["Dimensions"])), "")) for r in alarms}
        self.assertEqual(watched, {
            ("ApproximateNumberOfMessagesVisible", "MediaDeadLetterQueue"),
            ("Errors", "CallbackReceiver"),
            ("Throttles", "CallbackReceiver"),
            ("5xx", "CallbackApi"),
            ("Errors", "MediaArchiver"),
            ("ApproximateAgeOfOldestMessage", "SpillQueue"),
            ("ApproximateNumberOfMessagesVisible", "SpillDeadLetterQueue"),
        })
        for alarm in alarms:
            self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])

    def test_outputs_give_what_twilio_and_workers_need(self):
        outputs = TEMPLATE["Outputs"]
        for name in ["CallbackUrl", "TwilioStatusCallbackUrl", "EventsTableName", "MediaQueueUrl", "MediaQueueArn",
                     "DeadLetterQueueUrl", "SpillQueueUrl", "SpillDeadLetterQueueUrl"]:
            self.assertIn(name, outputs)
        self.assertTrue(outputs["CallbackUrl"]["Value"]["Fn::Sub"].endswith("/twilio/video"))

    def test_parameters_for_token_retention_log_level_and_stage(self):
        for name in ["AuthTokenParameterName", "EventRetentionDays", "LogLevel", "Stage", "FifoQueue",
                     "ThrottlingBurstLimit", "ThrottlingRateLimit"]:
            self.assertIn(name, TEMPLATE["Parameters"])


if __name__ == "__main__":
    sys.exit(unittest.main())
