#!/usr/bin/env python3
"""The archiver's half of scripts/run-local.sh, against moto at $AWS_ENDPOINT_URL.

    local_archive.py event QUEUE BUCKET FILE   # creates BUCKET; takes the media queue's messages into an SQS
                                               # event in FILE, as the event source mapping would deliver
                                               # them; prints SID=SIZE:CONTENT_TYPE for each, the files the
                                               # local Twilio stand-in must serve
    local_archive.py ack QUEUE FILE            # reads the archiver's answer on stdin and deletes the messages
                                               # it did not report as failures, as the event source mapping does
    local_archive.py show BUCKET TABLE         # prints the archived objects and the media-archived records
"""
import json
import os
import sys

import boto3

CONTENT_TYPES = {"mka": "audio/x-matroska", "mkv": "video/x-matroska"}


def clients():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    return (boto3.client("sqs", endpoint_url=endpoint), boto3.client("s3", endpoint_url=endpoint),
            boto3.client("dynamodb", endpoint_url=endpoint))


def event(queue, bucket, path):
    sqs, s3, _ = clients()
    s3.create_bucket(Bucket=bucket)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}", "awsRegion": "us-east-1"}
               for m in messages]
    with open(path, "w") as out:
        json.dump({"Records": records}, out, indent=2)
    specs = set()
    for message in messages:
        body = json.loads(message["Body"])
        sid = body.get("recording_sid") or body.get("composition_sid")
        content_type = CONTENT_TYPES.get(body.get("container"), "video/mp4")
        specs.add(f"{sid}={body.get('size') or 0}:{content_type}")
    print(" ".join(sorted(specs)))


def ack(queue, path):
    sqs, _, _ = clients()
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    answer = json.load(sys.stdin)
    failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
    with open(path) as records:
        for record in json.load(records)["Records"]:
            if record["messageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
    print(f"archiver answered: {len(failed)} failure(s) reported; the other messages were deleted from {queue}")


def show(bucket, table):
    _, s3, dynamodb = clients()
    print(f"\nArchived in S3 bucket {bucket}:")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            head = s3.head_object(Bucket=bucket, Key=obj["Key"])
            print(f"  s3://{bucket}/{obj['Key']}")
            print(f"    {obj['Size']} bytes, {head['ContentType']}, sha256 {head['Metadata'].get('sha256')}")
    print(f"\nmedia-archived records in the room timelines of {table}:")
    items = dynamodb.scan(TableName=table, FilterExpression="begins_with(event, :e)",
                          ExpressionAttributeValues={":e": {"S": "media-archive"}})["Items"]
    for item in sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"])):
        value = {k: next(iter(v.values())) for k, v in item.items()}
        print(f"  pk = {value['pk']}  sk = {value['sk']}")
        print(f"    {value['event']}: {value.get('how', '')} {value.get('s3_uri', '')} {value.get('size', '')} bytes, "
              f"sha256 {value.get('sha256', '-')}, at {value['archived_at']}{' ' + value['reason'] if 'reason' in value else ''}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"event": event, "ack": ack, "show": show}[command](*args)
