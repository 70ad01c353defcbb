#!/usr/bin/env python3
"""A whole day end to end: GetFiles, then for each group DetermineOperationType, CombineLogFiles
and DeleteOriginals, as statemachines/aggregate_daily.asl.json runs them (each function looped
while it answers a continuation, the groups a Map of at most --concurrency at once), with the real
bootstraps warm in `lambda-local serve` (at most --concurrency sandboxes of each), on
build/bin/s3-standin with S3's latency and per-prefix rates.

    bench/whole_day.py [--files 100000] [--accounts 50] [--regions 17] [--concurrency 50,200]
                       [--latency-ms 20] [--p99-ms 60] [--report FILE]

The day is a Control Tower bucket's (versioned): CloudTrail, CloudTrail-Digest and Config files of
1-20 KB gzip for every account and region, so 3 x accounts x regions groups (the digests are
combined too, COMBINE_CLOUDTRAIL_DIGESTS=true, so that each log type makes groups). Each file is
a real gzip object; the stand-in's seed call gives the files of a folder the bodies of a few
templates, so 100,000 objects are in place in seconds. --concurrency is the Lambda concurrency
limit: the Map's MaxConcurrency and each function's sandboxes; a list runs the day once for each,
on a fresh bucket.

Prints for each limit: wall seconds (and of each phase: the listing, then the groups), invocations
and Lambda GB-s by function (billed duration x template.yaml's memory, init included, as Lambda
bills the provided runtime), the busiest concurrency reached, S3 requests by operation and per
file, state transitions, CPU seconds of the functions, and checks the outcome: every original
deleted, every byte of them in the outputs. Needs scripts/build first."""
import argparse
import base64
import collections
import concurrent.futures
import gzip
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import combine_delete  # noqa: E402  (the stand-in's controls)
import cost  # noqa: E402  (each function's memory in template.yaml)
import list_day  # noqa: E402  (Control Tower's layout)

DATE = (2026, 3, 15)
TYPES = ("CloudTrail", "CloudTrail-Digest", "Config")
TEMPLATES_PER_TYPE = 8
FUNCTIONS = cost.PHASE_OF  # each function by its name, with its phase
# The Retry of every Task in aggregate_daily.asl.json: these are retried, 2 s, 4 s, ... 6 times.
RETRIED = {"Throttled", "TransientError", "ConflictError", "Runtime.ExitError", "Sandbox.Timedout"}


def body(rng, log_type, n):
    """A gzip file of 1-20 KB shaped as the log type's files are."""
    target = rng.randint(1024, 20 * 1024) / 0.78  # random payloads compress to about 0.78
    items, size = [], 0
    while size < target:
        item = {"eventTime": f"2026-03-15T00:{n % 60:02d}:00Z", "eventID": f"{rng.getrandbits(128):032x}",
                "payload": base64.b64encode(rng.randbytes(240)).decode()}
        items.append(item)
        size += len(json.dumps(item))
    if log_type == "Config":
        document = {"fileVersion": "1.0", "configurationItems": items}
    elif log_type == "CloudTrail-Digest":
        document = {"awsAccountId": "111122223333", "digestStartTime": "2026-03-15T00:00:00Z", "logFiles": items}
    else:
        document = {"Records": items}
    return gzip.compress(json.dumps(document).encode())


def seed(endpoint, s3, bucket, files, accounts, regions):
    """Puts the day's files; returns (files, bytes) it holds."""
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rng = random.Random(5)
    sizes = {}
    for log_type in TYPES:
        for t in range(TEMPLATES_PER_TYPE):
            data = body(rng, log_type, t)
            s3.put_object(Bucket=bucket, Key=f"templates/{log_type}/{t}", Body=data)
            sizes[(log_type, t)] = len(data)
    account_ids = [f"{rng.randrange(10**11, 10**12)}" for _ in range(accounts)]
    folders = [(a, t, r) for a in account_ids for t in TYPES for r in list_day.REGIONS[:regions]]
    chosen = collections.defaultdict(list)
    total = 0
    for n in range(files):
        account, log_type, region = folders[n % len(folders)]
        slot = n // len(folders)
        stamp = f"{DATE[0]}{DATE[1]:02d}{DATE[2]:02d}T{(slot * 5 // 60) % 24:02d}{slot * 5 % 60:02d}Z"
        key = (f"{list_day.folder(account, log_type, region, DATE)}{account}_{log_type}_{region}_{stamp}_"
               f"{rng.getrandbits(40):010x}.json.gz")
        template = rng.randrange(TEMPLATES_PER_TYPE)
        chosen[(log_type, template)].append(key)
        total += sizes[(log_type, template)]
    for (log_type, template), keys in chosen.items():
        source = urllib.parse.quote(f"templates/{log_type}/{template}", safe="")
        request = urllib.request.Request(f"{endpoint}/_standin/seed?bucket={bucket}&from={source}",
                                         data=("\n".join(keys) + "\n").encode(), method="POST")
        with urllib.request.urlopen(request) as response:
            response.read()
    return files, total, len(folders)


