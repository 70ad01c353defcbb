#pragma once
// A function's handler run in the test's own process, as its main() would run it: its settings
// from the environment (moto's endpoint and keys, then `environment`), make_handler(), one
// invocation, the metrics flushed; stdout and stderr captured as the invocation's logs, an
// exception reported as Lambda reports it. Same answer as tests::invoke_function, without a
// process: for what only a process shows (a kill, a timeout, start-up), use that one.
#include <boost/json/value.hpp>
#include <map>
#include <string>

#include "tests/aws_test_support.h"

namespace tests {

// `function`: GetFiles, DetermineOperationType, CombineLogFiles, DeleteOriginals,
// CrawlerTrigger or ManifestBuilder.
Invocation invoke_handler(const MotoFixture& moto, const std::string& function,
                          const boost::json::value& event,
                          const std::map<std::string, std::string>& environment);

}  // namespace tests
