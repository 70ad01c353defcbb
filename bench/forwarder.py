#!/usr/bin/env python3
"""LogForwarder's throughput, memory and lag: the real bootstrap under lambda-local at 1,769 MB
(one vCPU on Lambda), reading gzip NDJSON from build/bin/s3-standin (S3's first-byte latency) and
posting to build/bin/http-sink, against a baseline measured in the same run.

    bench/forwarder.py [--megabytes 1024] [--object-mb 32] [--baseline-megabytes 256]
                       [--load-mb-per-minute 2280] [--load-seconds 60] [--report FILE]

1. Throughput: --megabytes of decompressed lines in objects of --object-mb, in SQS batches of 10
   notifications, one invocation after another (one instance): MB a minute of decompressed lines,
   the bootstrap's CPU seconds and peak RSS. The baseline forwards --baseline-megabytes of the
   same objects as the reference daemon's loop does, one request at a time in one Python thread
   (boto3 GET, gunzip, 1,000-line gzip POSTs): the same work with no overlap. Next to both: the
   reference daemon's 228 MB a minute (15 S3 and 10 HTTP workers) and the issue's goal, 10 times
   that.
2. Memory in object size: objects of 16, 128 and 512 MB of lines (1.6 to 51 MB of gzip), each in
   an invocation of its own. An object is read in 8 MiB ranges: from 128 MB on, peak RSS should
   no longer grow.
3. Lag under steady load: objects of 8 MB put every second at --load-mb-per-minute for
   --load-seconds, their notifications handed to the function as Lambda's SQS source would (up to
   10 records, a batching window of 1 s, one invocation at a time); lag is from an object's
   upload to the end of the invocation that forwarded it (at least the function's own LagP99,
   which ends at the last batch acknowledged). p50 and p99 over the objects.

The machine's cores are shared by the function, the stand-in and the sink; CPU seconds say what
the function alone used. Needs scripts/build first."""
import argparse
import concurrent.futures
import gzip
import json
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
import botocore.config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import combine_delete  # noqa: E402  (one way to start the local servers and to invoke a bootstrap)
from combine_delete import start  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
BUCKET = "bench-zscaler-logs"
REFERENCE_MB_PER_MINUTE = 228
MB = 1_000_000  # the reference counts decimal megabytes


def line_pool(rng, count=20000):
    """Zscaler web log lines as NSS sends them: repeated field names and values, a few unique ones."""
    actions = ["Allowed", "Blocked"]
    categories = ["Web Search", "Professional Services", "Social Networking", "Corporate Marketing", "Finance"]
    lines = []
    for n in range(count):
        lines.append(json.dumps({
            "sourcetype": "zscalernss-web", "event": {
                "datetime": f"2026-03-05 10:{n % 60:02d}:{rng.randrange(60):02d}", "reason": rng.choice(actions),
                "event_id": rng.getrandbits(63), "protocol": "HTTPS", "action": rng.choice(actions),
                "transactionsize": rng.randrange(200, 90000), "responsesize": rng.randrange(100, 80000),
                "requestsize": rng.randrange(100, 9000), "urlcategory": rng.choice(categories),
                "serverip": f"203.0.113.{rng.randrange(256)}", "clienttranstime": rng.randrange(500),
                "requestmethod": rng.choice(["GET", "POST", "CONNECT"]), "refererURL": "None",
                "useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
                "product": "NSS", "location": f"Office-{rng.randrange(40)}", "ClientIP": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
                "status": rng.choice(["200", "204", "302", "403", "404"]), "user": f"user{rng.randrange(5000)}@example.com",
                "url": f"www.example{rng.randrange(900)}.com/path/{rng.getrandbits(40):x}", "vendor": "Zscaler",
                "hostname": f"www.example{rng.randrange(900)}.com", "clientpublicIP": f"198.51.100.{rng.randrange(256)}",
                "threatcategory": "None", "threatname": "None", "filetype": "None", "appname": "General Browsing",
                "pagerisk": rng.randrange(100), "department": f"Dept {rng.randrange(30)}"}}, separators=(",", ":")))
    return lines


def make_body(lines, megabytes, rng):
    """About `megabytes` of NDJSON and its gzip (level 6, as log shippers write)."""
    chosen, size = [], 0
    while size < megabytes * MB:
        batch = rng.choices(lines, k=2000)
        chosen.extend(batch)
        size += sum(len(line) + 1 for line in batch)
    text = ("\n".join(chosen) + "\n").encode()
    return len(text), text.count(b"\n"), gzip.compress(text, 6)


def notification(key, size, etag, when):
    document = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z",
                             "s3": {"bucket": {"name": BUCKET},
                                    "object": {"key": key, "size": size, "eTag": etag.strip('"')}}}]}
    return {"messageId": key, "receiptHandle": "r", "body": json.dumps(document), "eventSource": "aws:sqs"}


