#pragma once
// The S3 stand-in's buckets, in memory: the semantics of the calls the functions make (listings
// with pages, versions and url encoding; ranged, versioned and conditional reads; conditional
// writes; multipart uploads with copied ranges; DeleteObjects with versions), answered as S3
// answers them. For benchmarks only: correctness tests run against moto, and the S3 client's
// integration tests run against both (bench/README.md). It checks no signature.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace standin {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string bucket;
  std::string key;                           // decoded
  std::map<std::string, std::string> query;  // decoded
  Headers headers;                           // names in lower case
  std::string body;
  std::string header(const std::string& name) const;
  bool has(const std::string& parameter) const { return query.contains(parameter); }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  bool head = false;  // HEAD: Content-Length is the object's, no body is sent
  std::uint64_t content_length = 0;
};

// What a request is, for counting and for the rate limits: its S3 operation, whether it reads or
// writes, and the prefixes it loads (DeleteObjects: one per key).
struct Classified {
  std::string operation;
  bool write = false;
  std::vector<std::string> prefixes;
};
Classified classify(const Request& request);

class Store {
 public:
  Response handle(const Request& request);
  // Puts `keys` into `bucket` (created if need be), each holding the same `size` bytes: how a
  // benchmark fills a bucket of a million keys without a million PUTs.
  void seed(const std::string& bucket, const std::vector<std::string>& keys, std::uint64_t size);
  // Each key shares the body of the bucket's object `from` (false when there is none), so a
  // benchmark can hold 100,000 real gzip objects without putting each.
  bool seed_from(const std::string& bucket, const std::vector<std::string>& keys,
                 const std::string& from);

 private:
  struct Version {
    std::string id;  // "null" in an unversioned bucket
    std::shared_ptr<const std::string> bytes;
    std::string etag;
    std::string last_modified;
    std::map<std::string, std::string> metadata;
    std::string storage_class = "STANDARD";
    bool delete_marker = false;
  };
  struct Part {
    std::string etag;
    std::shared_ptr<const std::string> bytes;
  };
  struct Upload {
    std::string key;
    std::string initiated;
    std::map<std::string, std::string> metadata;
    std::string storage_class;
    std::map<int, Part> parts;
  };
  struct Bucket {
    bool versioned = false;
    std::map<std::string, std::vector<Version>> keys;  // newest version last
    std::map<std::string, Upload> uploads;             // by upload id
  };

  Response bucket_call(const Request& request, Bucket* bucket);
  Response object_call(const Request& request, Bucket& bucket);
  Response get_object(const Request& request, Bucket& bucket);
  Response put_object(const Request& request, Bucket& bucket);
  // The version x-amz-copy-source names, checked against x-amz-copy-source-if-match; or the
  // error to answer.
  const Version* copy_source(const Request& request, Response& failure) const;
  Response copy_part(const Request& request, Upload& upload, int number);
  // Deletes a version, or the key (a delete marker in a versioned bucket, whose id it returns).
  std::string delete_key(Bucket& bucket, const std::string& key, const std::string& version_id);
  Response complete_upload(const Request& request, Bucket& bucket);
  Response list_objects(const Request& request, const Bucket& bucket) const;
  Response list_versions(const Request& request, const Bucket& bucket) const;
  Response list_uploads(const Request& request, const Bucket& bucket) const;
  Response list_parts(const Request& request, const Bucket& bucket) const;
  Response delete_objects(const Request& request, Bucket& bucket);
  const Version* find(const Bucket& bucket, const std::string& key,
                      const std::string& version_id) const;
  Version& put_version(Bucket& bucket, const std::string& key, Version version);
  std::string new_id();

  std::mutex mutex_;  // one for all: every call is in memory and short
  std::map<std::string, Bucket> buckets_;
  std::uint64_t next_id_ = 1;
};

// An S3 error answer: <Error><Code>…</Code><Message>…</Message></Error>.
Response error(int status, const std::string& code, const std::string& message);

}  // namespace standin
