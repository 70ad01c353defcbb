#include "bench/s3_standin/store.h"

#include <boost/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <set>
#include <sstream>

#include "common/hashing.h"
#include "common/sigv4.h"

namespace standin {

namespace {

constexpr std::uint64_t kMinPartBytes = 5ull << 20;
constexpr const char* kPreconditionFailed =
    "At least one of the preconditions you specified did not hold";

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string element(const std::string& name, const std::string& value) {
  return "<" + name + ">" + escape(value) + "</" + name + ">";
}

std::string now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
  return text;
}

Response xml(const std::string& body, int status = 200) {
  Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/xml");
  response.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body;
  return response;
}

std::string etag_of(const std::string& bytes) {
  return "\"" + common::md5_hex(bytes) + "\"";
}

// bytes=a-b, bytes=a-, bytes=-n of `size`; false when unsatisfiable.
bool parse_range(const std::string& header, std::uint64_t size, std::uint64_t& first,
                 std::uint64_t& last) {
  if (!header.starts_with("bytes=") || size == 0) return false;
  const std::string spec = header.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return false;
  const std::string from = spec.substr(0, dash), to = spec.substr(dash + 1);
  if (from.empty()) {
    const std::uint64_t suffix = std::stoull(to);
    first = suffix >= size ? 0 : size - suffix;
    last = size - 1;
  } else {
    first = std::stoull(from);
    last = to.empty() ? size - 1 : std::min<std::uint64_t>(std::stoull(to), size - 1);
  }
  return first <= last && first < size;
}

std::string key_for_listing(const std::string& key, bool encode) {
  return encode ? common::uri_encode(key, true) : key;
}

std::string prefix_of(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == std::string::npos ? "" : key.substr(0, slash + 1);
}

int max_keys(const Request& request) {
  const auto it = request.query.find("max-keys");
  return it == request.query.end() ? 1000 : std::clamp(std::stoi(it->second), 0, 1000);
}

std::string query_value(const Request& request, const std::string& name) {
  const auto it = request.query.find(name);
  return it == request.query.end() ? "" : it->second;
}

// The first string after every string that starts with `prefix` (none: the empty string, as the
// end of the keys).
std::string past_prefix(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// The folder `key` stands for in a listing below `prefix` with `delimiter` (its name up to and
// with the first delimiter past the prefix), or nullopt when it is listed as itself.
std::optional<std::string> folder_of(const std::string& key, const std::string& prefix,
                                     const std::string& delimiter) {
  if (delimiter.empty()) return std::nullopt;
  const auto cut = key.find(delimiter, prefix.size());
  if (cut == std::string::npos) return std::nullopt;
  return key.substr(0, cut + delimiter.size());
}

// The last key in `folder`: a listing goes on after it.
template <typename Keys>
typename Keys::const_iterator last_in(const Keys& keys, const std::string& folder) {
  const std::string past = past_prefix(folder);
  return std::prev(past.empty() ? keys.end() : keys.lower_bound(past));
}

}  // namespace

std::string Request::header(const std::string& name) const {
  for (const auto& [header, value] : headers)
    if (header == name) return value;
  return "";
}

Response error(int status, const std::string& code, const std::string& message) {
  return xml("<Error>" + element("Code", code) + element("Message", message) + "</Error>", status);
}

// KMS's GenerateMac and VerifyMac, for the seal key the pipeline's functions are given
// (pipeline/seal.h): an HMAC under one key of the stand-in's, whatever key is named.
bool kms_call(const Request& request) {
  return request.header("x-amz-target").starts_with("TrentService.");
}

Response kms_answer(const Request& request) {
  static const std::string kKey = "s3-standin seal key";
  Response response;
  response.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  boost::system::error_code error;
  const auto input = boost::json::parse(request.body, error);
  const auto* message =
      !error && input.is_object() ? input.as_object().if_contains("Message") : nullptr;
  const auto bytes =
      message && message->is_string() ? common::base64_decode(message->get_string()) : std::nullopt;
  const std::string target = request.header("x-amz-target");
  if (!bytes) {
    response.status = 400;
    response.body = R"({"__type":"ValidationException","message":"Message is required"})";
    return response;
  }
  const std::string mac = common::base64_encode(common::hmac_sha256(kKey, *bytes));
  if (target == "TrentService.GenerateMac") {
    response.body = boost::json::serialize(
        boost::json::object{{"Mac", mac}, {"MacAlgorithm", "HMAC_SHA_256"}, {"KeyId", "standin"}});
  } else if (const auto* claimed = input.as_object().if_contains("Mac");
             target == "TrentService.VerifyMac" && claimed != nullptr && claimed->is_string() &&
             claimed->get_string() == mac) {
    response.body = R"({"MacValid":true,"MacAlgorithm":"HMAC_SHA_256","KeyId":"standin"})";
  } else {
    response.status = 400;
    response.body = R"({"__type":"KMSInvalidMacException","message":"the MAC does not verify"})";
  }
  return response;
}

Classified classify(const Request& request) {
  Classified what;
  const std::string& method = request.method;
  if (kms_call(request)) {
    what.operation = request.header("x-amz-target").substr(std::string("TrentService.").size());
    return what;
  }
  what.write = method == "PUT" || method == "POST" || method == "DELETE";
  what.prefixes.push_back(request.bucket + "/" + prefix_of(request.key));
  if (request.key.empty()) {
    if (request.has("delete")) {
      what.operation = "DeleteObjects";
      what.prefixes.clear();
      pugi::xml_document document;
      document.load_string(request.body.c_str());
      for (const auto& object : document.child("Delete").children("Object"))
        what.prefixes.push_back(request.bucket + "/" + prefix_of(object.child_value("Key")));
    } else if (request.has("versions")) {
      what.operation = "ListObjectVersions";
    } else if (request.has("uploads")) {
      what.operation = "ListMultipartUploads";
    } else if (method == "GET") {
      what.operation = "ListObjectsV2";
      what.prefixes = {request.bucket + "/" + prefix_of(query_value(request, "prefix"))};
    } else {
      what.operation = method != "PUT"             ? "BucketCall"
                       : request.has("versioning") ? "PutBucketVersioning"
                                                   : "CreateBucket";
    }
    return what;
  }
  if (method == "GET")
    what.operation = request.has("uploadId") ? "ListParts" : "GetObject";
  else if (method == "HEAD")
    what.operation = "HeadObject";
  else if (method == "DELETE")
    what.operation = request.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
  else if (method == "POST")
    what.operation = request.has("uploads") ? "CreateMultipartUpload" : "CompleteMultipartUpload";
  else if (request.has("partNumber"))
    what.operation = request.header("x-amz-copy-source").empty() ? "UploadPart" : "UploadPartCopy";
  else
    what.operation = request.header("x-amz-copy-source").empty() ? "PutObject" : "CopyObject";
  return what;
}

std::string Store::new_id() {
  std::ostringstream id;
  id << std::hex << 0x5f3759df00000000ull + next_id_++;
  return id.str();
}

Response Store::handle(const Request& request) {
  if (kms_call(request)) return kms_answer(request);
  std::lock_guard lock(mutex_);
  if (request.bucket.empty()) return error(400, "InvalidRequest", "no bucket");
  auto it = buckets_.find(request.bucket);
  if (request.key.empty())
    return bucket_call(request, it == buckets_.end() ? nullptr : &it->second);
  if (it == buckets_.end())
    return error(404, "NoSuchBucket", "The specified bucket does not exist");
  return object_call(request, it->second);
}

Response Store::bucket_call(const Request& request, Bucket* bucket) {
  if (request.method == "PUT" && request.has("versioning")) {
    if (!bucket) return error(404, "NoSuchBucket", "The specified bucket does not exist");
    bucket->versioned = request.body.find("<Status>Enabled</Status>") != std::string::npos;
    return Response{};
  }
  if (request.method == "PUT") {
    if (bucket) return error(409, "BucketAlreadyOwnedByYou", "Your previous request succeeded");
    buckets_[request.bucket];
    return Response{};
  }
  if (!bucket) return error(404, "NoSuchBucket", "The specified bucket does not exist");
  if (request.method == "POST" && request.has("delete")) return delete_objects(request, *bucket);
  if (request.method == "GET" && request.has("versions")) return list_versions(request, *bucket);
  if (request.method == "GET" && request.has("uploads")) return list_uploads(request, *bucket);
  if (request.method == "GET" && request.has("location")) return xml("<LocationConstraint/>");
  if (request.method == "GET") return list_objects(request, *bucket);
  if (request.method == "HEAD") return Response{};
  return error(501, "NotImplemented", "not a call the stand-in knows");
}

const Store::Version* Store::find(const Bucket& bucket, const std::string& key,
                                  const std::string& version_id) const {
  const auto it = bucket.keys.find(key);
  if (it == bucket.keys.end() || it->second.empty()) return nullptr;
  if (version_id.empty()) return &it->second.back();
  for (const auto& version : it->second)
    if (version.id == version_id) return &version;
  return nullptr;
}

void Store::seed(const std::string& bucket_name, const std::vector<std::string>& keys,
                 std::uint64_t size) {
  const auto bytes = std::make_shared<const std::string>(size, 'x');
  const std::string etag = etag_of(*bytes);
  std::lock_guard lock(mutex_);
  Bucket& bucket = buckets_[bucket_name];
  for (const auto& key : keys) {
    Version version;
    version.bytes = bytes;
    version.etag = etag;
    put_version(bucket, key, std::move(version));
  }
}

bool Store::seed_from(const std::string& bucket_name, const std::vector<std::string>& keys,
                      const std::string& from) {
  std::lock_guard lock(mutex_);
  Bucket& bucket = buckets_[bucket_name];
  const Version* source = find(bucket, from, "");
  if (source == nullptr || source->delete_marker) return false;
  const Version shared = *source;
  for (const auto& key : keys) {
    Version version;
    version.bytes = shared.bytes;
    version.etag = shared.etag;
    put_version(bucket, key, std::move(version));
  }
  return true;
}

Store::Version& Store::put_version(Bucket& bucket, const std::string& key, Version version) {
  auto& versions = bucket.keys[key];
  version.id = bucket.versioned ? new_id() : "null";
  version.last_modified = now_iso();
  if (!bucket.versioned) versions.clear();
  versions.push_back(std::move(version));
  return versions.back();
}

std::string Store::delete_key(Bucket& bucket, const std::string& key,
                              const std::string& version_id) {
  auto it = bucket.keys.find(key);
  if (!version_id.empty()) {
    if (it != bucket.keys.end())
      std::erase_if(it->second, [&](const Version& v) { return v.id == version_id; });
  } else if (bucket.versioned) {
    Version marker;
    marker.delete_marker = true;
    return put_version(bucket, key, std::move(marker)).id;
  } else if (it != bucket.keys.end()) {
    bucket.keys.erase(it);
  }
  return "";
}

Response Store::object_call(const Request& request, Bucket& bucket) {
  const std::string& method = request.method;
  const std::string upload_id = query_value(request, "uploadId");
  if (method == "GET" && !upload_id.empty()) return list_parts(request, bucket);
  if (method == "GET" || method == "HEAD") return get_object(request, bucket);
  if (method == "POST" && request.has("uploads")) {
    const std::string id = new_id();
    Upload upload{request.key, now_iso(), {}, request.header("x-amz-storage-class"), {}};
    for (const auto& [name, value] : request.headers)
      if (name.starts_with("x-amz-meta-")) upload.metadata[name.substr(11)] = value;
    bucket.uploads[id] = std::move(upload);
    return xml("<InitiateMultipartUploadResult>" + element("Bucket", request.bucket) +
               element("Key", request.key) + element("UploadId", id) +
               "</InitiateMultipartUploadResult>");
  }
  if (method == "POST" && !upload_id.empty()) return complete_upload(request, bucket);
  if (method == "DELETE" && !upload_id.empty()) {
    if (!bucket.uploads.erase(upload_id))
      return error(404, "NoSuchUpload", "The specified upload does not exist");
    Response response;
    response.status = 204;
    return response;
  }
  if (method == "DELETE") {
    Response response;
    response.status = 204;
    const std::string marker = delete_key(bucket, request.key, query_value(request, "versionId"));
    if (!marker.empty()) {
      response.headers.emplace_back("x-amz-version-id", marker);
      response.headers.emplace_back("x-amz-delete-marker", "true");
    }
    return response;
  }
  if (method == "PUT" && request.has("partNumber")) {
    auto upload = bucket.uploads.find(upload_id);
    if (upload == bucket.uploads.end())
      return error(404, "NoSuchUpload", "The specified upload does not exist");
    const int number = std::stoi(query_value(request, "partNumber"));
    if (number < 1 || number > 10000)
      return error(400, "InvalidArgument", "Part number must be 1-10000");
    if (!request.header("x-amz-copy-source").empty())
      return copy_part(request, upload->second, number);
    Part part{etag_of(request.body), std::make_shared<const std::string>(request.body)};
    Response response;
    response.headers.emplace_back("ETag", part.etag);
    upload->second.parts[number] = std::move(part);
    return response;
  }
  if (method == "PUT") return put_object(request, bucket);
  return error(501, "NotImplemented", "not a call the stand-in knows");
}

Response Store::get_object(const Request& request, Bucket& bucket) {
  const std::string version_id = query_value(request, "versionId");
  const Version* version = find(bucket, request.key, version_id);
  if (!version || (version_id.empty() && version->delete_marker)) {
    if (!version_id.empty() && !version)
      return error(404, "NoSuchVersion", "The specified version does not exist.");
    return error(404, "NoSuchKey", "The specified key does not exist.");
  }
  if (version->delete_marker) return error(405, "MethodNotAllowed", "a delete marker");
  const std::string if_match = request.header("if-match");
  if (!if_match.empty() && if_match != version->etag)
    return error(412, "PreconditionFailed", kPreconditionFailed);
  const std::string& bytes = *version->bytes;
  Response response;
  response.headers.emplace_back("ETag", version->etag);
  response.headers.emplace_back("Last-Modified", version->last_modified);
  response.headers.emplace_back("x-amz-version-id", version->id);
  response.headers.emplace_back("Accept-Ranges", "bytes");
  if (version->storage_class != "STANDARD")
    response.headers.emplace_back("x-amz-storage-class", version->storage_class);
  for (const auto& [name, value] : version->metadata)
    response.headers.emplace_back("x-amz-meta-" + name, value);
  std::uint64_t first = 0, last = bytes.empty() ? 0 : bytes.size() - 1;
  const std::string range = request.header("range");
  if (!range.empty()) {
    if (!parse_range(range, bytes.size(), first, last))
      return error(416, "InvalidRange", "The requested range is not satisfiable");
    response.status = 206;
    response.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                       std::to_string(last) + "/" +
                                                       std::to_string(bytes.size()));
  }
  const std::uint64_t length = bytes.empty() ? 0 : last - first + 1;
  response.head = request.method == "HEAD";
  response.content_length = length;
  if (!response.head) response.body = bytes.substr(first, length);
  return response;
}

