#!/usr/bin/env python3
"""Chaos test of the daily pipeline: a day holding every kind of content that has lost data before
(versions of one key, folders whose names collide, broken gzip and binary files, keys with "./",
"../" and "//", gzip and plain in one folder, large sources copied server-side, files copied as they
are), run through the real bootstraps with a random kill -9 and injected S3 faults, then run again
until a run succeeds. After each iteration an invariant checker reads S3 with its own client
(boto3) and the system's gzip, never ours:

- every version of every original of the day is still in its bucket with its bytes, or inside
  exactly one output, byte for byte, starting on a line of its own; what cannot be combined safely
  (broken gzip, binary) is still there;
- every .gz output passes `gzip -t`;
- the index of every output that stands (its ledger record, when its size and ETag are the
  output's) places each original byte for byte, with the SHA-256 of its bytes and of its
  decompressed content (hashlib), and every original deleted is in such an index;
- no multipart upload is left open;
- no output key was written twice (the destination is versioned for the test: one version each);
- the day before is untouched.

The functions run as Step Functions would run them (a group's steps in order, continuations fed
back, a failed step retried twice, a failed group leaving the run failed), each invocation through
`lambda-local invoke`, every AWS call through the fault proxy.

  tests/chaos/chaos_day.py [--iterations 20] [--seed 1] [--fault-rate 0.1]

Prints each iteration's kills, faults and runs, and a summary; exits 1 on any violation.
"""
import argparse
import bz2
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
DAY = "2026-03-05"
# The moto administrator's key and secret are added once moto has made them.
CREDENTIALS = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


def started(command, marker):
    """Starts a server that prints `marker URL` once it listens; returns (process, URL)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if marker in line:
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, line.split()[-1]
    raise SystemExit(f"chaos: {command[0]} never printed {marker!r}")


def lines(rng, tag, count):
    return "".join(f'{{"event":"{tag}","n":{i},"r":"{rng.getrandbits(64):016x}"}}\n'
                   for i in range(count))


class Day:
    """The originals of one iteration, as seeded; what they hold once decompressed."""

    def __init__(self, s3, bucket, rng):
        self.s3, self.bucket, self.rng = s3, bucket, rng
        self.unsafe = set()  # keys that must never be combined nor deleted

    def put(self, key, body, unsafe=False):
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        if unsafe:
            self.unsafe.add(key)

    def seed(self, big):
        rng = self.rng
        for version in range(3):  # one key written three times in the day
            self.put(f"app/{DAY}/rewritten.log", lines(rng, f"rewritten v{version}", 3))
        self.put(f"app/{DAY}/a-plain-no-newline.log", lines(rng, "plain a", 2).rstrip("\n"))
        cloudtrail = '{"Records":[{"eventID":"%016x"}]}' % rng.getrandbits(64)
        self.put(f"app/{DAY}/b-cloudtrail.json.gz", gzip.compress(cloudtrail.encode()))
        self.put(f"app/{DAY}/c-gzip.json.gz", gzip.compress(lines(rng, "gzip c", 40).encode()))
        self.put(f"app/{DAY}/z-plain.log", lines(rng, "plain z", 5))
        whole = gzip.compress(lines(rng, "truncated", 400).encode())
        self.put(f"app/{DAY}/truncated.json.gz", whole[: len(whole) // 2], unsafe=True)
        self.put(f"app/{DAY}/archive.log.bz2", bz2.compress(lines(rng, "bzip2", 50).encode()),
                 unsafe=True)
        self.put(f"app/{DAY}/frame.log.zst", b"\x28\xb5\x2f\xfd" + rng.randbytes(200), unsafe=True)
        self.put(f"app/{DAY}/nul.log", b"text\x00with a NUL\n", unsafe=True)
        for key in (f"a/b/{DAY}.log", f"a_b/{DAY}.log", f"{DAY}-root.log", f"root/{DAY}.log",
                    f"dots/{DAY}/./x.log", f"dots/{DAY}/y/../z.log", f"dots//{DAY}.log",
                    f"h1/{DAY}/big.log", f"h2/{DAY}/big.log"):
            size = 250_000 if key.endswith("big.log") else 3  # the h1/h2 pair is copied as is
            self.put(key, lines(rng, key, 3) if size == 3 else lines(rng, key, size // 60))
        if big:  # copied server-side but for its downloaded tail
            self.put(f"large/{DAY}/large.log", lines(rng, "large", 230_000))  # about 12 MB
            self.put(f"large/{DAY}/small.log", lines(rng, "small beside large", 4))
        self.put("app/2026-03-04/yesterday.log", "not today\n")

    def originals(self):
        """Every version of the day's keys: (key, version id, bytes)."""
        found = []
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket):
            for version in page.get("Versions", []):
                if DAY in version["Key"]:
                    body = self.s3.get_object(Bucket=self.bucket, Key=version["Key"],
                                              VersionId=version["VersionId"])["Body"].read()
                    found.append((version["Key"], version["VersionId"], body))
        return found


