#include "common/settings.h"

#include <cctype>
#include <cstdlib>

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

std::vector<std::string> list_setting(const char* name) {
  const std::string text = setting(name);
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::size_t first = start;
    std::size_t last = comma;
    while (first < last && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
    while (last > first && std::isspace(static_cast<unsigned char>(text[last - 1]))) --last;
    if (last > first) items.push_back(text.substr(first, last - first));
    start = comma + 1;
  }
  return items;
}

std::uint64_t number_setting(const char* name, std::uint64_t fallback, std::uint64_t minimum) {
  const std::string text = setting(name);
  if (text.empty()) return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || text.front() == '-' || value < minimum) {
    throw runtime::ConfigurationError(std::string(name) + " must be a whole number of at least " +
                                      std::to_string(minimum) + ", not '" + text + "'");
  }
  return value;
}

}  // namespace common
