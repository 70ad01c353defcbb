#include "functions/get_files/handler.h"

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "common/batch.h"
#include "common/dates.h"
#include "common/settings.h"
#include "common/sigv4.h"
#include "pipeline/continuation.h"
#include "pipeline/layout.h"
#include "pipeline/records.h"
#include "pipeline/work_files.h"
#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::get_files {

namespace json = boost::json;
using common::Date;
using pipeline::FileRef;

namespace {

constexpr const char* kLogTypes[] = {"CloudTrail", "CloudTrail-Digest", "Config"};
// Each digest file's signature is in its object's metadata and chains to the previous digest:
// combined, the chain that proves the trail's log files unaltered is gone.
constexpr std::string_view kDigestType = "CloudTrail-Digest";

bool aggregated_type(const Config& config, std::string_view name) {
  if (name == kDigestType) return config.combine_digests;
  return std::find(std::begin(kLogTypes), std::end(kLogTypes), name) != std::end(kLogTypes);
}

std::string bucket_name(std::string name) {
  if (name.starts_with("s3://")) {
    runtime::log::warn("bucket names are written without s3://; stripped it", "bucket", name);
    name.erase(0, 5);
  }
  while (!name.empty() && name.back() == '/') name.pop_back();
  return name;
}

// The last folder name of a prefix: "a/b/c/" -> "c".
std::string last_segment(const std::string& prefix) {
  std::string_view text(prefix);
  if (text.ends_with('/')) text.remove_suffix(1);
  const auto slash = text.rfind('/');
  return std::string(slash == std::string_view::npos ? text : text.substr(slash + 1));
}

bool is_account_id(const std::string& text) {
  return text.size() == 12 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

using pipeline::Group;
using pipeline::GroupKind;
using Unit = pipeline::ListingUnit;

// A listing of the sub-folders of `prefix` (delimiter "/").
common::ListOptions folders_of(const std::string& prefix) {
  common::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  return options;
}

// The sub-folders of each prefix, listed in parallel, every page.
std::vector<std::vector<std::string>> children(common::S3Client& s3, const std::string& bucket,
                                               const std::vector<std::string>& prefixes,
                                               std::size_t concurrency) {
  std::vector<common::ListOptions> listings;
  for (const auto& prefix : prefixes) listings.push_back(folders_of(prefix));
  std::vector<std::vector<std::string>> result;
  for (auto& page : s3.list_many(bucket, listings, concurrency))
    result.push_back(std::move(page.common_prefixes));
  return result;
}

// Each account's aggregated log types, each with its region folders: (type prefix, regions) in
// the accounts' order. An account's regions are listed as soon as its types are, so discovery
// waits for its slowest account rather than for the slowest listing of each level twice.
using TypeRegions = std::pair<std::string, std::vector<std::string>>;
std::vector<TypeRegions> types_and_regions(const Config& config, common::S3Client& s3,
                                           const std::string& bucket,
                                           const std::vector<std::string>& accounts) {
  struct Found {
    std::vector<TypeRegions> types;
    std::size_t pending = 0;  // region listings not yet ended, on the engine's one thread
    std::exception_ptr error;
  };
  using Done = std::function<void(Found &&)>;
  auto found = common::run_bounded_ordered<Found>(
      accounts.size(), config.list_concurrency, [&](std::size_t index, Done done) {
        auto account = std::make_shared<Found>();
        auto finish = std::make_shared<Done>(std::move(done));
        s3.list_async(
            bucket, folders_of(accounts[index]),
            [&config, account](common::ListPage& page) {
              for (auto& prefix : page.common_prefixes) {
                if (aggregated_type(config, last_segment(prefix)))
                  account->types.push_back({std::move(prefix), {}});
              }
              return true;
            },
            [&s3, &bucket, account, finish](std::exception_ptr error) {
              account->pending = account->types.size();
              if (error || account->pending == 0) {
                account->error = error;
                return (*finish)(std::move(*account));
              }
              for (auto& type : account->types) {
                s3.list_async(
                    bucket, folders_of(type.first),
                    [&type](common::ListPage& page) {
                      for (auto& prefix : page.common_prefixes)
                        type.second.push_back(std::move(prefix));
                      return true;
                    },
                    [account, finish](std::exception_ptr region_error) {
                      if (region_error && !account->error) account->error = region_error;
                      if (--account->pending == 0) (*finish)(std::move(*account));
                    });
              }
            });
      });
  std::vector<TypeRegions> types;
  for (auto& account : found) {
    if (account.error) std::rethrow_exception(account.error);
    for (auto& type : account.types) types.push_back(std::move(type));
  }
  return types;
}

std::vector<Unit> control_tower_units(const Config& config, common::S3Client& s3,
                                      const Date& date) {
  const std::string& bucket = config.control_tower_bucket;
  std::vector<std::string> roots;
  if (!config.organization_id.empty()) {
    roots.push_back(config.organization_id + "/AWSLogs/");
  } else {
    const auto top = children(s3, bucket, {""}, 1);  // named: [0] of a temporary would dangle
    for (const auto& prefix : top[0]) {
      if (prefix.starts_with("o-")) roots.push_back(prefix + "AWSLogs/");
    }
  }
  // Below AWSLogs/: account folders, and (Control Tower 3.0 and later) the organization again.
  std::vector<std::string> accounts;
  std::vector<std::string> nested;
  const auto root_children = children(s3, bucket, roots, config.list_concurrency);
  for (const auto& list : root_children) {
    for (const auto& prefix : list) {
      const std::string name = last_segment(prefix);
      if (is_account_id(name))
        accounts.push_back(prefix);
      else if (name.starts_with("o-"))
        nested.push_back(prefix);
    }
  }
  for (const auto& list : children(s3, bucket, nested, config.list_concurrency)) {
    for (const auto& prefix : list) {
      if (is_account_id(last_segment(prefix))) accounts.push_back(prefix);
    }
  }
  const auto types = types_and_regions(config, s3, bucket, accounts);
  char padded[16], unpadded[16];
  std::snprintf(padded, sizeof padded, "%04d/%02d/%02d/", date.year, date.month, date.day);
  std::snprintf(unpadded, sizeof unpadded, "%04d/%d/%d/", date.year, date.month, date.day);
  std::vector<Unit> units;
  for (const auto& [type_prefix, regions] : types) {
    const std::string type = last_segment(type_prefix);
    const std::string account =
        last_segment(type_prefix.substr(0, type_prefix.size() - type.size() - 1));
    for (const auto& region_prefix : regions) {
      const std::string region = last_segment(region_prefix);
      if (!config.regions.empty() &&
          std::find(config.regions.begin(), config.regions.end(), region) == config.regions.end()) {
        continue;
      }
      Unit unit{bucket, {region_prefix + padded}, false, GroupKind::kControlTower, account, type,
                region};
      if (std::string(unpadded) != padded) unit.prefixes.push_back(region_prefix + unpadded);
      units.push_back(std::move(unit));
    }
  }
  return units;
}

// Another bucket is scanned in partitions: its top-level folders (one level deeper when there is
// only one, as with AWSLogs/), plus the loose objects at each level walked through.
std::vector<Unit> other_bucket_units(common::S3Client& s3, const std::string& bucket) {
  std::vector<Unit> units;
  auto add = [&](std::string prefix, bool root_only) {
    Unit unit;
    unit.bucket = bucket;
    unit.prefixes.push_back(std::move(prefix));
    unit.root_only = root_only;
    units.push_back(std::move(unit));
  };
  std::string level;
  std::vector<std::string> partitions = children(s3, bucket, {level}, 1)[0];
  add(level, true);
  for (int depth = 0; depth < 2 && partitions.size() == 1; ++depth) {
    level = partitions[0];
    add(level, true);
    partitions = children(s3, bucket, {level}, 1)[0];
  }
  for (auto& partition : partitions) add(std::move(partition), false);
  return units;
}

struct Totals {
  // Files modified after this are still being written to or are yet to be delivered; fixed once
  // for a run, so every unit and every continuation draws the same line.
  std::chrono::system_clock::time_point newest_allowed;
  std::int64_t files = 0;
  std::int64_t bytes = 0;
  std::int64_t skipped_recent = 0;
};

// The group a listed object belongs to: its Control Tower unit's, or its folder's.
Group group_of(const Unit& unit, const std::string& key, const Date& date) {
  Group group;
  group.kind = unit.kind;
  group.source_bucket = unit.bucket;
  group.date = date.iso();
  if (unit.kind == GroupKind::kControlTower) {
    group.account = unit.account;
    group.log_type = unit.log_type;
    group.region = unit.region;
    group.group_id = unit.bucket + "/" + unit.account + "/" + unit.log_type + "/" + unit.region;
  } else {
    const auto slash = key.rfind('/');
    group.directory = slash == std::string::npos ? "" : key.substr(0, slash + 1);
    group.group_id = unit.bucket + "/" + group.directory;
  }
  return group;
}

// Whether a listed version is one to combine: a file (not a folder marker), not one of our own
// outputs, of the day (other buckets), and past the delay window (else counted as recent).
bool wanted(const Config& config, const Unit& unit, const common::S3Object& object,
            const Date& date, Totals& totals) {
  if (object.key.ends_with('/')) return false;
  if (unit.bucket == config.destination_bucket && !config.destination_prefix.empty() &&
      object.key.starts_with(config.destination_prefix)) {
    return false;  // our own outputs
  }
  if (unit.kind == GroupKind::kOther && !common::key_has_date(object.key, date)) return false;
  const auto modified = common::parse_s3_time(object.last_modified);
  if (modified && *modified > totals.newest_allowed) {
    ++totals.skipped_recent;
    return false;
  }
  return true;
}

// Filters a unit's objects and splits them into groups, each with its file list's lines (the
// bytes counted in the group's reference).
using ListedGroups = std::map<std::string, std::pair<Group, std::vector<json::object>>>;
ListedGroups groups_of(const Config& config, const Unit& unit,
                       std::vector<common::S3Object>& objects, const Date& date, Totals& totals) {
  ListedGroups by_group;
  // S3 lists each key's versions newest first: each key's versions go oldest first, so a key's
  // contents follow one another in the output as they were written.
  std::reverse(objects.begin(), objects.end());
  std::stable_sort(
      objects.begin(), objects.end(),
      [](const common::S3Object& a, const common::S3Object& b) { return a.key < b.key; });
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& object : objects) {
    if (!seen.insert({object.key, object.version_id}).second) continue;
    if (!wanted(config, unit, object, date, totals)) continue;
    Group group = group_of(unit, object.key, date);
    auto& [listed_group, lines] = by_group[group.group_id];
    if (lines.empty()) listed_group = std::move(group);
    listed_group.files.bytes += static_cast<std::int64_t>(object.size);
    lines.push_back(json::value_from(pipeline::FileEntry{object.key, object.size, object.etag,
                                                         object.last_modified, object.version_id})
                        .as_object());
  }
  return by_group;
}

// One unit's part of a round: its groups with their file lists written, and what it skipped.
struct UnitListed {
  std::vector<Group> groups;
  std::int64_t skipped_recent = 0;
  std::exception_ptr error;
};

// A unit as one chain of requests on the HTTP engine's thread: its prefixes listed (every version
// but delete markers, with its version id: a version superseded during the day is an original of
// its own, combined pinned to its version like the current one, never deleted unseen), then its
// groups' file lists written. Chained, a round keeps every connection busy until its last unit;
// listed all, then written all, it waited twice for its slowest request. The groups are formed on
// the engine's thread: a unit is one account, type, region and day, or one folder of another
// bucket, and sorting its keys takes far less than listing them.
class UnitListing : public std::enable_shared_from_this<UnitListing> {
 public:
  UnitListing(const Config& config, common::S3Client& s3, const Unit& unit, const Date& date,
              const std::string& run_id, std::chrono::system_clock::time_point newest_allowed,
              std::function<void(UnitListed&&)> done)
      : config_(config),
        s3_(s3),
        unit_(unit),
        date_(date),
        run_id_(run_id),
        newest_allowed_(newest_allowed),
        done_(std::move(done)) {}

