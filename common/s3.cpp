#include "common/s3.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <pugixml.hpp>
#include <sstream>

#include "common/batch.h"
#include "common/pagination.h"
#include "common/sigv4.h"

namespace common {

namespace {

bool virtual_host_compatible(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::uint64_t to_u64(const char* text) {
  return std::strtoull(text, nullptr, 10);
}

// Callers read the root with document_element(): its name differs between AWS and emulators
// (a ...Result in one, a ...Response in the other), their content does not.
pugi::xml_document parse_xml(const std::string& body, const char* operation) {
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) {
    throw AwsError("MalformedResponse", std::string(operation) + " answered with unreadable XML",
                   "", 200, true);
  }
  return document;
}

std::string xml_to_string(const pugi::xml_document& document) {
  std::ostringstream out;
  document.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return out.str();
}

std::string range_header(const ByteRange& range) {
  return "bytes=" + std::to_string(range.first) + "-" + std::to_string(range.last);
}

std::string copy_source_header(const CopySource& source) {
  std::string value = uri_encode(source.bucket + "/" + source.key, true);
  if (!source.version_id.empty()) value += "?versionId=" + uri_encode(source.version_id, false);
  return value;
}

void add_put_headers(AwsRequest& request, const PutOptions& options) {
  if (!options.content_type.empty())
    request.headers.emplace_back("content-type", options.content_type);
  if (!options.content_encoding.empty()) {
    request.headers.emplace_back("content-encoding", options.content_encoding);
  }
  if (!options.storage_class.empty()) {
    request.headers.emplace_back("x-amz-storage-class", options.storage_class);
  }
  if (options.if_none_match) request.headers.emplace_back("if-none-match", "*");
  for (const auto& [name, value] : options.metadata)
    request.headers.emplace_back("x-amz-meta-" + name, value);
  if (!options.lock_mode.empty()) {
    request.headers.emplace_back("x-amz-object-lock-mode", options.lock_mode);
    request.headers.emplace_back("x-amz-object-lock-retain-until-date", options.retain_until);
  }
}

// S3 refuses a body without Content-MD5 (or a checksum) where Object Lock retention applies, in
// PutObject and in every UploadPart; sent always, it lets S3 refuse a body damaged on the way.
void add_content_md5(AwsRequest& request) {
  request.headers.emplace_back("content-md5", md5_base64(request.body));
}

WriteResult write_result(const AwsResponse& response) {
  return WriteResult{response.header("etag"), response.header("x-amz-version-id")};
}

S3Object parse_object(const pugi::xml_node& node, bool decode_keys) {
  S3Object object;
  object.key = node.child_value("Key");
  if (decode_keys) object.key = url_decode(object.key, true);
  object.size = to_u64(node.child_value("Size"));
  object.etag = node.child_value("ETag");
  object.last_modified = node.child_value("LastModified");
  object.storage_class = node.child_value("StorageClass");
  object.version_id = node.child_value("VersionId");
  object.is_latest = std::string_view(node.child_value("IsLatest")) == "true";
  return object;
}

}  // namespace

bool valid_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto letter_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!letter_or_digit(name.front()) || !letter_or_digit(name.back())) return false;
  for (char c : name) {
    if (!letter_or_digit(c) && c != '.' && c != '-') return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  if (name.starts_with("xn--") || name.starts_with("sthree-") ||
      name.starts_with("amzn-s3-demo-") || name.ends_with("-s3alias") ||
      name.ends_with("--ol-s3") || name.ends_with(".mrap") || name.ends_with("--x-s3") ||
      name.ends_with("--table-s3"))
    return false;
  // Four dot-separated runs of digits: an IP address.
  int parts = 1;
  bool digits_only = true;
  for (char c : name) {
    if (c == '.')
      ++parts;
    else if (c < '0' || c > '9')
      digits_only = false;
  }
  return !(digits_only && parts == 4);
}

