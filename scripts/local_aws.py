#!/usr/bin/env python3
"""Local AWS helpers for scripts/run-local.sh, against moto at $AWS_ENDPOINT_URL (boto3 comes with moto).

    local_aws.py create TABLE QUEUE   # make the events table and the media queue; prints the queue URL
    local_aws.py show TABLE QUEUE     # print every stored room timeline and the messages on the queue
"""
import json
import os
import sys

import boto3


def clients():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    return (boto3.client("dynamodb", endpoint_url=endpoint), boto3.client("sqs", endpoint_url=endpoint))


def create(table, queue):
    dynamodb, sqs = clients()
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                              for name in ("pk", "sk", "room_day", "room_key")],
        # The sparse rooms index, as template.yaml makes it (docs/storage.md).
        GlobalSecondaryIndexes=[{
            "IndexName": "rooms-by-day",
            "KeySchema": [{"AttributeName": "room_day", "KeyType": "HASH"},
                          {"AttributeName": "room_key", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    )
    return sqs.create_queue(QueueName=queue)["QueueUrl"]


def plain(value):
    """A DynamoDB attribute value as plain Python."""
    (kind, inner), = value.items()
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    return inner


def show(table, queue):
    dynamodb, sqs = clients()
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend({k: plain(v) for k, v in item.items()} for item in page["Items"])
    rooms = sorted({item["pk"] for item in items})
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   VisibilityTimeout=0).get("Messages", [])
    queued_keys = {json.loads(message["Body"]).get("idempotency_key") for message in messages}
    print(f"\nStored in DynamoDB table {table}: {len(items)} items in {len(rooms)} timeline(s)")
    for room in rooms:
        # One Query per room: the timeline in time order, exactly as an operator would read it.
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": room}})
        timeline = [{k: plain(v) for k, v in item.items()} for page in pages for item in page["Items"]]
        print(f"\n  pk = {room}")
        for item in timeline:
            detail = ", ".join(f"{k}={item[k]}" for k in (
                "participant_identity", "track_kind", "track_sid", "recording_sid", "composition_sid",
                "room_status", "room_duration", "participant_duration", "percentage_done", "size",
                "failed_operation", "error_message") if k in item)
            mark = " [message on the queue]" if item["idempotency_key"] in queued_keys else ""
            if "parse_error" in item:
                mark += f" [kept, breaks the spec: {item['parse_error']}]"
            print(f"    {item['timestamp']}  {item['event']:<26} {detail}{mark}")
        print(f"    ({len(timeline)} events; each item keeps all {sum(len(i['params']) for i in timeline)}"
              " parameters as received under 'params')")
    print(f"\nOn SQS queue {queue}: {len(messages)} message(s)")
    for message in messages:
        attribute = message.get("MessageAttributes", {}).get("event", {}).get("StringValue")
        print(f"\n  attribute event={attribute}")
        print("  " + json.dumps(json.loads(message["Body"]), indent=2).replace("\n", "\n  "))


if __name__ == "__main__":
    command, table, queue = sys.argv[1:4]
    if command == "create":
        print(create(table, queue))
    else:
        show(table, queue)