def text_of(body):
    if body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    return body


def aligned_count(haystack, needle):
    """How often `needle` stands in `haystack` on lines of its own."""
    if not needle.endswith(b"\n"):
        needle += b"\n"
    count, start = 0, 0
    while (index := haystack.find(needle, start)) != -1:
        if index == 0 or haystack[index - 1:index] in (b"\n", b"\x00"):
            count += 1
        start = index + 1
    return count


class Pipeline:
    def __init__(self, endpoint, buckets, rng, kill_at):
        self.environment = dict(CREDENTIALS, AWS_ENDPOINT_URL=endpoint, WORK_BUCKET=buckets["work"],
                                DESTINATION_BUCKET=buckets["destination"], DESTINATION_PREFIX="agg",
                                OTHER_BUCKETS=buckets["source"], DELAY_WINDOW_S="0")
        if rng.random() < 0.5:
            self.environment["MAX_INVOCATION_MS"] = "0"  # every continuation loop taken
        self.rng, self.kill_at = rng, kill_at
        # Half the iterations give a step a single attempt: the killed step then fails its group
        # and the run, and the day runs again (the ledger's path), as after a Map run aborted.
        self.attempts = rng.choice([1, 3])
        self.logs = None
        self.invocations, self.kills = 0, 0

    def invoke(self, function, event):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump(event, file)
            file.flush()
            command = [os.path.join(BIN, "lambda-local"), "invoke", os.path.join(BIN, function),
                       file.name, "--timeout", "120"]
            for name, value in self.environment.items():
                command += ["--env", f"{name}={value}"]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            timer = None
            # From the chosen invocation on, until one lands: an invocation may end first.
            if self.invocations >= self.kill_at and self.kills == 0:
                timer = threading.Timer(self.rng.uniform(0.005, 0.2), self.kill, [process.pid])
                timer.start()
            self.invocations += 1
            out, err = process.communicate()
            if self.logs:
                with open(os.path.join(self.logs, f"{self.invocations:03d}-{function}.log"), "wb") as log:
                    log.write(err)
            if timer:
                timer.cancel()
        try:
            return process.returncode, json.loads(out)
        except ValueError:
            return process.returncode, None

    def kill(self, parent):
        """kill -9 of the function's process (lambda-local's child), wherever it is."""
        if subprocess.run(["pkill", "-KILL", "-P", str(parent)]).returncode == 0:
            self.kills += 1

    def step(self, function, event):
        """A Task state with Retry: the same input up to `attempts` times."""
        for _ in range(self.attempts):
            code, result = self.invoke(function, event)
            if code == 0:
                return result
        return None

    def loop(self, function, event):
        """A Task and its continuation Choice."""
        while True:
            result = self.step(function, event)
            if result is None or "continuation" not in result:
                return result
            event = result

    def run_day(self, run_id, s3, work_bucket):
        now = time.time()
        started_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        listed = self.loop("GetFiles", {"date": DAY, "run_id": run_id, "started_at": started_at})
        if listed is None:
            return False
        if listed["group_count"] == 0:
            return True
        reference = listed["groups"]
        groups = json.loads(s3.get_object(Bucket=reference["bucket"], Key=reference["key"])["Body"].read())
        succeeded = True
        for group in groups:
            planned = self.step("DetermineOperationType", {"group": group, "run_id": run_id})
            if planned is None:
                succeeded = False
                continue
            if planned["operation"] == "none":
                continue
            combined = self.loop("CombineLogFiles", dict(planned, run_id=run_id))
            if combined is None:
                succeeded = False
                continue  # a failed group never reaches DeleteOriginals
            if self.loop("DeleteOriginals", dict(combined, run_id=run_id)) is None:
                succeeded = False
        return succeeded


