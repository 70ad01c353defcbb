#!/usr/bin/env python3
"""Cold start of every packaged x86_64 bootstrap (build/artifacts/x86_64/<LogicalId>/bootstrap):
init duration (exec → first GET /next, median of --runs) and peak RSS, measured by
bench_runtime_startup, next to python3 + boto3 creating the same AWS clients in the same run;
the dynamically linked build/bin/<name> beside it; and the zip size Lambda would be given, for
x86_64 and for the arm64 build (which this machine runs only under qemu, so it is not timed).

    bench/cold_start.py [--runs 20]

Needs scripts/build and make -j2 artifacts-all first."""
import argparse
import io
import os
import re
import subprocess
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "x86_64")
ARM64_ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "arm64")
CLIENTS = {"GetFiles": "s3", "DetermineOperationType": "s3", "CombineLogFiles": "s3", "DeleteOriginals": "s3",
           "CrawlerTrigger": "glue,s3", "ManifestBuilder": "dynamodb,stepfunctions,s3"}
# What each function's initialisation insists on, with made-up values: nothing is called at init.
# The one invocation after it (for peak RSS) may try AWS: a closed local port answers at once.
ENVIRONMENT = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
               "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1",
               "WORK_BUCKET": "work-bucket", "DESTINATION_BUCKET": "destination-bucket", "SEAL_KEY_ID": "alias/standin-seal",
               "OTHER_BUCKETS": "app-logs", "LEDGER_TABLE": "ledger",
               "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
               "CRAWLER_MODE": "crawler", "CRAWLER_NAMES": "crawler", "GLUE_DATABASE": "db"}


def measure(bootstrap, clients, runs):
    command = [os.path.join(ROOT, "build", "bin", "bench_runtime_startup"), "--bootstrap", bootstrap,
               "--runs", str(runs), "--invocations", "0", "--python-clients", clients]
    for name, value in ENVIRONMENT.items():
        command += ["--env", f"{name}={value}"]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = re.findall(r"init\s+([0-9.]+) ms\s+peak RSS\s+([0-9.]+) MiB", text)
    return [(float(ms), float(mib)) for ms, mib in rows]


def zipped(path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.write(path, "bootstrap")
    return len(buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"init = exec → first GET /next, median of {args.runs}; python3 + boto3 creating the same clients")
    print("| function | static init | static RSS | zip | arm64 zip | dynamic init | dynamic RSS | python init |"
          " python RSS | python/static init |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for logical_id in sorted(os.listdir(ARTIFACTS)):
        name = logical_id.removesuffix("Function")
        artifact = os.path.join(ARTIFACTS, logical_id, "bootstrap")
        (static_ms, static_mib), (python_ms, python_mib) = measure(artifact, CLIENTS[name], args.runs)
        (dynamic_ms, dynamic_mib), _ = measure(os.path.join(ROOT, "build", "bin", name), CLIENTS[name], args.runs)
        arm64 = os.path.join(ARM64_ARTIFACTS, logical_id, "bootstrap")
        arm64_zip = f"{zipped(arm64) / 2**20:.2f} MiB" if os.path.exists(arm64) else "not built"
        print(f"| {name} | {static_ms:.1f} ms | {static_mib:.1f} MiB | {zipped(artifact) / 2**20:.2f} MiB"
              f" | {arm64_zip} | {dynamic_ms:.1f} ms | {dynamic_mib:.1f} MiB | {python_ms:.0f} ms | {python_mib:.1f} MiB"
              f" | {python_ms / static_ms:.0f}× |")


if __name__ == "__main__":
    main()