Response Store::put_object(const Request& request, Bucket& bucket) {
  const Version* current = find(bucket, request.key, "");
  const bool exists = current && !current->delete_marker;
  if (request.header("if-none-match") == "*" && exists)
    return error(412, "PreconditionFailed", kPreconditionFailed);
  Version version;
  const bool copy = !request.header("x-amz-copy-source").empty();
  const bool replace = request.header("x-amz-metadata-directive") == "REPLACE";
  if (copy) {
    Response failure;
    const Version* source = copy_source(request, failure);
    if (!source) return failure;
    version.bytes = source->bytes;
    // A copy is written in one piece: a multipart source's ETag becomes its bytes' MD5.
    version.etag =
        source->etag.find('-') == std::string::npos ? source->etag : etag_of(*source->bytes);
    if (!replace) version.metadata = source->metadata;
  } else {
    version.bytes = std::make_shared<const std::string>(request.body);
    version.etag = etag_of(request.body);
  }
  if (!copy || replace) {
    for (const auto& [name, value] : request.headers)
      if (name.starts_with("x-amz-meta-")) version.metadata[name.substr(11)] = value;
  }
  if (const std::string storage = request.header("x-amz-storage-class"); !storage.empty())
    version.storage_class = storage;
  const Version& stored = put_version(bucket, request.key, std::move(version));
  Response response =
      copy ? xml("<CopyObjectResult>" + element("LastModified", stored.last_modified) +
                 element("ETag", stored.etag) + "</CopyObjectResult>")
           : Response{};
  if (!copy) response.headers.emplace_back("ETag", stored.etag);
  if (bucket.versioned) response.headers.emplace_back("x-amz-version-id", stored.id);
  return response;
}