  // Every prefix at once (a day's padded and unpadded folders): the chain is as long as one.
  void start() {
    pending_ = unit_.prefixes.size();
    if (pending_ == 0) return write();
    for (const auto& prefix : unit_.prefixes) list(prefix);
  }

 private:
  void list(const std::string& prefix) {
    common::VersionListOptions options;
    options.prefix = prefix;
    if (unit_.root_only) options.delimiter = "/";
    auto self = shared_from_this();
    s3_.list_versions_async(
        unit_.bucket, options,
        [self](common::VersionPage& page) {
          for (auto& version : page.versions) {
            if (!version.delete_marker) self->objects_.push_back(std::move(version));
          }
          return true;
        },
        [self](std::exception_ptr error) {
          if (error && !self->error_) self->error_ = error;
          if (--self->pending_ > 0) return;
          if (self->error_) return self->finish(self->error_);
          self->write();
        });
  }

  void write() {
    std::vector<pipeline::JsonlFile> files;
    try {
      Totals counted;
      counted.newest_allowed = newest_allowed_;
      for (auto& [group_id, listed] : groups_of(config_, unit_, objects_, date_, counted)) {
        auto& [group, lines] = listed;
        files.push_back({pipeline::group_file_key(run_id_, "files", group_id, "jsonl"),
                         std::move(lines), group.files.bytes});
        result_.groups.push_back(std::move(group));
      }
      result_.skipped_recent = counted.skipped_recent;
      objects_ = {};
    } catch (...) {
      return finish(std::current_exception());
    }
    auto self = shared_from_this();
    pipeline::write_jsonl_files_async(
        s3_, config_.work_bucket, std::move(files),
        [self](std::vector<FileRef>&& written, std::exception_ptr error) {
          for (std::size_t i = 0; i < written.size(); ++i)
            self->result_.groups[i].files = written[i];
          self->finish(error);
        });
  }

