#!/usr/bin/env python3
"""Our combine against the algorithm this project replaced, on the same S3 stand-in, the same
objects and the same latency model (20 ms median, 60 ms p99 first byte, S3's per-prefix rates).

The original (a Python job) kept one accumulator object per output and, for every log file, one
request after another: GET the file, GET the accumulator, PUT the accumulator with the file
appended, DELETE the file. Four sequential requests per file, and every byte combined so far is
downloaded and uploaded again for each file: its time grows with the square of the files. It is
reimplemented here as it worked (boto3, one request at a time), for a few sizes, and its time at
larger sizes is projected by a least-squares fit of b*N + c*N^2 to those measurements (said so
where printed). Ours is CombineLogFiles then DeleteOriginals (the real bootstraps under
lambda-local, 64 connections) on a copy of the same objects.

    bench/original_algorithm.py [--sizes 250,500,1000] [--project 10000] [--latency-ms 20]

Needs scripts/build first.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import boto3
import botocore.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import combine_delete  # noqa: E402  (the seeding, the invocations and the stand-in's controls)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
DAY = combine_delete.DAY


def original(s3, bucket, files, output_key):
    """The replaced algorithm, request by request."""
    for entry in files:
        body = s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        try:
            accumulated = s3.get_object(Bucket="bench-destination", Key=output_key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            accumulated = b""
        s3.put_object(Bucket="bench-destination", Key=output_key, Body=accumulated + body)
        s3.delete_object(Bucket=bucket, Key=entry["key"])


def ours(files, bucket, run, environment, scratch):
    listing = "\n".join(json.dumps(f) for f in files) + "\n"
    s3 = environment["_client"]
    s3.put_object(Bucket="bench-work", Key=f"lists/{run}.jsonl", Body=listing.encode())
    group = {"group_id": f"bench-{run}", "kind": "other", "source_bucket": bucket, "date": DAY,
             "directory": f"app/{DAY}/", "run_id": f"bench-{run}",
             "files": {"bucket": "bench-work", "key": f"lists/{run}.jsonl", "count": len(files),
                       "bytes": sum(f["size"] for f in files)}}
    settings = {k: v for k, v in environment.items() if not k.startswith("_")}
    plan, _, _, _ = combine_delete.invoke("DetermineOperationType", group, settings, scratch)
    wall = 0.0
    for function in ("CombineLogFiles", "DeleteOriginals"):
        event = dict(plan, run_id=f"bench-{run}")
        while True:
            response, seconds, _, _ = combine_delete.invoke(function, event, settings, scratch)
            wall += seconds
            if "continuation" not in response:
                break
            event = response
        plan = response
    return wall


def fit(points):
    """Least squares b*n + c*n^2 through (n, seconds): per-file requests and per-file re-reads of
    everything before (no fixed cost: the original has none worth the name)."""
    s2 = sum(n ** 2 for n, _ in points)
    s3 = sum(n ** 3 for n, _ in points)
    s4 = sum(n ** 4 for n, _ in points)
    t1 = sum(t * n for n, t in points)
    t2 = sum(t * n ** 2 for n, t in points)
    determinant = s2 * s4 - s3 * s3
    return (t1 * s4 - t2 * s3) / determinant, (s2 * t2 - s3 * t1) / determinant


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250,500,1000")
    parser.add_argument("--project", type=int, default=10000, help="the size the fit projects to")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--p99-ms", type=float, default=60)
    args = parser.parse_args()
    standin, endpoint = combine_delete.start([os.path.join(BIN, "s3-standin"), "--latency-ms", "0",
                                              "--read-rate", "0", "--write-rate", "0"], "listening")
    measured = dict(latency_ms=args.latency_ms, p99_ms=args.p99_ms, read_rate=5500, write_rate=3500)
    unmeasured = dict(latency_ms=0, p99_ms=0, read_rate=0, write_rate=0)
    rows = []
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing",
                          config=botocore.config.Config(max_pool_connections=32, retries={"mode": "standard"}))
        for bucket in ("bench-work", "bench-destination"):
            s3.create_bucket(Bucket=bucket)
        environment = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "WORK_BUCKET": "bench-work", "DESTINATION_BUCKET": "bench-destination",
                       "DESTINATION_PREFIX": "aggregated", "HTTP_MAX_CONNECTIONS_PER_HOST": "64", "SEAL_KEY_ID": "alias/standin-seal",
                       "DOWNLOAD_CONCURRENCY": "64", "DELETE_CONCURRENCY": "64", "_client": s3}
        with tempfile.TemporaryDirectory() as scratch:
            for size in [int(n) for n in args.sizes.split(",")]:
                files = combine_delete.seed(s3, f"bench-original-{size}", size, rng_seed=7)
                ours_files = combine_delete.seed(s3, f"bench-ours-{size}", size, rng_seed=7)
                total = sum(f["size"] for f in files)
                combine_delete.set_model(endpoint, **measured)
                started = time.monotonic()
                original(s3, f"bench-original-{size}", files, f"original/{size}.gz")
                original_wall = time.monotonic() - started
                our_wall = ours(ours_files, f"bench-ours-{size}", f"ours-{size}", environment, scratch)
                combine_delete.set_model(endpoint, **unmeasured)
                rows.append((size, total, original_wall, our_wall))
                print(f"[{size}] original {original_wall:.1f} s, ours {our_wall:.2f} s", file=sys.stderr)
    finally:
        standin.terminate()
        standin.wait(timeout=10)
    b, c = fit([(n, t) for n, _, t, _ in rows])
    print(f"\nThe original algorithm against ours (combine and delete), on s3-standin at {args.latency_ms:g} ms "
          f"median / {args.p99_ms:g} ms p99 first byte, this machine ({os.cpu_count()} cores)\n")
    print(f"{'files':>7} {'MiB':>6} {'original s':>11} {'ours s':>8} {'ours faster':>12}")
    for size, total, original_wall, our_wall in rows:
        print(f"{size:7d} {total / 2**20:6.1f} {original_wall:11.1f} {our_wall:8.2f} {original_wall / our_wall:11.1f}x")
    projected = b * args.project + c * args.project ** 2
    print(f"\nfit of the original: {b:.4f}*N + {c:.3g}*N^2 seconds; projected at {args.project:,} "
          f"files: {projected:,.0f} s ({projected / 3600:.1f} h) — a projection, not a measurement")


if __name__ == "__main__":
    main()
