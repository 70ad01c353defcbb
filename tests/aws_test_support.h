#pragma once
// Helpers for tests that talk to the shared moto fixtures: client options pointed at moto, unique
// resource names (tests run in parallel against one server), and the aws CLI as an independent
// client for checking results.
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/aws_client.h"
#include "tests/test_support.h"

namespace tests {

struct MotoFixture {
  std::string endpoint;
  common::Credentials credentials;
};

// The moto started by the `moto` CTest fixture (or, with signatures=true, by `moto_auth`).
MotoFixture moto_fixture(bool signatures = false);

common::ClientOptions moto_options(const MotoFixture& moto,
                                   const std::string& endpoint_override = "");

// A name no other test uses: prefix-<pid>-<counter>-<random>, lower case.
std::string unique_name(const std::string& prefix);

// Creates the buckets with the aws CLI; false (and a message on stderr) if one fails.
bool create_buckets(const MotoFixture& moto, const std::vector<std::string>& buckets);

// Runs the aws CLI against `endpoint` with the fixture's credentials.
CommandResult aws_cli(const MotoFixture& moto, const std::string& arguments,
                      const std::string& endpoint = "");

struct Invocation {
  int exit_code = -1;
  boost::json::value response;  // null when the output was not JSON
  std::string logs;
};

// Runs one of our bootstraps (build/bin/<executable>) on `event` through lambda-local invoke,
// with moto as its AWS and `environment` as its configuration.
Invocation invoke_function(const MotoFixture& moto, const std::string& executable,
                           const boost::json::value& event,
                           const std::map<std::string, std::string>& environment);

}  // namespace tests
