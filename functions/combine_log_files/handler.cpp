#include "functions/combine_log_files/handler.h"

#include <malloc.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "common/batch.h"
#include "common/dates.h"
#include "common/deadline.h"
#include "common/gzip.h"
#include "common/settings.h"
#include "common/sigv4.h"
#include "pipeline/continuation.h"
#include "pipeline/layout.h"
#include "pipeline/ledger.h"
#include "pipeline/plan.h"
#include "pipeline/plan_files.h"
#include "pipeline/record_fields.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::combine_log_files {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kSniffBytes = 64 << 10;         // read to tell gzip, text and binary apart
constexpr std::uint64_t kCheckRangeBytes = 8ull << 20;  // a large gzip source is inflated in these
// A part's buffer is reserved whole (up to 64 MiB; beyond the mmap threshold a reservation costs
// only the pages written), with room for the source that takes it past the part size: grown by
// doubling, every part left a trail of 16 KiB-512 KiB blocks among the index entries, and the
// heap grew by 2.7 MiB with each output of 10,000 files.
constexpr std::uint64_t kPartSlack = 1 << 20;
constexpr std::uint64_t kMaxReservedPart = 64ull << 20;

using pipeline::Combined;
using pipeline::OutputRecord;
using pipeline::Plan;
using pipeline::PlannedOutput;
using pipeline::SkippedFile;
using pipeline::Source;

common::GetOptions pinned(const Source& source,
                          std::optional<common::ByteRange> range = std::nullopt) {
  common::GetOptions options;
  options.version_id = source.version_id;
  options.if_match = source.etag;
  options.range = range;
  return options;
}

// A range of a source, pinned to its listed version and ETag, as S3 sends it. S3's word on the
// source's whole size must be the planned one: from a plan whose size was wrong (a forged or a
// damaged one) an output and its index would hold only part of the original, and DeleteOriginals
// would delete the whole of it.
common::AwsResponse read_range(common::S3Client& s3, const std::string& bucket,
                               const Source& source, std::uint64_t first, std::uint64_t last) {
  auto response = s3.client().send(
      s3.get_object_request(bucket, source.key, pinned(source, common::ByteRange{first, last})));
  const std::uint64_t size = common::S3Client::head_result(response).object_size;
  if (size != source.size) {
    throw runtime::VerificationFailed("s3://" + bucket + "/" + source.key + " is " +
                                      std::to_string(size) + " bytes, its plan says " +
                                      std::to_string(source.size));
  }
  return response;
}

// Why a source cannot be read as it was listed, so it stays where it is and is reported; nullopt
// for every other error, which fails the group. A missing upload or bucket is never the source's.
std::optional<std::string> unreadable_source(const common::AwsError& error) {
  if (dynamic_cast<const common::NoSuchKey*>(&error) != nullptr) return error.code();
  if (dynamic_cast<const common::PreconditionFailed*>(&error) != nullptr)
    return std::string("PreconditionFailed");  // its etag changed
  // Archived (GLACIER, DEEP_ARCHIVE): readable again only once restored.
  if (error.code() == "InvalidObjectState") return error.code();
  // AccessDenied is not the source's: the role has s3:ListBucket on every source bucket, so a
  // deleted object answers 404. A 403 is a permission this role lacks (a bucket or key policy, an
  // object's KMS key): the group fails with that reason rather than leave files out unseen.
  return std::nullopt;
}

// How S3 said a source it sent is encrypted: whether its ETag is the MD5 of its bytes.
std::string encryption_of(const common::AwsResponse& response) {
  const std::string said = common::S3Client::head_result(response).encryption;
  return said.empty() ? "none" : said;
}

pipeline::OriginalId source_id(const Source& source) {
  return pipeline::OriginalId::of(source);
}

// Results gathered across invocations; receipts list each source version once.
struct Progress {
  std::vector<OutputRecord> outputs;
  std::map<pipeline::OriginalId, Source> empty;
  std::map<pipeline::OriginalId, SkippedFile> skipped;

  void skip(const Source& source, const std::string& reason) {
    runtime::log::warn("source left out of the output and left in place", "key", source.key,
                       "version_id", source.version_id, "reason", reason);
    skipped[source_id(source)] = {source.key, source.version_id, reason};
  }

  Combined combined() const {
    Combined combined{outputs, {}, {}};
    for (const auto& [id, source] : empty) combined.empty_sources.push_back(source);
    for (const auto& [id, entry] : skipped) combined.skipped.push_back(entry);
    return combined;
  }
  static Progress from(const Combined& combined) {
    Progress progress;
    progress.outputs = combined.outputs;
    for (const auto& source : combined.empty_sources) progress.empty[source_id(source)] = source;
    for (const auto& entry : combined.skipped)
      progress.skipped[source_id(Source{entry.key, 0, "", entry.version_id})] = entry;
    return progress;
  }
};