const Store::Version* Store::copy_source(const Request& request, Response& failure) const {
  // x-amz-copy-source: /bucket/key?versionId=v (URL-encoded), or bucket/key.
  std::string source = request.header("x-amz-copy-source");
  std::string version_id;
  if (const auto q = source.find("?versionId="); q != std::string::npos) {
    version_id = source.substr(q + 11);
    source.erase(q);
  }
  source = common::url_decode(source);
  if (source.starts_with("/")) source.erase(0, 1);
  const auto slash = source.find('/');
  const auto source_bucket =
      slash == std::string::npos ? buckets_.end() : buckets_.find(source.substr(0, slash));
  if (source_bucket == buckets_.end()) {
    failure = error(404, "NoSuchBucket", "The specified bucket does not exist");
    return nullptr;
  }
  const Version* version = find(source_bucket->second, source.substr(slash + 1), version_id);
  if (!version || version->delete_marker) {
    failure = error(404, version_id.empty() ? "NoSuchKey" : "NoSuchVersion", "no such source");
    return nullptr;
  }
  const std::string if_match = request.header("x-amz-copy-source-if-match");
  if (!if_match.empty() && if_match != version->etag) {
    failure = error(412, "PreconditionFailed", kPreconditionFailed);
    return nullptr;
  }
  return version;
}