std::string quoted_etag(std::string etag) {
  if (etag.empty() || (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')) return etag;
  return '"' + etag + '"';
}

std::string multipart_etag(const std::vector<CompletedPart>& parts) {
  std::string digests;
  for (const auto& part : parts) {
    std::string_view hex = part.etag;
    if (hex.size() >= 2 && hex.front() == '"' && hex.back() == '"')
      hex = hex.substr(1, hex.size() - 2);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
      digests.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return "\"" + md5_hex(digests) + "-" + std::to_string(parts.size()) + "\"";
}

S3Address s3_address(const Endpoint& endpoint, const std::string& bucket, const std::string& key) {
  if (endpoint.overridden || !virtual_host_compatible(bucket)) {
    return S3Address{"", "/" + bucket + (key.empty() ? "" : "/" + key)};
  }
  return S3Address{bucket + ".", "/" + key};
}

const ServiceInfo& S3Client::service_info() {
  static const ServiceInfo info{"s3", "S3", "s3", Protocol::RestXml};
  return info;
}

S3Client::S3Client(ClientOptions options) : client_(service_info(), std::move(options)) {}
S3Client::S3Client() : S3Client(ClientOptions::from_environment(service_info())) {}

AwsRequest S3Client::object_request(std::string operation, std::string method,
                                    const std::string& bucket, const std::string& key) const {
  AwsRequest request;
  request.operation = std::move(operation);
  request.method = std::move(method);
  request.s3_payload_header = true;
  const bool path_style = client_.options().endpoint.overridden || !virtual_host_compatible(bucket);
  if (path_style) {
    request.path = "/" + bucket + (key.empty() ? "" : "/" + key);
  } else {
    request.host_prefix = bucket + ".";
    request.path = "/" + key;
  }
  return request;
}

AwsRequest S3Client::list_request(const std::string& bucket, const ListOptions& options,
                                  const std::string& continuation_token) const {
  AwsRequest request = object_request("ListObjectsV2", "GET", bucket, "");
  request.query = {{"list-type", "2"}, {"encoding-type", "url"}};
  if (!options.prefix.empty()) request.query.emplace_back("prefix", options.prefix);
  if (!options.delimiter.empty()) request.query.emplace_back("delimiter", options.delimiter);
  if (!options.start_after.empty()) request.query.emplace_back("start-after", options.start_after);
  if (options.max_keys > 0)
    request.query.emplace_back("max-keys", std::to_string(options.max_keys));
  if (!continuation_token.empty()) {
    request.query.emplace_back("continuation-token", continuation_token);
  }
  return request;
}

ListPage parse_list_page(const std::string& body) {
  const auto document = parse_xml(body, "ListObjectsV2");
  const auto root = document.document_element();
  // Only when S3 says it encoded the keys are they decoded: decoding raw keys would corrupt '%'.
  const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
  ListPage page;
  for (const auto& node : root.children("Contents"))
    page.objects.push_back(parse_object(node, encoded));
  for (const auto& node : root.children("CommonPrefixes")) {
    const std::string prefix = node.child_value("Prefix");
    page.common_prefixes.push_back(encoded ? url_decode(prefix, true) : prefix);
  }
  if (std::string_view(root.child_value("IsTruncated")) == "true") {
    page.next_continuation_token = root.child_value("NextContinuationToken");
  }
  return page;
}

namespace {

bool has_next(const ListPage& page) {
  return page.next_continuation_token && !page.next_continuation_token->empty();
}

}  // namespace

VersionPage parse_version_page(const std::string& body) {
  const auto document = parse_xml(body, "ListObjectVersions");
  const auto root = document.document_element();
  const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
  VersionPage page;
  for (const auto& node : root.children()) {
    const std::string_view name = node.name();
    if (name == "Version" || name == "DeleteMarker") {
      S3Object object = parse_object(node, encoded);
      object.delete_marker = name == "DeleteMarker";
      page.versions.push_back(std::move(object));
    } else if (name == "CommonPrefixes") {
      const std::string prefix = node.child_value("Prefix");
      page.common_prefixes.push_back(encoded ? url_decode(prefix, true) : prefix);
    }
  }
  if (std::string_view(root.child_value("IsTruncated")) == "true") {
    const std::string key_marker = root.child_value("NextKeyMarker");
    page.next_key_marker = encoded ? url_decode(key_marker, true) : key_marker;
    page.next_version_id_marker = root.child_value("NextVersionIdMarker");
  }
  return page;
}

UploadsPage parse_uploads_page(const std::string& body) {
  const auto document = parse_xml(body, "ListMultipartUploads");
  const auto root = document.document_element();
  UploadsPage page;
  for (const auto& node : root.children("Upload")) {
    page.uploads.push_back(UploadInfo{node.child_value("Key"), node.child_value("UploadId"),
                                      node.child_value("Initiated")});
  }
  if (std::string_view(root.child_value("IsTruncated")) == "true") {
    page.next_key_marker = root.child_value("NextKeyMarker");
    page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
  }
  return page;
}

namespace {

using VersionMarker = std::pair<std::string, std::string>;  // key marker, version id marker
using UploadMarker = std::pair<std::string, std::string>;   // key marker, upload id marker

Pager<ListPage, std::string> list_pager(const S3Client& s3, std::string bucket,
                                        ListOptions options) {
  return Pager<ListPage, std::string>{[&s3, bucket, options](const std::string& token) {
                                        return s3.list_request(bucket, options, token);
                                      },
                                      parse_list_page,
                                      [](const ListPage& page) -> std::optional<std::string> {
                                        if (!has_next(page)) return std::nullopt;
                                        return *page.next_continuation_token;
                                      }};
}

Pager<VersionPage, VersionMarker> version_pager(const S3Client& s3, std::string bucket,
                                                VersionListOptions options) {
  return Pager<VersionPage, VersionMarker>{
      [&s3, bucket, options](const VersionMarker& marker) {
        VersionListOptions page_options = options;
        if (!marker.first.empty()) page_options.key_marker = marker.first;
        if (!marker.second.empty()) page_options.version_id_marker = marker.second;
        return s3.list_versions_request(bucket, page_options);
      },
      parse_version_page,
      [](const VersionPage& page) -> std::optional<VersionMarker> {
        if (!page.next_key_marker) return std::nullopt;
        return VersionMarker{*page.next_key_marker, page.next_version_id_marker.value_or("")};
      }};
}

Pager<UploadsPage, UploadMarker> uploads_pager(std::function<AwsRequest()> request) {
  return Pager<UploadsPage, UploadMarker>{
      [request](const UploadMarker& marker) {
        AwsRequest page_request = request();
        if (!marker.first.empty()) page_request.query.emplace_back("key-marker", marker.first);
        if (!marker.second.empty())
          page_request.query.emplace_back("upload-id-marker", marker.second);
        return page_request;
      },
      parse_uploads_page,
      [](const UploadsPage& page) -> std::optional<UploadMarker> {
        if (page.next_key_marker.empty()) return std::nullopt;
        return UploadMarker{page.next_key_marker, page.next_upload_id_marker};
      }};
}

}  // namespace

ListPage S3Client::list_objects_v2(const std::string& bucket, const ListOptions& options,
                                   const std::string& continuation_token) {
  return parse_list_page(client_.send(list_request(bucket, options, continuation_token)).body);
}

void S3Client::for_each_page(const std::string& bucket, const ListOptions& options,
                             const std::function<bool(ListPage&)>& on_page) {
  paginate(client_, list_pager(*this, bucket, options), std::string(), on_page);
}

void S3Client::list_async(const std::string& bucket, const ListOptions& options,
                          std::function<bool(ListPage&)> on_page,
                          std::function<void(std::exception_ptr)> done) {
  paginate_async(
      client_,
      std::make_shared<const Pager<ListPage, std::string>>(list_pager(*this, bucket, options)),
      std::string(), std::make_shared<std::function<bool(ListPage&)>>(std::move(on_page)),
      std::make_shared<std::function<void(std::exception_ptr)>>(std::move(done)));
}

std::vector<S3Object> S3Client::list_all(const std::string& bucket, const std::string& prefix) {
  std::vector<S3Object> objects;
  ListOptions options;
  options.prefix = prefix;
  for_each_page(bucket, options, [&](ListPage& page) {
    for (auto& object : page.objects) objects.push_back(std::move(object));
    return true;
  });
  return objects;
}

AwsRequest S3Client::list_versions_request(const std::string& bucket,
                                           const VersionListOptions& options) const {
  AwsRequest request = object_request("ListObjectVersions", "GET", bucket, "");
  request.query = {{"versions", ""}, {"encoding-type", "url"}};
  if (!options.prefix.empty()) request.query.emplace_back("prefix", options.prefix);
  if (!options.delimiter.empty()) request.query.emplace_back("delimiter", options.delimiter);
  if (!options.key_marker.empty()) request.query.emplace_back("key-marker", options.key_marker);
  if (!options.version_id_marker.empty()) {
    request.query.emplace_back("version-id-marker", options.version_id_marker);
  }
  if (options.max_keys > 0)
    request.query.emplace_back("max-keys", std::to_string(options.max_keys));
  return request;
}

void S3Client::for_each_version_page(const std::string& bucket, VersionListOptions options,
                                     const std::function<bool(VersionPage&)>& on_page) {
  paginate(client_, version_pager(*this, bucket, options), VersionMarker{}, on_page);
}

void S3Client::list_versions_async(const std::string& bucket, const VersionListOptions& options,
                                   std::function<bool(VersionPage&)> on_page,
                                   std::function<void(std::exception_ptr)> done) {
  paginate_async(client_,
                 std::make_shared<const Pager<VersionPage, VersionMarker>>(
                     version_pager(*this, bucket, options)),
                 VersionMarker{},
                 std::make_shared<std::function<bool(VersionPage&)>>(std::move(on_page)),
                 std::make_shared<std::function<void(std::exception_ptr)>>(std::move(done)));
}

namespace {

// Runs `count` listings through `start(i, on_page, done)`, collecting every page into result[i].
template <typename Page, typename Options, typename Start, typename Append>
std::vector<Page> collect_many(const std::vector<Options>& listings, std::size_t concurrency,
                               Start&& start, Append&& append) {
  std::vector<Page> result(listings.size());
  std::exception_ptr failure;
  run_bounded<std::exception_ptr>(
      listings.size(), concurrency,
      [&](std::size_t index, std::function<void(std::exception_ptr &&)> done) {
        // Pages arrive on the engine's single thread, so appending needs no lock.
        start(
            listings[index],
            [&result, &append, index](Page& page) {
              append(result[index], page);
              return true;
            },
            [done](std::exception_ptr error) mutable { done(std::move(error)); });
      },
      [&](std::size_t, std::exception_ptr&& error) {
        if (error && !failure) failure = error;
      });
  if (failure) std::rethrow_exception(failure);
  return result;
}

}  // namespace

std::vector<ListPage> S3Client::list_many(const std::string& bucket,
                                          const std::vector<ListOptions>& listings,
                                          std::size_t concurrency) {
  return collect_many<ListPage>(
      listings, concurrency,
      [&](const ListOptions& options, auto on_page, auto done) {
        list_async(bucket, options, on_page, done);
      },
      [](ListPage& into, ListPage& page) {
        for (auto& object : page.objects) into.objects.push_back(std::move(object));
        for (auto& prefix : page.common_prefixes) into.common_prefixes.push_back(std::move(prefix));
      });
}

std::vector<VersionPage> S3Client::list_versions_many(
    const std::string& bucket, const std::vector<VersionListOptions>& listings,
    std::size_t concurrency, const std::function<bool(const S3Object&)>& keep) {
  return collect_many<VersionPage>(
      listings, concurrency,
      [&](const VersionListOptions& options, auto on_page, auto done) {
        list_versions_async(bucket, options, on_page, done);
      },
      [&keep](VersionPage& into, VersionPage& page) {
        for (auto& version : page.versions) {
          if (keep(version)) into.versions.push_back(std::move(version));
        }
        for (auto& prefix : page.common_prefixes) into.common_prefixes.push_back(std::move(prefix));
      });
}

HeadResult S3Client::head_object(const std::string& bucket, const std::string& key,
                                 const std::string& version_id) {
  return head_result(client_.send(head_object_request(bucket, key, version_id)));
}

AwsRequest S3Client::head_object_request(const std::string& bucket, const std::string& key,
                                         const std::string& version_id) const {
  AwsRequest request = object_request("HeadObject", "HEAD", bucket, key);
  if (!version_id.empty()) request.query.emplace_back("versionId", version_id);
  return request;
}

std::optional<std::uint64_t> content_range_total(const std::string& content_range) {
  const auto slash = content_range.rfind('/');
  std::uint64_t total = 0;
  if (slash == std::string::npos) return std::nullopt;
  const char* end = content_range.data() + content_range.size();
  const auto [stop, error] = std::from_chars(content_range.data() + slash + 1, end, total);
  if (error != std::errc() || stop != end) return std::nullopt;
  return total;
}

bool etag_is_md5(const std::string& etag, const std::string& encryption) {
  const bool plain = etag.size() == 34 && etag.front() == '"' && etag.back() == '"' &&
                     std::all_of(etag.begin() + 1, etag.end() - 1,
                                 [](unsigned char c) { return std::isxdigit(c) != 0; });
  return plain && (encryption.empty() || encryption == "AES256");
}

HeadResult S3Client::head_result(const AwsResponse& response) {
  HeadResult result;
  result.size = to_u64(response.header("content-length").c_str());
  result.object_size = content_range_total(response.header("content-range")).value_or(result.size);
  result.etag = response.header("etag");
  result.last_modified = response.header("last-modified");
  result.version_id = response.header("x-amz-version-id");
  result.content_type = response.header("content-type");
  result.content_encoding = response.header("content-encoding");
  result.storage_class = response.header("x-amz-storage-class");
  result.encryption = response.header("x-amz-server-side-encryption");
  if (!response.header("x-amz-server-side-encryption-customer-algorithm").empty())
    result.encryption = "SSE-C";
  constexpr std::string_view kMeta = "x-amz-meta-";
  for (const auto& [name, value] : response.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.starts_with(kMeta)) result.metadata[lower.substr(kMeta.size())] = value;
  }
  return result;
}

AwsRequest S3Client::get_object_request(const std::string& bucket, const std::string& key,
                                        const GetOptions& options) const {
  AwsRequest request = object_request("GetObject", "GET", bucket, key);
  if (!options.version_id.empty()) request.query.emplace_back("versionId", options.version_id);
  if (options.range) request.headers.emplace_back("range", range_header(*options.range));
  if (!options.if_match.empty()) request.headers.emplace_back("if-match", options.if_match);
  return request;
}

std::string S3Client::get_object(const std::string& bucket, const std::string& key,
                                 const GetOptions& options) {
  return client_.send(get_object_request(bucket, key, options)).body;
}

void S3Client::get_object_to(const std::string& bucket, const std::string& key,
                             const GetOptions& options,
                             const std::function<bool(std::string_view)>& sink) {
  AwsRequest request = get_object_request(bucket, key, options);
  request.on_body = sink;
  ClientOptions once = client_.options();
  once.retry.max_attempts = 1;
  AwsClient single(service_info(), once);
  single.send(std::move(request));
}

AwsRequest S3Client::put_object_request(const std::string& bucket, const std::string& key,
                                        std::string body, const PutOptions& options) const {
  AwsRequest request = object_request("PutObject", "PUT", bucket, key);
  add_put_headers(request, options);
  request.body = std::move(body);
  add_content_md5(request);
  return request;
}

WriteResult S3Client::put_object(const std::string& bucket, const std::string& key,
                                 std::string body, const PutOptions& options) {
  return write_result(client_.send(put_object_request(bucket, key, std::move(body), options)));
}

WriteResult S3Client::put_object(const std::string& bucket, const std::string& key,
                                 std::shared_ptr<BodySource> body, const PutOptions& options) {
  AwsRequest request = object_request("PutObject", "PUT", bucket, key);
  add_put_headers(request, options);
  request.body_source = std::move(body);
  return write_result(client_.send(std::move(request)));
}

WriteResult S3Client::copy_object(const CopySource& source, const std::string& bucket,
                                  const std::string& key, const PutOptions& options) {
  AwsRequest request = object_request("CopyObject", "PUT", bucket, key);
  request.headers.emplace_back("x-amz-copy-source", copy_source_header(source));
  if (!source.if_match.empty())
    request.headers.emplace_back("x-amz-copy-source-if-match", source.if_match);
  add_put_headers(request, options);
  request.error_in_success_body = true;
  const AwsResponse response = client_.send(std::move(request));
  const auto document = parse_xml(response.body, "CopyObject");
  return WriteResult{document.document_element().child_value("ETag"),
                     response.header("x-amz-version-id")};
}

std::string S3Client::create_multipart_upload(const std::string& bucket, const std::string& key,
                                              const PutOptions& options) {
  AwsRequest request = object_request("CreateMultipartUpload", "POST", bucket, key);
  request.query = {{"uploads", ""}};
  add_put_headers(request, options);
  const AwsResponse response = client_.send(std::move(request));
  const auto document = parse_xml(response.body, "CreateMultipartUpload");
  std::string upload_id = document.document_element().child_value("UploadId");
  if (upload_id.empty()) {
    throw AwsError("MalformedResponse", "CreateMultipartUpload returned no UploadId", "", 200,
                   true);
  }
  return upload_id;
}

CompletedPart S3Client::upload_part(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id, int part_number,
                                    std::string body) {
  AwsRequest request = object_request("UploadPart", "PUT", bucket, key);
  request.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  request.body = std::move(body);
  add_content_md5(request);
  return CompletedPart{part_number, client_.send(std::move(request)).header("etag")};
}

CompletedPart S3Client::upload_part_copy(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         const CopySource& source) {
  AwsRequest request = object_request("UploadPartCopy", "PUT", bucket, key);
  request.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  request.headers.emplace_back("x-amz-copy-source", copy_source_header(source));
  if (!source.if_match.empty())
    request.headers.emplace_back("x-amz-copy-source-if-match", source.if_match);
  if (source.range)
    request.headers.emplace_back("x-amz-copy-source-range", range_header(*source.range));
  request.error_in_success_body = true;
  const AwsResponse response = client_.send(std::move(request));
  const auto document = parse_xml(response.body, "UploadPartCopy");
  return CompletedPart{part_number, document.document_element().child_value("ETag")};
}

WriteResult S3Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                                const std::string& upload_id,
                                                const std::vector<CompletedPart>& parts,
                                                bool if_none_match) {
  pugi::xml_document body;
  auto root = body.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const auto& part : parts) {
    auto node = root.append_child("Part");
    node.append_child("PartNumber").text().set(part.number);
    node.append_child("ETag").text().set(part.etag.c_str());
  }
  AwsRequest request = object_request("CompleteMultipartUpload", "POST", bucket, key);
  request.query = {{"uploadId", upload_id}};
  request.headers.emplace_back("content-type", "application/xml");
  if (if_none_match) request.headers.emplace_back("if-none-match", "*");
  request.body = xml_to_string(body);
  request.error_in_success_body = true;
  const AwsResponse response = client_.send(std::move(request));
  const auto document = parse_xml(response.body, "CompleteMultipartUpload");
  return WriteResult{document.document_element().child_value("ETag"),
                     response.header("x-amz-version-id")};
}

