#include "functions/combine_log_files/handler.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>

#include "common/gzip.h"
#include "common/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::combine_log_files {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMinPart = 5ull << 20;
constexpr std::uint64_t kMaxCopyPart = 5ull << 30;

struct Source {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::string version_id;

  json::object to_json() const {
    json::object object{{"key", key}, {"size", size}, {"etag", etag}};
    if (!version_id.empty()) object["version_id"] = version_id;
    return object;
  }
};

std::string required_string(const json::object& object, const char* name,
                            const std::string& where) {
  const auto* value = object.if_contains(name);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) {
    throw runtime::InvalidInput(where + " needs a non-empty string \"" + name + "\"");
  }
  return std::string(value->get_string());
}

Source parse_source(const json::value& value) {
  if (!value.is_object()) throw runtime::InvalidInput("a plan source must be an object");
  const auto& object = value.get_object();
  Source source;
  source.key = required_string(object, "key", "a plan source");
  source.etag = required_string(object, "etag", "a plan source");
  const auto* size = object.if_contains("size");
  if (size == nullptr || !size->is_number())
    throw runtime::InvalidInput("a plan source needs a \"size\"");
  source.size = size->to_number<std::uint64_t>();
  if (const auto* version = object.if_contains("version_id"); version && version->is_string()) {
    source.version_id = version->get_string();
  }
  return source;
}

common::GetOptions pinned(const Source& source,
                          std::optional<common::ByteRange> range = std::nullopt) {
  common::GetOptions options;
  options.version_id = source.version_id;
  options.if_match = source.etag;
  options.range = range;
  return options;
}

// Whether an error means the source is no longer the one that was listed.
bool changed_since_listing(const common::AwsError& error) {
  return error.code() == "PreconditionFailed" || error.code() == "NoSuchKey" ||
         error.code() == "NoSuchVersion" || error.http_status() == 404 ||
         error.http_status() == 412;
}

// One output object written as a multipart upload, started on its first byte.
class Stream {
 public:
  Stream(common::S3Client& s3, const Config& config, std::string key, std::uint64_t part_size)
      : s3_(s3), config_(config), key_(std::move(key)), part_size_(std::max(part_size, kMinPart)) {}

  bool started() const { return !upload_id_.empty(); }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& key() const { return key_; }
  std::vector<Source>& sources() { return sources_; }

  void append(std::string_view data) {
    if (data.empty()) return;
    start();
    buffer_.append(data);
    bytes_ += data.size();
  }

  // Server-side copy of a range as its own part: what is buffered goes first (it is >= 5 MiB or
  // nothing, as the plan orders large sources first and each leaves a 5 MiB tail behind).
  void copy(const common::CopySource& source) {
    start();
    upload_buffer();
    const int number = static_cast<int>(parts_.size()) + 1;
    parts_.push_back(
        s3_.upload_part_copy(config_.destination_bucket, key_, upload_id_, number, source));
    bytes_ += source.range->last - source.range->first + 1;
    copied_ += source.range->last - source.range->first + 1;
  }

  // At a source boundary: a full buffer becomes a part.
  void source_done() {
    if (buffer_.size() >= part_size_) upload_buffer();
  }

  // The last part, completion, and a check that S3 holds exactly what was written.
  json::object finish() {
    upload_buffer();
    const auto written =
        s3_.complete_multipart_upload(config_.destination_bucket, key_, upload_id_, parts_);
    const auto head = s3_.head_object(config_.destination_bucket, key_);
    if (head.size != bytes_) {
      throw runtime::VerificationFailed("s3://" + config_.destination_bucket + "/" + key_ +
                                        " holds " + std::to_string(head.size) + " bytes, " +
                                        std::to_string(bytes_) + " were written");
    }
    upload_id_.clear();
    json::array listed;
    for (const auto& source : sources_) listed.push_back(source.to_json());
    return {{"key", key_},
            {"size", bytes_},
            {"etag", head.etag},
            {"version_id", written.version_id},
            {"parts", parts_.size()},
            {"copied_bytes", copied_},
            {"sources", std::move(listed)}};
  }

  void abort() noexcept {
    if (upload_id_.empty()) return;
    try {
      s3_.abort_multipart_upload(config_.destination_bucket, key_, upload_id_);
    } catch (const std::exception& error) {
      runtime::log::error("could not abort an upload; the bucket lifecycle will", "key", key_,
                          "error", error.what());
    }
    upload_id_.clear();
  }

