#!/usr/bin/env python3
"""Dollars per million files, from measured figures and list prices (one table below, dated).

    bench/combine_delete.py --objects 10000 --runs 64 --report large.json
    bench/combine_delete.py --objects 300 --runs 64 --report small.json
    bench/list_day.py --report list.json
    bench/cost.py --combine large.json --small small.json --list list.json [--files-per-group 288]
        [--day day.json (bench/whole_day.py --report)] [--batch batch.json (bench/batching.py --report)]

The daily pipeline, per group (one account, log type and region a day, or one folder): the
DetermineOperationType, CombineLogFiles and DeleteOriginals invocations as the benchmarks measured
them (each phase's seconds and S3 requests fitted as fixed + per file through the small and the
large run), at the memory template.yaml gives each function (arm64); the group's child execution
(an Express one up to ShortGroupMaxFiles files, billed by request and by its duration, the three
phases one after another; a Standard one's seven state transitions beyond); GetFiles and the
parent execution's transitions as
bench/list_day.py measured a day, shared among that day's groups. Prints the breakdown and the
total at --files-per-group (CloudTrail delivers a file every five minutes per account and region:
288 a day) and at other group sizes, next to the design this project replaced ($270 a month for
240,000 files, 81 % of it the Glue job), and what ParquetConversion's Athena scan costs in place of
that Glue job (the files' gzip bytes, from the combine report, at $5 per TB).

The batch pipeline (--batch, from bench/batching.py --report): what ManifestBuilder and
process_manifest did on the local stack for a number of files, every request and transition
counted (an Express child of "Mark the files completed" billed at 100 ms). Storage is left out:
it is the same whatever combines the files. The benchmarks run on this machine's cores; on Lambda
a function gets CPU in proportion to its memory, so CPU-bound phases of small functions take
longer. DeleteObjects is priced as a POST, though S3 may count it among the free DELETEs."""
import argparse
import collections
import functools
import json
import math
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# us-east-1 list prices, as AWS's pricing pages give them (checked 2026-11-26). Dollars.
PRICES_DATE = "2026-11-26"
PRICES = {
    "lambda_arm64_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "s3_standard_put_list": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_standard_get": 0.0004 / 1000,  # GET, HEAD and the rest
    "s3_ia_put": 0.01 / 1000,  # writes of STANDARD_IA objects (the outputs)
    "s3_ia_get": 0.001 / 1000,
    "s3_ia_retrieval_gb": 0.01,
    "sfn_standard_transition": 0.025 / 1000,
    "sfn_express_request": 1.00 / 1e6,
    "sfn_express_gb_second": 0.00001667,  # the first 1,000 GB-hours a month; billed per 100 ms, 64 MB at least
    "dynamodb_write_unit": 0.625 / 1e6,  # on demand
    "dynamodb_read_unit": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "athena_tb_scanned": 5.00,  # at least 10 MB a query
    "glue_dpu_hour": 0.44,
    "kms_request": 0.03 / 10000,  # symmetric and HMAC keys' requests, GenerateMac and VerifyMac among them
}
ORIGINAL_PER_MONTH, ORIGINAL_FILES_PER_MONTH = 270.0, 240000
# A long group's Standard child: DetermineOperationType, a Choice, CombineLogFiles, a Choice,
# DeleteOriginals, a Choice, Succeed. A short group's Express child is billed by request and duration.
GROUP_TRANSITIONS = 7
EXPRESS_GB = 64 / 1024  # an Express execution's memory is billed in 64 MB steps; a group's state is far less
# "Which day", "Named day", GetFiles, "More to list?", "Any files?", "Any short groups?", "Each short
# group", "Any long groups?", CrawlerTrigger (and "Each long group" on a day with long groups).
RUN_TRANSITIONS = 9
# Operations on the destination (STANDARD_IA) and what kind of request each is.
OUTPUT_WRITES = {"CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"}
WRITES = {"PutObject", "CopyObject", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads", "ListParts",
          "DeleteObjects", "AbortMultipartUpload"} | OUTPUT_WRITES
FUNCTIONS = {"plan": "DetermineOperationTypeFunction", "combine": "CombineLogFilesFunction",
             "delete": "DeleteOriginalsFunction", "list": "GetFilesFunction"}


# The seal key's requests (pipeline/seal.h): one GenerateMac per CombineLogFiles process, one
# VerifyMac per reader process and certificate. They follow the processes, not the groups or the
# files: a per-group fit of benchmarks that start a process per invocation would price them as if
# every group had its own sandboxes, so only a day run through warm sandboxes (--day) counts them.
KMS_OPERATIONS = {"GenerateMac", "VerifyMac"}

# Each function's phase, by the name lambda-local and the benchmarks give it.
PHASE_OF = {name.removesuffix("Function"): phase for phase, name in FUNCTIONS.items()}


