#include "pipeline/continuation.h"

#include "common/dates.h"
#include "pipeline/record_fields.h"

namespace pipeline {

namespace json = boost::json;

void tag_invoke(const json::value_from_tag&, json::value& json, const ListingUnit& unit) {
  json::object& object = json.emplace_object();
  object["bucket"] = unit.bucket;
  object["prefixes"] = json::array(unit.prefixes.begin(), unit.prefixes.end());
  object["root_only"] = unit.root_only;
  object["kind"] = to_string(unit.kind);
  if (unit.kind == GroupKind::kControlTower) {
    object["account"] = unit.account;
    object["log_type"] = unit.log_type;
    object["region"] = unit.region;
  }
}
ListingUnit tag_invoke(const json::value_to_tag<ListingUnit>&, const json::value& json) {
  const RecordFields fields(json, "a listing unit");
  ListingUnit unit;
  unit.bucket = fields.text("bucket");
  unit.prefixes = fields.texts("prefixes");
  unit.root_only = fields.flag("root_only");
  unit.kind = fields.kind("kind");
  if (unit.kind == GroupKind::kControlTower) {
    unit.account = fields.text("account");
    unit.log_type = fields.text("log_type");
    unit.region = fields.text("region");
  }
  return unit;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const ListingContinuation& state) {
  json = {{"units", json::value_from(state.units)},
          {"next", state.next},
          {"groups", json::value_from(state.groups)},
          {"newest_allowed", state.newest_allowed},
          {"skipped_recent", state.skipped_recent}};
}
ListingContinuation tag_invoke(const json::value_to_tag<ListingContinuation>&,
                               const json::value& json) {
  const RecordFields fields(json, "GetFiles' continuation");
  ListingContinuation state{fields.record<FileRef>("units"), fields.count("next"),
                            fields.record<FileRef>("groups"), fields.text("newest_allowed"),
                            fields.count("skipped_recent")};
  if (!common::parse_s3_time(state.newest_allowed))
    fields.refuse("needs \"newest_allowed\" as an RFC 3339 time");
  return state;
}

void tag_invoke(const json::value_from_tag&, json::value& json, const CombineContinuation& state) {
  json = {{"progress", json::value_from(state.progress)}, {"sequence", state.sequence}};
}
CombineContinuation tag_invoke(const json::value_to_tag<CombineContinuation>&,
                               const json::value& json) {
  const RecordFields fields(json, "CombineLogFiles' continuation");
  return CombineContinuation{fields.record<FileRef>("progress"), fields.count("sequence")};
}

void tag_invoke(const json::value_from_tag&, json::value& json, const DeleteContinuation& state) {
  json::object& object = json.emplace_object();
  object["next"] = state.next;
  object["deleted"] = state.deleted;
  object["kept_changed"] = state.kept_changed;
  object["failed"] = state.failed;
  if (state.failed_keys) object["failed_keys"] = json::value_from(*state.failed_keys);
}
DeleteContinuation tag_invoke(const json::value_to_tag<DeleteContinuation>&,
                              const json::value& json) {
  const RecordFields fields(json, "DeleteOriginals' continuation");
  DeleteContinuation state{fields.count("next"), fields.count("deleted"),
                           fields.count("kept_changed"), fields.count("failed"), std::nullopt};
  if (fields.object().contains("failed_keys"))
    state.failed_keys = fields.record<FileRef>("failed_keys");
  return state;
}

}  // namespace pipeline
