#!/usr/bin/env python3
"""Cold start as a first invocation sees it: exec → the first AWS answer over HTTPS, verified
against a full CA bundle, for every packaged x86_64 bootstrap (build/artifacts/x86_64) and the
dynamically linked build/bin one, next to python3 + boto3 creating the function's clients and
making the same first call.

    bench/cold_start_tls.py [--runs 10] [--bundle /etc/ssl/certs/ca-certificates.crt]

Each bootstrap is exec'd with a Lambda Runtime API served here, which hands it the function's
sample event (events/functions/<LogicalId>/, the first file) at once; AWS_ENDPOINT_URL points every
service at an HTTPS endpoint served here with a certificate chain as S3's is built (leaf, then an
intermediate it sends, then a root in the bundle). The bundle is --bundle (Debian's Mozilla set,
the source of Amazon Linux 2023's /etc/pki/tls/certs/ca-bundle.crt) with that root appended, so
the client loads every certificate of it and verifies the chain, as on Lambda. The time is taken
when the endpoint has written its first answer (an empty listing, NoSuchKey, or the JSON services'
ResourceNotFoundException: any answer ends the measurement), from the same clock as the exec;
the process is then killed. Median of --runs. Needs scripts/build and make -j2 artifacts-all."""
import argparse
import http.server
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cold_start  # noqa: E402  (the artifacts, each function's clients and settings)

ROOT = cold_start.ROOT
EVENTS = os.path.join(ROOT, "events", "functions")


