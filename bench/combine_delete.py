#!/usr/bin/env python3
"""Combine one group of 10,000 gzip objects of 1-20 KB, then delete the originals, with the real
CombineLogFiles and DeleteOriginals bootstraps under lambda-local: at 2 and at 64 connections, and
one request at a time (the baseline), each on its own freshly seeded versioned bucket with the
same plan.

    bench/combine_delete.py [--objects 10000] [--runs one,2,64] [--backend standin|moto]
                            [--latency-ms 20] [--p99-ms 60] [--env NAME=VALUE]...

--backend standin (the default): build/bin/s3-standin, seeded at full speed, then measured with
S3's first-byte latency (log-normal: --latency-ms median, --p99-ms) and per-prefix rate limits; it
counts requests and bytes by operation. --backend moto: moto through build/bin/fault-proxy at fault
rate 0, which keeps connections alive, counts, and holds every request --latency-ms (moto, one
Python process, is then what bounds the figures).

Prints, per run and phase: wall seconds, requests by operation, MiB sent and received, the
bootstrap's peak RSS (lambda-local's REPORT line) and CPU seconds (the invocation's process tree),
the speed-up against the one-at-a-time run, requests per file, and the share of the latency limit
reached: requests x median latency / connections is the least time those requests can take. Needs
scripts/build first."""
import argparse
import base64
import concurrent.futures
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
DAY = "2026-03-05"
WRITE_RATE = 3500  # S3's writes per second and prefix, as the stand-in is told to answer


def start(command, marker):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    for line in process.stdout:
        if marker in line:
            return process, re.search(r"http://[0-9.:]+", line).group(0)
    raise SystemExit(f"{command[0]} did not start")


def stats(backend, url):
    path = "/_standin/stats" if backend == "standin" else "/fault-proxy/stats"
    with urllib.request.urlopen(url + path) as response:
        return json.load(response)["operations"]


def set_model(url, **model):
    request = urllib.request.Request(url + "/_standin/model", data=json.dumps(model).encode(), method="POST")
    with urllib.request.urlopen(request) as response:
        return response.read().decode()


def difference(after, before):
    result = {}
    for name, traffic in after.items():
        old = before.get(name, {key: 0 for key in traffic})
        delta = {key: traffic[key] - old.get(key, 0) for key in traffic}
        if "most_in_flight" in traffic:  # a peak since the last read, not a count
            delta["most_in_flight"] = traffic["most_in_flight"]
        if delta["count"]:
            result[name] = delta
    return result


def folders(count):
    """The day folders of `count` groups: one, or as Control Tower spreads a day (an account's
    CloudTrail folder per region, the accounts one after another)."""
    if count == 1:
        return [f"app/{DAY}/"]
    import list_day  # here: it imports this module for the stand-in's controls
    day = DAY.replace("-", "/")
    return [f"{list_day.ORGANISATION}/AWSLogs/{100000000000 + n // len(list_day.REGIONS)}/CloudTrail/"
            f"{list_day.REGIONS[n % len(list_day.REGIONS)]}/{day}/" for n in range(count)]


def seed(s3, bucket, objects, rng_seed, prefixes=1):
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rng = random.Random(rng_seed)
    bodies = []
    for n in range(objects):
        # 1-20 KB once compressed, as S3 holds them: random payloads compress to about 0.78.
        target = rng.randint(1024, 20 * 1024) / 0.78
        lines = []
        size = 0
        while size < target:
            line = json.dumps({"eventTime": f"{DAY}T00:00:{n % 60:02d}Z", "requestID": f"{rng.getrandbits(64):016x}",
                               "eventName": rng.choice(["GetObject", "PutObject", "ListBucket"]),
                               "payload": base64.b64encode(rng.randbytes(240)).decode()})
            lines.append(line)
            size += len(line) + 1
        bodies.append(gzip.compress(("\n".join(lines) + "\n").encode()))
    day_folders = folders(prefixes)
    keys = [f"{day_folders[n % prefixes]}part-{n:06d}.json.gz" for n in range(objects)]

    def put(index):
        response = s3.put_object(Bucket=bucket, Key=keys[index], Body=bodies[index])
        return {"key": keys[index], "size": len(bodies[index]), "etag": response["ETag"],
                "version_id": response["VersionId"]}

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        return list(pool.map(put, range(objects)))


