#pragma once
// The S3 operations the functions need, over AwsClient. Listings page through every result
// (for_each_* take a callback per page; returning false stops early); keys are raw strings and
// are encoded here, once, as S3 requires.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aws_client.h"

namespace common {

// S3's limits, the one place they are written.
inline constexpr std::size_t kMaxDeleteKeys = 1000;  // per DeleteObjects request
// What S3 serves per partitioned prefix and second before it answers 503 SlowDown (each key of a
// DeleteObjects counts as a write).
inline constexpr double kPrefixWritesPerSecond = 3500;
inline constexpr double kPrefixReadsPerSecond = 5500;
inline constexpr std::uint64_t kMinPartBytes = 5ull << 20;  // every part but the last
inline constexpr std::uint64_t kMaxPartBytes = 5ull << 30;  // a part, or a copied range
inline constexpr std::uint64_t kMaxParts = 10000;           // per multipart upload

struct S3Object {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // with its quotes, as S3 sends it
  std::string last_modified;
  std::string storage_class;
  std::string version_id;  // version listings only
  bool is_latest = false;
  bool delete_marker = false;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;
  std::string start_after;
  int max_keys = 1000;
};

struct ListPage {
  std::vector<S3Object> objects;
  std::vector<std::string> common_prefixes;
  std::optional<std::string> next_continuation_token;
};

struct VersionListOptions {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string version_id_marker;
  int max_keys = 1000;
};

struct VersionPage {
  std::vector<S3Object> versions;  // delete markers included, flagged
  std::vector<std::string> common_prefixes;
  std::optional<std::string> next_key_marker;
  std::optional<std::string> next_version_id_marker;
};

struct HeadResult {
  std::uint64_t size = 0;         // of the body sent (a range's, for a ranged GET)
  std::uint64_t object_size = 0;  // the whole object's: a range's Content-Range total, else size
  std::string etag;
  std::string last_modified;
  std::string version_id;
  std::string content_type;
  std::string content_encoding;
  std::string storage_class;
  // How S3 says the object is encrypted: x-amz-server-side-encryption (AES256, aws:kms,
  // aws:kms:dsse), "SSE-C" for a customer-provided key, "" when S3 says nothing.
  std::string encryption;
  std::map<std::string, std::string> metadata;  // x-amz-meta-NAME, by NAME in lower case
};

// The whole object's size a Content-Range states ("bytes 0-99/1234" or "bytes */1234": 1234);
// nullopt when it states none.
std::optional<std::uint64_t> content_range_total(const std::string& content_range);

// Whether S3's ETag for an object is the MD5 of its bytes: a single-part upload (no "-N") not
// encrypted with SSE-KMS, DSSE-KMS or SSE-C (S3's "Checking object integrity").
bool etag_is_md5(const std::string& etag, const std::string& encryption);

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive, as HTTP ranges are
};

struct GetOptions {
  std::string version_id;
  std::optional<ByteRange> range;
  std::string if_match;  // an etag
};

struct PutOptions {
  std::string content_type;
  std::string content_encoding;
  std::string storage_class;   // e.g. STANDARD_IA
  bool if_none_match = false;  // create only: fails with PreconditionFailed when the key exists
  std::map<std::string, std::string> metadata;  // x-amz-meta-NAME: US-ASCII values only
  // S3 Object Lock retention of the new object (the bucket must have Object Lock enabled; the
  // caller needs s3:PutObjectRetention): GOVERNANCE or COMPLIANCE, until an RFC 3339 time.
  std::string lock_mode;
  std::string retain_until;
};

struct WriteResult {
  std::string etag;
  std::string version_id;
};

struct CompletedPart {
  int number = 0;
  std::string etag;
};

// A general purpose bucket's name by S3's rules: 3-63 lowercase letters, digits, dots and
// hyphens, a letter or digit at each end, no "..", not an IP address, none of S3's reserved
// prefixes and suffixes.
bool valid_bucket_name(std::string_view name);

// An ETag as S3's HTTP headers and listings give it, quoted: event notifications carry it bare, and
// an etag compared across the two must be written one way.
std::string quoted_etag(std::string etag);

// The ETag S3 gives an object completed from these parts: the MD5 of the parts' binary MD5s, then
// "-" and the part count (quoted, as S3 sends it). Objects under SSE-KMS or SSE-C have others.
std::string multipart_etag(const std::vector<CompletedPart>& parts);

struct CopySource {
  std::string bucket;
  std::string key;
  std::string version_id;
  std::optional<ByteRange> range;  // UploadPartCopy only
  std::string if_match;            // the etag the source must still have
};

struct UploadInfo {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

struct UploadsPage {
  std::vector<UploadInfo> uploads;
  std::string next_key_marker;  // empty: the last page
  std::string next_upload_id_marker;
};

// S3's XML answers to the listings, parsed; MalformedResponse for a body that is not XML.
ListPage parse_list_page(const std::string& body);
VersionPage parse_version_page(const std::string& body);
UploadsPage parse_uploads_page(const std::string& body);

struct ObjectId {
  std::string key;
  std::string version_id;  // empty: the current version
  // DeleteObjects: delete the current version only if it still has this ETag (S3 answers
  // PreconditionFailed for the key otherwise). For unversioned buckets, where nothing else tells
  // an overwritten object from the one that was combined.
  std::string etag = {};
};

struct DeleteError {
  ObjectId object;
  std::string code;
  std::string message;
};

struct DeleteResult {
  std::vector<ObjectId> deleted;
  std::vector<DeleteError> errors;
  int requests = 0;
};

// Where a request for bucket/key goes: virtual-hosted (`bucket.` + host, path `/key`) against
// AWS, path-style (`/bucket/key`) when the endpoint is overridden or the bucket name cannot be a
// DNS label (dots break TLS wildcard certificates).
struct S3Address {
  std::string host_prefix;
  std::string path;
};
S3Address s3_address(const Endpoint& endpoint, const std::string& bucket, const std::string& key);

class S3Client {
 public:
  explicit S3Client(ClientOptions options);
  // Options from the environment (AWS_ENDPOINT_URL_S3, AWS_REGION, credentials).
  S3Client();