class Driver:
    """Calls the functions through lambda-local's Invoke API as the state machine would."""

    def __init__(self, url, limit):
        self.url = url
        self.transitions = 0
        self.express_children = 0
        self.express_seconds = 0.0  # billed: each child's duration rounded up to 100 ms
        self.inside = threading.local()  # .express: this thread runs an Express child
        self.retries = 0
        self.running = 0
        self.busiest = 0
        self.lock = threading.Lock()
        self.limit = threading.BoundedSemaphore(limit)

    def count(self, transitions=1):
        """State transitions of Standard executions (an Express child is billed by request and duration)."""
        if getattr(self.inside, "express", False):
            return
        with self.lock:
            self.transitions += transitions

    def invoke(self, function, event):
        """One Task state: the invocation and its Retry; the function's answer."""
        for attempt in range(7):
            with self.limit:
                with self.lock:
                    self.running += 1
                    self.busiest = max(self.busiest, self.running)
                try:
                    request = urllib.request.Request(f"{self.url}/2015-03-31/functions/{function}/invocations",
                                                     data=json.dumps(event).encode(), method="POST")
                    with urllib.request.urlopen(request, timeout=1000) as response:
                        failed = response.headers.get("X-Amz-Function-Error")
                        answer = json.load(response)
                finally:
                    with self.lock:
                        self.running -= 1
            self.count()
            if not failed:
                return answer
            if answer.get("errorType") not in RETRIED or attempt == 6:
                raise RuntimeError(f"{function}: {answer.get('errorType')}: {answer.get('errorMessage', '')[:300]}")
            with self.lock:
                self.retries += 1
            time.sleep(2 * 2 ** attempt)
        raise AssertionError("unreachable")

    def loop(self, function, event):
        """A Task and its "More to ...?" Choice, until no continuation is answered."""
        while True:
            event = self.invoke(function, event)
            self.count()  # the Choice
            if "continuation" not in event:
                return event

    def group(self, item, run_id, express):
        """One child execution of "Each short group" (Express) or "Each long group" (Standard)."""
        self.inside.express = express
        started = time.monotonic()
        answer = self.invoke("DetermineOperationType", {"group": item, "run_id": run_id})
        self.count()  # "Anything to combine?"
        combined, deleted = {}, {}
        if answer.get("operation") != "none":
            combined = self.loop("CombineLogFiles", answer)
            deleted = self.loop("DeleteOriginals", combined)
        self.count()  # "Group done"
        if express:
            with self.lock:
                self.express_children += 1
                self.express_seconds += math.ceil((time.monotonic() - started) * 10) / 10
        return combined, deleted