def billed_seconds(reports):
    """Seconds Lambda bills for these REPORTs [(duration ms, init ms, max MB)]: each rounded up to
    the millisecond, init included, as it bills the provided runtime."""
    return sum(int(-(-(duration + init) // 1)) for duration, init, _ in reports) / 1000


def memory_mb():
    """Each phase's function's MemorySize in template.yaml (the Globals' when it names none)."""
    sizes = function_memory_mb()
    return {phase: sizes[name] for phase, name in FUNCTIONS.items()}


def function_memory_mb():
    """{logical id: MemorySize} of every function in template.yaml (the Globals' when it names none)."""
    sizes, function, default = {}, None, 128
    with open(os.path.join(ROOT, "template.yaml")) as template:
        for line in template:
            if re.match(r"^  [A-Za-z]+Function:\s*$", line):
                function = line.strip().rstrip(":")
            match = re.match(r"^\s+MemorySize:\s*(\d+)", line)
            if match:
                if function is None:
                    default = int(match.group(1))
                else:
                    sizes[function] = int(match.group(1))
    return collections.defaultdict(lambda: default, sizes)


def reports(log_directory, functions):
    """{function: [(duration ms, init ms, max memory MB)]} from the REPORT lines lambda-local wrote
    to <log_directory>/<function>.log, as Lambda writes them."""
    result = {}
    for function in functions:
        lines = []
        path = os.path.join(log_directory, f"{function}.log")
        if os.path.exists(path):
            with open(path, errors="replace") as log:
                for line in log:
                    match = re.search(r"REPORT .*Duration: ([\d.]+) ms.*Max Memory Used: (\d+) MB"
                                      r"(?:.*Init Duration: ([\d.]+) ms)?", line)
                    if match:
                        lines.append((float(match.group(1)), float(match.group(3) or 0), int(match.group(2))))
        result[function] = lines
    return result


@functools.cache
def short_group_max_files():
    """ShortGroupMaxFiles' default in template.yaml: larger groups run as Standard children (read
    once: the model asks for every group size it prices)."""
    with open(os.path.join(ROOT, "template.yaml")) as template:
        text = template.read()
    return int(re.search(r"\n  ShortGroupMaxFiles:\n(?:    .*\n)*?    Default: (\d+)", text).group(1))


def express_child(seconds):
    """Dollars of one Express child execution that runs this long."""
    return (PRICES["sfn_express_request"]
            + math.ceil(seconds * 10) / 10 * EXPRESS_GB * PRICES["sfn_express_gb_second"])


def phases(report):
    """{phase: (files, wall s, {operation: {count, bytes_received, ...}})} of the 64-connection run."""
    chosen = {}
    for result in report["results"]:
        if result["run"] != "one":
            chosen[result["phase"]] = (result["files"], result["wall"], result["operations"])
    return chosen


def fit(small, large, value):
    """fixed + per file, through the two runs (per file only, with one)."""
    (n1, v1), (n2, v2) = (small[0], value(small)), (large[0], value(large))
    if small is large or n1 == n2:
        return 0.0, v2 / n2
    per_file = (v2 - v1) / (n2 - n1)
    return max(0.0, v1 - per_file * n1), per_file


def request_cost(operation, count, phase):
    if operation in KMS_OPERATIONS:
        return count * PRICES["kms_request"]
    if operation in OUTPUT_WRITES:
        return count * PRICES["s3_ia_put"]
    if operation in WRITES:
        return count * PRICES["s3_standard_put_list"]
    if phase == "delete" and operation == "GetObject":  # reading the outputs back
        return count * PRICES["s3_ia_get"]
    return count * PRICES["s3_standard_get"]


def daily(combine, small, listing, files_per_group, memory):
    """Dollars per million files, by item."""
    groups = 1e6 / files_per_group
    items = {}
    chain_seconds = 0.0  # a group's steps, one after another: its child execution's duration
    for phase in ("plan", "combine", "delete"):
        a, b = combine[phase], small[phase]
        fixed, per_file = fit(b, a, lambda p: p[1])
        seconds = groups * fixed + 1e6 * per_file
        chain_seconds += fixed + per_file * files_per_group
        items[f"Lambda {phase} (GB-s)"] = seconds * memory[phase] / 1024 * PRICES["lambda_arm64_gb_second"]
        items[f"Lambda {phase} (invocations)"] = groups * PRICES["lambda_request"]
        operations = (set(a[2]) | set(b[2])) - KMS_OPERATIONS
        cost = 0.0
        for operation in operations:
            count = lambda p, op=operation: p[2].get(op, {}).get("count", 0)
            fixed, per_file = fit(b, a, count)
            cost += request_cost(operation, groups * fixed + 1e6 * per_file, phase)
        items[f"S3 requests {phase}"] = cost
    # The stand-in counts what it sent: the outputs read back before deleting.
    read_back = combine["delete"][2].get("GetObject", {}).get("bytes_sent", 0)
    items["S3 IA retrieval (read-back)"] = (read_back / 2**30 * 1e6 / combine["delete"][0]
                                            * PRICES["s3_ia_retrieval_gb"])
    # GetFiles' work is per group (a day folder or two listed, a file list written): the measured
    # day's cost per group, for as many groups as a million files make.
    list_groups, list_wall, list_operations = listing
    per_group = groups / list_groups
    items["Lambda list (GB-s)"] = (list_wall * memory["list"] / 1024 * PRICES["lambda_arm64_gb_second"]
                                   * per_group)
    items["S3 requests list"] = sum(request_cost(op, t["count"], "list")
                                    for op, t in list_operations.items()) * per_group
    items["Step Functions transitions"] = RUN_TRANSITIONS / list_groups * groups * PRICES["sfn_standard_transition"]
    if files_per_group <= short_group_max_files():
        items["Step Functions Express children"] = groups * express_child(chain_seconds)
    else:
        items["Step Functions transitions"] += groups * GROUP_TRANSITIONS * PRICES["sfn_standard_transition"]
    return items


def day_measured(run, memory):
    """Dollars per million files of a whole day bench/whole_day.py ran (its first, lowest limit)."""
    scale = 1e6 / run["files"]
    items = {}
    for function, lines in run["reports"].items():
        phase = PHASE_OF[function]
        items[f"Lambda {phase} (GB-s, invocations)"] = scale * (
            billed_seconds(lines) * memory[phase] / 1024 * PRICES["lambda_arm64_gb_second"]
            + len(lines) * PRICES["lambda_request"])
    # Not split by phase: a GetObject priced as STANDARD's, though the read-back reads STANDARD_IA.
    items["S3 requests"] = scale * sum(request_cost(op, t["count"], "day") for op, t in run["operations"].items()
                                       if op not in KMS_OPERATIONS)
    items["KMS requests (the seals)"] = scale * sum(request_cost(op, t["count"], "day")
                                                    for op, t in run["operations"].items() if op in KMS_OPERATIONS)
    items["Step Functions transitions"] = scale * run["transitions"] * PRICES["sfn_standard_transition"]
    items["Step Functions Express children"] = scale * (
        run["express_children"] * PRICES["sfn_express_request"]
        + run["express_seconds"] * EXPRESS_GB * PRICES["sfn_express_gb_second"])
    return items


DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def batch_measured(run, memory):
    """Dollars per million files of the batch pipeline as bench/batching.py --report ran it: the
    functions' REPORTs and requests (S3, DynamoDB, Step Functions), process_manifest's transitions
    and Express children, its own DynamoDB updates, and the SQS requests."""
    scale = 1e6 / run["files"]
    items = {}
    for function, lines in run["reports"].items():
        if lines:
            items[f"Lambda {function.removesuffix('Function')} (GB-s, invocations)"] = scale * (
                billed_seconds(lines) * memory[function] / 1024 * PRICES["lambda_arm64_gb_second"]
                + len(lines) * PRICES["lambda_request"])
    s3, writes, reads, other = 0.0, 0.0, 0.0, {}
    for operation, count in run["operations"].items():
        if operation in DYNAMODB_WRITES:
            writes += count  # items of at most 1 KB: one write unit each
        elif operation == "TransactWriteItems":
            writes += run["transaction_write_units"]  # two units an item, by its size: batching.py
        elif operation in DYNAMODB_READS:
            reads += count
        elif operation in ("StartExecution", "Publish", "SendMessage"):
            other[operation] = count
        else:
            s3 += request_cost(operation, count, "batch")
    writes += run["state_machine_dynamodb_writes"]
    items["S3 requests (the functions')"] = scale * s3
    items["DynamoDB writes"] = scale * writes * PRICES["dynamodb_write_unit"]
    items["DynamoDB reads"] = scale * reads * PRICES["dynamodb_read_unit"]
    items["Step Functions transitions"] = scale * run["transitions"] * PRICES["sfn_standard_transition"]
    items["Step Functions Express children (100 ms each)"] = scale * run["express_children"] * express_child(0.1)
    items["SQS requests (notifications sent, received, deleted)"] = scale * run["sqs_requests"] * PRICES["sqs_request"]
    return items


def parquet(combine):
    """ParquetConversion: Athena scans each day's combined CloudTrail once (gzip bytes, as S3
    holds them) to UNLOAD it as Parquet, next to the Glue job that was 81 % of the replaced design.
    Athena bills at least 10 MB a query: a day of fewer bytes costs that."""
    files, _, operations = combine["combine"]
    gzip_bytes = operations.get("GetObject", {}).get("bytes_sent", 0) / files  # as the stand-in sent them
    athena = gzip_bytes * 1e6 / 1e12 * PRICES["athena_tb_scanned"]
    glue = 0.81 * ORIGINAL_PER_MONTH / ORIGINAL_FILES_PER_MONTH * 1e6
    print(f"Parquet without Glue (ParquetConversion): Athena scans each file's {gzip_bytes / 1024:.1f} KiB of gzip "
          f"once at {PRICES['athena_tb_scanned']:.0f} dollars per TB: {athena:.4f} dollars per million files; the "
          f"Glue job it replaces: {glue:.2f} per million files (81 % of {ORIGINAL_PER_MONTH:.0f} dollars a month "
          f"for {ORIGINAL_FILES_PER_MONTH:,} files), {glue / athena:,.0f}x\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--combine", required=True, help="combine_delete.py --report of a large group")
    parser.add_argument("--small", help="combine_delete.py --report of a small group (an invocation's fixed cost)")
    parser.add_argument("--list", required=True, help="list_day.py --report")
    parser.add_argument("--files-per-group", type=float, default=288)
    parser.add_argument("--batch", help="batching.py --report: the batch pipeline's cost, measured on the local stack")
    parser.add_argument("--day", help="whole_day.py --report: that day's cost, measured end to end, next to the "
                                      "model's at its files per group")
    args = parser.parse_args()
    with open(args.combine) as f:
        combine = phases(json.load(f))
    small = combine
    if args.small:
        with open(args.small) as f:
            small = phases(json.load(f))
    with open(args.list) as f:
        report = json.load(f)
    getfiles = report["results"]["GetFiles"]
    listing = (report["groups"], getfiles["wall"], getfiles["operations"])
    memory = memory_mb()

    original = ORIGINAL_PER_MONTH / ORIGINAL_FILES_PER_MONTH * 1e6
    print(f"Prices: us-east-1 list prices of {PRICES_DATE}; Lambda on arm64 at template.yaml's memory "
          f"({', '.join(f'{p} {m} MB' for p, m in memory.items())})")
    print(f"Measured: {args.combine} ({combine['combine'][0]} files)"
          + (f", {args.small} ({small['combine'][0]} files)" if args.small else "")
          + f", {args.list} ({getfiles['found']} files of a day in {listing[0]} groups)\n")
    items = daily(combine, small, listing, args.files_per_group, memory)
    total = sum(items.values())
    print(f"Daily pipeline, {args.files_per_group:g} files per group: dollars per million files")
    for name, dollars in sorted(items.items(), key=lambda item: -item[1]):
        print(f"  {name:<34} {dollars:9.4f}  {dollars / total:6.1%}")
    print(f"  {'total':<34} {total:9.4f}  (goal: at most 5)")
    print(f"  the design it replaced: {original:.2f} per million files ({ORIGINAL_PER_MONTH:.0f} dollars a month "
          f"for {ORIGINAL_FILES_PER_MONTH:,} files): {original / total:.0f}x ours\n")
    print("By files per group (transitions and invocations are per group):")
    for n in (13, 50, 100, 288, 1000, 10000):
        print(f"  {n:>6} files per group: {sum(daily(combine, small, listing, n, memory).values()):9.4f} "
              "dollars per million files")
    parquet(combine)
    if args.day:
        with open(args.day) as f:
            run = json.load(f)["results"][0]
        measured = day_measured(run, memory)
        per_group = run["files"] / run["groups"]
        modelled = sum(daily(combine, small, listing, per_group, memory).values())
        print(f"\nA whole day measured end to end ({args.day}: {run['files']} files in {run['groups']} groups, "
              f"{per_group:.1f} a group, Lambda concurrency limit {run['limit']}): dollars per million files")
        for name, dollars in sorted(measured.items(), key=lambda item: -item[1]):
            print(f"  {name:<44} {dollars:9.4f}")
        print(f"  {'total':<44} {sum(measured.values()):9.4f}  (the model above at {per_group:.1f} files per "
              f"group: {modelled:.4f})")
    if args.batch:
        with open(args.batch) as f:
            run = json.load(f)
        batch = batch_measured(run, function_memory_mb())
        print(f"\nBatch pipeline (ManifestBuilder, process_manifest) measured on the local stack ({args.batch}: "
              f"{run['files']} files in {run['manifests']} manifests, SQS batches of {run['batch']}): "
              "dollars per million files")
        total = sum(batch.values())
        for name, dollars in sorted(batch.items(), key=lambda item: -item[1]):
            print(f"  {name:<58} {dollars:9.4f}  {dollars / total:6.1%}")
        print(f"  {'total':<58} {total:9.4f}")

if __name__ == "__main__":
    main()
