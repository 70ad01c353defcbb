"""Baseline for bench_s3_client: boto3 with N threads GETs every key given on stdin.
Prints one JSON line: wall seconds and this process's CPU seconds for the GETs alone."""
import concurrent.futures
import json
import resource
import sys
import time

import boto3
import botocore.config

endpoint, bucket, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = [line.rstrip("\n") for line in sys.stdin if line.strip()]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=botocore.config.Config(max_pool_connections=threads))
client.head_bucket(Bucket=bucket)  # warm up: credentials, endpoint, first connection


def get(key):
    return len(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


cpu_before, wall_before = cpu(), time.monotonic()
with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    total = sum(pool.map(get, keys))
print(json.dumps({"wall_s": time.monotonic() - wall_before, "cpu_s": cpu() - cpu_before,
                  "bytes": total, "requests": len(keys)}))
