#include "functions/combine_log_files/handler.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "common/dates.h"
#include "common/deadline.h"
#include "common/gzip.h"
#include "common/plan.h"
#include "common/settings.h"
#include "common/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::combine_log_files {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMinPart = 5ull << 20;
constexpr std::uint64_t kMaxCopyPart = 5ull << 30;

using common::Source;

std::string required_string(const json::object& object, const char* name,
                            const std::string& where) {
  const auto* value = object.if_contains(name);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) {
    throw runtime::InvalidInput(where + " needs a non-empty string \"" + name + "\"");
  }
  return std::string(value->get_string());
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

// One output object written as a multipart upload, started on its first byte. It commits at
// source boundaries: whenever a part is uploaded, every source it has taken so far is in S3, and
// that state (parts, bytes, sources, the index of the last source) is what a continuation keeps.
class Stream {
 public:
  Stream(common::S3Client& s3, const Config& config, std::string key, std::uint64_t part_size)
      : s3_(s3), config_(config), key_(std::move(key)), part_size_(std::max(part_size, kMinPart)) {}

  bool started() const { return !upload_id_.empty(); }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& key() const { return key_; }
  // Whether source `index` is already in an uploaded part (a resumed call must not add it again).
  bool committed(std::int64_t index) const { return index <= committed_.last_index; }
  int commits() const { return commits_; }
  // The first source this stream holds only in memory, if any.
  std::optional<std::int64_t> first_uncommitted() const {
    return buffer_sources_ > 0 ? std::optional(first_buffered_index_) : std::nullopt;
  }

  void append(std::string_view data) {
    if (data.empty()) return;
    start();
    buffer_.append(data);
    bytes_ += data.size();
  }

  // Server-side copy of a range as its own part: what is buffered goes first (it is >= 5 MiB or
  // nothing, as large sources come first and each leaves a 5 MiB tail behind).
  void copy(const common::CopySource& source) {
    start();
    upload_buffer();
    const int number = static_cast<int>(parts_.size()) + 1;
    parts_.push_back(
        s3_.upload_part_copy(config_.destination_bucket, key_, upload_id_, number, source));
    bytes_ += source.range->last - source.range->first + 1;
    copied_ += source.range->last - source.range->first + 1;
  }

  // Source `index` is wholly appended; a full buffer becomes a part (a commit point).
  void source_done(const Source& source, std::int64_t index) {
    sources_.push_back(source);
    if (buffer_sources_++ == 0) first_buffered_index_ = index;
    last_appended_index_ = index;
    if (buffer_.size() >= part_size_) upload_buffer();
  }