Response Store::copy_part(const Request& request, Upload& upload, int number) {
  Response failure;
  const Version* version = copy_source(request, failure);
  if (!version) return failure;
  std::uint64_t first = 0, last = version->bytes->size() - 1;
  const std::string range = request.header("x-amz-copy-source-range");
  if (!range.empty() && !parse_range(range, version->bytes->size(), first, last))
    return error(416, "InvalidRange", "The requested range is not satisfiable");
  Part part;
  part.bytes = std::make_shared<const std::string>(version->bytes->substr(first, last - first + 1));
  part.etag = etag_of(*part.bytes);
  const std::string etag = part.etag;
  upload.parts[number] = std::move(part);
  return xml("<CopyPartResult>" + element("LastModified", now_iso()) + element("ETag", etag) +
             "</CopyPartResult>");
}

Response Store::complete_upload(const Request& request, Bucket& bucket) {
  const auto upload = bucket.uploads.find(query_value(request, "uploadId"));
  if (upload == bucket.uploads.end())
    return error(404, "NoSuchUpload", "The specified upload does not exist");
  pugi::xml_document document;
  if (!document.load_string(request.body.c_str()))
    return error(400, "MalformedXML", "The XML you provided was not well-formed");
  std::vector<std::pair<int, std::string>> named;
  for (const auto& part : document.child("CompleteMultipartUpload").children("Part"))
    named.emplace_back(std::stoi(part.child_value("PartNumber")), part.child_value("ETag"));
  if (named.empty()) return error(400, "MalformedXML", "no parts");
  std::string bytes, digests;
  for (std::size_t i = 0; i < named.size(); ++i) {
    const auto& [number, etag] = named[i];
    if (i > 0 && number <= named[i - 1].first)
      return error(400, "InvalidPartOrder", "The list of parts was not in ascending order");
    const auto part = upload->second.parts.find(number);
    if (part == upload->second.parts.end() || part->second.etag != etag)
      return error(400, "InvalidPart", "One or more of the specified parts could not be found");
    if (i + 1 < named.size() && part->second.bytes->size() < kMinPartBytes)
      return error(400, "EntityTooSmall",
                   "Your proposed upload is smaller than the minimum allowed size");
    bytes += *part->second.bytes;
    digests += *common::hex_decode(etag.substr(1, etag.size() - 2));
  }
  const Version* current = find(bucket, request.key, "");
  if (request.header("if-none-match") == "*" && current && !current->delete_marker)
    return error(412, "PreconditionFailed", kPreconditionFailed);
  Version version;
  version.etag = "\"" + common::md5_hex(digests) + "-" + std::to_string(named.size()) + "\"";
  version.bytes = std::make_shared<const std::string>(std::move(bytes));
  version.metadata = upload->second.metadata;
  if (!upload->second.storage_class.empty()) version.storage_class = upload->second.storage_class;
  const Version& stored = put_version(bucket, request.key, std::move(version));
  bucket.uploads.erase(upload);
  Response response = xml("<CompleteMultipartUploadResult>" + element("Bucket", request.bucket) +
                          element("Key", request.key) + element("ETag", stored.etag) +
                          "</CompleteMultipartUploadResult>");
  if (bucket.versioned) response.headers.emplace_back("x-amz-version-id", stored.id);
  return response;
}

