"""What a reviewer would otherwise check by eye in template.yaml. Run by scripts/test.sh with .venv's Python
(cfn-lint's loader reads CloudFormation's short-form tags): python -m unittest tests/template_test.py"""
import json
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
    """Every variable a settings file reads (get("NAME") / require("NAME", ...) / whole_number("NAME", ...))."""
    source = (ROOT / path).read_text()
    found = set(re.findall(r'(?:get|require|whole_number)\(\s*"([A-Z][A-Z0-9_]+)"', source))
    # The receiver's sources of signing keys, read from one list (exactly one may be set).
    listed = re.search(r"pub const KEY_VARIABLES: \[&str; \d+\] = \[(.*?)\];", source, re.DOTALL)
    if listed:
        found |= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', listed.group(1)))
    return found


def metrics_env_vars():
    """Every variable src/metrics.rs reads itself (the Lambda runtime's own are set by Lambda)."""
    source = (ROOT / "src/metrics.rs").read_text()
    return set(re.findall(r'env::var(?:_os)?\("([A-Z][A-Z0-9_]+)"\)', source)) - {"AWS_LAMBDA_FUNCTION_NAME"}


def receiver_env_vars():
    """Every variable src/receiver/settings.rs (and the metrics) read."""
    return env_vars("src/receiver/settings.rs") | metrics_env_vars()


def archiver_env_vars():
    """Every variable src/archiver/settings.rs (and the metrics) read."""
    return env_vars("src/archiver/settings.rs") | metrics_env_vars()


def emitted_metrics():
    """The metric names src/metrics.rs emits: the constants listed in ALL, by value."""
    source = (ROOT / "src/metrics.rs").read_text()
    constants = dict(re.findall(r'pub const ([A-Z_]+): &str = "([^"]+)";', source))
    listed = re.search(r"pub const ALL: &\[&str\] = &\[(.*?)\];", source, re.DOTALL).group(1)
    return {constants[name] for name in re.findall(r"[A-Z_]+", listed)}


