#!/usr/bin/env python3
"""Find one day's files in a Control Tower log archive of 1,000,000 keys: GetFiles (the real
bootstrap under lambda-local) against one sequential ListObjectsV2 scan of the organisation
prefix (boto3's paginator, 1,000 keys a page), on build/bin/s3-standin.

    bench/list_day.py [--keys 1000000] [--accounts 50] [--regions 17] [--days 30]
                      [--connections 64] [--latency-ms 20] [--p99-ms 60]

The bucket (versioned, as Control Tower's is) holds CloudTrail, CloudTrail-Digest and Config logs
of every account, region and day, about the same number of keys in each day folder, laid out as
Control Tower writes them (o-*/AWSLogs/<account>/<type>/<region>/YYYY/MM/DD/, Config's days
unpadded). It is seeded at full speed through the stand-in's seed call, then both listings run
with S3's first-byte latency and per-prefix rates. Prints wall seconds, requests by operation,
the day's files each found (they must agree), and for each the least time its requests can take:
requests x median latency / connections (the scan: one request at a time), against the time it
took. Needs scripts/build first."""
import argparse
import json
import os
import random
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import combine_delete  # noqa: E402  (the stand-in's controls and the invocations)

BUCKET = "ct-logs"
ORGANISATION = "o-abc123def4"
TYPES = ("CloudTrail", "CloudTrail-Digest", "Config")
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
           "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
           "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1")


def folder(account, log_type, region, day):
    year, month, date = day
    days = f"{year}/{month}/{date}" if log_type == "Config" else f"{year}/{month:02d}/{date:02d}"
    sub = "ConfigHistory/" if log_type == "Config" else ""
    return f"{ORGANISATION}/AWSLogs/{account}/{log_type}/{region}/{days}/{sub}"