Response Store::list_objects(const Request& request, const Bucket& bucket) const {
  const std::string prefix = query_value(request, "prefix");
  const std::string delimiter = query_value(request, "delimiter");
  const bool encode = query_value(request, "encoding-type") == "url";
  std::string after = query_value(request, "start-after");
  if (const std::string token = query_value(request, "continuation-token"); !token.empty())
    after = std::max(after, *common::hex_decode(token));
  const int limit = max_keys(request);
  std::string body, last;
  std::set<std::string> common_prefixes;
  int count = 0;
  bool truncated = false;
  // Straight to the prefix: a bucket of a million keys is not walked for each listing.
  for (auto it = after < prefix ? bucket.keys.lower_bound(prefix) : bucket.keys.upper_bound(after);
       it != bucket.keys.end(); ++it) {
    const auto& [key, versions] = *it;
    if (!key.starts_with(prefix)) break;
    if (versions.empty() || versions.back().delete_marker) continue;
    if (count == limit) {
      truncated = true;
      break;
    }
    if (const auto folder = folder_of(key, prefix, delimiter)) {
      // A folder is one entry: the page goes on after its last key.
      common_prefixes.insert(*folder);
      ++count;
      it = last_in(bucket.keys, *folder);
      last = it->first;
      continue;
    }
    const Version& version = versions.back();
    body += "<Contents>" + element("Key", key_for_listing(key, encode)) +
            element("LastModified", version.last_modified) + element("ETag", version.etag) +
            element("Size", std::to_string(version.bytes->size())) +
            element("StorageClass", version.storage_class) + "</Contents>";
    last = key;
    ++count;
  }
  for (const auto& folder : common_prefixes)
    body += "<CommonPrefixes>" + element("Prefix", key_for_listing(folder, encode)) +
            "</CommonPrefixes>";
  std::string head = "<ListBucketResult>" + element("Name", request.bucket) +
                     element("Prefix", prefix) + element("KeyCount", std::to_string(count)) +
                     element("MaxKeys", std::to_string(limit)) +
                     element("IsTruncated", truncated ? "true" : "false");
  if (encode) head += element("EncodingType", "url");
  if (truncated) head += element("NextContinuationToken", common::hex_encode(last));
  return xml(head + body + "</ListBucketResult>");
}