  // The last part, completion, and a check that S3 holds exactly what was written.
  json::object finish() {
    upload_buffer();
    common::WriteResult written;
    try {
      written = s3_.complete_multipart_upload(config_.destination_bucket, key_, upload_id_, parts_);
    } catch (const common::NoSuchUpload&) {
      // A completion whose answer was lost and then retried finds the upload already gone; the
      // size check below tells a completed upload from a vanished one.
      runtime::log::warn("upload already completed or gone; checking the object", "key", key_);
    }
    // A creation whose answer was lost and then retried left an upload nobody will complete.
    abort_uploads_except(upload_id_);
    const auto head = s3_.head_object(config_.destination_bucket, key_);
    if (head.size != bytes_) {
      throw runtime::VerificationFailed("s3://" + config_.destination_bucket + "/" + key_ +
                                        " holds " + std::to_string(head.size) + " bytes, " +
                                        std::to_string(bytes_) + " were written");
    }
    upload_id_.clear();
    json::array listed;
    for (const auto& source : sources_) listed.push_back(common::source_json(source));
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

  // The committed state, for a continuation; the upload stays open for the next call.
  json::object checkpoint() {
    json::object state{{"upload_id", upload_id_},
                       {"bytes", committed_.bytes},
                       {"copied", committed_.copied},
                       {"last_index", committed_.last_index}};
    json::array parts;
    for (std::size_t i = 0; i < committed_.parts; ++i)
      parts.push_back(json::object{{"n", parts_[i].number}, {"etag", parts_[i].etag}});
    json::array sources;
    for (std::size_t i = 0; i < committed_.sources; ++i)
      sources.push_back(common::source_json(sources_[i]));
    state["parts"] = std::move(parts);
    state["sources"] = std::move(sources);
    upload_id_.clear();  // detached: not aborted when this object goes
    return state;
  }

  void restore(const json::object& state) {
    upload_id_ = std::string(state.at("upload_id").as_string());
    for (const auto& part : state.at("parts").as_array()) {
      parts_.push_back({static_cast<int>(part.at("n").to_number<std::int64_t>()),
                        std::string(part.at("etag").as_string())});
    }
    for (const auto& source : state.at("sources").as_array())
      sources_.push_back(common::source_from_json(source, "a saved source"));
    bytes_ = state.at("bytes").to_number<std::uint64_t>();
    copied_ = state.at("copied").to_number<std::uint64_t>();
    committed_ = {parts_.size(), sources_.size(), bytes_, copied_,
                  state.at("last_index").to_number<std::int64_t>()};
  }

 private:
  void start() {
    if (started()) return;
    // An upload left by a crashed attempt at this key is abandoned: this attempt starts afresh.
    abort_uploads_except("");
    common::PutOptions options;
    options.storage_class = config_.storage_class;
    options.content_type = key_.ends_with(".gz") ? "application/gzip" : "text/plain";
    upload_id_ = s3_.create_multipart_upload(config_.destination_bucket, key_, options);
  }

  void abort_uploads_except(const std::string& keep) {
    for (const auto& upload : s3_.list_multipart_uploads(config_.destination_bucket, key_)) {
      if (upload.key != key_ || upload.upload_id == keep) continue;
      try {
        s3_.abort_multipart_upload(config_.destination_bucket, key_, upload.upload_id);
      } catch (const common::NoSuchUpload&) {
        // Gone already (an abort whose answer was lost).
      }
    }
  }

  // Called only at source boundaries, so what it uploads ends with a whole source.
  void upload_buffer() {
    if (!buffer_.empty()) {
      const int number = static_cast<int>(parts_.size()) + 1;
      parts_.push_back(s3_.upload_part(config_.destination_bucket, key_, upload_id_, number,
                                       std::move(buffer_)));
      buffer_.clear();
    }
    // Only whole sources commit: the copied parts of a source still being added (a source over
    // 5 GiB copies in several) wait until it is done, or a resume would copy them twice.
    if (buffer_sources_ > 0) {
      committed_ = {parts_.size(), sources_.size(), bytes_, copied_, last_appended_index_};
      buffer_sources_ = 0;
      ++commits_;
    }
  }

  struct Committed {
    std::size_t parts = 0;
    std::size_t sources = 0;
    std::uint64_t bytes = 0;
    std::uint64_t copied = 0;
    std::int64_t last_index = -1;
  };

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
  std::size_t buffer_sources_ = 0;  // sources whose bytes are (partly) only in memory
  std::int64_t first_buffered_index_ = -1;
  std::int64_t last_appended_index_ = -1;
  Committed committed_;
  int commits_ = 0;  // in this call
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

// Results gathered across invocations; receipts list each source once.
struct Progress {
  json::array outputs;
  std::map<std::string, json::object> empty;
  std::map<std::string, json::object> skipped;
  Totals totals;
};

json::object skipped_entry(const Source& source, const common::AwsError& error) {
  runtime::log::warn("source changed since it was listed; left out and left in place", "key",
                     source.key, "code", error.code());
  return {{"key", source.key}, {"version_id", source.version_id}, {"reason", error.code()}};
}

// One planned output: its sources in processing order (server-side copies first), index by
// index, into a gzip stream and a plain stream.
class OutputBuilder {
 public:
  OutputBuilder(common::S3Client& s3, const Config& config, const std::string& bucket,
                const std::string& key_base, std::uint64_t part_size, std::vector<Source> sources)
      : s3_(s3),
        config_(config),
        bucket_(bucket),
        gzip_(s3, config, key_base + ".gz", part_size),
        plain_(s3, config, key_base + ".log", part_size),
        sources_(std::move(sources)) {
    std::stable_partition(sources_.begin(), sources_.end(),
                          [](const Source& source) { return source.size >= kServerCopyMin; });
  }

  ~OutputBuilder() {
    gzip_.abort();  // no-ops once finished or checkpointed
    plain_.abort();
  }

  void restore(const json::object& state) {
    if (const auto* gz = state.if_contains("gzip")) gzip_.restore(gz->as_object());
    if (const auto* plain = state.if_contains("plain")) plain_.restore(plain->as_object());
    next_ = state.at("next").to_number<std::int64_t>();
  }

  // Processes sources until done (true) or the deadline passes at a commit point (false).
  bool run(Progress& progress, const common::Deadline& deadline) {
    std::vector<std::int64_t> small;
    for (auto index = next_; index < static_cast<std::int64_t>(sources_.size()); ++index) {
      const Source& source = sources_[static_cast<std::size_t>(index)];
      if (source.size < kServerCopyMin) {
        small.push_back(index);
        continue;
      }
      if (gzip_.committed(index) || plain_.committed(index)) continue;
      if (deadline.reached() && progressed_) return stop_at(index);
      try {
        add_large(source, index);
        count(source, progress);
      } catch (const common::AwsError& error) {
        if (!changed_since_listing(error)) throw;
        progress.skipped[source.key] = skipped_entry(source, error);
      }
      progressed_ = true;
    }
    std::vector<const Source*> pointers;
    for (auto index : small) pointers.push_back(&sources_[static_cast<std::size_t>(index)]);
    Prefetcher prefetcher(s3_, config_, bucket_, pointers);
    for (std::size_t i = 0; i < small.size(); ++i) {
      const std::int64_t index = small[i];
      const Source& source = *pointers[i];
      // Stopping re-reads what is only in memory; a part committed in this call means progress.
      if (deadline.reached() && gzip_.commits() + plain_.commits() > 0) return stop_at(index);
      common::AwsOutcome outcome = prefetcher.take(i);
      if (gzip_.committed(index) || plain_.committed(index)) continue;
      if (!outcome.ok()) {
        try {
          std::rethrow_exception(outcome.error);
        } catch (const common::AwsError& error) {
          if (!changed_since_listing(error)) throw;
          progress.skipped[source.key] = skipped_entry(source, error);
          continue;
        }
      }
      add_small(source, index, outcome.response.body, progress);
      count(source, progress);
      progressed_ = true;
    }
    for (Stream* stream : {&gzip_, &plain_}) {
      if (!stream->started()) continue;
      progress.outputs.push_back(stream->finish());
      progress.totals.bytes_out += stream->bytes();
    }
    return true;
  }

  json::object checkpoint() {
    json::object state{{"next", next_}};
    if (gzip_.started()) state["gzip"] = gzip_.checkpoint();
    if (plain_.started()) state["plain"] = plain_.checkpoint();
    return state;
  }

 private:
  // The next call starts again at the first source not yet in an uploaded part.
  bool stop_at(std::int64_t index) {
    next_ = index;
    for (const Stream* stream : {&gzip_, &plain_}) {
      if (const auto first = stream->first_uncommitted()) next_ = std::min(next_, *first);
    }
    return false;
  }

  static void count(const Source& source, Progress& progress) {
    progress.totals.bytes_in += source.size;
    ++progress.totals.files;
  }

  void add_large(const Source& source, std::int64_t index) {
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
    stream.source_done(source, index);
  }

  void add_small(const Source& source, std::int64_t index, const std::string& bytes,
                 Progress& progress) {
    if (bytes.size() != source.size) {
      throw runtime::VerificationFailed("s3://" + bucket_ + "/" + source.key + " returned " +
                                        std::to_string(bytes.size()) + " bytes, the listing said " +
                                        std::to_string(source.size));
    }
    if (bytes.empty()) {
      progress.empty[source.key] = common::source_json(source);
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
      gzip_.source_done(source, index);
    } else {
      plain_.append(bytes);
      if (bytes.back() != '\n') plain_.append("\n");
      plain_.source_done(source, index);
    }
  }

  common::S3Client& s3_;
  const Config& config_;
  const std::string& bucket_;
  Stream gzip_;
  Stream plain_;
  std::vector<Source> sources_;
  std::int64_t next_ = 0;
  bool progressed_ = false;  // at least one source per call, or a late start would never end
};

// copy_all: each file as it is, pinned to the listed version and etag.
void copy_output(const Config& config, common::S3Client& s3, const std::string& bucket,
                 const std::string& key, const std::vector<Source>& sources, Progress& progress) {
  for (const auto& source : sources) {
    try {
      common::PutOptions options;
      options.storage_class = config.storage_class;
      const auto written =
          s3.copy_object({bucket, source.key, source.version_id, std::nullopt, source.etag},
                         config.destination_bucket, key, options);
      const auto head = s3.head_object(config.destination_bucket, key);
      if (head.size != source.size) {
        throw runtime::VerificationFailed("copy of " + source.key + " is " +
                                          std::to_string(head.size) + " bytes, not " +
                                          std::to_string(source.size));
      }
      progress.outputs.push_back(
          json::object{{"key", key},
                       {"size", head.size},
                       {"etag", head.etag},
                       {"version_id", written.version_id},
                       {"sources", json::array{common::source_json(source)}}});
      progress.totals.bytes_out += head.size;
      progress.totals.bytes_in += source.size;
      ++progress.totals.files;
    } catch (const common::AwsError& error) {
      if (!changed_since_listing(error)) throw;
      progress.skipped[source.key] = skipped_entry(source, error);
    }
  }
}

json::object progress_json(const Progress& progress) {
  json::array empty;
  for (const auto& [key, source] : progress.empty) empty.push_back(source);
  json::array skipped;
  for (const auto& [key, entry] : progress.skipped) skipped.push_back(entry);
  return {{"outputs", progress.outputs},
          {"empty_sources", empty},
          {"skipped", skipped},
          {"files", progress.totals.files},
          {"bytes_in", progress.totals.bytes_in},
          {"bytes_out", progress.totals.bytes_out}};
}

Progress progress_from(const json::object& state) {
  Progress progress;
  progress.outputs = state.at("outputs").as_array();
  for (const auto& source : state.at("empty_sources").as_array()) {
    progress.empty[std::string(source.at("key").as_string())] = source.as_object();
  }
  for (const auto& entry : state.at("skipped").as_array()) {
    progress.skipped[std::string(entry.at("key").as_string())] = entry.as_object();
  }
  progress.totals = {state.at("files").to_number<std::uint64_t>(),
                     state.at("bytes_in").to_number<std::uint64_t>(),
                     state.at("bytes_out").to_number<std::uint64_t>()};
  return progress;
}

// Manifest mode: the manifest's files planned as one batch (several outputs only past
// MAX_OUTPUT_BYTES or 10,000 parts). Planning is deterministic, so a resumed or repeated call
// plans the same outputs; the event comes back as an ordinary plan event.
json::object with_manifest_plan(const Config& config, common::S3Client& s3, json::object input) {
  const std::string manifest_id = common::id_field(input, "manifest_id");
  const std::string bucket = required_string(input, "source_bucket", "a manifest event");
  const auto date = common::Date::parse(required_string(input, "date", "a manifest event"));
  if (!date) throw runtime::InvalidInput("\"date\" must be YYYY-MM-DD");
  const auto manifest = common::FileRef::from_json(input.at("manifest"), "manifest");
  std::vector<common::Source> sources;
  for (const auto& item : common::read_json_array(s3, manifest)) {
    sources.push_back(common::source_from_json(item, "a manifest file"));
  }
  if (sources.empty()) throw runtime::InvalidInput("the manifest lists no file");
  std::string prefix = config.destination_prefix;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const std::string key_base = (prefix.empty() ? "" : prefix + "/") + bucket +
                               "/date=" + date->iso() + "/batch-" + manifest_id;
  json::array outputs;
  for (const auto& output :
       common::plan_outputs(std::move(sources), key_base, config.max_output_bytes)) {
    json::array listed;
    for (const auto& source : output.sources) listed.push_back(common::source_json(source));
    outputs.push_back(json::object{{"key_base", output.key_base},
                                   {"part_size", output.part_size},
                                   {"bytes", output.bytes},
                                   {"sources", std::move(listed)}});
  }
  const std::string key = "work/" + manifest_id + "/plan.json";
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(config.work_bucket, key,
                json::serialize(json::object{{"group_id", manifest_id},
                                             {"operation", "aggregate"},
                                             {"source_bucket", bucket},
                                             {"date", date->iso()},
                                             {"outputs", std::move(outputs)}}),
                put);
  input["plan"] = common::FileRef{config.work_bucket, key, 0, 0}.to_json();
  input["run_id"] = manifest_id;
  input["group_id"] = manifest_id;
  return input;
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.work_bucket = common::required_setting("WORK_BUCKET");
  config.destination_bucket = common::required_setting("DESTINATION_BUCKET");
  if (const auto storage = common::setting("STORAGE_CLASS"); !storage.empty())
    config.storage_class = storage;
  config.download_concurrency =
      common::number_setting("DOWNLOAD_CONCURRENCY", config.download_concurrency);
  config.memory_budget = common::number_setting("MEMORY_BUDGET_BYTES", config.memory_budget);
  config.destination_prefix = common::setting("DESTINATION_PREFIX", config.destination_prefix);
  config.max_output_bytes = common::number_setting("MAX_OUTPUT_BYTES", config.max_output_bytes);
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, const json::value& event,
                   const common::Deadline& deadline) {
  if (!event.is_object())
    throw runtime::InvalidInput("the event must be an object with a \"plan\"");
  const json::object input = event.get_object().contains("manifest")
                                 ? with_manifest_plan(config, s3, event.get_object())
                                 : event.get_object();
  const std::string run_id = common::run_id_of(input);
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
  const auto& planned_outputs = outputs_value->get_array();

  Progress progress;
  std::size_t output_index = 0;
  std::optional<json::object> output_state;
  const std::string progress_key =
      "work/" + run_id + "/progress/" + common::work_file_name(group_id) + ".json";
  if (const auto* continuation = input.if_contains("continuation")) {
    const auto* state = continuation->if_object();
    if (state == nullptr || !state->contains("progress")) {
      throw runtime::InvalidInput("\"continuation\" is not one CombineLogFiles returned");
    }
    const auto ref = common::FileRef::from_json(state->at("progress"), "continuation.progress");
    const json::value saved = json::parse(s3.get_object(ref.bucket, ref.key), parse_error);
    if (parse_error || !saved.is_object())
      throw runtime::InvalidInput("the saved progress is unreadable");
    output_index = saved.at("output").to_number<std::size_t>();
    if (saved.at("state").is_object()) output_state = saved.at("state").as_object();
    progress = progress_from(saved.at("progress").as_object());
  }

  auto hand_over = [&](std::size_t index, std::optional<json::object> state) {
    json::object saved{{"output", index},
                       {"state", state ? json::value(*state) : json::value(nullptr)},
                       {"progress", progress_json(progress)}};
    common::PutOptions put;
    put.content_type = "application/json";
    s3.put_object(config.work_bucket, progress_key, json::serialize(saved), put);
    runtime::log::info("continuing in the next invocation", "group", group_id, "output", index,
                       "files", progress.totals.files);
    json::object result = input;
    result["continuation"] = json::object{
        {"progress", common::FileRef{config.work_bucket, progress_key, 0, 0}.to_json()}};
    return result;
  };

  bool progressed = false;
  for (; output_index < planned_outputs.size(); ++output_index) {
    if (progressed && deadline.reached()) return hand_over(output_index, std::nullopt);
    const auto* planned = planned_outputs[output_index].if_object();
    if (planned == nullptr) throw runtime::InvalidInput("a plan output must be an object");
    const std::string key_base = required_string(*planned, "key_base", "a plan output");
    const auto* sources_value = planned->if_contains("sources");
    if (sources_value == nullptr || !sources_value->is_array())
      throw runtime::InvalidInput("a plan output needs \"sources\"");
    std::vector<Source> sources;
    for (const auto& value : sources_value->get_array())
      sources.push_back(common::source_from_json(value, "a plan source"));
    const auto* copy = planned->if_contains("copy");
    if (copy != nullptr && copy->is_bool() && copy->get_bool()) {
      copy_output(config, s3, bucket, key_base, sources, progress);
    } else {
      const auto* part_size = planned->if_contains("part_size");
      OutputBuilder builder(s3, config, bucket, key_base,
                            part_size && part_size->is_number()
                                ? part_size->to_number<std::uint64_t>()
                                : (8ull << 20),
                            std::move(sources));
      if (output_state) builder.restore(*output_state);
      output_state.reset();
      if (!builder.run(progress, deadline)) return hand_over(output_index, builder.checkpoint());
    }
    progressed = true;
  }

  json::object receipt = progress_json(progress);
  receipt["group_id"] = group_id;
  receipt["source_bucket"] = bucket;
  receipt["destination_bucket"] = config.destination_bucket;
  const std::string key =
      "work/" + run_id + "/receipts/" + common::work_file_name(group_id) + ".json";
  common::PutOptions put;
  put.content_type = "application/json";
  s3.put_object(config.work_bucket, key, json::serialize(receipt), put);
  const Totals& totals = progress.totals;
  runtime::metrics::add("FilesCombined", runtime::metrics::Unit::Count,
                        static_cast<double>(totals.files));
  runtime::metrics::add("BytesCombined", runtime::metrics::Unit::Bytes,
                        static_cast<double>(totals.bytes_in));
  runtime::log::info("combined", "group", group_id, "outputs", progress.outputs.size(), "files",
                     totals.files, "skipped", progress.skipped.size(), "bytes_in", totals.bytes_in,
                     "bytes_out", totals.bytes_out);
  const common::FileRef receipt_ref{config.work_bucket, key,
                                    static_cast<std::int64_t>(progress.outputs.size()),
                                    static_cast<std::int64_t>(totals.bytes_out)};
  return json::object{{"group_id", group_id},
                      {"run_id", run_id},
                      {"receipt", receipt_ref.to_json()},
                      {"outputs", progress.outputs.size()},
                      {"files", totals.files},
                      {"skipped", progress.skipped.size()},
                      {"bytes_in", totals.bytes_in},
                      {"bytes_out", totals.bytes_out}};
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext& context) {
    return handle(*config, *s3, event, common::Deadline(context));
  };
}

}  // namespace functions::combine_log_files
