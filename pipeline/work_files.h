#pragma once
// Big lists never travel through Step Functions (256 KB state limit): they are written as JSON or
// JSONL "work files" to the work bucket, and states carry a reference
// {"bucket", "key", "count", "bytes"}.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/s3.h"

namespace pipeline {

// A JSON value that counts something (items, bytes): whole and at least 0. nullopt for a
// negative, fractional or non-numeric value, which boost's to_number would throw as system_error
// rather than as the input's fault.
std::optional<std::uint64_t> whole_number(const boost::json::value& value);

struct FileRef {
  std::string bucket;
  std::string key;
  std::int64_t count = 0;  // items in the file
  std::int64_t bytes = 0;  // of the data the items describe (not of the file)

  bool operator==(const FileRef&) const = default;
  boost::json::object to_json() const;
  // InvalidInput naming `what` when the value is not a reference.
  static FileRef from_json(const boost::json::value& value, const std::string& what);
};

// The run's id from an event's "run_id": it names the run's folder (work/<run_id>/), so 1-80 of
// A-Z a-z 0-9 - _ (what an execution name allows, less what does not belong in a key).
// InvalidInput otherwise, or when absent and `fallback` is empty.
std::string run_id_of(const boost::json::object& event, const std::string& fallback = "");
// The same rule for any id that names a folder or an execution (a manifest id): `field` of event.
std::string id_field(const boost::json::object& event, const char* field);

// A key-safe, collision-free file name for any id: a readable slug and a short hash of the id.
std::string work_file_name(const std::string& id);

// Any JSON document; InvalidInput when the file holds none.
boost::json::value read_json(common::S3Client& s3, const FileRef& file);

// A JSON array (what a Distributed Map's ItemReader reads).
FileRef write_json_array(common::S3Client& s3, const std::string& bucket, const std::string& key,
                         const boost::json::array& items, std::int64_t bytes);
boost::json::array read_json_array(common::S3Client& s3, const FileRef& file);
// Several at once, all PUTs in flight together; their references in the same order.
struct JsonArrayFile {
  std::string key;
  boost::json::array items;
  std::int64_t bytes = 0;
};
std::vector<FileRef> write_json_arrays(common::S3Client& s3, const std::string& bucket,
                                       std::vector<JsonArrayFile> files);

// One JSON object per line.
FileRef write_jsonl(common::S3Client& s3, const std::string& bucket, const std::string& key,
                    const std::vector<boost::json::object>& items, std::int64_t bytes);
std::vector<boost::json::object> read_jsonl(common::S3Client& s3, const FileRef& file);

// Many JSONL files at once, at most `concurrency` PUTs in flight: {key, lines, bytes} each; their
// references in the same order. The first failure is thrown once every PUT has answered.
struct JsonlFile {
  std::string key;
  std::vector<boost::json::object> items;
  std::int64_t bytes = 0;
};
std::vector<FileRef> write_jsonl_files(common::S3Client& s3, const std::string& bucket,
                                       std::vector<JsonlFile> files, std::size_t concurrency);
// The same without a waiting thread, for a caller already inside a chain of asynchronous
// requests: every PUT at once (the HTTP engine's connection limit queues them); done(references,
// first error) runs on the engine's thread once every PUT has answered.
void write_jsonl_files_async(common::S3Client& s3, const std::string& bucket,
                             std::vector<JsonlFile> files,
                             std::function<void(std::vector<FileRef>&&, std::exception_ptr)> done);

}  // namespace pipeline