Response Store::list_versions(const Request& request, const Bucket& bucket) const {
  const std::string prefix = query_value(request, "prefix");
  const std::string delimiter = query_value(request, "delimiter");
  const bool encode = query_value(request, "encoding-type") == "url";
  const std::string key_marker = query_value(request, "key-marker");
  const std::string version_marker = query_value(request, "version-id-marker");
  const int limit = max_keys(request);
  std::string body;
  int count = 0;
  bool truncated = false;
  std::string next_key, next_version;
  std::set<std::string> common_prefixes;
  auto it =
      key_marker.empty() ? bucket.keys.lower_bound(prefix) : bucket.keys.lower_bound(key_marker);
  for (; it != bucket.keys.end() && !truncated; ++it) {
    const auto& [key, versions] = *it;
    if (!key.starts_with(prefix)) {
      if (key > prefix) break;
      continue;
    }
    // Newest first, past the markers: a key marker alone means after that key.
    if (key == key_marker && version_marker.empty()) continue;
    if (const auto folder = folder_of(key, prefix, delimiter)) {
      // A folder is one entry; a page ending with it goes on after its last key.
      if (count == limit) {
        truncated = true;
        break;
      }
      common_prefixes.insert(*folder);
      ++count;
      it = last_in(bucket.keys, *folder);
      next_key = it->first;
      next_version.clear();
      continue;
    }
    bool past_marker = key != key_marker;
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      if (!past_marker) {
        if (v->id == version_marker) past_marker = true;
        continue;
      }
      if (count == limit) {
        truncated = true;
        break;
      }
      const std::string tag = v->delete_marker ? "DeleteMarker" : "Version";
      body += "<" + tag + ">" + element("Key", key_for_listing(key, encode)) +
              element("VersionId", v->id) +
              element("IsLatest", v == versions.rbegin() ? "true" : "false") +
              element("LastModified", v->last_modified);
      if (!v->delete_marker)
        body += element("ETag", v->etag) + element("Size", std::to_string(v->bytes->size())) +
                element("StorageClass", v->storage_class);
      body += "</" + tag + ">";
      next_key = key;
      next_version = v->id;
      ++count;
    }
  }
  for (const auto& folder : common_prefixes)
    body += "<CommonPrefixes>" + element("Prefix", key_for_listing(folder, encode)) +
            "</CommonPrefixes>";
  std::string head = "<ListVersionsResult>" + element("Name", request.bucket) +
                     element("Prefix", prefix) + element("MaxKeys", std::to_string(limit)) +
                     element("IsTruncated", truncated ? "true" : "false");
  if (encode) head += element("EncodingType", "url");
  if (truncated)
    head += element("NextKeyMarker", key_for_listing(next_key, encode)) +
            element("NextVersionIdMarker", next_version);
  return xml(head + body + "</ListVersionsResult>");
}