def emitted_outcomes():
    """Every outcome word the code can put in a metric's Outcome dimension: the arms of the outcome
    functions (`=> "word"`) and the words the spill consumer passes."""
    words = set()
    for path in ["src/receiver/handler.rs", "src/receiver/error.rs", "src/archiver/mod.rs", "src/archiver/rules.rs"]:
        words |= set(re.findall(r'=> "([a-z_]+)"', (ROOT / path).read_text()))
    spill = (ROOT / "src/receiver/spill.rs").read_text()
    words |= set(re.findall(r'spill_drain\("([a-z_]+)"\)', spill))
    return words


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
        self.assertTrue({"EVENTS_TABLE", "MEDIA_QUEUE_URL", "TWILIO_AUTH_TOKEN_PARAMETER",
                         "TWILIO_SIGNING_KEYS_PARAMETER", "TWILIO_SIGNING_KEYS_PATH"} <= read, read)
        variables = self.props["Environment"]["Variables"]
        # TWILIO_AUTH_TOKEN and TWILIO_SIGNING_KEYS are the local alternatives: a deployed secret lives in
        # SSM, never in the template.
        self.assertEqual(read - {"TWILIO_AUTH_TOKEN", "TWILIO_SIGNING_KEYS"},
                         set(variables) - set(ALLOCATOR_SETTINGS), "template and src/config.rs disagree")
        self.assertNotIn("TWILIO_SIGNING_KEYS", variables)
        # One source of keys at a time: each is set only under its condition.
        for name, condition, parameter in [
            ("TWILIO_AUTH_TOKEN_PARAMETER", "UsesAuthToken", "AuthTokenParameterName"),
            ("TWILIO_SIGNING_KEYS_PARAMETER", "HasSigningKeysParameter", "SigningKeysParameterName"),
            ("TWILIO_SIGNING_KEYS_PATH", "HasSigningKeysPath", "SigningKeysPath"),
        ]:
            self.assertEqual(variables[name], {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]})
        self.assertEqual({k: variables.get(k) for k in ALLOCATOR_SETTINGS}, ALLOCATOR_SETTINGS)
        self.assertNotIn("TWILIO_AUTH_TOKEN", variables)
        self.assertEqual(variables["EVENTS_TABLE"], {"Ref": "EventsTable"})
        self.assertEqual(variables["MEDIA_QUEUE_URL"], {"Ref": "MediaQueue"})
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
        "SigningKeysParameterName", "SigningKeysPath", "ReceiverLogGroup",
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
        self.assertEqual(by_sid["ReadSigningKeys"]["Action"], "ssm:GetParameter")
        self.assertIn("SigningKeysParameterName", refs(by_sid["ReadSigningKeys"]["Resource"]))
        # The path's account parameters only, not the path's whole subtree.
        self.assertEqual(by_sid["ReadSigningKeysByAccount"]["Action"], "ssm:GetParameter")
        self.assertTrue(by_sid["ReadSigningKeysByAccount"]["Resource"]["Fn::Sub"].endswith("${SigningKeysPath}/AC*"))
        # Each read statement only under the condition that sets its variable.
        conditions = {}
        for policy in self.role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if isinstance(statement, dict) and "Fn::If" in statement:
                    conditions[statement["Fn::If"][1].get("Sid")] = statement["Fn::If"][0]
        self.assertEqual(conditions["ReadAuthToken"], "UsesAuthToken")
        self.assertEqual(conditions["ReadSigningKeys"], "HasSigningKeysParameter")
        self.assertEqual(conditions["ReadSigningKeysByAccount"], "HasSigningKeysPath")
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
        local_only = {"TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_API_KEYS", "TWILIO_MEDIA_BASE_URL"}
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
                   "TwilioApiKeysParameterName",
                   "ArchiverLogGroup", "AWS::Partition", "AWS::Region", "AWS::AccountId"}
        for statement in statements.values():
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            self.assertTrue(all("*" not in a for a in actions), statement)
            if statement["Resource"] == "*":
                self.assertTrue(all(a.startswith("xray:") for a in actions), statement)
                continue
            self.assertLessEqual(refs(statement["Resource"]), allowed, statement)
        self.assertEqual(refs(statements["WriteArchivedMedia"]["Resource"]), {"ArchiveBucket", "ArchivePrefix"})
        # Every DynamoDB and S3 call the archiver makes is allowed, and nothing more on the table.
        called = set(re.findall(r"\.(put_item|update_item)\(\)", (ROOT / "src/archiver/record.rs").read_text()))
        self.assertEqual({f"dynamodb:{''.join(w.title() for w in c.split('_'))}" for c in called},
                         set(statements["RecordOutcomes"]["Action"]))
        upload = (ROOT / "src/archiver/upload.rs").read_text()
        needs = {"create_multipart_upload": "s3:PutObject", "upload_part": "s3:PutObject",
                 "complete_multipart_upload": "s3:PutObject", "head_object": "s3:GetObject",
                 "put_object_tagging": "s3:PutObjectTagging", "get_object_tagging": "s3:GetObjectTagging",
                 "abort_multipart_upload": "s3:AbortMultipartUpload", "list_objects_v2": "s3:ListBucket"}
        calls = set(re.findall(r"\.([a-z0-9_]+)\(\)\n\s*\.bucket\(", upload))
        self.assertLessEqual(calls, set(needs), "a new S3 call: add it to this table and to the role")
        # Every file is written once: no in-place copy, and the SHA-256 goes into a tag.
        self.assertNotIn("copy_object", upload)
        self.assertIn("put_object_tagging", calls)
        s3_actions = set(statements["WriteArchivedMedia"]["Action"]) | {statements["FindArchivedMedia"]["Action"]}
        self.assertEqual({needs[c] for c in calls}, s3_actions)

    def test_superseded_versions_of_overwritten_files_expire(self):
        rules = {r["Id"]: r for r in RESOURCES["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
                 if isinstance(r, dict) and "Id" in r}
        rule = rules["expire-superseded-versions"]
        self.assertEqual(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], {"Ref": "ArchiveNoncurrentVersionDays"})
        self.assertEqual(rule["Prefix"], {"Ref": "ArchivePrefix"})