def run_day(args, limit, endpoint, s3, memory, scratch):
    bucket = f"ct-logs-{limit}"
    files, total, groups_seeded = seed(endpoint, s3, bucket, args.files, args.accounts, args.regions)
    print(f"[{limit}] seeded {files} files ({total / 2**20:.0f} MiB) in {groups_seeded} folders", file=sys.stderr)
    environment = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_REGION": "us-east-1", "WORK_BUCKET": "bench-work", "DESTINATION_BUCKET": "bench-destination",
                   "DESTINATION_PREFIX": f"aggregated-{limit}", "CONTROL_TOWER_BUCKET": bucket,
                   "COMBINE_CLOUDTRAIL_DIGESTS": "true", "DELAY_WINDOW_S": "0",
                   "SEAL_KEY_ID": "alias/standin-seal"}
    config = {"region": "us-east-1", "functions": {
        name: {"bootstrap": os.path.join(combine_delete.BIN, name), "timeout": 900,
               "memory": memory[phase], "max_concurrency": limit, "log_level": "WARN", "log_format": "JSON",
               "environment": environment} for name, phase in FUNCTIONS.items()}}
    config_path = os.path.join(scratch, f"functions-{limit}.json")
    with open(config_path, "w") as out:
        json.dump(config, out)
    log_directory = os.path.join(scratch, f"logs-{limit}")
    os.makedirs(log_directory)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server, url = combine_delete.start([os.path.join(combine_delete.BIN, "lambda-local"), "serve", "--port", "0",
                                        "--config", config_path, "--log-dir", log_directory], "serving")
    driver = Driver(url, limit)
    model = combine_delete.set_model(endpoint, latency_ms=args.latency_ms, p99_ms=max(args.p99_ms, args.latency_ms),
                                     read_rate=5500, write_rate=3500)
    before = combine_delete.stats("standin", endpoint)
    try:
        started = time.monotonic()
        run_id = f"day-{limit}"
        driver.count(2)  # "Which day", "Named day"
        listing = driver.loop("GetFiles", {"date": f"{DATE[0]}-{DATE[1]:02d}-{DATE[2]:02d}", "run_id": run_id})
        listed = time.monotonic() - started
        driver.count(1)  # "Any files?"
        done, items = [], []
        for part, express in (("short_groups", True), ("long_groups", False)):
            driver.count(1)  # "Any short groups?", "Any long groups?"
            if listing[part]["count"] == 0:
                continue
            driver.count(1)  # the Map state
            # The Map's ItemReader: a request Step Functions makes, not the functions.
            combine_delete.set_model(endpoint, latency_ms=0, p99_ms=0, read_rate=0, write_rate=0)
            part_items = json.loads(s3.get_object(Bucket=listing[part]["bucket"], Key=listing[part]["key"])["Body"]
                                    .read())
            combine_delete.set_model(endpoint, latency_ms=args.latency_ms,
                                     p99_ms=max(args.p99_ms, args.latency_ms), read_rate=5500, write_rate=3500)
            with concurrent.futures.ThreadPoolExecutor(limit) as pool:
                done += list(pool.map(lambda item: driver.group(item, run_id, express), part_items))
            items += part_items
        wall = time.monotonic() - started
        driver.count(1)  # CrawlerTrigger is not run here: it has nothing to do on the stand-in
    finally:
        combine_delete.set_model(endpoint, latency_ms=0, p99_ms=0, read_rate=0, write_rate=0)
        server.terminate()
        server.wait(timeout=60)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    operations = combine_delete.difference(combine_delete.stats("standin", endpoint), before)
    left = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=f"{list_day.ORGANISATION}/"):
        left += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    stored = sum(item["Size"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="bench-destination", Prefix=f"aggregated-{limit}/") for item in page.get("Contents", []))
    return {"limit": limit, "files": files, "bytes": total, "groups": len(items), "listed_files": listing["file_count"],
            "wall": wall, "list_wall": listed, "transitions": driver.transitions, "retries": driver.retries,
            "express_children": driver.express_children, "express_seconds": driver.express_seconds,
            "long_groups": listing["long_groups"]["count"],
            "busiest": driver.busiest, "operations": operations, "left": left, "output_bytes": stored,
            "combined_files": sum(c.get("files", 0) for c, _ in done),
            "combined_bytes": sum(c.get("bytes_in", 0) for c, _ in done),
            "deleted": sum(d.get("deleted", 0) for _, d in done),
            "not_deleted": sum(d.get("failed", 0) + d.get("kept_changed", 0) for _, d in done),
            "cpu": (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime),
            "reports": cost.reports(log_directory, FUNCTIONS), "model": model}