Response Store::list_uploads(const Request& request, const Bucket& bucket) const {
  const std::string prefix = query_value(request, "prefix");
  std::string body;
  for (const auto& [id, upload] : bucket.uploads) {
    if (!upload.key.starts_with(prefix)) continue;
    body += "<Upload>" + element("Key", upload.key) + element("UploadId", id) +
            element("Initiated", upload.initiated) + "</Upload>";
  }
  return xml("<ListMultipartUploadsResult>" + element("Bucket", request.bucket) +
             element("IsTruncated", "false") + body + "</ListMultipartUploadsResult>");
}

Response Store::list_parts(const Request& request, const Bucket& bucket) const {
  const auto upload = bucket.uploads.find(query_value(request, "uploadId"));
  if (upload == bucket.uploads.end())
    return error(404, "NoSuchUpload", "The specified upload does not exist");
  std::string body;
  for (const auto& [number, part] : upload->second.parts)
    body += "<Part>" + element("PartNumber", std::to_string(number)) + element("ETag", part.etag) +
            element("Size", std::to_string(part.bytes->size())) + "</Part>";
  return xml("<ListPartsResult>" + element("IsTruncated", "false") + body + "</ListPartsResult>");
}

Response Store::delete_objects(const Request& request, Bucket& bucket) {
  pugi::xml_document document;
  if (!document.load_string(request.body.c_str()))
    return error(400, "MalformedXML", "The XML you provided was not well-formed");
  const auto root = document.child("Delete");
  const bool quiet = std::string_view(root.child_value("Quiet")) == "true";
  std::string body;
  int count = 0;
  for (const auto& object : root.children("Object")) {
    if (++count > 1000) return error(400, "MalformedXML", "more than 1,000 keys");
    const std::string key = object.child_value("Key");
    const std::string version_id = object.child_value("VersionId");
    const std::string etag = object.child_value("ETag");
    const Version* current = find(bucket, key, version_id);
    if (!etag.empty() && current && current->etag != etag) {
      body += "<Error>" + element("Key", key) + element("VersionId", version_id) +
              element("Code", "PreconditionFailed") + element("Message", kPreconditionFailed) +
              "</Error>";
      continue;
    }
    delete_key(bucket, key, version_id);
    if (!quiet)
      body += "<Deleted>" + element("Key", key) +
              (version_id.empty() ? "" : element("VersionId", version_id)) + "</Deleted>";
  }
  return xml("<DeleteResult>" + body + "</DeleteResult>");
}

}  // namespace standin
