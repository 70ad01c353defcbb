#pragma once
// The Amplify export's configuration and plan: which apps, and the chunks of time each one's
// access logs are asked for in (GenerateAccessLogs answers one range at a time).
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/records.h"

namespace pipeline {

// A Step Functions state holds at most 256 KB; the plan is refused well before it.
inline constexpr std::size_t kMaxAmplifyPlanBytes = 200 * 1024;

// The apps of the configuration {"apps": [AmplifyApp, ...]} read from `source` (named in every
// error). InvalidInput for JSON that does not parse, an app that does not read (the app and the
// field named), no apps, two apps in one folder (appName) or one app and domain named twice.
std::vector<AmplifyApp> parse_amplify_apps(std::string_view text, const std::string& source);

// Every app's chunks of [from, to): `chunk` long from `from`, the last one shorter. InvalidInput
// for an empty window, or a plan that would not fit a state (export fewer days at once).
AmplifyPlan plan_amplify_export(const std::vector<AmplifyApp>& apps, std::chrono::sys_seconds from,
                                std::chrono::sys_seconds to, std::chrono::seconds chunk);

// The window a scheduled run exports: the `days` whole UTC days before the day of `scheduled`,
// so weekly runs export weeks that neither overlap nor leave a gap, whenever each one starts.
std::pair<std::chrono::sys_seconds, std::chrono::sys_seconds> scheduled_window(
    std::chrono::sys_seconds scheduled, int days);

}  // namespace pipeline