 private:
  void start() {
    if (started()) return;
    // An upload left by a crashed attempt at this key is abandoned: this attempt starts afresh.
    for (const auto& stale : s3_.list_multipart_uploads(config_.destination_bucket, key_)) {
      if (stale.key == key_)
        s3_.abort_multipart_upload(config_.destination_bucket, key_, stale.upload_id);
    }
    common::PutOptions options;
    options.storage_class = config_.storage_class;
    options.content_type = key_.ends_with(".gz") ? "application/gzip" : "text/plain";
    upload_id_ = s3_.create_multipart_upload(config_.destination_bucket, key_, options);
  }

  void upload_buffer() {
    if (buffer_.empty()) return;
    const int number = static_cast<int>(parts_.size()) + 1;
    parts_.push_back(
        s3_.upload_part(config_.destination_bucket, key_, upload_id_, number, std::move(buffer_)));
    buffer_.clear();
  }

  common::S3Client& s3_;
  const Config& config_;
  std::string key_;
  std::uint64_t part_size_;
  std::string upload_id_;
  std::vector<common::CompletedPart> parts_;
  std::string buffer_;
  std::uint64_t bytes_ = 0;
  std::uint64_t copied_ = 0;  // of bytes_, copied server-side
  std::vector<Source> sources_;
};

// Downloads sources in order with several requests ahead, within a memory budget.
class Prefetcher {
 public:
  Prefetcher(common::S3Client& s3, const Config& config, const std::string& bucket,
             const std::vector<const Source*>& sources)
      : s3_(s3), config_(config), bucket_(bucket), sources_(sources), slots_(sources.size()) {}
  ~Prefetcher() {
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] { return in_flight_ == 0; });  // callbacks touch this object
  }

  // The outcome for source i (to be taken in order, once).
  common::AwsOutcome take(std::size_t index) {
    issue_up_to(index);
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] { return slots_[index].has_value(); });
    common::AwsOutcome outcome = std::move(*slots_[index]);
    slots_[index].reset();
    bytes_in_flight_ -= sources_[index]->size;
    lock.unlock();
    issue_up_to(index + 1);
    return outcome;
  }

 private:
  void issue_up_to(std::size_t index) {
    std::unique_lock lock(mutex_);
    while (
        next_ < sources_.size() &&
        (next_ <= index || (next_ - index < config_.download_concurrency &&
                            bytes_in_flight_ + sources_[next_]->size <= config_.memory_budget))) {
      const std::size_t slot = next_++;
      bytes_in_flight_ += sources_[slot]->size;
      ++in_flight_;
      lock.unlock();
      s3_.client().send_async(
          s3_.get_object_request(bucket_, sources_[slot]->key, pinned(*sources_[slot])),
          [this, slot](common::AwsOutcome&& outcome) {
            std::lock_guard done(mutex_);
            slots_[slot] = std::move(outcome);
            --in_flight_;
            arrived_.notify_all();
          });
      lock.lock();
    }
  }

  common::S3Client& s3_;
  const Config& config_;
  const std::string& bucket_;
  const std::vector<const Source*>& sources_;
  std::vector<std::optional<common::AwsOutcome>> slots_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::size_t next_ = 0;
  std::size_t in_flight_ = 0;
  std::uint64_t bytes_in_flight_ = 0;
};

struct Totals {
  std::uint64_t files = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

class OutputBuilder {
 public:
  OutputBuilder(common::S3Client& s3, const Config& config, const std::string& bucket,
                const std::string& key_base, std::uint64_t part_size)
      : s3_(s3),
        config_(config),
        bucket_(bucket),
        gzip_(s3, config, key_base + ".gz", part_size),
        plain_(s3, config, key_base + ".log", part_size) {}

  ~OutputBuilder() {
    gzip_.abort();  // no-ops once finished
    plain_.abort();
  }

  void add_large(const Source& source) {
    const std::string magic =
        s3_.get_object(bucket_, source.key, pinned(source, common::ByteRange{0, 1}));
    const bool compressed = common::is_gzip(magic);
    Stream& stream = compressed ? gzip_ : plain_;
    const std::uint64_t copied = source.size - kTailBytes;
    const std::uint64_t chunks = (copied + kMaxCopyPart - 1) / kMaxCopyPart;
    const std::uint64_t chunk = (copied + chunks - 1) / chunks;  // equal ranges, each >= 5 MiB
    for (std::uint64_t start = 0; start < copied; start += chunk) {
      const std::uint64_t last = std::min(copied, start + chunk) - 1;
      stream.copy(common::CopySource{bucket_, source.key, source.version_id,
                                     common::ByteRange{start, last}, source.etag});
    }
    const std::string tail = s3_.get_object(
        bucket_, source.key, pinned(source, common::ByteRange{copied, source.size - 1}));
    stream.append(tail);
    // The start of a large gzip source is not read, so its last byte is unknown: the newline
    // member is added anyway (an empty line at worst).
    if (compressed)
      stream.append(common::newline_gzip_member());
    else if (tail.back() != '\n')
      stream.append("\n");
    stream.sources().push_back(source);
    stream.source_done();
  }