  void finish(std::exception_ptr error) {
    result_.error = error;
    done_(std::move(result_));
  }

  const Config& config_;
  common::S3Client& s3_;
  const Unit& unit_;
  const Date& date_;
  const std::string& run_id_;
  std::chrono::system_clock::time_point newest_allowed_;
  std::function<void(UnitListed&&)> done_;
  std::vector<common::S3Object> objects_;
  std::size_t pending_ = 0;  // listings not yet ended; their callbacks share the engine's thread
  std::exception_ptr error_;
  UnitListed result_;
};

// A round of units, at most LIST_CONCURRENCY at once: their groups in the units' order, counted
// into `totals`. The first failure is thrown once every unit has ended.
std::vector<Group> list_round(const Config& config, common::S3Client& s3,
                              const std::vector<Unit>& units, const Date& date,
                              const std::string& run_id, Totals& totals) {
  auto listed = common::run_bounded_ordered<UnitListed>(
      units.size(), config.list_concurrency,
      [&](std::size_t index, std::function<void(UnitListed &&)> done) {
        std::make_shared<UnitListing>(config, s3, units[index], date, run_id, totals.newest_allowed,
                                      std::move(done))
            ->start();
      });
  std::vector<Group> groups;
  for (auto& unit : listed) {
    if (unit.error) std::rethrow_exception(unit.error);
    totals.skipped_recent += unit.skipped_recent;
    for (auto& group : unit.groups) {
      totals.files += group.files.count;
      totals.bytes += group.files.bytes;
      groups.push_back(std::move(group));
    }
  }
  return groups;
}

Date date_of(const json::object& event) {
  if (const auto* date = event.if_contains("date")) {
    if (!date->is_string()) throw runtime::InvalidInput("\"date\" must be a string YYYY-MM-DD");
    const auto parsed = Date::parse(date->get_string());
    if (!parsed) {
      throw runtime::InvalidInput("\"date\" must be a real day written YYYY-MM-DD, not '" +
                                  std::string(date->get_string()) + "'");
    }
    return *parsed;
  }
  if (const auto* time = event.if_contains("time")) {
    const auto day = time->is_string() ? Date::from_time(time->get_string()) : std::nullopt;
    if (!day)
      throw runtime::InvalidInput("\"time\" must be an RFC 3339 time such as 2026-11-23T01:00:00Z");
    return day->previous();  // a schedule at 01:00 aggregates the day that just ended
  }
  throw runtime::InvalidInput("give {\"date\": \"YYYY-MM-DD\"} or a scheduled event's \"time\"");
}

// "buckets" of the event: some of the configured buckets (all when absent).
std::vector<std::string> wanted_buckets(const Config& config, const json::object& event) {
  std::vector<std::string> wanted;
  const auto* buckets = event.if_contains("buckets");
  if (buckets == nullptr) return wanted;
  if (!buckets->is_array() || buckets->get_array().empty())
    throw runtime::InvalidInput("\"buckets\" must be a non-empty list of bucket names");
  for (const auto& bucket : buckets->get_array()) {
    if (!bucket.is_string())
      throw runtime::InvalidInput("\"buckets\" must be a list of bucket names");
    wanted.push_back(bucket_name(std::string(bucket.get_string())));
  }
  for (const auto& bucket : wanted) {
    if (bucket != config.control_tower_bucket &&
        std::find(config.other_buckets.begin(), config.other_buckets.end(), bucket) ==
            config.other_buckets.end()) {
      throw runtime::InvalidInput("bucket '" + bucket + "' is not one this stack aggregates");
    }
  }
  return wanted;
}

// The state machine passes its execution's start, so a retried or continued listing draws the
// delay-window line where the first one did; a manual invoke starts now.
std::chrono::system_clock::time_point run_start(const json::object& event) {
  const auto* started_at = event.if_contains("started_at");
  if (started_at == nullptr) return std::chrono::system_clock::now();
  const auto parsed =
      started_at->is_string() ? common::parse_s3_time(started_at->get_string()) : std::nullopt;
  if (!parsed) {
    throw runtime::InvalidInput(
        "\"started_at\" must be an RFC 3339 time such as 2026-03-05T00:10:00Z");
  }
  return *parsed;
}

Date range_end(const json::object& event, const char* name) {
  const auto* value = event.if_contains(name);
  const auto parsed = value && value->is_string() ? Date::parse(value->get_string()) : std::nullopt;
  if (!parsed)
    throw runtime::InvalidInput(std::string("\"") + name +
                                "\" must be a real day written YYYY-MM-DD");
  return *parsed;
}

// {"start_date", "end_date", "buckets"?}: the days of a backfill in order, and the buckets each
// day's aggregate_daily run is to list (all configured ones when not given).
json::value days_of_range(const Config& config, const json::object& event) {
  const Date start = range_end(event, "start_date");
  const Date end = range_end(event, "end_date");
  const Date today = Date::from_time_point(std::chrono::system_clock::now());
  if (end < start) throw runtime::InvalidInput("\"end_date\" is before \"start_date\"");
  if (today < end) throw runtime::InvalidInput("\"end_date\" is in the future");
  std::vector<std::string> buckets = wanted_buckets(config, event);
  if (buckets.empty()) {
    if (!config.control_tower_bucket.empty()) buckets.push_back(config.control_tower_bucket);
    buckets.insert(buckets.end(), config.other_buckets.begin(), config.other_buckets.end());
  }
  if (buckets.empty()) throw runtime::ConfigurationError("this stack aggregates no bucket");
  json::array days;
  for (Date day = start; !(end < day); day = day.next()) {
    if (days.size() == kMaxHistoryDays) {
      throw runtime::InvalidInput("at most " + std::to_string(kMaxHistoryDays) +
                                  " days at a time; split the range");
    }
    days.push_back(json::string(day.iso()));
  }
  runtime::log::info("backfill days", "start", start.iso(), "end", end.iso(), "days", days.size());
  return json::object{{"day_count", days.size()},
                      {"days", std::move(days)},
                      {"buckets", json::array(buckets.begin(), buckets.end())}};
}

// What a call lists from: the units, how many are done, the groups written so far.
struct Listing {
  std::vector<Unit> units;
  FileRef units_file;
  std::size_t next = 0;
  std::vector<Group> groups;
  Totals totals;
};

Listing resume_listing(common::S3Client& s3, const pipeline::ListingContinuation& state) {
  Listing listing;
  listing.totals.newest_allowed = *common::parse_s3_time(state.newest_allowed);
  listing.totals.skipped_recent = static_cast<std::int64_t>(state.skipped_recent);
  listing.units_file = state.units;
  for (const auto& unit : pipeline::read_json_array(s3, state.units))
    listing.units.push_back(pipeline::read_record<Unit>(unit));
  listing.next = static_cast<std::size_t>(state.next);
  for (const auto& group : pipeline::read_jsonl(s3, state.groups)) {
    listing.groups.push_back(pipeline::read_record<Group>(group));
    listing.totals.files += listing.groups.back().files.count;
    listing.totals.bytes += listing.groups.back().files.bytes;
  }
  return listing;
}

// A first call: the delay-window line, and the units to list.
Listing start_listing(const Config& config, common::S3Client& s3, const json::object& input,
                      const Date& date) {
  Listing listing;
  listing.totals.newest_allowed = run_start(input) - config.delay_window;
  const std::vector<std::string> wanted = wanted_buckets(config, input);
  auto included = [&](const std::string& bucket) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), bucket) != wanted.end();
  };
  if (!config.control_tower_bucket.empty() && included(config.control_tower_bucket))
    listing.units = control_tower_units(config, s3, date);
  for (const auto& bucket : config.other_buckets) {
    if (!included(bucket)) continue;
    for (auto& unit : other_bucket_units(s3, bucket)) listing.units.push_back(std::move(unit));
  }
  runtime::log::info("discovered listing units", "date", date.iso(), "units", listing.units.size());
  return listing;
}