def invoke(function, event, environment, scratch):
    """Runs the bootstrap under lambda-local; returns (response, wall s, CPU s, peak RSS MiB)."""
    event_path = os.path.join(scratch, f"{function}.json")
    with open(event_path, "w") as out:
        json.dump(event, out)
    command = [os.path.join(BIN, "lambda-local"), "invoke", function, event_path, "--timeout", "900",
               "--memory", "1769", "--log-level", "WARN"]
    for name, value in environment.items():
        command += ["--env", f"{name}={value}"]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{function} failed:\n{done.stdout}\n{done.stderr[-2000:]}")
    rss = re.findall(r"Max Memory Used: (\d+) MB", done.stderr)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return json.loads(done.stdout), wall, cpu, max(int(value) for value in rss) if rss else 0


def run_phase(function, events, environment, scratch):
    """One phase: each group's invocations (fed their continuations until none) under lambda-local,
    the groups side by side, as a Map runs them; (responses, wall s, CPU s, peak RSS MiB)."""
    def chain(indexed):
        index, event = indexed
        rss = 0
        while True:
            response, _, _, peak = invoke(function, event, environment, os.path.join(scratch, str(index)))
            rss = max(rss, peak)
            if "continuation" not in response:
                return response, rss
            event = response

    for index in range(len(events)):
        os.makedirs(os.path.join(scratch, str(index)), exist_ok=True)
    # The phase's CPU: every invocation's process tree has ended by the second reading.
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(events)) as pool:
        done = list(pool.map(chain, enumerate(events)))
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return [d[0] for d in done], wall, cpu, max(d[1] for d in done)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--runs", default="one,2,64", help="'one' (one request at a time) and connection counts")
    parser.add_argument("--latency-ms", type=float, default=20,
                        help="S3's median first-byte latency (moto: added to every request by the proxy)")
    parser.add_argument("--p99-ms", type=float, default=60, help="the stand-in's p99 first-byte latency")
    parser.add_argument("--backend", choices=("standin", "moto"), default="standin")
    parser.add_argument("--prefixes", type=int, default=1,
                        help="spread the objects over this many Control Tower day folders, one group each, "
                             "every phase running the groups side by side")
    parser.add_argument("--report", help="also write the figures as JSON to this file (bench/cost.py reads it)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more environment for the functions (a setting to compare)")
    args = parser.parse_args()

    processes = []
    if args.backend == "standin":
        standin, endpoint = start([os.path.join(BIN, "s3-standin"), "--latency-ms", "0", "--read-rate", "0",
                                   "--write-rate", "0"], "listening")
        processes.append(standin)
        proxy = endpoint
        measured = dict(latency_ms=args.latency_ms, p99_ms=args.p99_ms, read_rate=5500, write_rate=WRITE_RATE)
        unmeasured = dict(latency_ms=0, p99_ms=0, read_rate=0, write_rate=0)
    else:
        moto, endpoint = start([os.path.join(ROOT, "tools", "moto-local")], "moto ready")
        latency = ["--faults", "delay", "--rate", "1", "--delay-ms", str(int(args.latency_ms))] if args.latency_ms else []
        proxy_process, proxy = start([os.path.join(BIN, "fault-proxy"), "--upstream", endpoint, "--rate", "0"] + latency,
                                     "fault-proxy listening")
        processes += [proxy_process, moto]
    model = ""
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing",
                          config=botocore.config.Config(max_pool_connections=32))
        for bucket in ("bench-work", "bench-destination"):
            s3.create_bucket(Bucket=bucket)
        common = {"AWS_ENDPOINT_URL": proxy, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_REGION": "us-east-1", "WORK_BUCKET": "bench-work", "DESTINATION_BUCKET": "bench-destination",
                  "DESTINATION_PREFIX": "aggregated", "SEAL_KEY_ID": "alias/standin-seal"}
        common.update(setting.split("=", 1) for setting in args.env)
        results = []
        with tempfile.TemporaryDirectory() as scratch:
            for run in args.runs.split(","):
                connections = 1 if run == "one" else int(run)
                bucket = f"bench-source-{run}"
                seeding = time.monotonic()
                files = seed(s3, bucket, args.objects, rng_seed=7, prefixes=args.prefixes)
                total = sum(f["size"] for f in files)
                print(f"[{run}] seeded {len(files)} objects, {total / 2**20:.1f} MiB, in "
                      f"{time.monotonic() - seeding:.0f} s", file=sys.stderr)
                groups = []
                for n, folder in enumerate(folders(args.prefixes)):
                    mine = [f for f in files if f["key"].startswith(folder)]
                    listing = "\n".join(json.dumps(f) for f in mine) + "\n"
                    s3.put_object(Bucket="bench-work", Key=f"lists/{run}-{n}.jsonl", Body=listing.encode())
                    groups.append({"group_id": f"bench-{run}-{n}", "kind": "other", "source_bucket": bucket,
                                   "date": DAY, "directory": folder, "run_id": f"bench-{run}",
                                   "files": {"bucket": "bench-work", "key": f"lists/{run}-{n}.jsonl",
                                             "count": len(mine), "bytes": sum(f["size"] for f in mine)}})
                environment = dict(common, HTTP_MAX_CONNECTIONS_PER_HOST=str(connections),
                                   DOWNLOAD_CONCURRENCY=str(connections), DELETE_CONCURRENCY=str(connections),
                                   LIST_CONCURRENCY=str(connections), HEAD_CONCURRENCY=str(connections))
                events = groups
                for phase, function in (("plan", "DetermineOperationType"), ("combine", "CombineLogFiles"),
                                        ("delete", "DeleteOriginals")):
                    if args.backend == "standin":
                        model = set_model(endpoint, **measured)
                    before = stats(args.backend, proxy)
                    responses, wall, cpu, rss = run_phase(function, events, environment, scratch)
                    operations = difference(stats(args.backend, proxy), before)
                    if args.backend == "standin":
                        set_model(endpoint, **unmeasured)
                    results.append({"run": run, "phase": phase, "wall": wall, "cpu": cpu, "rss": rss,
                                    "operations": operations, "connections": connections,
                                    "files": len(files), "prefixes": args.prefixes})
                    print(f"[{run}] {phase}: {wall:.2f} s", file=sys.stderr)
                    events = [dict(response, run_id=f"bench-{run}") for response in responses]
                left = s3.list_object_versions(Bucket=bucket).get("Versions", [])
                if left:
                    raise SystemExit(f"[{run}] {len(left)} originals left after DeleteOriginals")
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    if args.report:
        with open(args.report, "w") as out:
            json.dump({"benchmark": "combine_delete", "objects": args.objects, "latency_ms": args.latency_ms,
                       "model": model, "results": results}, out, indent=1)
    baseline = {r["phase"]: r["wall"] for r in results if r["run"] == "one"}
    where = (f"s3-standin ({model})" if args.backend == "standin"
             else f"moto, {args.latency_ms} ms added to every request")
    spread = ("one group" if args.prefixes == 1 else
              f"{args.prefixes} groups, one a Control Tower day folder, each phase running them side by side")
    print(f"\n{args.objects} gzip objects of 1-20 KB in {spread}, on this machine ({os.cpu_count()} cores), "
          f"{where}\n")
    print(f"{'run':>8} {'phase':>8} {'wall s':>8} {'vs one':>7} {'limit':>6} {'req/file':>8} {'CPU s':>7} "
          f"{'RSS MiB':>8} {'MiB sent':>9} {'MiB recv':>9}  requests by operation")
    for r in results:
        sent = sum(t["bytes_sent"] for t in r["operations"].values()) / 2**20
        received = sum(t["bytes_received"] for t in r["operations"].values()) / 2**20
        ratio = baseline.get(r["phase"], 0) / r["wall"] if r["wall"] else 0
        count = sum(t["count"] for t in r["operations"].values())
        prefixes = r.get("prefixes", 1)
        limit = count * args.latency_ms / 1000 / (r["connections"] * prefixes)
        if r["phase"] == "delete" and args.backend == "standin":
            # Each key a write on its prefix: the rate allows a second's burst, then 3,500/s.
            limit = max(limit, (r["files"] / prefixes - WRITE_RATE) / WRITE_RATE)
        label = "one" if r["run"] == "one" else f"{r['run']} conn"
        requests = ", ".join(f"{name} {t['count']}" for name, t in sorted(r["operations"].items()))
        slow = sum(t.get("slow_down", 0) for t in r["operations"].values())
        print(f"{label:>8} {r['phase']:>8} {r['wall']:8.2f} {ratio:6.1f}x {limit / r['wall']:6.0%} "
              f"{count / r['files']:8.3f} {r['cpu']:7.2f} {r['rss']:8d} {sent:9.1f} {received:9.1f}  "
              f"{requests}" + (f"; {slow} answered 503 SlowDown" if slow else "")
              + (f"; at most {batches} DeleteObjects in flight" if (batches := r["operations"].get(
                  "DeleteObjects", {}).get("most_in_flight")) else ""))
    for r in results:
        if r["phase"] == "delete" and r.get("prefixes", 1) > 1:
            rate = r["files"] / r["wall"]
            print(f"\n{r['run']} conn, delete across {r['prefixes']} prefixes: {rate:,.0f} keys a second, "
                  f"{rate / WRITE_RATE:.1f}x the {WRITE_RATE:,} writes a second one prefix allows")
    print("\nlimit: the least time the requests can take, as a share of the wall time: the latency limit "
          "(requests x median latency / connections of all groups), or for the delete on the stand-in the per-prefix write "
          f"rate's if longer (keys beyond a second's burst / {WRITE_RATE}/s)")


if __name__ == "__main__":
    main()