  void add_small(const Source& source, const std::string& bytes) {
    if (bytes.size() != source.size) {
      throw runtime::VerificationFailed("s3://" + bucket_ + "/" + source.key + " returned " +
                                        std::to_string(bytes.size()) + " bytes, the listing said " +
                                        std::to_string(source.size));
    }
    if (bytes.empty()) {
      empty_.push_back(source);
      return;
    }
    if (common::is_gzip(bytes)) {
      std::optional<char> last;
      bool readable = true;
      try {
        last = common::gzip_last_byte(bytes);
      } catch (const std::exception&) {
        readable = false;  // kept byte for byte all the same
      }
      gzip_.append(bytes);
      if (!readable || (last && *last != '\n')) gzip_.append(common::newline_gzip_member());
      gzip_.sources().push_back(source);
      gzip_.source_done();
    } else {
      plain_.append(bytes);
      if (bytes.back() != '\n') plain_.append("\n");
      plain_.sources().push_back(source);
      plain_.source_done();
    }
  }

  std::vector<json::object> finish(Totals& totals) {
    std::vector<json::object> outputs;
    for (Stream* stream : {&gzip_, &plain_}) {
      if (!stream->started()) continue;
      outputs.push_back(stream->finish());
      totals.bytes_out += stream->bytes();
    }
    return outputs;
  }

  std::vector<Source>& empty_sources() { return empty_; }

 private:
  common::S3Client& s3_;
  const Config& config_;
  const std::string& bucket_;
  Stream gzip_;
  Stream plain_;
  std::vector<Source> empty_;
};

json::object skipped_entry(const Source& source, const common::AwsError& error) {
  runtime::log::warn("source changed since it was listed; left out and left in place", "key",
                     source.key, "code", error.code());
  return {{"key", source.key}, {"version_id", source.version_id}, {"reason", error.code()}};
}

json::object combine_output(const Config& config, common::S3Client& s3, const std::string& bucket,
                            const json::object& planned, Totals& totals, json::array& skipped) {
  const std::string key_base = required_string(planned, "key_base", "a plan output");
  const auto* sources_value = planned.if_contains("sources");
  if (sources_value == nullptr || !sources_value->is_array()) {
    throw runtime::InvalidInput("a plan output needs \"sources\"");
  }
  std::vector<Source> sources;
  for (const auto& value : sources_value->get_array()) sources.push_back(parse_source(value));
  const auto* copy = planned.if_contains("copy");
  const auto* part_size = planned.if_contains("part_size");

  json::object result;
  json::array outputs;
  json::array empty;
  if (copy != nullptr && copy->is_bool() && copy->get_bool()) {
    // copy_all: each file as it is, pinned to the listed version and etag.
    for (const auto& source : sources) {
      try {
        common::PutOptions options;
        options.storage_class = config.storage_class;
        const auto written =
            s3.copy_object({bucket, source.key, source.version_id, std::nullopt, source.etag},
                           config.destination_bucket, key_base, options);
        const auto head = s3.head_object(config.destination_bucket, key_base);
        if (head.size != source.size) {
          throw runtime::VerificationFailed("copy of " + source.key + " is " +
                                            std::to_string(head.size) + " bytes, not " +
                                            std::to_string(source.size));
        }
        outputs.push_back(json::object{{"key", key_base},
                                       {"size", head.size},
                                       {"etag", head.etag},
                                       {"version_id", written.version_id},
                                       {"sources", json::array{source.to_json()}}});
        totals.bytes_out += head.size;
        totals.bytes_in += source.size;
        ++totals.files;
      } catch (const common::AwsError& error) {
        if (!changed_since_listing(error)) throw;
        skipped.push_back(skipped_entry(source, error));
      }
    }
    return {{"outputs", outputs}, {"empty_sources", empty}};
  }

  OutputBuilder builder(
      s3, config, bucket, key_base,
      part_size && part_size->is_number() ? part_size->to_number<std::uint64_t>() : (8ull << 20));
  std::vector<const Source*> small;
  for (const auto& source : sources) {
    if (source.size >= kServerCopyMin) {
      try {
        builder.add_large(source);
        totals.bytes_in += source.size;
        ++totals.files;
      } catch (const common::AwsError& error) {
        if (!changed_since_listing(error)) throw;
        skipped.push_back(skipped_entry(source, error));
      }
    } else {
      small.push_back(&source);
    }
  }
  {
    Prefetcher prefetcher(s3, config, bucket, small);
    for (std::size_t i = 0; i < small.size(); ++i) {
      common::AwsOutcome outcome = prefetcher.take(i);
      if (!outcome.ok()) {
        try {
          std::rethrow_exception(outcome.error);
        } catch (const common::AwsError& error) {
          if (!changed_since_listing(error)) throw;
          skipped.push_back(skipped_entry(*small[i], error));
          continue;
        }
      }
      builder.add_small(*small[i], outcome.response.body);
      totals.bytes_in += small[i]->size;
      ++totals.files;
    }
  }
  for (auto& output : builder.finish(totals)) outputs.push_back(std::move(output));
  for (const auto& source : builder.empty_sources()) empty.push_back(source.to_json());
  return {{"outputs", outputs}, {"empty_sources", empty}};
}

}  // namespace