class Dashboard(unittest.TestCase):
    dashboard = RESOURCES["Dashboard"]
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    namespace = {"Fn::Sub": "TwilioVideoCallbacks/${AWS::StackName}"}

    def body(self):
        """The body with every ${...} replaced by a placeholder, parsed."""
        return json.loads(re.sub(r"\$\{[A-Za-z0-9:.]+\}", "1", self.text))

    def test_the_body_is_json_and_reads_top_to_bottom(self):
        widgets = self.body()["widgets"]
        self.assertGreaterEqual(len(widgets), 12)
        rows = [(w["y"], w["x"]) for w in widgets]
        self.assertEqual(rows, sorted(rows), "widgets are listed in reading order")
        for widget in widgets:
            self.assertLessEqual(widget["x"] + widget["width"], 24)
        titles = " | ".join(w["properties"].get("title", "") for w in widgets)
        for topic in ["API", "Receiver", "Callbacks by event and outcome", "Spill", "Media queue",
                      "Archiver outcomes", "Bytes archived", "Dead-letter", "table"]:
            self.assertIn(topic, titles)

    def test_every_reference_is_a_declared_resource_parameter_or_variable(self):
        for ref in re.findall(r"\$\{([A-Za-z0-9:.]+)\}", self.text):
            name = ref.split(".")[0]
            if name.startswith("AWS::") or name in self.variables:
                continue
            self.assertTrue(name in RESOURCES or name in TEMPLATE["Parameters"], ref)
            if name in RESOURCES:
                self.assertNotIn("Condition", RESOURCES[name], f"{name} may not exist: refer through If")
        self.assertEqual(self.variables["Namespace"], self.namespace)
        self.assertEqual(self.variables["ArchiverFunction"]["Fn::If"][0], "WithArchiver")

    def test_widgets_name_only_metrics_the_code_emits(self):
        emitted, outcomes = emitted_metrics(), emitted_outcomes()
        custom, searched = [], []
        for widget in self.body()["widgets"]:
            for line in widget["properties"].get("metrics", []):
                head = line[0]
                if isinstance(head, dict):
                    expression = head["expression"]
                    match = re.fullmatch(r"SEARCH\('\{\"1\",([A-Za-z,]+)\} MetricName=\"([A-Za-z]+)\"', '[A-Za-z0-9]+', 300\)",
                                         expression)
                    self.assertIsNotNone(match, expression)
                    dimensions, metric = match.group(1).split(","), match.group(2)
                    self.assertIn(metric, emitted, expression)
                    self.assertIn(dimensions, [["Event", "Outcome"], ["Outcome"]], expression)
                    searched.append(metric)
                    continue
                namespace, metric, *rest = [part for part in line if not isinstance(part, dict)]
                if namespace.startswith("AWS/"):
                    continue
                self.assertEqual(namespace, "1", "custom metrics are in the stack's namespace")
                self.assertIn(metric, emitted, line)
                self.assertEqual(rest[0], "Outcome", line)
                self.assertIn(rest[1], outcomes, line)
                custom.append(metric)
        # Every metric the code emits is on the page.
        self.assertEqual(set(custom) | set(searched), emitted)

    def test_the_functions_write_to_the_namespace_the_dashboard_and_alarms_read(self):
        for function in ["CallbackReceiver", "MediaArchiver"]:
            variables = RESOURCES[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual(variables["METRICS_NAMESPACE"], self.namespace, function)
        emitted, outcomes = emitted_metrics(), emitted_outcomes()
        for name, resource in RESOURCES.items():
            if resource["Type"] != "AWS::CloudWatch::Alarm":
                continue
            props = resource["Properties"]
            stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m] or [props]
            for metric in stats:
                if metric["Namespace"] == self.namespace:
                    self.assertIn(metric["MetricName"], emitted, name)
                    for dimension in metric["Dimensions"]:
                        self.assertEqual(dimension["Name"], "Outcome", name)
                        self.assertIn(dimension["Value"], outcomes, name)

    def test_its_link_is_an_output(self):
        self.assertIn("Dashboard", TEMPLATE["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"])


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
        watched = {(r["Properties"].get("MetricName"),
                    next(iter(refs(r["Properties"].get("Dimensions", r["Properties"].get("Namespace")))), ""))
                   for r in alarms}
        self.assertEqual(watched, {
            ("ApproximateNumberOfMessagesVisible", "MediaDeadLetterQueue"),
            ("Errors", "CallbackReceiver"),
            ("Throttles", "CallbackReceiver"),
            ("5xx", "CallbackApi"),
            ("Errors", "MediaArchiver"),
            ("ApproximateAgeOfOldestMessage", "SpillQueue"),
            ("ApproximateNumberOfMessagesVisible", "SpillDeadLetterQueue"),
            ("ApproximateAgeOfOldestMessage", "MediaQueue"),
            (None, ""),
        })
        for alarm in alarms:
            self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])

    def test_the_callbacks_stopped_alarm_is_off_by_default_and_breaches_on_silence(self):
        alarm = RESOURCES["CallbacksStoppedAlarm"]
        self.assertEqual(alarm["Condition"], "HasCallbacksStoppedAlarm")
        self.assertEqual(TEMPLATE["Parameters"]["CallbacksStoppedMinutes"]["Default"], 0)
        props = alarm["Properties"]
        self.assertEqual(props["TreatMissingData"], "breaching")
        self.assertEqual(props["EvaluationPeriods"], {"Ref": "CallbacksStoppedMinutes"})
        stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
        # Every outcome of a signed callback that is kept counts as "arriving"; refusals do not.
        kept = {s["Metric"]["Dimensions"][0]["Value"] for s in stats.values()}
        self.assertEqual(kept, {"stored", "duplicate", "malformed", "spilled", "stored_unknown_event"})
        (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
        self.assertEqual(set(re.findall(r"FILL\((\w+), 0\)", expression)), set(stats))
        # A period of 60 s times the evaluation periods stays within CloudWatch's one day.
        for stat in stats.values():
            self.assertEqual(stat["Period"], 60)
        self.assertLessEqual(TEMPLATE["Parameters"]["CallbacksStoppedMinutes"]["MaxValue"] * 60, 86400)

    def test_the_archive_failures_alarm_counts_every_outcome_that_is_retried(self):
        # The failure arms of src/archiver/mod.rs's metric_outcome: every one but `gone` (recorded and
        # acknowledged) is retried by SQS, then dead-lettered, and needs someone to act.
        source = (ROOT / "src/archiver/mod.rs").read_text()
        body = source.split("fn metric_outcome", 1)[1].split("\n}\n", 1)[0]
        retried = set(re.findall(r'Err\(ArchiveError::\w+(?:\(_\)| \{ \.\. \})\) => "([a-z_]+)"', body)) - {"gone"}
        self.assertTrue({"failed", "unauthorized", "invalid_message", "no_key", "envelope_incomplete"} <= retried)
        props = RESOURCES["ArchiveFailuresAlarm"]["Properties"]
        stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
        self.assertEqual({s["Metric"]["Dimensions"][0]["Value"] for s in stats.values()}, retried)
        (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
        self.assertEqual(set(re.findall(r"FILL\((\w+), 0\)", expression)), set(stats))
        for outcome in retried:
            self.assertIn(outcome, props["AlarmDescription"])

    def test_log_filtering_never_drops_the_metrics_lines(self):
        # The metrics lines carry no "level"; Lambda files them as INFO.
        self.assertNotIn("WARN", TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"])
        self.assertNotIn("ERROR", TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"])
        for function in ["CallbackReceiver", "MediaArchiver"]:
            logging = RESOURCES[function]["Properties"]["LoggingConfig"]
            self.assertEqual(logging["ApplicationLogLevel"], {"Ref": "LogLevel"})

    def test_every_alarm_says_what_to_do(self):
        for name, resource in RESOURCES.items():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                self.assertGreater(len(resource["Properties"]["AlarmDescription"]), 40, name)

    def test_outputs_give_what_twilio_and_workers_need(self):
        outputs = TEMPLATE["Outputs"]
        for name in ["CallbackUrl", "TwilioStatusCallbackUrl", "EventsTableName", "MediaQueueUrl", "MediaQueueArn",
                     "DeadLetterQueueUrl", "SpillQueueUrl", "SpillDeadLetterQueueUrl", "DashboardUrl"]:
            self.assertIn(name, outputs)
        self.assertTrue(outputs["CallbackUrl"]["Value"]["Fn::Sub"].endswith("/twilio/video"))

    def test_parameters_for_token_retention_log_level_and_stage(self):
        for name in ["AuthTokenParameterName", "EventRetentionDays", "LogLevel", "Stage", "FifoQueue",
                     "ThrottlingBurstLimit", "ThrottlingRateLimit"]:
            self.assertIn(name, TEMPLATE["Parameters"])


if __name__ == "__main__":
    sys.exit(unittest.main())
