#!/usr/bin/env python3
"""AmplifyLogExporter's memory and speed in the size of the file Amplify hands over: the real
bootstrap under lambda-local, exporting one app's day from tools/moto-local's GenerateAccessLogs
stand-in into build/bin/s3-standin, for files of --sizes MB; next to a baseline measured in the
same run, the reference design's way of storing one (Python: GenerateAccessLogs, the presigned URL
read whole, then one PutObject through boto3). The stand-in answers with the URL of a file in the
S3 stand-in, so both read it from the same fast server.

    bench/amplify_export.py [--sizes 16,128,512] [--latency-ms 20] [--env NAME=VALUE] [--report FILE]

For each size: wall seconds, MB a second and peak RSS of each, the object stored checked against
the file (same size). The S3 stand-in answers each request's first byte after --latency-ms (median;
p99 three times that), as S3 does. The bootstrap reads the file in 8 MiB ranges, four at once, and
uploads them as parts, four at once, so past those its peak RSS should not grow with the file;
the baseline holds the whole file. Needs scripts/build first."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import combine_delete  # noqa: E402  (one way to start the local servers and to invoke a bootstrap)
from combine_delete import start  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
BUCKET = "bench-amplify"
DAY = 86400
MB = 1_000_000

# The reference design's step, in a process of its own so that its peak RSS is its own: ask
# for the day's logs (unsigned: moto-local runs here without checks), read the URL whole, put it.
BASELINE = """
import json, resource, sys, time, urllib.request, boto3
endpoint, moto, app_id, start, bucket, key = sys.argv[1:7]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
started = time.monotonic()
asked = json.dumps({"domainName": "www.example.com", "startTime": int(start),
                    "endTime": int(start) + 86400 - 1}).encode()
request = urllib.request.Request(f"{moto}/apps/{app_id}/accesslogs", data=asked, method="POST", headers={
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261116/us-east-1/amplify/aws4_request, "
                     "SignedHeaders=host, Signature=0"})
