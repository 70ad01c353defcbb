#!/usr/bin/env python3
"""Event-driven batching through the local stack (tools/local-stack: template.yaml on moto, the
real bootstraps under lambda-local): N small log files are put, their S3 notifications sent to the
notification queue, and 3 consumer loops do what Lambda's SQS event source does - receive up to
--batch records, invoke ManifestBuilder through lambda-local's Invoke API, delete what it did not
report failed. process_manifest runs in moto's Step Functions and writes the batch objects.

    bench/batching.py [--files 1000] [--batches 1,10] [--report batch.json]

Per SQS batch size, on a fresh stack each: DynamoDB requests per file (the builder's, counted by
the fault proxy at rate 0 between the functions and moto), wall time per ManifestBuilder
invocation (median and p90) and per notification, and the latency from a file's notification
being sent to its batch object existing (median, p90, max), with ratios against batches of one.
Needs scripts/build first."""
import argparse
import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cost  # noqa: E402  (the functions' memory and REPORT lines)

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
    sqs_requests = [0]  # the receives and deletes of Lambda's event source, which SQS bills
    lock = threading.Lock()

    def consume():
        client = stack.client("sqs")
        idle = 0
        while idle < 3:
            messages = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=batch_size,
                                              WaitTimeSeconds=1, VisibilityTimeout=60).get("Messages", [])
            with lock:
                sqs_requests[0] += 1
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
                    sqs_requests[0] += 1
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
    result = {"batch": batch_size, "invocations": len(invocation_walls), "drain": drained,
              "wall_median": statistics.median(invocation_walls), "wall_p90": percentile(invocation_walls, 0.9),
              "per_notification": drained / count, "requests_per_file": requests / count,
              "operations": builder_operations, "latency": sorted(latencies.values())}
    result["cost"] = what_was_billed(stack, before, count, sqs_requests[0], batch_size)
    return result


def what_was_billed(stack, before, files, sqs_calls, batch_size):
    """What AWS would bill for these files, once every process_manifest execution has ended: every
    function's REPORTs and requests, the state machine's transitions, Express children and
    DynamoDB updates, and the SQS requests (the notifications S3 sends, one a file, and the
    event source's receives and deletes). For bench/cost.py --batch."""
    sfn = stack.client("stepfunctions")
    machine = stack.info["state_machines"]["ProcessManifestStateMachine"]
    deadline = time.monotonic() + 600
    while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise SystemExit("process_manifest executions still running after 10 minutes")
        time.sleep(1)
    transitions = dynamodb_tasks = express_children = manifests = 0
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        for execution in page["executions"]:
            manifests += 1
            for history in sfn.get_paginator("get_execution_history").paginate(
                    executionArn=execution["executionArn"]):
                for event in history["events"]:
                    transitions += event["type"].endswith("StateEntered")
                    scheduled = event.get("taskScheduledEventDetails", {})
                    dynamodb_tasks += scheduled.get("resourceType") == "dynamodb"
            for run in sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]:
                express_children += sfn.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]["total"]
    after = stack.operations()
    operations = {name: after[name]["count"] - before.get(name, {"count": 0})["count"] for name in after}
    # A transaction's write costs two units an item, and an item a unit a KB begun: the manifest
    # item each claim appends to holds its file list, half of it on average when claimed.
    table = stack.info["resources"]["LedgerTable"]
    manifest_kb = [len(json.dumps(item)) / 1024
                   for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table)
                   for item in page["Items"] if "files" in item]
    mean_half_kb = max(1, math.ceil(statistics.mean(manifest_kb) / 2)) if manifest_kb else 1
    transactions = operations.get("TransactWriteItems", 0)
    functions = [name for name in cost.function_memory_mb() if name.endswith("Function")]
    return {"files": files, "batch": batch_size, "manifests": manifests, "operations": operations,
            "transitions": transitions, "express_children": express_children,
            # each child makes one update, as does each dynamodb task of the manifest's own
            "state_machine_dynamodb_writes": express_children + dynamodb_tasks,
            "transaction_write_units": 2 * (files + transactions * mean_half_kb),
            "sqs_requests": files + sqs_calls,
            "reports": cost.reports(stack.info["logs"], functions)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--batches", default="1,10", help="SQS batch sizes; the first is the baseline")
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--report", help="write what the last batch size's run would be billed, as JSON for "
                                         "bench/cost.py --batch")
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
    if args.report:
        with open(args.report, "w") as out:
            json.dump(results[-1]["cost"], out, indent=1)


if __name__ == "__main__":
    main()
