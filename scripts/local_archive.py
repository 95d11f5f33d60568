#!/usr/bin/env python3
"""The archiver's half of scripts/run-local.sh, against moto at $AWS_ENDPOINT_URL.

    local_archive.py event QUEUE BUCKET FILE   # creates BUCKET; takes the media queue's messages into an SQS
                                               # event in FILE, as the event source mapping would deliver
                                               # them; prints SID=SIZE:CONTENT_TYPE for each, the files the
                                               # local Twilio stand-in must serve
    local_archive.py ack QUEUE FILE            # reads the archiver's answer on stdin and deletes the messages
                                               # it did not report as failures, as the event source mapping does
    local_archive.py show BUCKET TABLE         # prints the archived objects and the media-archived records

The encrypted recording (stored-media encryption, the key pair made here at run time, never committed):

    local_archive.py keys PRIVATE PUBLIC       # an RSA-2048 key pair: PKCS#8 private key, public key (PEM)
    local_archive.py encrypted MEDIA_URL PUBLIC SID SIZE FILE
                                               # has the local Twilio stand-in at MEDIA_URL serve SID
                                               # encrypted for PUBLIC; writes an SQS event for it in FILE;
                                               # prints the archived object's s3:// key and the plaintext's
                                               # SHA-256
    local_archive.py same FILE SHA256          # the SHA-256 of FILE equals SHA256 (exit 1 otherwise)
"""
import hashlib
import json
import os
import sys
import urllib.request

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
            tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=obj["Key"])["TagSet"]}
            encrypted = ", encrypted (envelope kept)" if "x-amz-key" in head["Metadata"] else ""
            print(f"  s3://{bucket}/{obj['Key']}")
            print(f"    {obj['Size']} bytes, {head['ContentType']}, sha256 tag {tags.get('sha256')}{encrypted}")
    print(f"\nmedia-archived records in the room timelines of {table}:")
    items = dynamodb.scan(TableName=table, FilterExpression="begins_with(event, :e)",
                          ExpressionAttributeValues={":e": {"S": "media-archive"}})["Items"]
    for item in sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"])):
        value = {k: next(iter(v.values())) for k, v in item.items()}
        print(f"  pk = {value['pk']}  sk = {value['sk']}")
        print(f"    {value['event']}: {value.get('how', '')} {value.get('s3_uri', '')} {value.get('size', '')} bytes, "
              f"sha256 {value.get('sha256', '-')}, at {value['archived_at']}{' ' + value['reason'] if 'reason' in value else ''}")


ACCOUNT, ROOM = "AC00000000000000000000000000000001", "RM00000000000000000000000000000001"


def keys(private, public):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    with open(public, "wb") as out:
        out.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))


def encrypted(media_url, public, sid, size, path):
    with open(public) as pem:
        spec = {"size": int(size), "content_type": "audio/x-matroska", "public_key_pem": pem.read()}
    request = urllib.request.Request(f"{media_url}/fake/encrypted/{sid}", data=json.dumps(spec).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        served = json.load(response)
    message = {
        "schema_version": 1, "event": "recording-completed", "idempotency_key": f"local-encrypted-{sid}",
        "account_sid": ACCOUNT, "room_sid": ROOM, "recording_sid": sid, "container": "mka",
        "media_url": f"https://video.twilio.com/v1/Recordings/{sid}/Media", "size": int(size),
        "timestamp": "2026-11-27T09:20:00.000Z",
    }
    with open(path, "w") as out:
        json.dump({"Records": [{"messageId": f"encrypted-{sid}", "body": json.dumps(message),
                                "eventSource": "aws:sqs", "awsRegion": "us-east-1"}]}, out, indent=2)
    print(f"twilio-video/{ACCOUNT}/{ROOM}/{sid}.mka {served['sha256']}")
    print(f"served {served['ciphertext_size']} bytes of ciphertext (sha256 {served['ciphertext_sha256']}) for "
          f"{served['size']} bytes of plaintext (sha256 {served['sha256']})", file=sys.stderr)


def same(path, expected):
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise SystemExit(f"{path}: sha256 {digest.hexdigest()}, but the plaintext served was {expected}")
    print(f"{path}: sha256 {expected}, the plaintext Twilio's stand-in served: the same")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"event": event, "ack": ack, "show": show, "keys": keys, "encrypted": encrypted, "same": same}[command](*args)
