#pragma once
// How the pipeline's records (records.h, continuation.h) read their fields: each as its type, or
// InvalidInput naming the record and the field. For the conversions only.
#include <algorithm>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/dates.h"
#include "pipeline/records.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace pipeline {

// The fields of one record, each read as its type or refused as InvalidInput naming the record.
class RecordFields {
 public:
  RecordFields(const boost::json::value& json, std::string record) : record_(std::move(record)) {
    object_ = json.if_object();
    if (object_ == nullptr) refuse("must be a JSON object");
  }
  RecordFields(const boost::json::object& object, std::string record)
      : object_(&object), record_(std::move(record)) {}
  // It keeps a pointer to what it reads: never to a temporary.
  RecordFields(boost::json::value&&, std::string) = delete;
  RecordFields(boost::json::object&&, std::string) = delete;

  bool has(std::string_view name) const { return object_->contains(name); }
  // A required string; empty only when `may_be_empty`.
  std::string text(std::string_view name, bool may_be_empty = false) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr || !value->is_string() || (!may_be_empty && value->get_string().empty()))
      refuse("needs a " + std::string(may_be_empty ? "" : "non-empty ") + "string \"" +
             std::string(name) + "\"");
    return std::string(value->get_string());
  }
  std::string optional_text(std::string_view name) const {
    return object_->contains(name) ? text(name, true) : std::string();
  }
  std::uint64_t count(std::string_view name) const {
    const boost::json::value* value = object_->if_contains(name);
    const auto number = value != nullptr ? whole_number(*value) : std::nullopt;
    if (!number) refuse("needs \"" + std::string(name) + "\" (a whole number, at least 0)");
    return *number;
  }
  std::optional<std::uint64_t> optional_count(std::string_view name) const {
    if (!object_->contains(name)) return std::nullopt;
    return count(name);
  }
  bool flag(std::string_view name) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr) return false;
    if (!value->is_bool()) refuse("has a \"" + std::string(name) + "\" that is not true or false");
    return value->get_bool();
  }
  std::string date(std::string_view name) const {
    std::string day = text(name);
    if (!common::Date::parse(day))
      refuse("needs \"" + std::string(name) + "\" as a real day written YYYY-MM-DD");
    return day;
  }
  // A time in UTC to the second: 2026-11-16T00:00:00Z, no offset guessed, no fraction.
  std::chrono::sys_seconds utc_seconds(std::string_view name) const {
    const std::string value = text(name);
    const auto time = common::parse_s3_time(value);
    if (!time || value.size() != 20 || !value.ends_with('Z'))
      refuse("needs \"" + std::string(name) +
             "\" as a UTC time to the second such as 2026-11-16T00:00:00Z, not '" + value + "'");
    return std::chrono::floor<std::chrono::seconds>(*time);
  }
  // A text of at most `max_length` bytes matching `pattern` (std::regex, whole), described by
  // `what` when it does not. The length is checked first: std::regex recurses per character.
  std::string matching(std::string_view name, const std::string& pattern, const std::string& what,
                       std::size_t max_length = 2048) const {
    std::string value = text(name);
    if (value.size() > max_length)
      refuse("has a \"" + std::string(name) + "\" longer than " + std::to_string(max_length) +
             " characters");
    if (!std::regex_match(value, std::regex(pattern)))
      refuse("has a \"" + std::string(name) + "\" '" + value + "' that is not " + what);
    return value;
  }
  // Refuses any field not in `known`: a misspelt one would otherwise be silently ignored.
  void only(std::initializer_list<std::string_view> known) const {
    for (const auto& [name, value] : *object_) {
      if (std::find(known.begin(), known.end(), std::string_view(name)) == known.end())
        refuse("has an unknown field \"" + std::string(name) + "\"");
    }
  }
  template <typename T>
  T record(std::string_view name) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr) refuse("needs \"" + std::string(name) + "\"");
    return boost::json::value_to<T>(*value);
  }
  // A list of records; absent is empty only when `optional`.
  template <typename T>
  std::vector<T> list(std::string_view name, bool optional = false) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr && optional) return {};
    if (value == nullptr || !value->is_array())
      refuse("needs \"" + std::string(name) + "\" as a list");
    std::vector<T> items;
    items.reserve(value->get_array().size());
    for (const auto& item : value->get_array()) items.push_back(boost::json::value_to<T>(item));
    return items;
  }
  // A required object, read the same way.
  RecordFields member(std::string_view name) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr || !value->is_object())
      refuse("needs \"" + std::string(name) + "\" as an object");
    return RecordFields(value->get_object(), record_ + "'s \"" + std::string(name) + "\"");
  }
  // "kind": control_tower or other.
  GroupKind kind(std::string_view name) const {
    const std::string text = this->text(name);
    if (text == "control_tower") return GroupKind::kControlTower;
    if (text != "other")
      refuse("needs \"" + std::string(name) + "\" control_tower or other, not '" + text + "'");
    return GroupKind::kOther;
  }
  // A list of whole numbers; absent is empty.
  std::vector<std::uint64_t> counts(std::string_view name) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr) return {};
    if (!value->is_array()) refuse("needs \"" + std::string(name) + "\" as a list");
    std::vector<std::uint64_t> items;
    for (const auto& item : value->get_array()) {
      const auto number = whole_number(item);
      if (!number) refuse("needs \"" + std::string(name) + "\" as a list of whole numbers");
      items.push_back(*number);
    }
    return items;
  }
  // A list of strings (may be empty); absent is empty only when `optional`.
  std::vector<std::string> texts(std::string_view name, bool optional = false) const {
    const boost::json::value* value = object_->if_contains(name);
    if (value == nullptr && optional) return {};
    if (value == nullptr || !value->is_array())
      refuse("needs \"" + std::string(name) + "\" as a list");
    std::vector<std::string> items;
    for (const auto& item : value->get_array()) {
      if (!item.is_string()) refuse("needs \"" + std::string(name) + "\" as a list of strings");
      items.emplace_back(item.get_string());
    }
    return items;
  }
  const boost::json::object& object() const { return *object_; }

  [[noreturn]] void refuse(const std::string& why) const {
    throw runtime::InvalidInput(record_ + " " + why);
  }

 private:
  const boost::json::object* object_ = nullptr;
  std::string record_;
};

}  // namespace pipeline