def invoke(records, environment, scratch):
    """One invocation under lambda-local at 1,769 MB: (response, wall s, CPU s, peak RSS MiB)."""
    done = combine_delete.invoke("LogForwarder", {"Records": records}, environment, scratch)
    if done[0].get("batchItemFailures"):
        raise SystemExit(f"LogForwarder left records to SQS: {done[0]['batchItemFailures']}")
    return done


def sink_stats(sink):
    with urllib.request.urlopen(sink + "/_sink/stats") as response:
        return json.load(response)


def baseline(s3, objects, sink):
    """The reference daemon's loop, one request at a time: GET, gunzip, POST gzip batches of 1,000 lines."""
    started = time.monotonic()
    cpu_before = time.process_time()
    for key, _, _ in objects:
        text = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        lines = text.split(b"\n")[:-1]
        for first in range(0, len(lines), 1000):
            body = gzip.compress(b"\n".join(lines[first:first + 1000]) + b"\n", 1)
            request = urllib.request.Request(sink + "/ingest", data=body, method="POST", headers={
                "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip",
                "X-Batch-Id": f"baseline:{key}:{first}"})
            urllib.request.urlopen(request).read()
    return time.monotonic() - started, time.process_time() - cpu_before


def put_objects(s3, bodies, count, prefix):
    """`count` objects cycling through `bodies`: [(key, etag, compressed size)]."""
    def put(index):
        body = bodies[index % len(bodies)][2]
        key = f"zscaler/{prefix}/2026/03/05/nss-{index:05d}.json.gz"
        return key, s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"], len(body)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(put, range(count)))


def throughput(args, s3, lines, environment, sink, scratch, rng):
    bodies = [make_body(lines, args.object_mb, rng) for _ in range(4)]
    count = max(1, round(args.megabytes / args.object_mb))
    objects = put_objects(s3, bodies, count, "throughput")
    decompressed = sum(bodies[i % len(bodies)][0] for i in range(count))
    expected_lines = sum(bodies[i % len(bodies)][1] for i in range(count))
    before = sink_stats(sink)
    wall = cpu = 0.0
    rss = 0
    for first in range(0, count, 10):
        records = [notification(key, size, etag, time.time()) for key, etag, size in objects[first:first + 10]]
        _, seconds, used, peak = invoke(records, environment, scratch)
        wall, cpu, rss = wall + seconds, cpu + used, max(rss, peak)
    arrived = sink_stats(sink)["distinct_lines"] - before["distinct_lines"]
    if arrived != expected_lines:
        raise SystemExit(f"{arrived} lines arrived of {expected_lines}")
    base_count = max(1, round(args.baseline_megabytes / args.object_mb))
    base_wall, base_cpu = baseline(s3, objects[:base_count], sink)
    base_bytes = sum(bodies[i % len(bodies)][0] for i in range(base_count))
    result = {"objects": count, "decompressed_mb": decompressed / MB, "lines": expected_lines,
              "compressed_mb": sum(size for _, _, size in objects) / MB, "wall_s": wall, "cpu_s": cpu,
              "peak_rss_mib": rss, "mb_per_minute": decompressed / MB / wall * 60,
              "mb_per_cpu_minute": decompressed / MB / cpu * 60,
              "baseline": {"decompressed_mb": base_bytes / MB, "wall_s": base_wall, "cpu_s": base_cpu,
                           "mb_per_minute": base_bytes / MB / base_wall * 60}}
    result["vs_baseline"] = result["mb_per_minute"] / result["baseline"]["mb_per_minute"]
    result["vs_reference"] = result["mb_per_minute"] / REFERENCE_MB_PER_MINUTE
    return result


def memory(s3, lines, environment, scratch, rng):
    """An object under one 8 MiB range, and two over many: the two should peak alike."""
    result = {}
    for megabytes in (16, 128, 512):
        body = make_body(lines, megabytes, rng)
        (key, etag, size), = put_objects(s3, [body], 1, f"memory-{megabytes}")
        _, wall, cpu, rss = invoke([notification(key, size, etag, time.time())], environment, scratch)
        result[f"{megabytes}_mb"] = {"peak_rss_mib": rss, "wall_s": wall, "cpu_s": cpu}
    result["ratio"] = result["512_mb"]["peak_rss_mib"] / max(1, result["128_mb"]["peak_rss_mib"])
    return result