// One output object written as a multipart upload, started on its first byte. It commits at
// source boundaries: whenever a part is uploaded, every source it has taken so far is in S3, and
// that state (parts, bytes, sources and their indexes) is what a continuation keeps.
//
// Before completing, the output it is about to become is recorded in the ledger
// (pipeline/ledger.h). An attempt that finds its upload gone (a retry of a call whose completion
// happened) or its key taken (CompleteMultipartUpload is conditional) adopts the object only when
// it is exactly its own run's record: same size, same multipart ETag. An output is never written
// over.
class Stream {
 public:
  Stream(common::S3Client& s3, const Config& config, pipeline::Seals& seals,
         std::string source_bucket, std::string key, std::uint64_t part_size,
         std::string ledger_key)
      : s3_(s3),
        config_(config),
        seals_(seals),
        ledger_(s3, config.work_bucket),
        source_bucket_(std::move(source_bucket)),
        key_(std::move(key)),
        part_size_(std::max(part_size, common::kMinPartBytes)),
        ledger_key_(std::move(ledger_key)) {}
  // An upload neither completed nor handed to a continuation is abandoned: aborted.
  ~Stream() { abort(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Room for an output's sources up front: grown one doubling at a time among the downloads, these
  // vectors fragmented the heap the same way a part's buffer did. Beyond the mmap threshold the
  // room is mapped, and a page no source reaches is never touched.
  void reserve(std::size_t sources) {
    sources_.reserve(sources);
    offsets_.reserve(sources);
    sha256_.reserve(sources);
    content_sha256_.reserve(sources);
    indexes_.reserve(sources);
  }

  bool started() const { return !upload_id_.empty() || adopted_.has_value(); }
  bool adopted() const { return adopted_.has_value(); }
  // Whether source `index` is already in an uploaded part (a resumed call must not add it again).
  bool committed(std::int64_t index) const { return committed_indexes_.contains(index); }
  int commits() const { return commits_; }
  // The first source this stream holds only in memory, if any.
  std::optional<std::int64_t> first_uncommitted() const {
    return buffer_sources_ > 0 ? std::optional(first_buffered_index_) : std::nullopt;
  }

  struct Mark {
    std::size_t parts = 0;
    std::uint64_t bytes = 0;
    std::uint64_t copied = 0;
  };
  // Uploads what is buffered (it ends at a source boundary) and marks the point a source that
  // fails half-way rolls back to, so it leaves no byte behind.
  Mark boundary() {
    start();
    upload_buffer();
    return {parts_.size(), bytes_, copied_};
  }
  void rollback(const Mark& mark) {
    if (adopted_) return;
    parts_.resize(mark.parts);  // parts not named at completion are discarded by S3
    bytes_ = mark.bytes;
    copied_ = mark.copied;
    source_start_ = bytes_;
  }

  void append(std::string_view data) {
    if (data.empty() || adopted_) return;
    start();
    if (buffer_.capacity() < part_size_)
      buffer_.reserve(std::min(part_size_, kMaxReservedPart) + kPartSlack);
    buffer_.append(data);
    bytes_ += data.size();
  }

  // Server-side copy of a range as its own part, after a boundary().
  void copy(const common::CopySource& source) {
    if (adopted_) return;
    const int number = static_cast<int>(parts_.size()) + 1;
    try {
      parts_.push_back(
          s3_.upload_part_copy(config_.destination_bucket, key_, upload_id_, number, source));
    } catch (const common::NoSuchUpload&) {
      adopt();
      return;
    }
    bytes_ += source.range->last - source.range->first + 1;
    copied_ += source.range->last - source.range->first + 1;
  }

  // Source `index` is wholly appended (its bytes as they are, then perhaps a newline of ours),
  // with the digests `content` gives of it; a full buffer becomes a part (a commit point).
  void source_done(const Source& source, std::int64_t index, const common::ContentCheck& content) {
    if (adopted_) return;
    if (bytes_ < source_start_ + source.size) {
      throw runtime::VerificationFailed(source.key + " took " +
                                        std::to_string(bytes_ - source_start_) + " bytes of " +
                                        key_ + ", not its " + std::to_string(source.size));
    }
    sources_.push_back(source);
    offsets_.push_back(source_start_);
    sha256_.push_back(content.sha256);
    content_sha256_.push_back(content.content_sha256);
    source_start_ = bytes_;
    indexes_.push_back(index);
    if (buffer_sources_++ == 0) first_buffered_index_ = index;
    if (buffer_.size() >= part_size_) upload_buffer();
  }

  // The last part, the conditional completion and a check that S3 holds exactly what was
  // written; nullopt when every source of this stream was left out. What a receipt lists: the
  // output's summary, its index staying in the ledger record.
  std::optional<OutputRecord> finish() {
    auto output = complete();
    if (!output) return std::nullopt;
    return output->summary(config_.work_bucket, ledger_key_);
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
    if (adopted_) return {{"adopted", json::value_from(*adopted_)}};
    json::array parts;
    for (std::size_t i = 0; i < committed_.parts; ++i)
      parts.push_back(json::object{{"n", parts_[i].number}, {"etag", parts_[i].etag}});
    json::array sources;
    json::array indexes;
    json::array offsets;
    json::array sha256;
    json::array content_sha256;
    for (std::size_t i = 0; i < committed_.sources; ++i) {
      sources.push_back(json::value_from(sources_[i]));
      indexes.push_back(indexes_[i]);
      offsets.push_back(offsets_[i]);
      sha256.emplace_back(sha256_[i]);
      content_sha256.emplace_back(content_sha256_[i]);
    }
    json::object state{{"upload_id", upload_id_},
                       {"bytes", committed_.bytes},
                       {"copied", committed_.copied},
                       {"parts", std::move(parts)},
                       {"sources", std::move(sources)},
                       {"indexes", std::move(indexes)},
                       {"offsets", std::move(offsets)},
                       {"sha256", std::move(sha256)},
                       {"content_sha256", std::move(content_sha256)}};
    upload_id_.clear();  // detached: not aborted when this object goes
    return state;
  }

  void restore(const json::object& state) {
    if (const auto* adopted = state.if_contains("adopted")) {
      adopted_ = pipeline::read_record<OutputRecord>(*adopted);
      return;
    }
    upload_id_ = std::string(state.at("upload_id").as_string());
    for (const auto& part : state.at("parts").as_array()) {
      parts_.push_back({static_cast<int>(part.at("n").to_number<std::int64_t>()),
                        std::string(part.at("etag").as_string())});
    }
    for (const auto& source : state.at("sources").as_array())
      sources_.push_back(pipeline::read_record<Source>(source));
    for (const auto& index : state.at("indexes").as_array()) {
      indexes_.push_back(index.to_number<std::int64_t>());
      committed_indexes_.insert(indexes_.back());
    }
    for (const auto& offset : state.at("offsets").as_array())
      offsets_.push_back(offset.to_number<std::uint64_t>());
    for (const auto& digest : state.at("sha256").as_array())
      sha256_.emplace_back(digest.as_string());
    for (const auto& digest : state.at("content_sha256").as_array())
      content_sha256_.emplace_back(digest.as_string());
    if (offsets_.size() != sources_.size() || sha256_.size() != sources_.size() ||
        content_sha256_.size() != sources_.size())
      throw runtime::InvalidInput("a continuation's index does not match its sources");
    bytes_ = state.at("bytes").to_number<std::uint64_t>();
    source_start_ = bytes_;
    copied_ = state.at("copied").to_number<std::uint64_t>();
    committed_ = {parts_.size(), sources_.size(), bytes_, copied_};
  }

 private:
  std::optional<OutputRecord> complete() {
    if (!started()) return std::nullopt;
    upload_buffer();
    if (adopted_) return adopted_;
    if (parts_.empty()) {
      abort();
      return std::nullopt;
    }
    OutputRecord output = record(common::multipart_etag(parts_));
    ledger_.record(seals_.sealer(), ledger_key_, output);
    try {
      s3_.complete_multipart_upload(config_.destination_bucket, key_, upload_id_, parts_, true);
    } catch (const common::NoSuchUpload&) {
      return adopt();  // completed by a request whose answer was lost, then retried
    } catch (const common::PreconditionFailed&) {
      return adopt();  // the key exists: this very output written before, or never ours
    }
    // A creation whose answer was lost and then retried left an upload nobody will complete.
    abort_uploads_except(upload_id_);
    upload_id_.clear();
    const auto head = s3_.head_object(config_.destination_bucket, key_);
    if (head.size != bytes_) {
      throw runtime::VerificationFailed("s3://" + config_.destination_bucket + "/" + key_ +
                                        " holds " + std::to_string(head.size) + " bytes, " +
                                        std::to_string(bytes_) + " were written");
    }
    output.where.etag = head.etag;
    output.version_id = head.version_id;
    return output;
  }

  OutputRecord record(const std::string& etag) const {
    return {{config_.destination_bucket, key_, bytes_, etag},
            "",
            parts_.size(),
            copied_,
            sources_,
            source_bucket_,
            offsets_,
            sha256_,
            content_sha256_,
            std::nullopt};
  }

  // The upload is gone or the key taken: the object there is this output only if it is exactly
  // the ledger record its run wrote (and sealed) before completing.
  OutputRecord adopt() {
    const std::string where = "s3://" + config_.destination_bucket + "/" + key_;
    std::optional<OutputRecord> output;
    common::HeadResult head;
    try {
      output = ledger_.read(seals_.checker(), ledger_key_);
      head = s3_.head_object(config_.destination_bucket, key_);
    } catch (const common::NoSuchKey&) {
      throw runtime::VerificationFailed("the upload of " + where +
                                        " is gone and no attempt completed it");
    } catch (const runtime::VerificationFailed&) {
      output.reset();  // not a record this function sealed: the object is not ours
    }
    if (!output || head.size != output->where.size || head.etag != output->where.etag) {
      throw runtime::VerificationFailed(where +
                                        " exists and is not this output; never written over");
    }
    runtime::log::warn("output completed by an earlier attempt; taken as it is", "key", key_);
    // The key is complete: any upload still open for it (this attempt's, or one a retried
    // CreateMultipartUpload left) can never complete, and would cost storage until the lifecycle.
    abort_uploads_except("");
    upload_id_.clear();
    buffer_.clear();
    adopted_ = std::move(output);
    adopted_->version_id = head.version_id;
    return *adopted_;
  }

  void start() {
    if (started()) return;
    // An upload left by a crashed attempt at this key is abandoned: this attempt starts afresh.
    abort_uploads_except("");
    common::PutOptions options;
    options.storage_class = config_.storage_class;
    options.content_type = key_.ends_with(".gz") ? "application/gzip" : "text/plain";
    // Where the output's index is, for whoever finds the output first (URL-encoded: metadata is
    // ASCII, keys are not).
    options.metadata["index"] =
        "s3://" + config_.work_bucket + "/" + common::uri_encode(ledger_key_, true);
    if (config_.output_retention_days > 0) {
      options.lock_mode = "GOVERNANCE";
      options.retain_until = common::format_utc_seconds(
          std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
          std::chrono::days(config_.output_retention_days));
    }
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
    if (adopted_) return;
    if (!buffer_.empty()) {
      const int number = static_cast<int>(parts_.size()) + 1;
      try {
        parts_.push_back(s3_.upload_part(config_.destination_bucket, key_, upload_id_, number,
                                         std::move(buffer_)));
      } catch (const common::NoSuchUpload&) {
        adopt();
        return;
      }
      buffer_.clear();
    }
    if (buffer_sources_ > 0) {
      committed_ = {parts_.size(), sources_.size(), bytes_, copied_};
      for (std::size_t i = committed_indexes_.size(); i < indexes_.size(); ++i)
        committed_indexes_.insert(indexes_[i]);
      buffer_sources_ = 0;
      ++commits_;
    }
  }

  struct Committed {
    std::size_t parts = 0;
    std::size_t sources = 0;
    std::uint64_t bytes = 0;
    std::uint64_t copied = 0;
  };

  common::S3Client& s3_;
  const Config& config_;
  pipeline::Seals& seals_;
  pipeline::Ledger ledger_;
  std::string source_bucket_;
  std::string key_;
  std::uint64_t part_size_;
  std::string ledger_key_;
  std::string upload_id_;
  std::vector<common::CompletedPart> parts_;
  std::string buffer_;
  std::uint64_t bytes_ = 0;
  std::uint64_t copied_ = 0;  // of bytes_, copied server-side
  std::vector<Source> sources_;
  std::vector<std::uint64_t> offsets_;       // where each of sources_ starts in the output
  std::vector<std::string> sha256_;          // of each of sources_' bytes
  std::vector<std::string> content_sha256_;  // of each one's decompressed content
  std::uint64_t source_start_ = 0;           // where the next source's bytes start
  std::vector<std::int64_t> indexes_;        // of sources_, in the plan's processing order
  std::set<std::int64_t> committed_indexes_;
  std::size_t buffer_sources_ = 0;  // sources whose bytes are (partly) only in memory
  std::int64_t first_buffered_index_ = -1;
  Committed committed_;
  int commits_ = 0;  // in this call
  std::optional<OutputRecord> adopted_;
};

// Copies [0, end) of a source server-side in equal ranges of at most 5 GiB (each at least 5 MiB
// when end is), looking at `stop` before each long call; false when it stopped.
bool copy_ranges(Stream& stream, const std::string& bucket, const Source& source, std::uint64_t end,
                 const std::function<bool()>& stop) {
  const std::uint64_t chunks =
      std::max<std::uint64_t>(1, (end + common::kMaxPartBytes - 1) / common::kMaxPartBytes);
  const std::uint64_t chunk = (end + chunks - 1) / chunks;
  for (std::uint64_t start = 0; start < end; start += chunk) {
    if (stop()) return false;
    const std::uint64_t last = std::min(end, start + chunk) - 1;
    stream.copy(common::CopySource{bucket, source.key, source.version_id,
                                   common::ByteRange{start, last}, source.etag});
  }
  return true;
}

// Reads [0, end) of a large source in ranges, in bounded memory, handing each to `feed` until it
// returns false. Returns how S3 said the source is encrypted ("" when nothing was read).
std::string read_ranges(common::S3Client& s3, const std::string& bucket, const Source& source,
                        std::uint64_t end, const std::function<bool(std::string_view)>& feed) {
  std::string encryption;
  for (std::uint64_t start = 0; start < end; start += kCheckRangeBytes) {
    const std::uint64_t last = std::min(end, start + kCheckRangeBytes) - 1;
    const auto response = read_range(s3, bucket, source, start, last);
    encryption = encryption_of(response);
    if (!feed(response.body)) break;
  }
  return encryption;
}

// The digests of a source copied as it is, whatever it holds: its content is its decompressed
// gzip when it is whole gzip, else its bytes.
common::ContentCheck digests_as_is(common::S3Client& s3, const std::string& bucket,
                                   Source& source) {
  common::Sha256 bytes_hash;
  common::GzipChecker gzip_checker;
  std::optional<bool> compressed;
  source.encryption = read_ranges(s3, bucket, source, source.size, [&](std::string_view bytes) {
    if (!compressed) compressed = common::is_gzip(bytes);
    bytes_hash.update(bytes);
    if (*compressed) gzip_checker.feed(bytes);
    return true;
  });
  common::ContentCheck digests{common::ContentKind::kText, std::nullopt, "",
                               bytes_hash.hex_digest(), ""};
  const common::ContentCheck gzip =
      compressed.value_or(false) ? gzip_checker.finish() : common::ContentCheck{};
  digests.content_sha256 =
      gzip.kind == common::ContentKind::kGzip ? gzip.content_sha256 : digests.sha256;
  return digests;
}

// One planned output: its sources in processing order (server-side copies first), index by
// index, into a gzip stream and a plain stream.
class OutputBuilder {
 public:
  OutputBuilder(common::S3Client& s3, const Config& config, pipeline::Seals& seals,
                const std::string& bucket, const std::string& key_base,
                const std::string& ledger_prefix, std::uint64_t part_size,
                std::vector<Source> sources)
      : s3_(s3),
        config_(config),
        bucket_(bucket),
        gzip_(s3, config, seals, bucket, key_base + ".gz", part_size,
              pipeline::ledger_key(ledger_prefix, key_base + ".gz")),
        plain_(s3, config, seals, bucket, key_base + ".log", part_size,
               pipeline::ledger_key(ledger_prefix, key_base + ".log")),
        sources_(std::move(sources)) {
    std::stable_partition(sources_.begin(), sources_.end(), [](const Source& source) {
      return source.size >= pipeline::kServerCopyMinBytes;
    });
    gzip_.reserve(sources_.size());
    plain_.reserve(sources_.size());
  }

  void restore(const json::object& state) {
    if (const auto* gz = state.if_contains("gzip")) gzip_.restore(gz->as_object());
    if (const auto* plain = state.if_contains("plain")) plain_.restore(plain->as_object());
    next_ = state.at("next").to_number<std::int64_t>();
  }

  // Processes sources until done (true) or the deadline passes at a commit point (false).
  bool run(Progress& progress, const common::Deadline& deadline) {
    std::vector<std::int64_t> small;
    small.reserve(sources_.size());
    for (auto index = next_; index < static_cast<std::int64_t>(sources_.size()); ++index) {
      const Source& source = sources_[static_cast<std::size_t>(index)];
      if (source.size < pipeline::kServerCopyMinBytes) {
        small.push_back(index);
        continue;
      }
      if (committed(index)) continue;
      if (deadline.reached() && progressed_) return stop_at(index);
      if (!add_large(source, index, progress, deadline)) return stop_at(index);
      progressed_ = true;
    }
    if (!add_all_small(small, progress, deadline)) return false;
    for (Stream* stream : {&gzip_, &plain_}) {
      if (auto output = stream->finish()) progress.outputs.push_back(std::move(*output));
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
  bool committed(std::int64_t index) const {
    return gzip_.committed(index) || plain_.committed(index);
  }

  // The next call starts again at the first source not yet in an uploaded part.
  bool stop_at(std::int64_t index) {
    next_ = index;
    for (const Stream* stream : {&gzip_, &plain_}) {
      if (const auto first = stream->first_uncommitted()) next_ = std::min(next_, *first);
    }
    return false;
  }

  bool add_all_small(const std::vector<std::int64_t>& small, Progress& progress,
                     const common::Deadline& deadline) {
    std::vector<const Source*> pointers;
    for (auto index : small) pointers.push_back(&sources_[static_cast<std::size_t>(index)]);
    // Downloads in order, several requests ahead, within the memory budget.
    common::ReadAhead<common::AwsOutcome> downloads(
        pointers.size(), config_.download_concurrency, config_.memory_budget,
        [&](std::size_t i) { return pointers[i]->size; },
        [&](std::size_t i, std::function<void(common::AwsOutcome &&)> done) {
          s3_.client().send_async(
              s3_.get_object_request(bucket_, pointers[i]->key, pinned(*pointers[i])),
              std::move(done));
        });
    for (std::size_t i = 0; i < small.size(); ++i) {
      const std::int64_t index = small[i];
      const Source& source = *pointers[i];
      // Stopping re-reads what is only in memory; a part committed in this call means progress.
      if (deadline.reached() && gzip_.commits() + plain_.commits() > 0) return stop_at(index);
      common::AwsOutcome outcome = downloads.take(i);
      if (committed(index)) continue;
      if (!outcome.ok()) {
        try {
          std::rethrow_exception(outcome.error);
        } catch (const common::AwsError& error) {
          const auto reason = unreadable_source(error);
          if (!reason) throw;
          progress.skip(source, *reason);
          continue;
        }
      }
      Source read = source;
      read.encryption = encryption_of(outcome.response);
      add_small(read, index, outcome.response.body, progress);
      progressed_ = true;
    }
    return true;
  }

  // A source of pipeline::kServerCopyMinBytes or more: copied server-side but for its last
  // pipeline::kServerCopyTailBytes, which are downloaded so the newline can follow them. It is
  // read whole (in ranges) and checked (gzip inflated, text looked at for binary bytes) and hashed
  // before any of it is copied. False: the deadline came, and the source is rolled back for the
  // next call.
  bool add_large(const Source& source, std::int64_t index, Progress& progress,
                 const common::Deadline& deadline) {
    Stream* stream = nullptr;
    Stream::Mark mark;
    try {
      const std::uint64_t copied = source.size - pipeline::kServerCopyTailBytes;
      const auto sniffed = read_range(s3_, bucket_, source, 0, kSniffBytes - 1);
      const std::string& head = sniffed.body;
      Source read = source;
      read.encryption = encryption_of(sniffed);
      const bool compressed = common::is_gzip(head);
      if (!compressed) {
        if (auto why = common::binary_reason(head)) {
          progress.skip(source, *why);
          return true;
        }
      }
      common::GzipChecker gzip_checker;
      common::TextChecker text_checker;
      const auto feed = [&](std::string_view bytes) {
        return compressed ? gzip_checker.feed(bytes) : text_checker.feed(bytes);
      };
      read_ranges(s3_, bucket_, source, copied, feed);
      stream = compressed ? &gzip_ : &plain_;
      mark = stream->boundary();
      if (!copy_ranges(*stream, bucket_, source, copied,
                       [&] { return deadline.reached() && progressed_; })) {
        stream->rollback(mark);
        return false;
      }
      const std::string tail = read_range(s3_, bucket_, source, copied, source.size - 1).body;
      feed(tail);
      const common::ContentCheck verdict =
          compressed ? gzip_checker.finish() : text_checker.finish();
      if (verdict.kind == common::ContentKind::kUnsafe) {
        stream->rollback(mark);
        progress.skip(source, verdict.reason);
        return true;
      }
      stream->append(tail);
      end_on_newline(*stream, verdict);
      stream->source_done(read, index, verdict);
    } catch (const common::AwsError& error) {
      const auto reason = unreadable_source(error);
      if (!reason) throw;
      if (stream != nullptr) stream->rollback(mark);
      progress.skip(source, *reason);
    }
    return true;
  }

  static void end_on_newline(Stream& stream, const common::ContentCheck& content) {
    if (content.last_byte == '\n') return;
    if (content.kind == common::ContentKind::kGzip)
      stream.append(common::newline_gzip_member());
    else
      stream.append("\n");
  }

  void add_small(const Source& source, std::int64_t index, const std::string& bytes,
                 Progress& progress) {
    if (bytes.size() != source.size) {
      throw runtime::VerificationFailed("s3://" + bucket_ + "/" + source.key + " returned " +
                                        std::to_string(bytes.size()) + " bytes, the listing said " +
                                        std::to_string(source.size));
    }
    const common::ContentCheck content = common::check_content(bytes);
    switch (content.kind) {
      case common::ContentKind::kEmpty:
        progress.empty[source_id(source)] = source;
        return;
      case common::ContentKind::kUnsafe:
        progress.skip(source, content.reason);
        return;
      case common::ContentKind::kGzip:
      case common::ContentKind::kText: {
        Stream& stream = content.kind == common::ContentKind::kGzip ? gzip_ : plain_;
        stream.append(bytes);
        end_on_newline(stream, content);
        stream.source_done(source, index, content);
        return;
      }
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

// copy_all: each file as it is, pinned to the listed version and etag, by UploadPartCopy (in
// ranges past 5 GiB, CopyObject's limit) and a conditional completion: never over an existing key.
void copy_output(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                 const std::string& bucket, const std::string& key,
                 const std::string& ledger_prefix, const std::vector<Source>& sources,
                 Progress& progress) {
  for (const auto& source : sources) {
    Stream stream(s3, config, seals, bucket, key, common::kMinPartBytes,
                  pipeline::ledger_key(ledger_prefix, key));
    try {
      Source read = source;
      const common::ContentCheck digests = digests_as_is(s3, bucket, read);
      stream.boundary();
      copy_ranges(stream, bucket, source, source.size, [] { return false; });
      stream.source_done(read, 0, digests);
      if (auto output = stream.finish()) progress.outputs.push_back(std::move(*output));
    } catch (const common::AwsError& error) {
      const auto reason = unreadable_source(error);
      if (!reason) throw;
      stream.abort();
      progress.skip(source, *reason);
    }
  }
}
// Archived sources are left out until someone restores them: say so once, with the count.
void report_archived(const Progress& progress) {
  std::size_t archived = 0;
  for (const auto& [id, entry] : progress.skipped)
    archived += entry.reason == "InvalidObjectState" ? 1 : 0;
  if (archived > 0) {
    runtime::log::warn(std::to_string(archived) +
                           " files are archived (GLACIER or DEEP_ARCHIVE); restore them to "
                           "include them",
                       "archived", archived);
  }
}

// What an event or a plan points at is read from the work bucket only.
void require_work_file(const Config& config, const pipeline::FileRef& file, const char* what) {
  if (file.bucket != config.work_bucket) {
    throw runtime::VerificationFailed(std::string(what) + " s3://" + file.bucket + "/" + file.key +
                                      " is not in the work bucket");
  }
}

// Manifest mode: the manifest's files planned as one batch (several outputs only past
// MAX_OUTPUT_BYTES or 10,000 parts). Planning is deterministic, so a resumed or repeated call
// plans the same outputs; the event comes back as an ordinary plan event.
json::object with_manifest_plan(const Config& config, common::S3Client& s3, json::object input) {
  const std::string manifest_id = pipeline::id_field(input, "manifest_id");
  Plan plan;
  plan.group_id = manifest_id;
  const pipeline::RecordFields fields(input, "a manifest event");
  plan.source_bucket = fields.text("source_bucket");
  plan.date = fields.date("date");
  const auto manifest = fields.record<pipeline::FileRef>("manifest");
  require_work_file(config, manifest, "the manifest");
  std::vector<Source> sources;
  for (const auto& item : pipeline::read_json_array(s3, manifest))
    sources.push_back(pipeline::read_record<Source>(item));
  if (sources.empty()) throw runtime::InvalidInput("the manifest lists no file");
  const std::string key_base = pipeline::manifest_key_base(
      config.destination_prefix, plan.source_bucket, plan.date, manifest_id);
  plan.outputs = pipeline::plan_outputs(std::move(sources), key_base, config.max_output_bytes);
  const std::string key = pipeline::run_file_key(manifest_id, "plan.json");
  input["plan"] = pipeline::write_plan(s3, config.work_bucket, key, std::move(plan),
                                       config.download_concurrency)
                      .to_json();
  input["run_id"] = manifest_id;
  input["group_id"] = manifest_id;
  return input;
}

// The receipt DeleteOriginals works from, sealed for its place: what went into which output, what
// stays and why, and the originals an earlier run already combined (from the plan).
std::string write_receipt(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                          const Plan& plan, const std::string& run_id, const std::string& group_id,
                          const Progress& progress) {
  const pipeline::Receipt receipt{group_id,
                                  plan.source_bucket,
                                  config.destination_bucket,
                                  progress.combined(),
                                  plan.already_combined,
                                  plan.date};
  const std::string key = pipeline::group_file_key(run_id, "receipts", group_id, "json");
  pipeline::write_sealed(s3, seals.sealer(), config.work_bucket, key,
                         json::value_from(receipt).as_object());
  return key;
}

// Where this run keeps the group's checkpoint number `sequence`.
std::string checkpoint_key(const json::object& input, std::uint64_t sequence) {
  return pipeline::checkpoint_key(pipeline::run_id_of(input), "progress",
                                  std::string(input.at("group_id").as_string()), sequence, "json");
}

// Where a continuation resumes: the planned output it stopped in, that output's open uploads,
// and what was combined before it, kept in a checkpoint file (states are limited to 256 KB).
struct Resume {
  std::size_t output = 0;
  std::optional<json::object> open_uploads;
  Progress progress;
  std::uint64_t sequence = 0;  // of the checkpoint resumed from
};

// The checkpoint a continuation names must be this run's and group's, in the work bucket, and
// sealed there by this function: it becomes ledger records, so a planted one would decide
// deletions.
Resume resume_from(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                   const json::object& input) {
  Resume resume;
  const auto continuation =
      pipeline::continuation_of<pipeline::CombineContinuation>(input, "CombineLogFiles");
  if (!continuation) return resume;
  resume.sequence = continuation->sequence;
  const pipeline::FileRef& file = continuation->progress;
  if (file.bucket != config.work_bucket ||
      file.key != checkpoint_key(input, continuation->sequence)) {
    throw runtime::VerificationFailed("the saved progress s3://" + file.bucket + "/" + file.key +
                                      " is not where this run keeps its own");
  }
  const json::object saved = pipeline::read_sealed(s3, seals.checker(), file.bucket, file.key);
  const auto* output = saved.if_contains("output");
  const auto index = output ? pipeline::whole_number(*output) : std::nullopt;
  const auto* open = saved.if_contains("state");
  if (!index || open == nullptr || !(open->is_null() || open->is_object()) ||
      !saved.contains("progress"))
    throw runtime::InvalidInput("the saved progress is not one CombineLogFiles wrote");
  resume.output = static_cast<std::size_t>(*index);
  if (open->is_object()) resume.open_uploads = open->get_object();
  resume.progress = Progress::from(pipeline::read_record<Combined>(saved.at("progress")));
  return resume;
}

// Saves where this call stopped, in a checkpoint of its own, and returns the event to call again
// with.
json::object hand_over(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                       const json::object& input, const Resume& resumed, std::size_t output,
                       const std::optional<json::object>& open_uploads, const Progress& progress) {
  const std::string group_id(input.at("group_id").as_string());
  const std::uint64_t sequence = resumed.sequence + 1;
  json::object saved{{"output", output},
                     {"state", open_uploads ? json::value(*open_uploads) : json::value(nullptr)},
                     {"progress", json::value_from(progress.combined())}};
  const std::string key = checkpoint_key(input, sequence);
  pipeline::write_sealed(s3, seals.sealer(), config.work_bucket, key, std::move(saved));
  runtime::log::info("continuing in the next invocation", "group", group_id, "output", output,
                     "outputs_done", progress.outputs.size());
  return pipeline::continue_with(
      input, pipeline::CombineContinuation{{config.work_bucket, key, 0, 0}, sequence});
}

// The receipt, the metrics and the result of a group whose every output is written.
json::object finish(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                    const Plan& plan, const std::string& run_id, const std::string& group_id,
                    const Progress& progress) {
  const std::string key = write_receipt(config, s3, seals, plan, run_id, group_id, progress);
  const Combined combined = progress.combined();
  runtime::metrics::add("FilesCombined", runtime::metrics::Unit::Count,
                        static_cast<double>(combined.files()));
  runtime::metrics::add("BytesCombined", runtime::metrics::Unit::Bytes,
                        static_cast<double>(combined.bytes_in()));
  runtime::metrics::add("SkippedFiles", runtime::metrics::Unit::Count,
                        static_cast<double>(combined.skipped.size()));
  report_archived(progress);
  runtime::log::info("combined", "group", group_id, "outputs", combined.outputs.size(), "files",
                     combined.files(), "skipped", combined.skipped.size(), "bytes_in",
                     combined.bytes_in(), "bytes_out", combined.bytes_out());
  const pipeline::FileRef receipt_ref{config.work_bucket, key,
                                      static_cast<std::int64_t>(combined.outputs.size()),
                                      static_cast<std::int64_t>(combined.bytes_out())};
  return json::value_from(pipeline::CombineResult{
                              group_id, run_id, receipt_ref, plan.already_combined.size(),
                              combined.outputs.size(), combined.files(), combined.skipped.size(),
                              combined.bytes_in(), combined.bytes_out()})
      .as_object();
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
  config.output_retention_days =
      common::number_setting("OUTPUT_RETENTION_DAYS", config.output_retention_days, 0);
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, pipeline::Seals& seals,
                   const json::value& event, const common::Deadline& deadline) {
  if (!event.is_object())
    throw runtime::InvalidInput("the event must be an object with a \"plan\"");
  const json::object input = event.get_object().contains("manifest")
                                 ? with_manifest_plan(config, s3, event.get_object())
                                 : event.get_object();
  const auto step = pipeline::read_record<pipeline::PlanResult>(input);
  if (!step.plan) throw runtime::InvalidInput("the event needs \"plan\": nothing to combine");
  const std::string& run_id = step.run_id;
  const std::string& group_id = step.group_id;
  require_work_file(config, *step.plan, "the plan");
  const Plan plan = pipeline::read_record<Plan>(pipeline::read_json(s3, *step.plan));
  for (const auto& planned : plan.outputs)
    if (planned.sources_file) require_work_file(config, *planned.sources_file, "a plan's sources");
  // Each run records under its own folder: two runs of one day at once never replace each
  // other's records, and an attempt adopts a key only as its own run's output.
  const std::string ledger_prefix = pipeline::ledger_run_prefix(plan.date, group_id, run_id);
  Resume resume = resume_from(config, s3, seals, input);
  Progress& progress = resume.progress;

  bool progressed = false;
  for (std::size_t index = resume.output; index < plan.outputs.size(); ++index) {
    if (progressed && deadline.reached())
      return hand_over(config, s3, seals, input, resume, index, std::nullopt, progress);
    const PlannedOutput& planned = plan.outputs[index];
    if (planned.copy) {
      copy_output(config, s3, seals, plan.source_bucket, planned.key_base, ledger_prefix,
                  pipeline::planned_sources(s3, planned), progress);
    } else {
      OutputBuilder builder(s3, config, seals, plan.source_bucket, planned.key_base, ledger_prefix,
                            planned.part_size, pipeline::planned_sources(s3, planned));
      if (resume.open_uploads) builder.restore(*resume.open_uploads);
      resume.open_uploads.reset();
      if (!builder.run(progress, deadline))
        return hand_over(config, s3, seals, input, resume, index, builder.checkpoint(), progress);
    }
    progressed = true;
    // What an output freed goes back to the system before the next one starts: the next output's
    // downloads then land on fresh pages rather than around the last one's leftovers. With the
    // reservations above, 100,000 files (10 outputs) peak at 44 MiB against 42 MiB for 10,000;
    // without this call at 51 MiB (bench/combine_delete.py).
    malloc_trim(0);
  }
  return finish(config, s3, seals, plan, run_id, group_id, progress);
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  auto seals = std::make_shared<pipeline::Seals>(pipeline::seal_key_id());
  return [config, s3, seals](const json::value& event, const runtime::InvocationContext& context) {
    return handle(*config, *s3, *seals, event, common::Deadline(context));
  };
}

}  // namespace functions::combine_log_files