def certificates(folder):
    """A root, an intermediate and a leaf for 127.0.0.1 (RSA 2048, as S3's); returns (root, chain, key)."""
    def run(*command):
        subprocess.run(["openssl", *command], cwd=folder, check=True, capture_output=True)

    with open(os.path.join(folder, "ca.ext"), "w") as out:
        out.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    with open(os.path.join(folder, "leaf.ext"), "w") as out:
        out.write("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                  "extendedKeyUsage=serverAuth\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "2",
        "-subj", "/CN=bench root", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, issuer, extensions in (("intermediate", "root", "ca.ext"), ("leaf", "intermediate", "leaf.ext")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={'127.0.0.1' if name == 'leaf' else 'bench intermediate'}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", extensions)
    chain = os.path.join(folder, "chain.pem")
    with open(chain, "w") as out:
        for name in ("leaf", "intermediate"):
            with open(os.path.join(folder, f"{name}.pem")) as part:
                out.write(part.read())
    return os.path.join(folder, "root.pem"), chain, os.path.join(folder, "leaf.key")


class Endpoint(http.server.ThreadingHTTPServer):
    """HTTPS for every AWS service: notes when it first answered since the last reset()."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client killed after its first answer resets its connection

    def __init__(self, chain=None, key=None):
        super().__init__(("127.0.0.1", 0), EndpointHandler)
        if chain:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain, key)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.answered = threading.Event()
        self.first = None

    def reset(self):
        self.answered.clear()
        self.first = None


class EndpointHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        query = urllib.parse.urlparse(self.path).query
        if self.headers.get("X-Amz-Target") or "json" in (self.headers.get("Content-Type") or ""):
            status, kind, body = 400, "application/x-amz-json-1.1", json.dumps(
                {"__type": "ResourceNotFoundException", "message": "bench endpoint"})
        elif self.command == "GET" and "list-type=2" in query:
            status, kind = 200, "application/xml"
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>'
                    '<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>')
        else:
            status, kind = 404, "application/xml"
            body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                    '<Message>The specified key does not exist.</Message></Error>')
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amz-request-id", "bench")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if not self.server.answered.is_set():
            self.server.first = time.monotonic()
            self.server.request = self.headers.get("X-Amz-Target") or f"{self.command} {self.path}"
            self.server.answered.set()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer


class RuntimeApi(http.server.ThreadingHTTPServer):
    """Lambda's Runtime API for one invocation: the event at the first /next, then nothing."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.event = b"{}"
        self.handed = threading.Event()


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.server.handed.is_set():
            time.sleep(30)  # the process is killed long before
            return
        self.server.handed.set()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Content-Length", str(len(self.server.event)))
        self.end_headers()
        self.wfile.write(self.server.event)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


SAMPLES = {"GetFilesFunction": "date.json", "ManifestBuilderFunction": "sqs_s3_notifications.json"}


def sample_event(logical_id, environment):
    folder = os.path.join(EVENTS, logical_id)
    with open(os.path.join(folder, SAMPLES.get(logical_id, sorted(os.listdir(folder))[0]))) as sample:
        text = sample.read()
    for name, value in environment.items():
        text = text.replace("${" + name + "}", value)
    return text.encode()


def first_answer(command, environment, endpoint, runtime=None, event=b"{}"):
    """Seconds from exec to the endpoint's first answer."""
    endpoint.reset()
    if runtime:
        runtime.event = event
        runtime.handed.clear()
    started = time.monotonic()
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not endpoint.answered.wait(30):
            raise SystemExit(f"{command[0]}: no AWS request within 30 s")
        return endpoint.first - started
    finally:
        process.kill()
        process.wait()


# The bootstrap's first request, made again through boto3 (argv[1]: the function's clients, argv[2]:
# that request as the endpoint noted it). Only the answer's arrival is timed, so errors are ignored.
PYTHON = """
import sys, urllib.parse
import boto3
clients = {name: boto3.client(name) for name in sys.argv[1].split(",")}
request = sys.argv[2]
try:
    if request == "AWSGlue.StartCrawler":
        clients["glue"].start_crawler(Name="crawler")
    elif request == "DynamoDB_20120810.UpdateItem":
        clients["dynamodb"].update_item(TableName="ledger", Key={"pk": {"S": "x"}}, UpdateExpression="SET a = :a",
                                        ExpressionAttributeValues={":a": {"S": "b"}})
    else:
        target = urllib.parse.urlparse(request.split(" ", 1)[1])
        bucket, _, key = target.path.lstrip("/").partition("/")
        if "list-type=2" in target.query:
            clients["s3"].list_objects_v2(Bucket=bucket, Delimiter="/")
        else:
            clients["s3"].get_object(Bucket=bucket, Key=urllib.parse.unquote(key))
except Exception as error:
    if "ResourceNotFound" not in str(error) and "NoSuchKey" not in str(error):
        raise
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bundle", default="/etc/ssl/certs/ca-certificates.crt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root, chain, key = certificates(scratch)
        bundle = os.path.join(scratch, "bundle.pem")
        with open(bundle, "w") as out:
            with open(args.bundle) as system:
                shutil.copyfileobj(system, out)
            with open(root) as ours:
                out.write(ours.read())
        with open(bundle) as text:
            count = text.read().count("BEGIN CERTIFICATE")
        endpoint = Endpoint(chain, key)
        plain = Endpoint()  # the same without TLS: what the handshake and the bundle cost
        runtime = RuntimeApi()
        for server in (endpoint, plain, runtime):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"https://127.0.0.1:{endpoint.server_address[1]}"
        environment = dict(os.environ, **cold_start.ENVIRONMENT)
        environment.update(AWS_ENDPOINT_URL=url, AWS_CA_BUNDLE=bundle, AWS_DEFAULT_REGION=environment["AWS_REGION"],
                           AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{runtime.server_address[1]}",
                           AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
                           AWS_LAMBDA_FUNCTION_VERSION="$LATEST")
        print(f"exec → first AWS answer over HTTPS (TLS 1.3, RSA 2048 leaf and intermediate, the root among "
              f"{count} certificates of the bundle), median of {args.runs} on this machine ({os.cpu_count()} cores)")
        print("| function | its first request | packaged (static) | packaged, plain HTTP | build/bin (dynamic) "
              "| python3 + boto3 | python / packaged |")
        print("|---|---|---|---|---|---|---|")
        for logical_id in sorted(os.listdir(cold_start.ARTIFACTS)):
            name = logical_id.removesuffix("Function")
            event = sample_event(logical_id, environment)
            figures = []
            for bootstrap in (os.path.join(cold_start.ARTIFACTS, logical_id, "bootstrap"),
                              os.path.join(ROOT, "build", "bin", name)):
                figures.append(statistics.median(first_answer([bootstrap], environment, endpoint, runtime, event)
                                                 for _ in range(args.runs)))
                request = endpoint.request
            without_tls = dict(environment, AWS_ENDPOINT_URL=f"http://127.0.0.1:{plain.server_address[1]}")
            plain_ms = statistics.median(first_answer([os.path.join(cold_start.ARTIFACTS, logical_id, "bootstrap")],
                                                      without_tls, plain, runtime, event) for _ in range(args.runs))
            python = statistics.median(
                first_answer([sys.executable, "-c", PYTHON, cold_start.CLIENTS[name], request], environment, endpoint)
                for _ in range(args.runs))
            print(f"| {name} | {request[:60]} | {figures[0] * 1000:.1f} ms | {plain_ms * 1000:.1f} ms | {figures[1] * 1000:.1f} ms | {python * 1000:.0f} ms "
                  f"| {python / figures[0]:.1f}× |")
        for server in (endpoint, plain, runtime):
            server.shutdown()


if __name__ == "__main__":
    main()