def check_indexes(s3, work, stored, originals):
    """The originals each standing output's ledger record indexes, and what is wrong with them."""
    violations, indexed = [], set()
    bodies = {(key, version_id): body for key, version_id, body in originals}
    sha256 = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=work, Prefix="ledger/"):
        for entry in page.get("Contents", []):
            record = json.loads(s3.get_object(Bucket=work, Key=entry["Key"])["Body"].read())
            size, etag, body = stored.get(record["key"], (None, None, None))
            if (size, etag) != (record["size"], record["etag"]):
                continue  # an attempt that never completed this output
            for i, source in enumerate(record["sources"]):
                piece = body[record["offsets"][i]:record["offsets"][i] + source["size"]]
                content = gzip.decompress(piece) if piece[:2] == b"\x1f\x8b" else piece
                name = f"{source['key']} in {record['key']}"
                original = bodies.get((source["key"], source.get("version_id", "null")))
                if original is not None and piece != original:
                    violations.append(f"the index places {name} over other bytes")
                if sha256(piece) != record["sha256"][i] or sha256(content) != record["content_sha256"][i]:
                    violations.append(f"the index's digests of {name} are not its bytes'")
                indexed.add((source["key"], source.get("version_id", "null")))
    return indexed, violations


def check(s3, buckets, originals, unsafe):
    violations = []
    destination, source = buckets["destination"], buckets["source"]
    outputs = {}
    stored = {}  # output key: (size, ETag, bytes as stored)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=destination):
        for version in page.get("Versions", []):
            key = version["Key"]
            if key in outputs:
                violations.append(f"output {key} written twice")
            body = s3.get_object(Bucket=destination, Key=key, VersionId=version["VersionId"])["Body"].read()
            stored[key] = (version["Size"], version["ETag"], body)
            if key.endswith(".gz"):
                with tempfile.NamedTemporaryFile(suffix=".gz") as file:
                    file.write(body)
                    file.flush()
                    if subprocess.run(["gzip", "-t", file.name], capture_output=True).returncode:
                        violations.append(f"output {key} fails gzip -t")
                        continue
                body = gzip.decompress(body)
            outputs[key] = body
    everything = b"\x00".join(outputs.values())  # a NUL never occurs in an output
    indexed, index_violations = check_indexes(s3, buckets["work"], stored, originals)
    violations += index_violations
    for key, version_id, body in originals:
        try:
            still = s3.get_object(Bucket=source, Key=key, VersionId=version_id)["Body"].read() == body
        except s3.exceptions.NoSuchKey:
            still = False
        except Exception:  # NoSuchVersion
            still = False
        if key in unsafe:
            if not still:
                violations.append(f"{key} ({version_id}) cannot be combined but was deleted")
            continue
        count = aligned_count(everything, text_of(body)) if body else 0
        if not still and body and count != 1:
            violations.append(f"{key} ({version_id}) deleted, and in {count} outputs")
        if not still and body and (key, version_id) not in indexed:
            violations.append(f"{key} ({version_id}) deleted, and in no output's index")
        if still and count > 1:
            violations.append(f"{key} ({version_id}) in {count} outputs")
    for upload in s3.list_multipart_uploads(Bucket=destination).get("Uploads", []):
        violations.append(f"a multipart upload was left open: {upload['Key']}")
    yesterday = s3.get_object(Bucket=source, Key="app/2026-03-04/yesterday.log")["Body"].read()
    if yesterday != b"not today\n":
        violations.append("the day before was touched")
    return violations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--first", type=int, default=0, help="the first iteration to run")
    parser.add_argument("--logs", help="a folder for each invocation's logs")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="chaos-")
    moto, endpoint = started([os.path.join(ROOT, "tools", "moto-local"), "--check-signatures",
                              "--endpoint-file", os.path.join(scratch, "endpoint")], "moto ready")
    with open(os.path.join(scratch, "endpoint.credentials")) as source:
        key, secret = source.read().split()
    CREDENTIALS.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    os.environ.update(CREDENTIALS)
    # The key the ledger and checkpoints are sealed with (pipeline/seal.h).
    kms = boto3.client("kms", endpoint_url=endpoint)
    CREDENTIALS["SEAL_KEY_ID"] = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")[
        "KeyMetadata"]["Arn"]
    proxy, proxied = started([os.path.join(BIN, "fault-proxy"), "--upstream", endpoint,
                              "--rate", str(args.fault_rate), "--seed", str(args.seed), "--faults",
                              "throttle,internal,reset_before,reset_after,error_in_200"],
                             "fault-proxy listening")
    s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 10}))
    total_kills, total_runs, failures = 0, 0, []
    try:
        for iteration in range(args.first, args.first + args.iterations):
            rng = random.Random(args.seed * 1000 + iteration)
            buckets = {name: f"chaos-{name}-{args.seed}-{iteration}" for name in ("source", "work", "destination")}
            for bucket in buckets.values():
                s3.create_bucket(Bucket=bucket)
            for name in ("source", "destination"):
                s3.put_bucket_versioning(Bucket=buckets[name],
                                         VersioningConfiguration={"Status": "Enabled"})
            day = Day(s3, buckets["source"], rng)
            day.seed(big=iteration % 4 == 0)
            originals = day.originals()
            pipeline = Pipeline(proxied, buckets, rng, kill_at=rng.randrange(0, 12))
            if args.logs:
                pipeline.logs = os.path.join(args.logs, str(iteration))
                os.makedirs(pipeline.logs, exist_ok=True)
            runs = 0
            while True:
                runs += 1
                if pipeline.run_day(f"chaos-{iteration}-{runs}", s3, buckets["work"]) or runs >= 6:
                    break
            violations = check(s3, buckets, originals, day.unsafe)
            if runs >= 6:
                violations.append("the day never succeeded in 6 runs")
            total_kills += pipeline.kills
            total_runs += runs
            print(f"iteration {iteration}: {len(originals)} original versions, "
                  f"{pipeline.invocations} invocations, {pipeline.kills} kill(s), {runs} run(s), "
                  f"{'continuations' if 'MAX_INVOCATION_MS' in pipeline.environment else 'one-shot'}, "
                  f"{pipeline.attempts} attempt(s) a step: "
                  f"{'OK' if not violations else 'VIOLATED'}", flush=True)
            for violation in violations:
                print(f"  {violation}", flush=True)
            failures += violations
        with urllib.request.urlopen(proxied + "/fault-proxy/stats") as response:
            stats = json.load(response)
        faults = {name: count for name, count in stats["faults"].items() if name != "none" and count}
        print(f"chaos: {args.iterations} iterations, {total_kills} kills, {total_runs} runs, "
              f"{stats['requests']} requests, {sum(faults.values())} faults injected {faults}")
    finally:
        proxy.terminate()
        moto.terminate()
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print(f"chaos: {len(failures)} violations")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