Config Config::from_environment() {
  Config config;
  auto required = [](const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
      throw runtime::ConfigurationError(std::string(name) + " is required");
    return std::string(value);
  };
  auto number = [](const char* name, std::uint64_t fallback) -> std::uint64_t {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return fallback;
    char* end = nullptr;
    const unsigned long long parsed = std::strtoull(value, &end, 10);
    if (*end != '\0' || parsed == 0) {
      throw runtime::ConfigurationError(std::string(name) + " must be a positive whole number");
    }
    return parsed;
  };
  config.work_bucket = required("WORK_BUCKET");
  config.destination_bucket = required("DESTINATION_BUCKET");
  if (const char* storage = std::getenv("STORAGE_CLASS"); storage && *storage)
    config.storage_class = storage;
  config.download_concurrency = number("DOWNLOAD_CONCURRENCY", config.download_concurrency);
  config.memory_budget = number("MEMORY_BUDGET_BYTES", config.memory_budget);
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, const json::value& event) {
  if (!event.is_object())
    throw runtime::InvalidInput("the event must be an object with a \"plan\"");
  const auto& input = event.get_object();
  const std::string run_id = required_string(input, "run_id", "the event");
  const std::string group_id = required_string(input, "group_id", "the event");
  if (!input.contains("plan")) throw runtime::InvalidInput("the event needs \"plan\"");
  const auto plan_ref = common::FileRef::from_json(input.at("plan"), "plan");
  boost::system::error_code parse_error;
  const json::value plan = json::parse(s3.get_object(plan_ref.bucket, plan_ref.key), parse_error);
  if (parse_error || !plan.is_object())
    throw runtime::InvalidInput("the plan is not a JSON object");
  const std::string bucket = required_string(plan.get_object(), "source_bucket", "the plan");
  const auto* outputs_value = plan.get_object().if_contains("outputs");
  if (outputs_value == nullptr || !outputs_value->is_array())
    throw runtime::InvalidInput("the plan needs \"outputs\"");

  Totals totals;
  json::array outputs;
  json::array empty;
  json::array skipped;
  for (const auto& planned : outputs_value->get_array()) {
    if (!planned.is_object()) throw runtime::InvalidInput("a plan output must be an object");
    auto done = combine_output(config, s3, bucket, planned.get_object(), totals, skipped);
    for (auto& output : done.at("outputs").as_array()) outputs.push_back(std::move(output));
    for (auto& source : done.at("empty_sources").as_array()) empty.push_back(std::move(source));
  }
  const json::object receipt{{"group_id", group_id},
                             {"source_bucket", bucket},
                             {"destination_bucket", config.destination_bucket},
                             {"outputs", outputs},
                             {"empty_sources", empty},
                             {"skipped", skipped}};
  const std::string key =
      "work/" + run_id + "/receipts/" + common::work_file_name(group_id) + ".json";
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(config.work_bucket, key, json::serialize(receipt), put);
  runtime::metrics::add("FilesCombined", runtime::metrics::Unit::Count,
                        static_cast<double>(totals.files));
  runtime::metrics::add("BytesCombined", runtime::metrics::Unit::Bytes,
                        static_cast<double>(totals.bytes_in));
  runtime::log::info("combined", "group", group_id, "outputs", outputs.size(), "files",
                     totals.files, "skipped", skipped.size(), "bytes_in", totals.bytes_in,
                     "bytes_out", totals.bytes_out);
  const common::FileRef receipt_ref{config.work_bucket, key,
                                    static_cast<std::int64_t>(outputs.size()),
                                    static_cast<std::int64_t>(totals.bytes_out)};
  return json::object{{"group_id", group_id},
                      {"run_id", run_id},
                      {"receipt", receipt_ref.to_json()},
                      {"outputs", outputs.size()},
                      {"files", totals.files},
                      {"skipped", skipped.size()},
                      {"bytes_in", totals.bytes_in},
                      {"bytes_out", totals.bytes_out}};
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext&) {
    return handle(*config, *s3, event);
  };
}

}  // namespace functions::combine_log_files
