#pragma once
// The records the functions hand each other, through the work bucket and the state machines'
// states: one C++ type each, converted to and from JSON by Boost.JSON (value_from / value_to).
// Reading one that is malformed — a field missing, of another type, a negative or fractional
// count, an unknown operation — is InvalidInput naming the record and the field, never a
// half-read record. tests/fixtures/records/ holds one of each, round-trip tested.
//
// One original's way through them: GetFiles lists it into a FileEntry of a Group's file list;
// DetermineOperationType plans it as a Source of a PlannedOutput in the group's Plan;
// CombineLogFiles writes it into an output and lists it in that OutputRecord of the Receipt (or
// as empty, skipped or already combined); DeleteOriginals deletes what the Receipt lists.
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/work_files.h"

namespace pipeline {

// One original: a version of a key, with the size and ETag it was listed with.
// {"key", "size", "etag", "version_id"?, "encryption"?} ("null", an unversioned bucket's version,
// is not written).
struct Source {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;  // with its quotes, as S3 sends it
  std::string version_id;
  // How S3 said it was encrypted when CombineLogFiles read it (common::HeadResult::encryption;
  // "none" when S3 said nothing): whether its ETag is the MD5 of its bytes. Empty until read.
  std::string encryption = {};
  bool operator==(const Source&) const = default;
};

// A line of a group's file list: a listed version. Written by hand (a replayed or edited list),
// size and etag may be missing: DetermineOperationType asks S3 for them.
// {"key", "size"?, "etag"?, "last_modified"?, "version_id"?}
struct FileEntry {
  std::string key;
  std::optional<std::uint64_t> size;
  std::string etag;
  std::string last_modified;
  std::string version_id;
  bool operator==(const FileEntry&) const = default;
};

enum class GroupKind { kControlTower, kOther };
std::string to_string(GroupKind kind);  // "control_tower" or "other"

// What one Map iteration combines: a Control Tower account's log type in a region, or one folder
// of another bucket, for one day. {"group_id", "kind": "control_tower" | "other",
// "source_bucket", "date", "files": FileRef, "account", "log_type", "region" (control_tower) or
// "directory" (other; "" is the bucket's root), "run_id"? (added by the Map's ItemSelector)}
struct Group {
  std::string group_id;
  GroupKind kind = GroupKind::kOther;
  std::string source_bucket;
  std::string date;  // YYYY-MM-DD
  FileRef files;
  std::string account, log_type, region;
  std::string directory;
  std::string run_id;
  bool operator==(const Group&) const = default;
};

// One output as planned: key_base is completed by CombineLogFiles with .gz or .log (for a copied
// file, it is the whole key). {"key_base", "copy", "part_size", "bytes", "sources": [Source]}
struct PlannedOutput {
  std::string key_base;
  bool copy = false;
  std::uint64_t part_size = 0;
  std::uint64_t bytes = 0;
  std::vector<Source> sources;
  // Where the sources are when the plan keeps them apart (pipeline/plan_files.h): "sources" is
  // then that file's reference, not a list.
  std::optional<FileRef> sources_file;
  bool operator==(const PlannedOutput&) const = default;
};

// Where an output stands, as the ledger recorded it. {"bucket", "key", "size", "etag"}
struct OutputRef {
  std::string bucket;
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  bool operator==(const OutputRef&) const = default;
};

// An original an earlier run already put into an output that still stands: it goes straight to
// deletion. The Source's fields and {"output": OutputRef}.
struct AlreadyCombined {
  Source source;
  OutputRef output;
  bool operator==(const AlreadyCombined&) const = default;
};

enum class Operation { kNone, kCopyAll, kAggregate };
std::string to_string(Operation operation);

// DetermineOperationType's plan for a group. {"group_id", "operation": "none" | "copy_all" |
// "aggregate", "source_bucket", "date", "outputs": [PlannedOutput], "already_combined"?: [...]}
struct Plan {
  std::string group_id;
  Operation operation = Operation::kAggregate;
  std::string source_bucket;
  std::string date;
  std::vector<PlannedOutput> outputs;
  std::vector<AlreadyCombined> already_combined;
  bool operator==(const Plan&) const = default;
};

// An output as written: what the ledger keeps, and the index of what it holds.
// {"bucket", "key", "size", "etag", "version_id", "parts", "copied_bytes", "sources": [Source],
//  "source_bucket"?, "offsets"?: [n], "sha256"?: [hex], "content_sha256"?: [hex]}. A receipt
// lists each output as a summary instead: no sources, offsets nor digests, but "index": FileRef
// to its ledger record (count: its originals, bytes: theirs), read with pipeline::with_index
// (pipeline/originals.h); a receipt then stays small however many files a group has. Source i's
// bytes, exactly as its version held them, are [offsets[i], offsets[i] + size) of the output (what
// restore-original cuts out); sha256[i] is the SHA-256 of those bytes and content_sha256[i] of
// their decompressed content (what a CloudTrail digest records of a log file; the same as sha256
// for text). Records written before outputs kept their index have none of the three, and records
// written before the index kept digests have only offsets.
struct OutputRecord {
  // Why the index cannot describe this output (a range outside it, two that overlap, a digest
  // that is not one), or nullopt; a record without an index has nothing to contradict.
  std::optional<std::string> index_problem() const;

