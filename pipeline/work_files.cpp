#include "pipeline/work_files.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdint>

#include "common/sigv4.h"
#include "pipeline/layout.h"
#include "pipeline/record_fields.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

std::string id_field(const json::object& event, const char* field) {
  const auto* id = event.if_contains(field);
  const std::string text = id && id->is_string() ? std::string(id->get_string()) : std::string();
  const bool valid =
      !text.empty() && text.size() <= 80 && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (!valid)
    throw runtime::InvalidInput(std::string("\"") + field + "\" must be 1-80 of A-Z a-z 0-9 - _");
  return text;
}

std::string run_id_of(const json::object& event, const std::string& fallback) {
  if (!event.contains("run_id") && !fallback.empty()) return fallback;
  std::string run_id = id_field(event, "run_id");
  if (reserved_run_id(run_id))
    throw runtime::InvalidInput("\"run_id\" '" + run_id +
                                "' names a folder of the work bucket that is not a run's");
  return run_id;
}

std::string work_file_name(const std::string& id) {
  std::string slug;
  for (char c : id.substr(0, 80)) {
    slug.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_');
  }
  return slug + "-" + common::sha256_hex(id).substr(0, 12);
}

json::object FileRef::to_json() const {
  return {{"bucket", bucket}, {"key", key}, {"count", count}, {"bytes", bytes}};
}

std::optional<std::uint64_t> whole_number(const json::value& value) {
  if (value.is_uint64()) return value.get_uint64();
  if (value.is_int64() && value.get_int64() >= 0)
    return static_cast<std::uint64_t>(value.get_int64());
  return std::nullopt;
}

FileRef FileRef::from_json(const json::value& value, const std::string& what) {
  const RecordFields fields(value, what + " (a work file reference)");
  FileRef file{fields.text("bucket"), fields.text("key"), 0, 0};
  // Counts are whole and not negative; anything else is not a reference this project wrote.
  for (auto [name, count] : {std::pair{"count", &file.count}, std::pair{"bytes", &file.bytes}}) {
    const auto number = fields.optional_count(name).value_or(0);
    if (number > INT64_MAX) fields.refuse("has a \"" + std::string(name) + "\" out of range");
    *count = static_cast<std::int64_t>(number);
  }
  return file;
}

namespace {

common::PutOptions json_options() {
  common::PutOptions options;
  options.content_type = "application/json";
  return options;
}

// Work files' PUTs and the references they will have once written, in the files' order: what
// write_json_arrays and both writers of JSONL files send.
struct WorkFilePuts {
  std::vector<common::AwsRequest> requests;
  std::vector<FileRef> written;

  void add(common::S3Client& s3, const std::string& bucket, const std::string& key,
           std::string body, const common::PutOptions& options, std::size_t items,
           std::int64_t bytes) {
    requests.push_back(s3.put_object_request(bucket, key, std::move(body), options));
    written.push_back(FileRef{bucket, key, static_cast<std::int64_t>(items), bytes});
  }
};

// Sends them, at most `concurrency` at once; the first failure is thrown once all have answered.
std::vector<FileRef> send_puts(common::S3Client& s3, WorkFilePuts puts, std::size_t concurrency) {
  for (auto& outcome : s3.client().send_all(std::move(puts.requests), concurrency)) {
    if (!outcome.ok()) std::rethrow_exception(outcome.error);
  }
  return std::move(puts.written);
}

}  // namespace

FileRef write_json_array(common::S3Client& s3, const std::string& bucket, const std::string& key,
                         const json::array& items, std::int64_t bytes) {
  s3.put_object(bucket, key, json::serialize(items), json_options());
  return FileRef{bucket, key, static_cast<std::int64_t>(items.size()), bytes};
}

std::vector<FileRef> write_json_arrays(common::S3Client& s3, const std::string& bucket,
                                       std::vector<JsonArrayFile> files) {
  WorkFilePuts puts;
  for (auto& file : files) {
    puts.add(s3, bucket, file.key, json::serialize(file.items), json_options(), file.items.size(),
             file.bytes);
    file.items.clear();
  }
  return send_puts(s3, std::move(puts), std::max<std::size_t>(1, files.size()));
}