// The units are written down for the continuations only when there will be one: a day listed in
// one invocation waits for one PUT less.
json::object hand_over(const Config& config, common::S3Client& s3, const json::object& input,
                       Listing& listing, const std::string& run_id) {
  if (listing.units_file.key.empty()) {
    json::array unit_items;
    for (const auto& unit : listing.units) unit_items.push_back(json::value_from(unit));
    listing.units_file = pipeline::write_json_array(
        s3, config.work_bucket, pipeline::run_file_key(run_id, "units.json"), unit_items, 0);
  }
  std::vector<json::object> lines;
  for (const auto& group : listing.groups) lines.push_back(json::value_from(group).as_object());
  const FileRef partial = pipeline::write_jsonl(
      s3, config.work_bucket,
      pipeline::checkpoint_key(run_id, "groups-partial", "listing", listing.next, "jsonl"), lines,
      listing.totals.bytes);
  runtime::log::info("continuing in the next invocation", "units_done", listing.next, "units",
                     listing.units.size());
  json::object event = input;
  event["run_id"] = run_id;
  return pipeline::continue_with(
      event,
      pipeline::ListingContinuation{listing.units_file, listing.next, partial,
                                    runtime::format_rfc3339_ms(listing.totals.newest_allowed),
                                    static_cast<std::uint64_t>(listing.totals.skipped_recent)});
}