void S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  AwsRequest request = object_request("AbortMultipartUpload", "DELETE", bucket, key);
  request.query = {{"uploadId", upload_id}};
  client_.send(std::move(request));
}

std::vector<UploadInfo> S3Client::list_multipart_uploads(const std::string& bucket,
                                                         const std::string& prefix) {
  std::vector<UploadInfo> uploads;
  const auto pager = uploads_pager([&] {
    AwsRequest request = object_request("ListMultipartUploads", "GET", bucket, "");
    request.query = {{"uploads", ""}};
    if (!prefix.empty()) request.query.emplace_back("prefix", prefix);
    return request;
  });
  paginate<UploadsPage, UploadMarker>(client_, pager, {}, [&](UploadsPage& page) {
    uploads.insert(uploads.end(), page.uploads.begin(), page.uploads.end());
    return true;
  });
  return uploads;
}

AwsRequest S3Client::delete_objects_request(const std::string& bucket,
                                            const std::vector<ObjectId>& objects) const {
  if (objects.empty() || objects.size() > kMaxDeleteKeys) {
    throw runtime::InvalidInput("DeleteObjects takes 1 to 1000 keys, not " +
                                std::to_string(objects.size()));
  }
  pugi::xml_document body;
  auto root = body.append_child("Delete");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  root.append_child("Quiet").text().set("true");
  for (const auto& object : objects) {
    auto node = root.append_child("Object");
    node.append_child("Key").text().set(object.key.c_str());
    if (!object.version_id.empty())
      node.append_child("VersionId").text().set(object.version_id.c_str());
    if (!object.etag.empty()) node.append_child("ETag").text().set(object.etag.c_str());
  }
  AwsRequest request = object_request("DeleteObjects", "POST", bucket, "");
  request.query = {{"delete", ""}};
  request.body = xml_to_string(body);
  request.headers.emplace_back("content-type", "application/xml");
  request.headers.emplace_back("content-md5", md5_base64(request.body));  // S3 requires it
  return request;
}