def layout(keys, accounts, regions, days):
    """Every key of the bucket, and the day (year, month, day) GetFiles is asked for."""
    rng = random.Random(11)
    account_ids = [f"{rng.randrange(10**11, 10**12)}" for _ in range(accounts)]
    dates = [(2026, 3 + (d // 31), 1 + d % 31) for d in range(days)]
    folders = [(a, t, r, d) for a in account_ids for t in TYPES for r in REGIONS[:regions] for d in dates]
    result = []
    for n in range(keys):
        account, log_type, region, day = folders[n % len(folders)]
        stamp = f"{day[0]}{day[1]:02d}{day[2]:02d}T{(n // len(folders)) % 24:02d}{n % 60:02d}Z"
        result.append(f"{folder(account, log_type, region, day)}{account}_{log_type}_{region}_{stamp}_"
                      f"{rng.getrandbits(40):010x}.json.gz")
    return result, dates[days // 2]


def seed(endpoint, keys):
    for start in range(0, len(keys), 200000):
        body = ("\n".join(keys[start:start + 200000]) + "\n").encode()
        request = urllib.request.Request(f"{endpoint}/_standin/seed?bucket={BUCKET}&size=2048", data=body,
                                         method="POST")
        with urllib.request.urlopen(request) as response:
            response.read()


def scan(endpoint, day):
    """One ListObjectsV2 scan of the organisation prefix; the day's keys it saw."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing", config=botocore.config.Config(retries={"mode": "standard"}))
    padded = f"/{day[0]}/{day[1]:02d}/{day[2]:02d}/"
    unpadded = f"/{day[0]}/{day[1]}/{day[2]}/"
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{ORGANISATION}/AWSLogs/"):
        for item in page.get("Contents", []):
            key = item["Key"]
            if "/CloudTrail-Digest/" not in key and (padded in key or unpadded in key):
                found += 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=17)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--p99-ms", type=float, default=60)
    parser.add_argument("--report", help="also write the figures as JSON to this file (bench/cost.py reads it)")
    args = parser.parse_args()

    keys, day = layout(args.keys, args.accounts, min(args.regions, len(REGIONS)), args.days)
    standin, endpoint = combine_delete.start([os.path.join(combine_delete.BIN, "s3-standin"), "--latency-ms", "0",
                                              "--read-rate", "0", "--write-rate", "0"], "listening")
    results = {}
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="bench-work")
        started = time.monotonic()
        seed(endpoint, keys)
        print(f"seeded {len(keys)} keys in {time.monotonic() - started:.0f} s", file=sys.stderr)
        model = combine_delete.set_model(endpoint, latency_ms=args.latency_ms, p99_ms=max(args.p99_ms, args.latency_ms),
                                         read_rate=5500, write_rate=3500)
        date = f"{day[0]}-{day[1]:02d}-{day[2]:02d}"
        environment = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "WORK_BUCKET": "bench-work", "CONTROL_TOWER_BUCKET": BUCKET, "DELAY_WINDOW_S": "0",
                       "LIST_CONCURRENCY": str(args.connections),
                       "HTTP_MAX_CONNECTIONS_PER_HOST": str(args.connections)}
        with tempfile.TemporaryDirectory() as scratch:
            before = combine_delete.stats("standin", endpoint)
            response, wall, cpu, rss = combine_delete.invoke("GetFiles", {"date": date, "run_id": "bench-list"},
                                                             environment, scratch)
            results["GetFiles"] = {"wall": wall, "found": response["file_count"], "connections": args.connections,
                                   "operations": combine_delete.difference(combine_delete.stats("standin", endpoint),
                                                                           before),
                                   "extra": f"{cpu:.2f} CPU-s, {rss} MiB peak RSS, {response['group_count']} groups"}
            groups = response["group_count"]
        before = combine_delete.stats("standin", endpoint)
        started = time.monotonic()
        found = scan(endpoint, day)
        results["sequential scan"] = {"wall": time.monotonic() - started, "found": found, "connections": 1,
                                      "operations": combine_delete.difference(
                                          combine_delete.stats("standin", endpoint), before),
                                      "extra": "boto3 paginator"}
    finally:
        standin.terminate()
        standin.wait(timeout=10)

    print(f"\nOne day ({date}) of a Control Tower bucket of {len(keys)} keys ({len(TYPES)} log types, "
          f"{args.accounts} accounts, {min(args.regions, len(REGIONS))} regions, {args.days} days), on this "
          f"machine ({os.cpu_count()} cores), s3-standin ({model})\n")
    print(f"{'listing':>16} {'wall s':>8} {'requests':>9} {'floor s':>8} {'floor/wall':>10} {'day files':>9}  "
          "requests by operation; notes")
    for name, r in results.items():
        count = sum(t["count"] for t in r["operations"].values())
        floor = count * args.latency_ms / 1000 / r["connections"]
        slow = sum(t.get("slow_down", 0) for t in r["operations"].values())
        operations = ", ".join(f"{op} {t['count']}" for op, t in sorted(r["operations"].items()))
        print(f"{name:>16} {r['wall']:8.2f} {count:9d} {floor:8.2f} {floor / r['wall']:10.0%} {r['found']:9d}  "
              f"{operations}{f', {slow} answered 503 SlowDown' if slow else ''}; {r['extra']}")
    if args.report:
        with open(args.report, "w") as out:
            json.dump({"benchmark": "list_day", "keys": len(keys), "date": date, "model": model,
                       "groups": groups, "results": results}, out, indent=1)
    ratio = results["sequential scan"]["wall"] / results["GetFiles"]["wall"]
    print(f"\nGetFiles / sequential scan: {ratio:.1f}x faster, "
          f"{sum(t['count'] for t in results['GetFiles']['operations'].values())} requests against "
          f"{sum(t['count'] for t in results['sequential scan']['operations'].values())}")
    print("floor: requests x median latency / connections, the least time those requests can take")
    if results["GetFiles"]["found"] != results["sequential scan"]["found"]:
        raise SystemExit("the two listings found different numbers of the day's files")


if __name__ == "__main__":
    main()