bool is_short(const Config& config, const Group& group) {
  return static_cast<std::uint64_t>(group.files.count) <= config.short_group_max_files &&
         static_cast<std::uint64_t>(group.files.bytes) <= config.short_group_max_bytes;
}

// Every group, and the same groups parted into short and long, written side by side.
std::vector<FileRef> write_groups(const Config& config, common::S3Client& s3,
                                  const std::vector<Group>& groups, const std::string& run_id) {
  std::vector<pipeline::JsonArrayFile> files(3);
  files[0].key = pipeline::run_file_key(run_id, "groups.json");
  files[1].key = pipeline::run_file_key(run_id, "short-groups.json");
  files[2].key = pipeline::run_file_key(run_id, "long-groups.json");
  for (const auto& group : groups) {
    auto& part = files[is_short(config, group) ? 1 : 2];
    for (auto* file : {&files[0], &part}) {
      file->items.push_back(json::value_from(group));
      file->bytes += group.files.bytes;
    }
  }
  return pipeline::write_json_arrays(s3, config.work_bucket, std::move(files));
}

json::object finish_listing(const Config& config, common::S3Client& s3, const Listing& listing,
                            const Date& date, const std::string& run_id) {
  const Totals& totals = listing.totals;
  const std::vector<FileRef> written = write_groups(config, s3, listing.groups, run_id);
  runtime::metrics::add("FilesFound", runtime::metrics::Unit::Count,
                        static_cast<double>(totals.files));
  runtime::metrics::add("BytesFound", runtime::metrics::Unit::Bytes,
                        static_cast<double>(totals.bytes));
  runtime::log::info("files found", "date", date.iso(), "groups", listing.groups.size(),
                     "long_groups", written[2].count, "files", totals.files, "bytes", totals.bytes,
                     "skipped_recent", totals.skipped_recent);
  pipeline::ListingResult result{run_id, date.iso(), written[0], written[1], written[2]};
  result.group_count = listing.groups.size();
  result.file_count = static_cast<std::uint64_t>(totals.files);
  result.bytes = static_cast<std::uint64_t>(totals.bytes);
  result.skipped_recent = static_cast<std::uint64_t>(totals.skipped_recent);
  return json::value_from(result).as_object();
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.work_bucket = bucket_name(common::setting("WORK_BUCKET"));
  if (config.work_bucket.empty()) throw runtime::ConfigurationError("WORK_BUCKET is required");
  config.control_tower_bucket = bucket_name(common::setting("CONTROL_TOWER_BUCKET"));
  config.organization_id = common::trimmed(common::setting("ORGANIZATION_ID"));
  for (auto& bucket : common::list_setting("OTHER_BUCKETS"))
    config.other_buckets.push_back(bucket_name(bucket));
  config.regions = common::list_setting("AGGREGATION_REGIONS");
  config.delay_window = std::chrono::seconds(common::number_setting("DELAY_WINDOW_S", 60, 0));
  config.list_concurrency = static_cast<std::size_t>(
      std::max<std::uint64_t>(1, common::number_setting("LIST_CONCURRENCY", 32, 0)));
  config.destination_bucket = bucket_name(common::setting("DESTINATION_BUCKET"));
  config.destination_prefix = common::setting("DESTINATION_PREFIX", config.destination_prefix);
  config.combine_digests = common::flag_setting("COMBINE_CLOUDTRAIL_DIGESTS", false);
  config.short_group_max_files =
      common::number_setting("SHORT_GROUP_MAX_FILES", config.short_group_max_files, 0);
  config.short_group_max_bytes =
      common::number_setting("SHORT_GROUP_MAX_BYTES", config.short_group_max_bytes, 0);
  if (config.control_tower_bucket.empty() && config.other_buckets.empty()) {
    throw runtime::ConfigurationError(
        "set CONTROL_TOWER_BUCKET or OTHER_BUCKETS: nothing to aggregate");
  }
  return config;
}