def lag(args, s3, lines, environment, scratch, rng):
    """Objects put on a schedule by one thread; one invoker takes what arrived, as SQS would."""
    object_mb = 8
    bodies = [make_body(lines, object_mb, rng) for _ in range(4)]
    per_second = args.load_mb_per_minute / 60 / object_mb
    total = int(per_second * args.load_seconds)
    arrived = queue.Queue()

    def producer():
        start_at = time.monotonic()
        for index in range(total):
            time.sleep(max(0.0, start_at + index / per_second - time.monotonic()))
            body = bodies[index % len(bodies)][2]
            key = f"zscaler/lag/2026/03/05/nss-{index:05d}.json.gz"
            etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
            arrived.put((key, etag, len(body), time.time()))
        arrived.put(None)

    thread = threading.Thread(target=producer)
    thread.start()
    lags, rss, finished = [], 0, False
    while not finished:
        batch = [arrived.get()]
        window_ends = time.time() + 1.0
        while batch[-1] is not None and len(batch) < 10 and time.time() < window_ends:
            try:
                batch.append(arrived.get(timeout=max(0.0, window_ends - time.time())))
            except queue.Empty:
                break
        finished = batch[-1] is None
        batch = [item for item in batch if item is not None]
        if not batch:
            continue
        _, _, _, peak = invoke([notification(k, size, etag, when) for k, etag, size, when in batch],
                               environment, scratch)
        rss = max(rss, peak)
        done = time.time()
        lags += [done - when for _, _, _, when in batch]
    thread.join()
    lags.sort()
    return {"objects": total, "object_mb": object_mb, "mb_per_minute": args.load_mb_per_minute,
            "lag_p50_s": statistics.median(lags), "lag_p99_s": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
            "lag_max_s": lags[-1], "peak_rss_mib": rss}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=1024, help="decompressed MB forwarded for throughput")
    parser.add_argument("--object-mb", type=float, default=32, help="decompressed MB an object")
    parser.add_argument("--baseline-megabytes", type=float, default=256)
    parser.add_argument("--load-mb-per-minute", type=float, default=REFERENCE_MB_PER_MINUTE * 10)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--report", help="also write the figures as JSON to this file")
    args = parser.parse_args()

    processes = []
    try:
        standin, endpoint = start([os.path.join(BIN, "s3-standin"), "--latency-ms", "20", "--p99-ms", "60"],
                                  "listening")
        sink_process, sink = start([os.path.join(BIN, "http-sink"), "--port", "0"], "http-sink listening")
        processes += [standin, sink_process]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", config=botocore.config.Config(max_pool_connections=16))
        s3.create_bucket(Bucket=BUCKET)
        environment = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                       "SOURCES": f"s3://{BUCKET}/zscaler/", "ENDPOINTS": sink + "/ingest",
                       "DEAD_LETTER_QUEUE_URL": endpoint + "/123456789012/unused-dlq"}
        rng = random.Random(7)
        lines = line_pool(rng)
        with tempfile.TemporaryDirectory() as scratch:
            report = {"throughput": throughput(args, s3, lines, environment, sink, scratch, rng),
                      "memory": memory(s3, lines, environment, scratch, rng),
                      "lag": lag(args, s3, lines, environment, scratch, rng)}
        report["sink"] = sink_stats(sink)
    finally:
        for process in processes:
            process.terminate()
    t, m, g = report["throughput"], report["memory"], report["lag"]
    print(f"throughput: {t['decompressed_mb']:.0f} MB of lines ({t['lines']:,} lines, {t['compressed_mb']:.0f} MB gzip) "
          f"in {t['objects']} objects: {t['wall_s']:.1f} s, {t['mb_per_minute']:,.0f} MB/minute, "
          f"{t['cpu_s']:.1f} CPU-s ({t['mb_per_cpu_minute']:,.0f} MB a CPU-minute), peak RSS {t['peak_rss_mib']} MiB")
    print(f"  baseline (one request at a time, {t['baseline']['decompressed_mb']:.0f} MB): "
          f"{t['baseline']['mb_per_minute']:,.0f} MB/minute; LogForwarder {t['vs_baseline']:.1f}x")
    print(f"  reference daemon: {REFERENCE_MB_PER_MINUTE} MB/minute; LogForwarder {t['vs_reference']:.1f}x "
          f"(goal 10x: {'met' if t['vs_reference'] >= 10 else 'NOT met'})")
    print(f"memory: peak RSS {m['16_mb']['peak_rss_mib']} MiB for a 16 MB object (one range), "
          f"{m['128_mb']['peak_rss_mib']} MiB for 128 MB, {m['512_mb']['peak_rss_mib']} MiB for 512 MB "
          f"({m['ratio']:.2f}x from 128 to 512 MB)")
    print(f"lag at {g['mb_per_minute']:,.0f} MB/minute ({g['objects']} objects of {g['object_mb']} MB): "
          f"p50 {g['lag_p50_s']:.2f} s, p99 {g['lag_p99_s']:.2f} s, max {g['lag_max_s']:.2f} s "
          f"(goal p99 < 10 s: {'met' if g['lag_p99_s'] < 10 else 'NOT met'})")
    print(f"sink: {report['sink']['duplicate_batches']} duplicate batches, {report['sink']['bad_batches']} bad")
    if args.report:
        with open(args.report, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