url = json.load(urllib.request.urlopen(request))["logUrl"]
body = urllib.request.urlopen(url).read()
s3.put_object(Bucket=bucket, Key=key, Body=body)
print(json.dumps({"wall_s": time.monotonic() - started,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def day_file(megabytes):
    """A day of Amplify's CSV of about `megabytes`: a request every `interval` s, each row padded."""
    interval = 10 if megabytes < 64 else 1
    rows = DAY // interval
    row_bytes = int(megabytes * MB / rows)
    header = ("date,time,x-edge-location,sc-bytes,c-ip,cs-method,cs(Host),cs-uri-stem,sc-status,cs(Referer),"
              "cs(User-Agent),cs-uri-query,cs(Cookie),x-edge-result-type,x-edge-request-id\n")
    lines = [header.encode()]
    for second in range(0, DAY, interval):
        row = (f"2026-11-16,{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d},FRA56-P1,512,"
               f"192.0.2.{second % 250},GET,www.example.com,/page/{second},200,-,Mozilla/5.0,-,-,Hit,req-")
        lines.append((row + "x" * max(0, row_bytes - len(row) - 1) + "\n").encode())
    return b"".join(lines)


def register(moto, s3, s3_endpoint, app_id, megabytes):
    """An app whose day's logs are a file in the S3 stand-in: both sides read it from the same
    fast server (moto-local's own would be the slowest part of the run)."""
    s3.put_object(Bucket=BUCKET, Key=f"amplify-files/{app_id}.csv", Body=day_file(megabytes))
    app = {"accountId": "123456789012", "region": "us-east-1", "appId": app_id,
           "domainName": "www.example.com", "logUrl": f"{s3_endpoint}/{BUCKET}/amplify-files/{app_id}.csv"}
    request = urllib.request.Request(moto + "/moto-local/amplify-apps", data=json.dumps(app).encode(), method="POST")
    urllib.request.urlopen(request).read()


def measure(moto, s3_endpoint, s3, megabytes, scratch, extra):
    app_id = f"d{int(megabytes)}bench"
    register(moto, s3, s3_endpoint, app_id, megabytes)
    start = 1794787200  # 2026-11-16T00:00:00Z
    event = {"app": {"appId": app_id, "domainName": "www.example.com", "appName": f"bench{int(megabytes)}",
                     "region": "us-east-1", "accountId": "123456789012"},
             "start": "2026-11-16T00:00:00Z", "end": "2026-11-17T00:00:00Z"}
    environment = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ENDPOINT_URL_AMPLIFY": moto,
                   "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                   "AMPLIFY_APPS": f"s3://{BUCKET}/apps.json", "DESTINATION_BUCKET": BUCKET,
                   "DESTINATION_PREFIX": "aggregated", **extra}
    response, wall, cpu, rss = combine_delete.invoke("AmplifyLogExporter", event, environment, scratch)
    stored = s3.head_object(Bucket=BUCKET, Key=response["key"])["ContentLength"]
    if stored != response["bytes"]:
        raise SystemExit(f"{megabytes} MB: stored {stored} bytes, the function said {response['bytes']}")
    baseline = json.loads(subprocess.run(
        [sys.executable, "-c", BASELINE, s3_endpoint, moto, app_id, str(start), BUCKET, f"baseline/{app_id}"],
        capture_output=True, text=True, check=True).stdout)
    reference = s3.head_object(Bucket=BUCKET, Key=f"baseline/{app_id}")["ContentLength"]
    if reference != stored:
        raise SystemExit(f"{megabytes} MB: the function stored {stored} bytes, the whole file is {reference}")
    return {"file_mb": stored / MB, "rows": response["rows"], "ranges": response["ranges"],
            "bootstrap": {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss, "mb_per_s": stored / MB / wall},
            "baseline": {**baseline, "mb_per_s": stored / MB / baseline["wall_s"]}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16,128,512", help="MB of the day's file, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=20, help="the S3 stand-in's median first byte (p99: 3x)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the function (PART_BYTES=...)")
    parser.add_argument("--report", help="also write the figures as JSON to this file")
    args = parser.parse_args()
    processes = []
    try:
        standin, s3_endpoint = start([os.path.join(BIN, "s3-standin"), "--latency-ms", str(args.latency_ms),
                                      "--p99-ms", str(3 * args.latency_ms)], "listening")
        processes.append(standin)
        moto_process, moto = start([os.path.join(ROOT, "tools", "moto-local")], "moto ready")
        processes.append(moto_process)
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as scratch:
            extra = dict(setting.split("=", 1) for setting in args.env)
            report = {f"{size}_mb": measure(moto, s3_endpoint, s3, float(size), scratch, extra)
                      for size in args.sizes.split(",")}
    finally:
        for process in processes:
            process.terminate()
    for size, figures in report.items():
        ours, theirs = figures["bootstrap"], figures["baseline"]
        print(f"{figures['file_mb']:.0f} MB ({figures['rows']:,} rows): bootstrap {ours['wall_s']:.2f} s "
              f"({ours['mb_per_s']:.0f} MB/s), peak RSS {ours['peak_rss_mib']} MiB; reference "
              f"{theirs['wall_s']:.2f} s ({theirs['mb_per_s']:.0f} MB/s), peak RSS {theirs['peak_rss_mib']} MiB: "
              f"{theirs['peak_rss_mib'] / max(1, ours['peak_rss_mib']):.1f}x ours")
    sizes = list(report)[-2:]  # past the ranges and parts in flight, memory should not grow
    first, last = (report[size]["bootstrap"]["peak_rss_mib"] for size in (sizes[0], sizes[-1]))
    print(f"bootstrap peak RSS from {sizes[0]} to {sizes[-1]}: {first} -> {last} MiB ({last / max(1, first):.2f}x)")
    if args.report:
        with open(args.report, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
