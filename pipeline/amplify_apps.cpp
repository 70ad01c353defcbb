#include "pipeline/amplify_apps.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "pipeline/record_fields.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

std::vector<AmplifyApp> parse_amplify_apps(std::string_view text, const std::string& source) {
  boost::system::error_code error;
  const json::value document = json::parse(text, error);
  if (error) {
    throw runtime::InvalidInput("the Amplify apps in " + source + " are not JSON (" +
                                error.message() + ")");
  }
  std::vector<AmplifyApp> apps;
  try {
    const RecordFields fields(document, "the Amplify configuration");
    fields.only({"apps"});
    apps = fields.list<AmplifyApp>("apps");
  } catch (const runtime::InvalidInput& invalid) {
    throw runtime::InvalidInput("the Amplify apps in " + source + ": " + invalid.what());
  }
  if (apps.empty()) throw runtime::InvalidInput("the Amplify apps in " + source + " list no app");
  std::set<std::string> folders, sites;
  for (const auto& app : apps) {
    if (!folders.insert(app.app_name).second) {
      throw runtime::InvalidInput("the Amplify apps in " + source + " name two apps \"" +
                                  app.app_name + "\": each appName is a folder of its own");
    }
    if (!sites.insert(app.app_id + " " + app.domain_name).second) {
      throw runtime::InvalidInput("the Amplify apps in " + source + " list app " + app.app_id +
                                  " with domain " + app.domain_name +
                                  " twice: its logs would be exported twice");
    }
  }
  return apps;
}

AmplifyPlan plan_amplify_export(const std::vector<AmplifyApp>& apps, std::chrono::sys_seconds from,
                                std::chrono::sys_seconds to, std::chrono::seconds chunk) {
  if (from >= to) {
    throw runtime::InvalidInput("the Amplify export's \"from\" (" +
                                common::format_utc_seconds(from) + ") must be before its \"to\" (" +
                                common::format_utc_seconds(to) + ")");
  }
  std::vector<TimeRange> chunks;
  for (auto start = from; start < to; start += chunk)
    chunks.push_back({start, std::min(to, start + chunk)});
  AmplifyPlan plan{from, to, {}};
  for (const auto& app : apps) plan.apps.push_back({app, chunks});
  const auto bytes = json::serialize(json::value_from(plan)).size();
  if (bytes > kMaxAmplifyPlanBytes) {
    throw runtime::InvalidInput("the Amplify export of " + std::to_string(apps.size()) +
                                " apps in " + std::to_string(chunks.size()) +
                                " chunks each would be a plan of " + std::to_string(bytes / 1024) +
                                " KiB, more than a Step Functions state holds: export " +
                                "fewer days at once");
  }
  return plan;
}

std::pair<std::chrono::sys_seconds, std::chrono::sys_seconds> scheduled_window(
    std::chrono::sys_seconds scheduled, int days) {
  const std::chrono::sys_seconds to{std::chrono::floor<std::chrono::days>(scheduled)};
  return {to - std::chrono::days(days), to};
}

}  // namespace pipeline