json::value handle(const Config& config, common::S3Client& s3, const json::value& event,
                   const common::Deadline& deadline) {
  if (!event.is_object()) throw runtime::InvalidInput("the event must be a JSON object");
  const auto& input = event.get_object();
  if (input.contains("start_date") || input.contains("end_date")) {
    return days_of_range(config, input);
  }
  const Date date = date_of(input);
  const std::string run_id = pipeline::run_id_of(input);  // make_handler gives one
  const auto resumed = pipeline::continuation_of<pipeline::ListingContinuation>(input, "GetFiles");
  Listing listing = resumed ? resume_listing(s3, *resumed) : start_listing(config, s3, input, date);

  // Units listed between two looks at the deadline: enough to keep every connection busy past
  // the slowest chain of each round (a round waits for its last unit).
  const std::size_t units_per_round = 8 * config.list_concurrency;
  bool progressed = false;
  while (listing.next < listing.units.size()) {
    // At least one round per invocation, or a late start would hand back the same continuation
    // for ever.
    if (progressed && deadline.reached()) return hand_over(config, s3, input, listing, run_id);
    const std::size_t end = std::min(listing.units.size(), listing.next + units_per_round);
    std::vector<Unit> round(listing.units.begin() + static_cast<std::ptrdiff_t>(listing.next),
                            listing.units.begin() + static_cast<std::ptrdiff_t>(end));
    for (auto& group : list_round(config, s3, round, date, run_id, listing.totals))
      listing.groups.push_back(std::move(group));
    listing.next = end;
    progressed = true;
  }
  return finish_listing(config, s3, listing, date, run_id);
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext& context) {
    json::value prepared = event;
    // Without a run id from the state machine, the request id keeps manual runs apart.
    if (auto* object = prepared.if_object(); object && !object->contains("run_id")) {
      (*object)["run_id"] = "manual-" + context.request_id.substr(0, 8);
    }
    return handle(*config, *s3, prepared, common::Deadline(context));
  };
}

}  // namespace functions::get_files