  OutputRef where;
  std::string version_id;
  std::uint64_t parts = 0;
  std::uint64_t copied_bytes = 0;  // copied by S3 (UploadPartCopy), never downloaded
  std::vector<Source> sources;
  std::string source_bucket;
  std::vector<std::uint64_t> offsets;
  std::vector<std::string> sha256;
  std::vector<std::string> content_sha256;
  std::optional<FileRef> index;  // a summary's ledger record
  bool operator==(const OutputRecord&) const = default;

  // This record without its sources and index, pointing at `ledger_key` in `work_bucket` instead.
  OutputRecord summary(const std::string& work_bucket, const std::string& ledger_key) const;
  std::uint64_t files() const;         // originals it holds
  std::uint64_t source_bytes() const;  // their bytes
};

// An original left where it is, and why (PreconditionFailed, NoSuchKey, InvalidObjectState,
// not gzip nor text, ...). {"key", "version_id", "reason"}
struct SkippedFile {
  std::string key;
  std::string version_id;
  std::string reason;
  bool operator==(const SkippedFile&) const = default;
};

// What CombineLogFiles has written so far; totals are counted from the outputs, so a resumed or
// repeated call never counts a source twice. {"outputs", "empty_sources", "skipped", "files",
// "bytes_in", "bytes_out"}
struct Combined {
  std::vector<OutputRecord> outputs;
  std::vector<Source> empty_sources;
  std::vector<SkippedFile> skipped;
  std::uint64_t files() const;
  std::uint64_t bytes_in() const;
  std::uint64_t bytes_out() const;
  bool operator==(const Combined&) const = default;
};

// What CombineLogFiles says it did for a group: Combined's fields and {"group_id",
// "source_bucket", "destination_bucket", "date", "already_combined"?}. Anyone who can write the
// work bucket can write one, so DeleteOriginals takes it as a claim: each output is checked
// against its sealed ledger record and S3, empty originals against S3, and already combined ones
// are found again in the ledger (functions/delete_originals/handler.h).
struct Receipt {
  std::string group_id;
  std::string source_bucket;
  std::string destination_bucket;
  Combined combined;
  std::vector<AlreadyCombined> already_combined;
  std::string date = {};  // the day of the ledger the outputs are recorded under
  bool operator==(const Receipt&) const = default;
};

// What the state machines hand from one step to the next (a step's result is the next one's
// event). Counts are for people and metrics; a reader needs only the ids and the references.

// GetFiles' result: {"run_id", "date", "groups": FileRef to a JSON array of every Group,
// "short_groups" and "long_groups": the same groups parted by whether they finish well within an
// Express child execution's five minutes, "group_count", "file_count", "bytes", "skipped_recent"}.
struct ListingResult {
  std::string run_id;
  std::string date;
  FileRef groups;
  FileRef short_groups, long_groups;
  std::uint64_t group_count = 0, file_count = 0, bytes = 0, skipped_recent = 0;
  bool operator==(const ListingResult&) const = default;
};

// DetermineOperationType's result, CombineLogFiles' event: {"group_id", "run_id", "operation",
// "plan"? (absent for none), "outputs", "files", "bytes", "already_combined"}.
struct PlanResult {
  std::string group_id;
  std::string run_id;
  Operation operation = Operation::kAggregate;
  std::optional<FileRef> plan;
  std::uint64_t outputs = 0, files = 0, bytes = 0, already_combined = 0;
  bool operator==(const PlanResult&) const = default;
};

// CombineLogFiles' result, DeleteOriginals' event: {"group_id", "run_id", "receipt",
// "already_combined", "outputs", "files", "skipped", "bytes_in", "bytes_out"}.
struct CombineResult {
  std::string group_id;
  std::string run_id;
  FileRef receipt;
  std::uint64_t already_combined = 0, outputs = 0, files = 0, skipped = 0, bytes_in = 0,
                bytes_out = 0;
  bool operator==(const CombineResult&) const = default;
};

// DeleteOriginals' result: {"group_id", "deleted", "kept_changed", "failed", "failed_keys"?}.
struct DeleteResult {
  std::string group_id;
  std::uint64_t deleted = 0, kept_changed = 0, failed = 0;
  std::optional<FileRef> failed_keys;  // the keys that could not be deleted
  bool operator==(const DeleteResult&) const = default;
};

// LogForwarder's backfill (statemachines/forward_backfill.asl.json): every object of a bucket and
// prefix last modified in [from, to), forwarded as if just created.

// What an operator starts it with: {"source": "s3://bucket/prefix" | "bucket/prefix", "from",
// "to"} (RFC 3339 times). LogForwarder checks it and answers the BackfillPlan.
struct BackfillRequest {
  std::string source;
  std::string from, to;
  bool operator==(const BackfillRequest&) const = default;
};

// The request checked: {"bucket", "prefix", "from", "to"}, the times as UTC seconds
// (YYYY-MM-DDTHH:MM:SSZ). The Map lists bucket/prefix and hands it to each batch as BatchInput.
struct BackfillPlan {
  std::string bucket, prefix;
  std::string from, to;
  bool operator==(const BackfillPlan&) const = default;
};

// An item of the Map's S3 listing, as Step Functions' listObjectsV2 reader gives it: {"Key",
// "Size", "Etag" (quoted), "LastModified" (UTC seconds since the epoch), "StorageClass"?}.
struct ListedObject {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
  std::int64_t last_modified = 0;
  std::string storage_class;
  bool operator==(const ListedObject&) const = default;
};

// One batch of the Map: {"BatchInput": BackfillPlan, "Items": [ListedObject]}.
struct BackfillBatch {
  BackfillPlan plan;
  std::vector<ListedObject> items;
  bool operator==(const BackfillBatch&) const = default;
};

// What a batch forwarded: {"objects", "lines", "batches", "outside" (modified outside [from,
// to) or not under SOURCES), "superseded", "poison"}.
struct BackfillResult {
  std::uint64_t objects = 0, lines = 0, batches = 0, outside = 0, superseded = 0, poison = 0;
  bool operator==(const BackfillResult&) const = default;
};

// An Amplify app whose access logs are exported, as the configuration names it: {"appId",
// "domainName", "appName", "region", "accountId", "roleArn"?}, each checked as Amplify, IAM and
// S3 allow it (the id and domain by GenerateAccessLogs' patterns), unknown fields refused (a
// misspelt one would otherwise be ignored). appName is the app's folder (app=<appName>): letters,
// digits, '.', '_' and '-'. roleArn, for an app in another account, defaults to the export's role
// name there.
struct AmplifyApp {
  std::string app_id, domain_name, app_name, region, account_id, role_arn;
  bool operator==(const AmplifyApp&) const = default;
};

// A time range in UTC seconds (YYYY-MM-DDTHH:MM:SSZ), start included, end not: {"start", "end"}.
struct TimeRange {
  std::chrono::sys_seconds start, end;
  bool operator==(const TimeRange&) const = default;
};

// The export planned: {"from", "to", "apps": [{"app": AmplifyApp, "chunks": [TimeRange]}]}. The
// state machine maps over the apps and, nested, over each one's chunks.
struct AmplifyAppPlan {
  AmplifyApp app;
  std::vector<TimeRange> chunks;
  bool operator==(const AmplifyAppPlan&) const = default;
};
struct AmplifyPlan {
  std::chrono::sys_seconds from, to;
  std::vector<AmplifyAppPlan> apps;
  bool operator==(const AmplifyPlan&) const = default;
};

// One chunk to export: {"app": AmplifyApp, "start", "end"}.
struct AmplifyChunk {
  AmplifyApp app;
  TimeRange range;
  bool operator==(const AmplifyChunk&) const = default;
};

// What a chunk's export stored: {"app" (its appName), "key", "bytes", "rows" (lines after the
// header), "ranges" (the GenerateAccessLogs answers it is made of), "splits" (ranges Amplify
// refused and that were halved)}.
struct AmplifyExport {
  std::string app, key;
  std::uint64_t bytes = 0, rows = 0, ranges = 0, splits = 0;
  bool operator==(const AmplifyExport&) const = default;
};

// Reads a record of type T from JSON, or InvalidInput.
template <typename T>
T read_record(const boost::json::value& json) {
  return boost::json::value_to<T>(json);
}

#define PIPELINE_RECORD_CONVERSIONS(Type)                                       \
  void tag_invoke(const boost::json::value_from_tag&, boost::json::value& json, \
                  const Type& record);                                          \
  Type tag_invoke(const boost::json::value_to_tag<Type>&, const boost::json::value& json);
PIPELINE_RECORD_CONVERSIONS(FileRef)
PIPELINE_RECORD_CONVERSIONS(Source)
PIPELINE_RECORD_CONVERSIONS(FileEntry)
PIPELINE_RECORD_CONVERSIONS(Group)
PIPELINE_RECORD_CONVERSIONS(PlannedOutput)
PIPELINE_RECORD_CONVERSIONS(OutputRef)
PIPELINE_RECORD_CONVERSIONS(AlreadyCombined)
PIPELINE_RECORD_CONVERSIONS(Plan)
PIPELINE_RECORD_CONVERSIONS(BackfillRequest)
PIPELINE_RECORD_CONVERSIONS(BackfillPlan)
PIPELINE_RECORD_CONVERSIONS(ListedObject)
PIPELINE_RECORD_CONVERSIONS(BackfillBatch)
PIPELINE_RECORD_CONVERSIONS(BackfillResult)
PIPELINE_RECORD_CONVERSIONS(AmplifyApp)
PIPELINE_RECORD_CONVERSIONS(TimeRange)
PIPELINE_RECORD_CONVERSIONS(AmplifyAppPlan)
PIPELINE_RECORD_CONVERSIONS(AmplifyPlan)
PIPELINE_RECORD_CONVERSIONS(AmplifyChunk)
PIPELINE_RECORD_CONVERSIONS(AmplifyExport)
PIPELINE_RECORD_CONVERSIONS(OutputRecord)
PIPELINE_RECORD_CONVERSIONS(SkippedFile)
PIPELINE_RECORD_CONVERSIONS(Combined)
PIPELINE_RECORD_CONVERSIONS(Receipt)
PIPELINE_RECORD_CONVERSIONS(ListingResult)
PIPELINE_RECORD_CONVERSIONS(PlanResult)
PIPELINE_RECORD_CONVERSIONS(CombineResult)
PIPELINE_RECORD_CONVERSIONS(DeleteResult)
#undef PIPELINE_RECORD_CONVERSIONS

}  // namespace pipeline