def print_run(r, memory):
    print(f"\nLambda concurrency limit {r['limit']}: {r['files']} files ({r['bytes'] / 2**20:.0f} MiB) in "
          f"{r['groups']} groups, {r['wall']:.1f} s ({r['list_wall']:.1f} s listing, "
          f"{r['wall'] - r['list_wall']:.1f} s the groups); busiest {r['busiest']} invocations at once; "
          f"{r['cpu']:.0f} CPU-s of the functions; {r['express_children']} Express children "
          f"({r['express_seconds']:.1f} s billed), {r['long_groups']} long groups, {r['transitions']} Standard state "
          f"transitions; {r['retries']} retries")
    print(f"{'function':>24} {'invocations':>11} {'cold':>5} {'GB-s':>9} {'mean ms':>8} {'max ms':>8} {'max MB':>7}")
    gb_seconds = 0.0
    for function, phase in FUNCTIONS.items():
        lines = r["reports"][function]
        gb = cost.billed_seconds(lines) * memory[phase] / 1024
        gb_seconds += gb
        durations = [duration for duration, _, _ in lines] or [0]
        print(f"{function:>24} {len(lines):11d} {sum(1 for _, init, _ in lines if init):5d} {gb:9.1f} "
              f"{sum(durations) / len(durations):8.1f} {max(durations):8.1f} "
              f"{max((m for _, _, m in lines), default=0):7d}")
    s3_operations = {op: t for op, t in r["operations"].items() if op not in cost.KMS_OPERATIONS}
    kms = {op: t["count"] for op, t in r["operations"].items() if op in cost.KMS_OPERATIONS}
    count = sum(t["count"] for t in s3_operations.values())
    slow = sum(t.get("slow_down", 0) for t in s3_operations.values())
    print(f"{'all':>24} {sum(len(v) for v in r['reports'].values()):11d} {'':>5} {gb_seconds:9.1f}   "
          f"(arm64 at template.yaml's memory: ${gb_seconds * cost.PRICES['lambda_arm64_gb_second']:.4f})")
    deletes = r["operations"].get("DeleteObjects", {})
    print(f"S3 requests: {count} ({count / r['files']:.3f} per file"
          f"{f', {slow} answered 503 SlowDown' if slow else ''}; at most "
          f"{deletes.get('most_in_flight', 0)} DeleteObjects in flight): "
          + ", ".join(f"{op} {t['count']}" for op, t in sorted(s3_operations.items())))
    print(f"KMS requests (the seals): {sum(kms.values())} ("
          + ", ".join(f"{op} {n}" for op, n in sorted(kms.items())) + ")")
    print(f"outcome: GetFiles listed {r['listed_files']} of {r['files']} files; CombineLogFiles combined "
          f"{r['combined_files']} ({r['combined_bytes'] / 2**20:.1f} MiB of the {r['bytes'] / 2**20:.1f} MiB seeded; "
          f"the destination holds {r['output_bytes'] / 2**20:.1f} MiB); DeleteOriginals deleted {r['deleted']}, "
          f"{r['not_deleted']} kept or failed; {r['left']} versions of the day's originals left")
    r["gb_seconds"] = gb_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=17)
    parser.add_argument("--concurrency", default="50,200", help="Lambda concurrency limits, one run each")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--p99-ms", type=float, default=60)
    parser.add_argument("--report", help="also write the figures as JSON to this file")
    args = parser.parse_args()
    memory = cost.memory_mb()
    standin, endpoint = combine_delete.start([os.path.join(combine_delete.BIN, "s3-standin"), "--latency-ms", "0",
                                              "--read-rate", "0", "--write-rate", "0"], "listening")
    results = []
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        for name in ("bench-work", "bench-destination"):
            s3.create_bucket(Bucket=name)
        with tempfile.TemporaryDirectory() as scratch:
            for limit in (int(value) for value in args.concurrency.split(",")):
                results.append(run_day(args, limit, endpoint, s3, memory, scratch))
    finally:
        standin.terminate()
        standin.wait(timeout=10)
    print(f"\nA whole day on this machine ({os.cpu_count()} cores), s3-standin ({results[0]['model']}); "
          f"memory from template.yaml: " + ", ".join(f"{f} {memory[p]} MB" for f, p in FUNCTIONS.items()))
    for r in results:
        print_run(r, memory)
    if len(results) > 1:
        first = results[0]
        print("\n" + "; ".join(f"limit {r['limit']}: {first['wall'] / r['wall']:.2f}x the wall of limit "
                               f"{first['limit']}, {r['gb_seconds'] / first['gb_seconds']:.2f}x its GB-s"
                               for r in results[1:]))
    if args.report:
        with open(args.report, "w") as out:
            json.dump({"benchmark": "whole_day", "results": results}, out, indent=1)
    for r in results:
        if (r["left"] or r["not_deleted"] or r["listed_files"] != r["files"] or r["combined_files"] != r["files"]
                or r["deleted"] != r["files"] or r["combined_bytes"] != r["bytes"] or r["output_bytes"] < r["bytes"]):
            raise SystemExit(f"limit {r['limit']}: the day did not end as it must (see the outcome line)")


if __name__ == "__main__":
    main()
