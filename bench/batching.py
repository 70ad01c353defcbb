#!/usr/bin/env python3
"""Event-driven batching through the local stack (tools/local-stack: template.yaml on moto, the
real bootstraps under lambda-local): N small log files are put, their S3 notifications sent to the
notification queue, and 3 consumer loops do what Lambda's SQS event source does - receive up to
--batch records, invoke ManifestBuilder through lambda-local's Invoke API, delete what it did not
report failed. process_manifest runs in moto's Step Functions and writes the batch objects.

    bench/batching.py [--files 1000] [--batches 1,10]

Per SQS batch size, on a fresh stack each: DynamoDB requests per file (the builder's, counted by
the fault proxy at rate 0 between the functions and moto), wall time per ManifestBuilder
invocation (median and p90) and per notification, and the latency from a file's notification
being sent to its batch object existing (median, p90, max), with ratios against batches of one.
Needs scripts/build first."""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = "bench-batching-src"
DYNAMODB = {"PutItem", "UpdateItem", "GetItem", "DeleteItem", "Query", "Scan", "BatchWriteItem",
            "BatchGetItem", "TransactWriteItems", "TransactGetItems"}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def post_json(url, document):
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=900) as response:
        return json.load(response)


class Stack:
    def __init__(self, scratch):
        self.process = subprocess.Popen(
            [os.path.join(ROOT, "tools", "local-stack"), "--state-dir", scratch, "--count-requests",
             "--parameter", f"OtherBuckets={SOURCE}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        for line in self.process.stdout:
            if line.startswith("local stack ready"):
                self.info = json.loads(line[len("local stack ready "):])
                break
        else:
            raise SystemExit("local-stack did not start")

    def client(self, service):
        return boto3.client(service, endpoint_url=self.info["endpoint"], region_name="us-east-1",
                            aws_access_key_id=self.info["credentials"]["access_key_id"],
                            aws_secret_access_key=self.info["credentials"]["secret_access_key"])

    def invoke(self, function, event):
        return post_json(f"{self.info['lambda_endpoint']}/2015-03-31/functions/{function}/invocations", event)

    def operations(self):
        with urllib.request.urlopen(self.info["function_endpoint"] + "/fault-proxy/stats") as response:
            return json.load(response)["operations"]

    def stop(self):
        self.process.terminate()
        self.process.wait()


def notification(key, size, etag, day):
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": f"{day}T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": SOURCE}, "object": {"key": key, "size": size, "eTag": etag.strip('"')}}}]})


def run(batch_size, files, consumers):
    with tempfile.TemporaryDirectory() as scratch:
        stack = Stack(scratch)
        try:
            return measure(stack, batch_size, files, consumers)
        finally:
            stack.stop()


def measure(stack, batch_size, count, consumers):
    s3, sqs = stack.client("s3"), stack.client("sqs")
    s3.create_bucket(Bucket=SOURCE)
    # Yesterday's files: MANIFEST_SIZE cuts manifests as they fill, the flush after the queue has
    # drained cuts the rest (in AWS the schedule does, within its rate).
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    keys = [f"app/{day}/part-{n:05d}.log" for n in range(count)]

    def put(key):
        body = f"one line of {key}\n".encode()
        return notification(key, len(body), s3.put_object(Bucket=SOURCE, Key=key, Body=body)["ETag"], day)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(put, keys))

    queue = stack.info["resources"]["NotificationQueue"]
    destination = stack.info["resources"]["DestinationBucket"]
    first_seen = {}
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            now = time.monotonic()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=destination):
                for item in page.get("Contents", []):
                    first_seen.setdefault(item["Key"], now)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    sent_at = {}
    before = stack.operations()
    started = time.monotonic()
    for i in range(0, len(bodies), 10):
        entries = [{"Id": str(j), "MessageBody": body} for j, body in enumerate(bodies[i:i + 10])]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        now = time.monotonic()
        for key in keys[i:i + 10]:
            sent_at[key] = now

    invocation_walls = []
    lock = threading.Lock()

    def consume():
        client = stack.client("sqs")
        idle = 0
        while idle < 3:
            messages = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=batch_size,
                                              WaitTimeSeconds=1, VisibilityTimeout=60).get("Messages", [])
            if not messages:
                idle += 1
                continue
            idle = 0
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "eventSource": "aws:sqs"} for m in messages]
            begun = time.monotonic()
            response = stack.invoke("ManifestBuilderFunction", {"Records": records})
            wall = time.monotonic() - begun
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            if "errorType" in response:
                failed = {m["MessageId"] for m in messages}
            done = [{"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                    for j, m in enumerate(messages) if m["MessageId"] not in failed]
            if done:
                client.delete_message_batch(QueueUrl=queue, Entries=done)
            with lock:
                invocation_walls.append(wall)

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drained = time.monotonic() - started - 3  # the consumers' last three empty 1 s polls
    flushed = stack.invoke("ManifestBuilderFunction", {"action": "flush"})
    if "errorType" in flushed:
        raise SystemExit(f"flush failed: {flushed}")
    after = stack.operations()
    builder_operations = {name: after[name]["count"] - before.get(name, {"count": 0})["count"]
                          for name in after if name in DYNAMODB}
    builder_operations = {name: n for name, n in builder_operations.items() if n}

    # Batch objects appear as process_manifest executions finish.
    work = stack.info["resources"]["WorkBucket"]
    latencies = {}
    deadline = time.monotonic() + 1800
    while len(latencies) < count and time.monotonic() < deadline:
        time.sleep(1)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=work, Prefix="work/"):
            for item in page.get("Contents", []):
                if "/receipts/" not in item["Key"]:
                    continue
                receipt = json.loads(s3.get_object(Bucket=work, Key=item["Key"])["Body"].read())
                for output in receipt["outputs"]:
                    seen = first_seen.get(output["key"])
                    if seen is None:
                        continue
                    index = output["index"]  # the receipt's summary; the originals are in the ledger
                    record = json.loads(s3.get_object(Bucket=index["bucket"], Key=index["key"])["Body"].read())
                    for source in record["sources"]:
                        latencies.setdefault(source["key"], seen - sent_at[source["key"]])
    watching.set()
    watcher.join()
    if len(latencies) != count:
        raise SystemExit(f"[batch {batch_size}] {count - len(latencies)} files never reached a batch object")
    requests = sum(builder_operations.values())
    return {"batch": batch_size, "invocations": len(invocation_walls), "drain": drained,
            "wall_median": statistics.median(invocation_walls), "wall_p90": percentile(invocation_walls, 0.9),
            "per_notification": drained / count, "requests_per_file": requests / count,
            "operations": builder_operations, "latency": sorted(latencies.values())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--batches", default="1,10", help="SQS batch sizes; the first is the baseline")
    parser.add_argument("--consumers", type=int, default=3)
    args = parser.parse_args()
    results = []
    for batch in (int(b) for b in args.batches.split(",")):
        print(f"[batch {batch}] {args.files} files ...", file=sys.stderr)
        results.append(run(batch, args.files, args.consumers))
    base = results[0]
    print(f"{args.files} files, {args.consumers} consumers, MANIFEST_SIZE 200 (template default)")
    print("| SQS batch | invocations | wall/invocation median (p90) | drain | per notification | ×base |"
          " DynamoDB req/file | latency median / p90 / max |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["latency"]
        print(f"| {r['batch']} | {r['invocations']} | {r['wall_median'] * 1000:.0f} ms ({r['wall_p90'] * 1000:.0f} ms)"
              f" | {r['drain']:.1f} s | {r['per_notification'] * 1000:.1f} ms"
              f" | {base['per_notification'] / r['per_notification']:.1f}× | {r['requests_per_file']:.2f}"
              f" | {statistics.median(lat):.1f} / {percentile(lat, 0.9):.1f} / {lat[-1]:.1f} s |")
    for r in results:
        print(f"batch {r['batch']}: DynamoDB requests by operation: {json.dumps(r['operations'], sort_keys=True)}")


if __name__ == "__main__":
    main()