  static const ServiceInfo& service_info();

  ListPage list_objects_v2(const std::string& bucket, const ListOptions& options,
                           const std::string& continuation_token = "");
  void for_each_page(const std::string& bucket, const ListOptions& options,
                     const std::function<bool(ListPage&)>& on_page);
  // The same without a waiting thread, for many listings at once (see batch.h): on_page runs on
  // the HTTP engine's thread, so it must be quick and must not call S3 synchronously; done runs
  // once at the end, with the error that stopped the listing if one did.
  void list_async(const std::string& bucket, const ListOptions& options,
                  std::function<bool(ListPage&)> on_page,
                  std::function<void(std::exception_ptr)> done);
  void list_versions_async(const std::string& bucket, const VersionListOptions& options,
                           std::function<bool(VersionPage&)> on_page,
                           std::function<void(std::exception_ptr)> done);

  // Many listings at once, at most `concurrency` in flight, every page of each: result[i] holds
  // what listing i found (objects, or versions, for which `keep` is true; and common prefixes).
  // Throws the first error once all have ended.
  std::vector<ListPage> list_many(const std::string& bucket,
                                  const std::vector<ListOptions>& listings,
                                  std::size_t concurrency);
  std::vector<VersionPage> list_versions_many(
      const std::string& bucket, const std::vector<VersionListOptions>& listings,
      std::size_t concurrency,
      const std::function<bool(const S3Object&)>& keep = [](const S3Object&) { return true; });
  std::vector<S3Object> list_all(const std::string& bucket, const std::string& prefix = "");

  void for_each_version_page(const std::string& bucket, VersionListOptions options,
                             const std::function<bool(VersionPage&)>& on_page);

  HeadResult head_object(const std::string& bucket, const std::string& key,
                         const std::string& version_id = "");
  std::string get_object(const std::string& bucket, const std::string& key,
                         const GetOptions& options = {});
  // Streams the body into `sink` (false from the sink aborts). A retry after bytes were
  // delivered would deliver them again, so a streamed GET is attempted once; use ranges to resume.
  void get_object_to(const std::string& bucket, const std::string& key, const GetOptions& options,
                     const std::function<bool(std::string_view)>& sink);
  WriteResult put_object(const std::string& bucket, const std::string& key, std::string body,
                         const PutOptions& options = {});
  WriteResult put_object(const std::string& bucket, const std::string& key,
                         std::shared_ptr<BodySource> body, const PutOptions& options = {});
  WriteResult copy_object(const CopySource& source, const std::string& bucket,
                          const std::string& key, const PutOptions& options = {});

  std::string create_multipart_upload(const std::string& bucket, const std::string& key,
                                      const PutOptions& options = {});
  CompletedPart upload_part(const std::string& bucket, const std::string& key,
                            const std::string& upload_id, int part_number, std::string body);
  CompletedPart upload_part_copy(const std::string& bucket, const std::string& key,
                                 const std::string& upload_id, int part_number,
                                 const CopySource& source);
  // if_none_match: only if the key does not exist (PreconditionFailed otherwise), so an output
  // is never written over; S3 answers 409 ConditionalRequestConflict to a concurrent writer.
  WriteResult complete_multipart_upload(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id,
                                        const std::vector<CompletedPart>& parts,
                                        bool if_none_match = false);
  void abort_multipart_upload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);
  std::vector<UploadInfo> list_multipart_uploads(const std::string& bucket,
                                                 const std::string& prefix = "");

  // Deletes exactly these versions: Quiet requests of at most `keys_per_request` (≤ 1,000) keys,
  // up to `concurrency` in flight, each started when `pacer` (keys a second) allows, if there is
  // one. Keys S3 refused, or whose request failed after retries, come back in `errors`; the rest
  // in `deleted`.
  DeleteResult delete_objects(const std::string& bucket, const std::vector<ObjectId>& objects,
                              std::size_t concurrency = 8,
                              std::size_t keys_per_request = kMaxDeleteKeys,
                              Pacer* pacer = nullptr);

  // Request builders and parsers, for callers that batch with AwsClient::send_each.
  AwsRequest list_request(const std::string& bucket, const ListOptions& options,
                          const std::string& continuation_token) const;
  AwsRequest list_versions_request(const std::string& bucket,
                                   const VersionListOptions& options) const;
  AwsRequest get_object_request(const std::string& bucket, const std::string& key,
                                const GetOptions& options) const;
  AwsRequest head_object_request(const std::string& bucket, const std::string& key,
                                 const std::string& version_id = "") const;
  AwsRequest put_object_request(const std::string& bucket, const std::string& key, std::string body,
                                const PutOptions& options = {}) const;
  static HeadResult head_result(const AwsResponse& response);
  AwsRequest delete_objects_request(const std::string& bucket,
                                    const std::vector<ObjectId>& objects) const;
  static std::vector<DeleteError> parse_delete_errors(const std::string& body);

  AwsClient& client() { return client_; }

 private:
  AwsRequest object_request(std::string operation, std::string method, const std::string& bucket,
                            const std::string& key) const;

  AwsClient client_;
};

}  // namespace common
