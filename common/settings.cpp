#include "common/settings.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/s3.h"
#include "runtime/errors.h"

namespace common {

std::string setting(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : fallback;
}

std::string required_setting(const char* name) {
  std::string value = setting(name);
  if (value.empty()) throw runtime::ConfigurationError(std::string(name) + " is required");
  return value;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

std::vector<std::string> list_setting(const char* name) {
  const std::string text = setting(name);
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = trimmed(std::string_view(text).substr(start, comma - start));
    if (!item.empty()) items.push_back(std::move(item));
    start = comma + 1;
  }
  return items;
}

namespace {

std::optional<std::uint64_t> whole_number_text(const std::string& text, std::uint64_t minimum) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < minimum)
    return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::uint64_t> lenient_number(const char* name, std::uint64_t minimum) {
  return whole_number_text(setting(name), minimum);
}

std::uint64_t number_setting(const char* name, std::uint64_t fallback, std::uint64_t minimum) {
  const std::string text = setting(name);
  if (text.empty()) return fallback;
  const auto value = whole_number_text(text, minimum);
  if (!value) {
    throw runtime::ConfigurationError(std::string(name) + " must be a whole number of at least " +
                                      std::to_string(minimum) + ", not '" + text + "'");
  }
  return *value;
}

bool flag_setting(const char* name, bool fallback) {
  std::string text = trimmed(setting(name));
  if (text.empty()) return fallback;
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true") return true;
  if (text == "false") return false;
  throw runtime::ConfigurationError(std::string(name) + " must be true or false, not '" +
                                    setting(name) + "'");
}

std::optional<S3Location> parse_s3_location(std::string_view text) {
  if (text.starts_with("s3://")) text.remove_prefix(5);
  const auto slash = text.find('/');
  S3Location location{std::string(text.substr(0, slash)),
                      slash == std::string_view::npos ? "" : std::string(text.substr(slash + 1))};
  if (!valid_bucket_name(location.bucket)) return std::nullopt;
  return location;
}

std::vector<S3Location> location_list_setting(const char* name) {
  std::vector<S3Location> locations;
  for (const auto& item : list_setting(name)) {
    auto location = parse_s3_location(item);
    if (!location) {
      throw runtime::ConfigurationError(
          std::string(name) + ": '" + item +
          "' does not name a bucket S3 allows (write s3://bucket/prefix,"
          " bucket/prefix or bucket)");
    }
    locations.push_back(std::move(*location));
  }
  return locations;
}

}  // namespace common