std::vector<DeleteError> S3Client::parse_delete_errors(const std::string& body) {
  const auto document = parse_xml(body, "DeleteObjects");
  std::vector<DeleteError> errors;
  for (const auto& node : document.document_element().children("Error")) {
    errors.push_back(DeleteError{ObjectId{node.child_value("Key"), node.child_value("VersionId")},
                                 node.child_value("Code"), node.child_value("Message")});
  }
  return errors;
}

DeleteResult S3Client::delete_objects(const std::string& bucket,
                                      const std::vector<ObjectId>& objects, std::size_t concurrency,
                                      std::size_t keys_per_request, Pacer* pacer) {
  keys_per_request = std::clamp<std::size_t>(keys_per_request, 1, kMaxDeleteKeys);
  std::vector<std::vector<ObjectId>> batches;
  for (std::size_t start = 0; start < objects.size(); start += keys_per_request) {
    const std::size_t end = std::min(objects.size(), start + keys_per_request);
    batches.emplace_back(objects.begin() + static_cast<std::ptrdiff_t>(start),
                         objects.begin() + static_cast<std::ptrdiff_t>(end));
  }
  std::vector<AwsRequest> requests;
  for (const auto& batch : batches) requests.push_back(delete_objects_request(bucket, batch));

  DeleteResult result;
  result.requests = static_cast<int>(requests.size());
  const Pacing pacing{pacer, [&](std::size_t index) { return double(batches[index].size()); }};
  client_.send_each(
      std::move(requests), concurrency,
      [&](std::size_t index, AwsOutcome&& outcome) {
        if (!outcome.ok()) {
          // The whole request failed after retries: every key in it is reported, none assumed gone.
          std::string code = "RequestFailed";
          std::string message;
          try {
            std::rethrow_exception(outcome.error);
          } catch (const AwsError& error) {
            code = error.code();
            message = error.aws_message();
          } catch (const std::exception& error) {
            message = error.what();
          }
          for (const auto& object : batches[index])
            result.errors.push_back(DeleteError{object, code, message});
          return;
        }
        auto errors = parse_delete_errors(outcome.response.body);
        // Quiet mode reports only failures: everything else in the batch was deleted.
        for (const auto& object : batches[index]) {
          const auto error = std::find_if(errors.begin(), errors.end(), [&](const DeleteError& e) {
            return e.object.key == object.key &&
                   (object.version_id.empty() || e.object.version_id == object.version_id);
          });
          if (error == errors.end()) {
            result.deleted.push_back(object);
          } else {
            // The object as asked for, condition and all: a retry must carry the same condition.
            result.errors.push_back({object, error->code, error->message});
          }
        }
      },
      pacing);
  return result;
}

}  // namespace common