json::value read_json(common::S3Client& s3, const FileRef& file) {
  boost::system::error_code error;
  json::value value = json::parse(s3.get_object(file.bucket, file.key), error);
  if (error) {
    throw runtime::InvalidInput("work file s3://" + file.bucket + "/" + file.key + " is not JSON");
  }
  return value;
}

json::array read_json_array(common::S3Client& s3, const FileRef& file) {
  json::value value = read_json(s3, file);
  if (!value.is_array()) {
    throw runtime::InvalidInput("work file s3://" + file.bucket + "/" + file.key +
                                " is not a JSON array");
  }
  return std::move(value.as_array());
}

namespace {

std::string jsonl_body(const std::vector<json::object>& items) {
  std::string body;
  for (const auto& item : items) {
    body += json::serialize(item);
    body.push_back('\n');
  }
  return body;
}

common::PutOptions jsonl_options() {
  common::PutOptions options;
  options.content_type = "application/x-ndjson";
  return options;
}

}  // namespace

FileRef write_jsonl(common::S3Client& s3, const std::string& bucket, const std::string& key,
                    const std::vector<json::object>& items, std::int64_t bytes) {
  s3.put_object(bucket, key, jsonl_body(items), jsonl_options());
  return FileRef{bucket, key, static_cast<std::int64_t>(items.size()), bytes};
}

namespace {

WorkFilePuts jsonl_puts(common::S3Client& s3, const std::string& bucket,
                        std::vector<JsonlFile> files) {
  WorkFilePuts puts;
  for (auto& file : files) {
    puts.add(s3, bucket, file.key, jsonl_body(file.items), jsonl_options(), file.items.size(),
             file.bytes);
    file.items.clear();
  }
  return puts;
}

}  // namespace

std::vector<FileRef> write_jsonl_files(common::S3Client& s3, const std::string& bucket,
                                       std::vector<JsonlFile> files, std::size_t concurrency) {
  return send_puts(s3, jsonl_puts(s3, bucket, std::move(files)), concurrency);
}

void write_jsonl_files_async(common::S3Client& s3, const std::string& bucket,
                             std::vector<JsonlFile> files,
                             std::function<void(std::vector<FileRef>&&, std::exception_ptr)> done) {
  struct Writing {
    std::vector<FileRef> written;
    std::size_t pending = 0;
    std::exception_ptr error;
    std::function<void(std::vector<FileRef>&&, std::exception_ptr)> done;
  };
  if (files.empty()) return done({}, nullptr);
  WorkFilePuts puts = jsonl_puts(s3, bucket, std::move(files));
  auto writing = std::make_shared<Writing>();
  writing->pending = puts.requests.size();
  writing->written = std::move(puts.written);
  writing->done = std::move(done);
  // Answers arrive on the engine's one thread: the count needs no lock.
  for (auto& request : puts.requests) {
    s3.client().send_async(std::move(request), [writing](common::AwsOutcome&& outcome) {
      if (!outcome.ok() && !writing->error) writing->error = outcome.error;
      if (--writing->pending == 0) writing->done(std::move(writing->written), writing->error);
    });
  }
}

std::vector<json::object> read_jsonl(common::S3Client& s3, const FileRef& file) {
  const std::string body = s3.get_object(file.bucket, file.key);
  std::vector<json::object> items;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (end > start) {
      boost::system::error_code error;
      json::value value = json::parse(std::string_view(body).substr(start, end - start), error);
      if (error || !value.is_object()) {
        throw runtime::InvalidInput("work file s3://" + file.bucket + "/" + file.key +
                                    " has a line that is not a JSON object");
      }
      items.push_back(std::move(value.as_object()));
    }
    start = end + 1;
  }
  return items;
}

}  // namespace pipeline
