#include "functions/get_files/handler.h"

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

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

// The sub-folders of each prefix (delimiter "/"), listed in parallel, every page.
std::vector<std::vector<std::string>> children(common::S3Client& s3, const std::string& bucket,
                                               const std::vector<std::string>& prefixes,
                                               std::size_t concurrency) {
  std::vector<common::ListOptions> listings;
  for (const auto& prefix : prefixes) {
    common::ListOptions options;
    options.prefix = prefix;
    options.delimiter = "/";
    listings.push_back(options);
  }
  std::vector<std::vector<std::string>> result;
  for (auto& page : s3.list_many(bucket, listings, concurrency))
    result.push_back(std::move(page.common_prefixes));
  return result;
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
  std::vector<std::string> types;
  for (const auto& list : children(s3, bucket, accounts, config.list_concurrency)) {
    for (const auto& prefix : list) {
      if (aggregated_type(config, last_segment(prefix))) types.push_back(prefix);
    }
  }
  const auto regions = children(s3, bucket, types, config.list_concurrency);
  char padded[16], unpadded[16];
  std::snprintf(padded, sizeof padded, "%04d/%02d/%02d/", date.year, date.month, date.day);
  std::snprintf(unpadded, sizeof unpadded, "%04d/%d/%d/", date.year, date.month, date.day);
  std::vector<Unit> units;
  for (std::size_t t = 0; t < types.size(); ++t) {
    const std::string type = last_segment(types[t]);
    const std::string account = last_segment(types[t].substr(0, types[t].size() - type.size() - 1));
    for (const auto& region_prefix : regions[t]) {
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

// Lists every prefix of every unit: every version but delete markers, with its version id. A
// version superseded during the day is an original of its own: it is combined (pinned to its
// version) like the current one, never deleted unseen.
std::vector<std::vector<common::S3Object>> list_units(const Config& config, common::S3Client& s3,
                                                      const std::vector<Unit>& units) {
  std::vector<std::size_t> unit_of;
  std::vector<common::VersionListOptions> listings;
  for (std::size_t u = 0; u < units.size(); ++u) {
    for (const auto& prefix : units[u].prefixes) {
      common::VersionListOptions options;
      options.prefix = prefix;
      if (units[u].root_only) options.delimiter = "/";
      listings.push_back(options);
      unit_of.push_back(u);
    }
  }
  std::vector<std::vector<common::S3Object>> objects(units.size());
  // One bucket per list_versions_many: the listings go out grouped by bucket.
  std::map<std::string, std::vector<std::size_t>> by_bucket;
  for (std::size_t i = 0; i < listings.size(); ++i)
    by_bucket[units[unit_of[i]].bucket].push_back(i);
  for (const auto& [bucket, indexes] : by_bucket) {
    std::vector<common::VersionListOptions> bucket_listings;
    for (auto i : indexes) bucket_listings.push_back(listings[i]);
    auto pages = s3.list_versions_many(
        bucket, bucket_listings, config.list_concurrency,
        [](const common::S3Object& version) { return !version.delete_marker; });
    for (std::size_t j = 0; j < indexes.size(); ++j) {
      auto& into = objects[unit_of[indexes[j]]];
      for (auto& version : pages[j].versions) into.push_back(std::move(version));
    }
  }
  return objects;
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

// The groups of a round of units, their file lists written side by side (a day has thousands of
// groups: one PUT after another would take longer than all the listing).
std::vector<Group> write_groups(const Config& config, common::S3Client& s3,
                                const std::vector<Unit>& units,
                                std::vector<std::vector<common::S3Object>>& listings,
                                const Date& date, const std::string& run_id, Totals& totals) {
  std::vector<Group> groups;
  std::vector<pipeline::JsonlFile> files;
  for (std::size_t i = 0; i < units.size(); ++i) {
    for (auto& [group_id, listed] : groups_of(config, units[i], listings[i], date, totals)) {
      auto& [group, lines] = listed;
      files.push_back({pipeline::group_file_key(run_id, "files", group_id, "jsonl"),
                       std::move(lines), group.files.bytes});
      groups.push_back(std::move(group));
    }
  }
  const auto written = pipeline::write_jsonl_files(s3, config.work_bucket, std::move(files),
                                                   config.list_concurrency);
  for (std::size_t i = 0; i < groups.size(); ++i) {
    groups[i].files = written[i];
    totals.files += written[i].count;
    totals.bytes += written[i].bytes;
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

json::array groups_json(const std::vector<Group>& groups) {
  json::array items;
  for (const auto& group : groups) items.push_back(json::value_from(group));
  return items;
}

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

// A first call: the delay-window line, and the units to list, written down for continuations.
Listing start_listing(const Config& config, common::S3Client& s3, const json::object& input,
                      const Date& date, const std::string& run_id) {
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
  json::array unit_items;
  for (const auto& unit : listing.units) unit_items.push_back(json::value_from(unit));
  listing.units_file = pipeline::write_json_array(
      s3, config.work_bucket, pipeline::run_file_key(run_id, "units.json"), unit_items, 0);
  runtime::log::info("discovered listing units", "date", date.iso(), "units", listing.units.size());
  return listing;
}

json::object hand_over(const Config& config, common::S3Client& s3, const json::object& input,
                       const Listing& listing, const std::string& run_id) {
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

json::object finish_listing(const Config& config, common::S3Client& s3, const Listing& listing,
                            const Date& date, const std::string& run_id) {
  const Totals& totals = listing.totals;
  const FileRef groups_file = pipeline::write_json_array(
      s3, config.work_bucket, pipeline::run_file_key(run_id, "groups.json"),
      groups_json(listing.groups), totals.bytes);
  runtime::metrics::add("FilesFound", runtime::metrics::Unit::Count,
                        static_cast<double>(totals.files));
  runtime::metrics::add("BytesFound", runtime::metrics::Unit::Bytes,
                        static_cast<double>(totals.bytes));
  runtime::log::info("files found", "date", date.iso(), "groups", listing.groups.size(), "files",
                     totals.files, "bytes", totals.bytes, "skipped_recent", totals.skipped_recent);
  return json::value_from(
             pipeline::ListingResult{run_id, date.iso(), groups_file, listing.groups.size(),
                                     static_cast<std::uint64_t>(totals.files),
                                     static_cast<std::uint64_t>(totals.bytes),
                                     static_cast<std::uint64_t>(totals.skipped_recent)})
      .as_object();
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
  Listing listing =
      resumed ? resume_listing(s3, *resumed) : start_listing(config, s3, input, date, run_id);

  // Units listed between two looks at the deadline: enough to keep every connection busy past
  // the slowest request of each wave (a round waits for its last listing and its last file list).
  const std::size_t units_per_round = 8 * config.list_concurrency;
  bool progressed = false;
  while (listing.next < listing.units.size()) {
    // At least one round per invocation, or a late start would hand back the same continuation
    // for ever.
    if (progressed && deadline.reached()) return hand_over(config, s3, input, listing, run_id);
    const std::size_t end = std::min(listing.units.size(), listing.next + units_per_round);
    std::vector<Unit> round(listing.units.begin() + static_cast<std::ptrdiff_t>(listing.next),
                            listing.units.begin() + static_cast<std::ptrdiff_t>(end));
    auto listings = list_units(config, s3, round);
    for (auto& group : write_groups(config, s3, round, listings, date, run_id, listing.totals))
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
