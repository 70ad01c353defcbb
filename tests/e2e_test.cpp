// The daily aggregation end to end: template.yaml brought up locally (moto + lambda-local), the
// real aggregate_daily definition executed by moto's Step Functions, results checked with the aws
// CLI and the system's gzip.
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/dates.h"
#include "common/gzip.h"
#include "common/json_services.h"
#include "common/s3.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr const char* kDay = "2026-03-05";
constexpr std::size_t kFilesADay = 3u * 2u * 8u;  // accounts × regions × (6 CloudTrail + 2 others)
constexpr std::size_t kLargeFiles = 3;            // 6, 9 and 12 MiB, in one group
constexpr std::size_t kOtherFilesADay = 9;        // in e2e-other
constexpr std::size_t kDigestsADay = 3u * 2u;     // one CloudTrail-Digest per account and region

// Digest files stay where CloudTrail wrote them (their signatures chain the trail's integrity).
bool is_digest(const std::string& key) {
  return key.find("/CloudTrail-Digest/") != std::string::npos;
}

bool is_today(const std::string& key) {
  return key.find("2026/03/05/") != std::string::npos ||
         key.find("2026/3/5/") != std::string::npos ||
         key.find("2026-03-05") != std::string::npos || key.find("2026-3-5") != std::string::npos ||
         key.find("20260305") != std::string::npos;
}

class DailyAggregation : public ::testing::Test {
 protected:
  void SetUp() override { start_stack(stack_arguments()); }

  // Extra tools/local-stack arguments for a variant of the run.
  virtual std::string stack_arguments() const { return ""; }
  // Long enough to cover seeding-to-listing when a run checks that recent files are left alone.
  virtual int delay_window_seconds() const { return 0; }

  // A fresh local stack (a new moto: nothing of an earlier one survives).
  void start_stack(const std::string& extra_arguments) {
    stack_.reset();
    stack_ = std::make_unique<tests::LocalStack>(
        "--parameter ControlTowerBucket=e2e-ct --parameter OrganizationId=o-e2etest001"
        " --parameter OtherBuckets=e2e-other --parameter DelayWindowSeconds=" +
        std::to_string(delay_window_seconds()) +
        " --parameter CrawlerMode=crawler --parameter CrawlerNames=e2e-crawler " + extra_arguments);
    info_ = stack_->info();
    moto_ = stack_->moto();
    s3_ = std::make_unique<common::S3Client>(tests::moto_options(moto_));
    destination_ = stack_->resource("DestinationBucket");
    work_ = stack_->resource("WorkBucket");
  }

  std::string start(const std::string& name, const std::string& input) {
    const std::string machine(
        info_.at("state_machines").at("AggregateDailyStateMachine").as_string());
    const auto started =
        tests::aws_cli(moto_, "stepfunctions start-execution --state-machine-arn " + machine +
                                  " --name " + name + " --input '" + input + "'");
    EXPECT_EQ(started.exit_code, 0) << started.err;
    return std::string(json::parse(started.out).at("executionArn").as_string());
  }

  json::object wait_for(const std::string& arn) { return stack_->wait_for(arn); }

  json::object run(const std::string& name, const std::string& input) {
    return wait_for(start(name, input));
  }

  // Every object of the bucket as the aws CLI downloads it, decompressed by the system's gzip.
  std::map<std::string, std::string> fetch_all(const std::string& bucket) {
    tests::TempDir dir;
    EXPECT_EQ(tests::aws_cli(moto_, "s3 sync --quiet s3://" + bucket + " " + dir.path().string())
                  .exit_code,
              0);
    std::map<std::string, std::string> texts;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      if (!entry.is_regular_file()) continue;
      const std::string key = entry.path().lexically_relative(dir.path()).string();
      texts[key] = tests::run_command((key.ends_with(".gz") ? "gzip -dc '" : "cat '") +
                                      entry.path().string() + "'")
                       .out;
    }
    return texts;
  }

  // The function's log (its log group, locally a file per function).
  std::string function_log(const std::string& logical_id) {
    return stack_->function_log(logical_id);
  }

  // How many times each group was handed on to a next invocation, from the function's log.
  std::map<std::string, int> continuations(const std::string& logical_id) {
    std::map<std::string, int> counts;
    std::istringstream lines(function_log(logical_id));
    for (std::string line; std::getline(lines, line);) {
      boost::system::error_code error;
      const json::value entry = json::parse(line, error);
      if (error || !entry.is_object()) continue;
      const auto* message = entry.as_object().if_contains("message");
      if (message && *message == "continuing in the next invocation")
        ++counts[std::string(entry.at("group").as_string())];
    }
    return counts;
  }

  void create_crawler() {
    ASSERT_EQ(tests::aws_cli(
                  moto_,
                  "glue create-crawler --name e2e-crawler --role arn:aws:iam::123456789012:role/g"
                  " --database-name local_gluedatabase --targets "
                  "'{\"S3Targets\":[{\"Path\":\"s3://x\"}]}'")
                  .exit_code,
              0);
  }

  // Seeds both buckets, runs the day and checks everything the daily aggregation promises.
  // Returns every output's text by key. `while_running` runs beside the execution.
  std::map<std::string, std::string> run_day_and_check(
      const std::string& execution_name, const std::function<void()>& while_running = {}) {
    std::map<std::string, std::string> outputs;
    const auto seeded = tests::run_command(
        tests::credentials_env(moto_) + tests::source_path("tools/seed-logs").string() +
        " --endpoint " + moto_.endpoint + " --bucket e2e-ct --organization o-e2etest001 --date " +
        kDay + " --files 6 --versioned --large " + std::to_string(kLargeFiles));
    EXPECT_EQ(seeded.exit_code, 0) << seeded.err;
    EXPECT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket e2e-other").exit_code, 0);
    std::map<std::string, std::string> other = {
        {"alb/2026-03-05/a.log", "alb line 1\nalb line 2\n"},
        {"app/2026-3-5/no-final-newline.log", "app line 1\napp line 2"},
        {"app/2026-3-5/not-really.gz", "plain text in a .gz name\n"},
        {"app/2026-3-5/real.json.gz", common::gzip("{\"Records\":[]}")},
        {"flow/20260305/x.log", "flow\n"},
        // Keys that must be encoded, or kept as they are, to be signed and found again.
        {"app/2026-03-05/with space+plus%25 and ünïcode.log", "encoded\n"},
        {"app/2026-03-05//double slash.log", "double slash\n"},
        {"app/2026-03-05/./dot.log", "dot\n"},
        {"app/2026-03-05/../up-2026-03-05.log", "dot dot\n"},
        {"alb/2026-03-04/yesterday.log", "not today\n"}};
    for (const auto& [key, body] : other) s3_->put_object("e2e-other", key, body);
    create_crawler();

    // The day's originals, as they were: what the outputs must hold.
    std::map<std::string, std::string> original_text;
    for (const std::string bucket : {"e2e-ct", "e2e-other"}) {
      for (const auto& object : s3_->list_all(bucket)) {
        if (!is_today(object.key)) continue;
        const std::string bytes = s3_->get_object(bucket, object.key);
        original_text[object.key] = common::is_gzip(bytes) ? common::gunzip(bytes) : bytes;
      }
    }
    EXPECT_EQ(original_text.size(), kFilesADay + kLargeFiles + kOtherFilesADay);
    if (original_text.size() != kFilesADay + kLargeFiles + kOtherFilesADay) return outputs;

    std::map<std::string, std::string> digests;
    for (auto it = original_text.begin(); it != original_text.end();) {
      if (!is_digest(it->first)) {
        ++it;
        continue;
      }
      digests.insert(*it);
      it = original_text.erase(it);
    }
    EXPECT_EQ(digests.size(), kDigestsADay);
    const std::string late_key = original_text.begin()->first;  // gets a version after listing

    // Past the delay window for all of the above; this one is inside it and must stay.
    const std::string recent_key = "app/2026-03-05/arrived-just-now.log";
    if (delay_window_seconds() > 0) {
      wait_until_listed_objects_are_older_than(std::chrono::seconds(delay_window_seconds()));
      if (HasFatalFailure()) return outputs;
      s3_->put_object("e2e-other", recent_key, "too recent\n");
    }

    const std::string arn = start(execution_name, std::string(R"({"date":")") + kDay + "\"}");
    std::thread beside;
    if (while_running) beside = std::thread(while_running);
    EXPECT_TRUE(tests::wait_until(
        [&] { return !s3_->list_all(work_, "work/" + execution_name + "/groups.json").empty(); },
        std::chrono::seconds(60)))
        << "no groups file: the late write below would not come after listing";
    s3_->put_object("e2e-ct", late_key, "written after listing\n");
    const auto execution = wait_for(arn);
    if (beside.joinable()) beside.join();
    EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
    if (execution.at("status").as_string() != "SUCCEEDED") return outputs;

    // Every output holds its sources' text in order, each starting on a line of its own.
    const auto downloaded = fetch_all(destination_);
    std::size_t combined = 0;
    for (const auto& receipt_object :
         s3_->list_all(work_, "work/" + execution_name + "/receipts/")) {
      const auto receipt = tests::receipt_with_indexes(*s3_, work_, receipt_object.key);
      for (const auto& output : receipt.at("outputs").as_array()) {
        const std::string key(output.at("key").as_string());
        std::string expected;
        for (const auto& source : output.at("sources").as_array()) {
          const auto original = original_text.find(std::string(source.at("key").as_string()));
          if (original == original_text.end()) {
            ADD_FAILURE() << "combined a file that is not one of the day's originals: "
                          << source.at("key").as_string();
            continue;
          }
          const std::string& text = original->second;
          expected += text;
          if (!text.empty() && text.back() != '\n') expected += "\n";
          ++combined;
        }
        outputs[key] = downloaded.contains(key) ? downloaded.at(key) : "(missing)";
        EXPECT_TRUE(outputs[key] == expected) << key << " differs from its sources";
      }
    }
    EXPECT_EQ(combined, original_text.size()) << "every file of the day is in exactly one output";
    EXPECT_EQ(downloaded.size(), outputs.size()) << "nothing in the destination but the outputs";

    // The day's originals are gone in every version but the one written after listing; the
    // other day and the file inside the delay window are untouched.
    for (const std::string bucket : {"e2e-ct", "e2e-other"}) {
      const auto listed = json::parse(
          tests::aws_cli(moto_, "s3api list-object-versions --output json --bucket " + bucket).out);
      std::size_t versions = 0;
      for (const auto& version : listed.at("Versions").as_array()) {
        const std::string key(version.at("Key").as_string());
        ++versions;
        if (key == late_key || key == recent_key) continue;
        if (is_digest(key) && is_today(key)) {
          EXPECT_EQ(common::gunzip(s3_->get_object(bucket, key)), digests[key])
              << "a digest is kept as CloudTrail wrote it: " << key;
          continue;
        }
        EXPECT_FALSE(is_today(key)) << bucket << "/" << key;
      }
      EXPECT_GT(versions, 0u) << "the aws CLI listed " << bucket;
    }
    EXPECT_EQ(s3_->get_object("e2e-ct", late_key), "written after listing\n");
    if (delay_window_seconds() > 0) {
      EXPECT_EQ(s3_->get_object("e2e-other", recent_key), "too recent\n");
    }
    EXPECT_EQ(s3_->get_object("e2e-other", "alb/2026-03-04/yesterday.log"), "not today\n");
    EXPECT_EQ(s3_->list_all("e2e-ct").size(), kFilesADay + 1 + kDigestsADay)
        << "the day before, late_key and the day's digests";
    EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u) << "no upload left open";
    EXPECT_EQ(
        tests::aws_cli(moto_, "glue get-crawler --name e2e-crawler --query Crawler.State").out,
        "\"RUNNING\"\n");
    return outputs;
  }

  // Waits for the condition the window tests, on S3's own LastModified, not for a fixed time: moto
  // and this test share the machine's clock, as the run's start and LastModified do on AWS.
  void wait_until_listed_objects_are_older_than(std::chrono::seconds window) {
    std::chrono::system_clock::time_point newest{};
    for (const std::string bucket : {"e2e-ct", "e2e-other"}) {
      for (const auto& object : s3_->list_all(bucket)) {
        const auto modified = common::parse_s3_time(object.last_modified);
        ASSERT_TRUE(modified.has_value()) << object.last_modified;
        newest = std::max(newest, *modified);
      }
    }
    // LastModified is whole seconds, floored: one more second covers what was cut.
    const auto old_enough = newest + window + std::chrono::seconds(1);
    const auto deadline = std::chrono::system_clock::now() + window + std::chrono::seconds(30);
    while (std::chrono::system_clock::now() < old_enough) {
      ASSERT_LT(std::chrono::system_clock::now(), deadline) << "the clock stood still";
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::unique_ptr<tests::LocalStack> stack_;
  json::object info_;
  tests::MotoFixture moto_;
  std::unique_ptr<common::S3Client> s3_;
  std::string destination_, work_;
};

// The window is measured back from the execution's start, however late GetFiles runs.
class DailyAggregationWithDelayWindow : public DailyAggregation {
 protected:
  int delay_window_seconds() const override { return 5; }
};

TEST_F(DailyAggregationWithDelayWindow,
       CombinesTheDayDeletesExactlyItsOriginalsAndStartsTheCrawler) {
  const auto outputs = run_day_and_check("e2e-2026-03-05");
  EXPECT_GE(outputs.size(), 8u);
}

// The functions reach AWS through the fault proxy: throttling, 500s, resets before and after the
// request was acted on, delays, 200s carrying errors. Same promises, same checks.
class DailyAggregationThroughFaults : public DailyAggregation {
 protected:
  std::string stack_arguments() const override { return "--faults 0.1"; }
};

TEST_F(DailyAggregationThroughFaults, TenPercentFaultsChangeNothingInTheResult) {
  run_day_and_check("e2e-faults");
  const std::string proxy(info_.at("function_endpoint").as_string());
  const auto stats = json::parse(tests::run_command("curl -s " + proxy + "/fault-proxy/stats").out);
  std::int64_t injected = 0;
  for (const auto& [kind, count] : stats.at("faults").as_object()) {
    if (kind != "none") injected += count.as_int64();
  }
  EXPECT_GT(injected, 20) << "the run really went through faults: " << json::serialize(stats);
}

// Every function stops after each unit of work and hands back a continuation; DeleteOriginals
// deletes 4 keys a request, one request at a time. The result must be the one-shot run's.
TEST_F(DailyAggregation, InvocationsCutShortByTheDeadlineGiveTheOneShotResult) {
  const auto one_shot = run_day_and_check("e2e-one-shot");
  ASSERT_FALSE(one_shot.empty());
  start_stack(
      "--env MAX_INVOCATION_MS=0 --env LIST_CONCURRENCY=1 --env DELETE_BATCH_KEYS=4"
      " --env DELETE_CONCURRENCY=1");
  const auto sliced = run_day_and_check("e2e-sliced");
  EXPECT_TRUE(sliced == one_shot) << "same keys, same content";

  int most_combine = 0, most_delete = 0;
  for (const auto& [group, count] : continuations("CombineLogFilesFunction"))
    most_combine = std::max(most_combine, count);
  for (const auto& [group, count] : continuations("DeleteOriginalsFunction"))
    most_delete = std::max(most_delete, count);
  EXPECT_GE(most_combine + 1, 3) << "a group combined over at least 3 invocations";
  EXPECT_GE(most_delete + 1, 3) << "a group's originals deleted over at least 3 invocations";
  EXPECT_NE(function_log("GetFilesFunction").find("continuing in the next invocation"),
            std::string::npos)
      << "GetFiles listed over several invocations";
}

// The packaged bootstraps of each architecture (`make artifacts-all`, as `sam build` makes them),
// each run in a chroot that holds nothing but itself, /tmp and a CA bundle: what provided.al2023
// gives a custom runtime. arm64 ones run under qemu-user, copied into the chroot beside them. The
// whole day runs through them with every check of the first test, then ManifestBuilder's flush.
class DailyAggregationFromArtifacts : public DailyAggregation,
                                      public ::testing::WithParamInterface<std::string> {
 protected:
  // chroot(2) needs root (CAP_SYS_CHROOT): elsewhere these skip and say so, rather than fail.
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: each packaged bootstrap runs alone in an empty root through "
                      "chroot(2); run the suite as root (CI does) to include it";
    }
    DailyAggregation::SetUp();
  }

  std::string stack_arguments() const override {
    return "--artifacts " + artifacts().string() + " --parameter Architecture=" + GetParam();
  }

  std::filesystem::path artifacts() const {
    return tests::source_path("build/artifacts/" + GetParam());
  }

  void run_everything(const std::string& name) {
    ASSERT_TRUE(std::filesystem::exists(artifacts() / "GetFilesFunction" / "bootstrap"))
        << "no artifacts: make -j2 artifacts-all (scripts/test does)";
    run_day_and_check(name + "-" + GetParam());
    const auto flushed =
        stack_->invoke("ManifestBuilderFunction", json::parse(R"({"action":"flush"})"));
    EXPECT_EQ(flushed.exit_code, 0) << flushed.logs;
    EXPECT_EQ(flushed.response, json::parse(R"({"action":"flush","manifests_started":0})"))
        << "ManifestBuilder queried its table";

    std::set<std::string> expected = {"bootstrap", "etc/pki/tls/certs/ca-bundle.crt"};
    if (GetParam() == "arm64") expected.insert("qemu-aarch64-static");
    for (const char* function : {"GetFilesFunction", "CombineLogFilesFunction"}) {
      const auto root = stack_->state_directory() / "roots" / function;
      std::set<std::string> files;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        const auto relative = entry.path().lexically_relative(root).string();
        if (!entry.is_directory() && !relative.starts_with("tmp/")) files.insert(relative);
      }
      EXPECT_EQ(files, expected) << function << "'s root holds nothing else";
    }
  }
};

std::string architecture_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

TEST_P(DailyAggregationFromArtifacts, EachBootstrapRunsAloneInAnEmptyRootOverHttp) {
  run_everything("e2e-artifacts");
  EXPECT_TRUE(std::string(info_.at("function_endpoint").as_string()).starts_with("http://"));
}

INSTANTIATE_TEST_SUITE_P(Architectures, DailyAggregationFromArtifacts,
                         ::testing::Values("x86_64", "arm64"), architecture_name);

// The same over HTTPS: the functions' endpoint is a TLS one whose certificate a CA made for the
// run signs, and that CA is the only one in the chroot's bundle.
class DailyAggregationFromArtifactsOverHttps : public DailyAggregationFromArtifacts {
 protected:
  std::string stack_arguments() const override {
    return DailyAggregationFromArtifacts::stack_arguments() + " --tls";
  }
};

TEST_P(DailyAggregationFromArtifactsOverHttps, EachBootstrapVerifiesTheEndpointWithTheBundle) {
  run_everything("e2e-artifacts-tls");
  const std::string endpoint(info_.at("function_endpoint").as_string());
  EXPECT_TRUE(endpoint.starts_with("https://"));

  // Without the run's CA in its bundle, a bootstrap refuses the endpoint at once: a configuration
  // error, not a transient one to retry for minutes. The stack's own GetFiles root, its bundle
  // swapped for the system's.
  const auto root = stack_->state_directory() / "roots" / "GetFilesFunction";
  std::filesystem::copy_file("/etc/ssl/certs/ca-certificates.crt",
                             root / "etc/pki/tls/certs/ca-bundle.crt",
                             std::filesystem::copy_options::overwrite_existing);
  const auto untrusting =
      tests::run_command("echo '{\"date\":\"2026-03-05\"}' | " +
                         tests::source_path("build/bin/lambda-local").string() +
                         " invoke GetFilesFunction - --config " +
                         (stack_->state_directory() / "functions.json").string());
  EXPECT_EQ(untrusting.exit_code, 1) << untrusting.out << untrusting.err;
  EXPECT_NE(untrusting.out.find("\"errorType\":\"ConfigurationError\""), std::string::npos)
      << untrusting.out;
  EXPECT_NE(untrusting.out.find("cannot trust https://127.0.0.1:"), std::string::npos)
      << untrusting.out;
}

INSTANTIATE_TEST_SUITE_P(Architectures, DailyAggregationFromArtifactsOverHttps,
                         ::testing::Values("x86_64", "arm64"), architecture_name);

// The function process is killed while S3 is acting on its request (the fault proxy holds the
// request until the kill): mid-combine, on the big group's second part; mid-delete, on the second
// DeleteObjects request. Lambda reports Runtime.ExitError, the state machine retries, and the
// result is the same as an undisturbed run's.
class DailyAggregationWithCrashes : public DailyAggregation {
 protected:
  std::string stack_arguments() const override {
    return "--env DELETE_BATCH_KEYS=4 --env DELETE_CONCURRENCY=1"
           " --hold '^PUT /[^?]*[?].*partNumber=2([^0-9]|$)' --hold '^POST /[^?]*[?]delete@2'";
  }

  void kill_at_each_hold() {
    const std::string proxy(info_.at("function_endpoint").as_string());
    const std::string functions[] = {"CombineLogFiles", "DeleteOriginals"};
    const auto server = std::to_string(info_.at("lambda_local_pid").as_int64());
    // The holds fire in whichever order the groups reach them.
    bool handled[2] = {false, false};
    for (int i = 0; i < 2400 && !(handled[0] && handled[1]); ++i) {
      const auto stats =
          json::parse(tests::run_command("curl -s " + proxy + "/fault-proxy/stats").out);
      for (std::size_t hold = 0; hold < 2; ++hold) {
        if (handled[hold] || stats.at("holds").at(hold).at("state") != "waiting") continue;
        std::string pids =
            tests::run_command("pgrep -d ' ' -P " + server + " -f 'bin/" + functions[hold] + "$'")
                .out;
        if (!pids.empty() && pids.back() == '\n') pids.pop_back();
        const auto killed = tests::run_command("kill -KILL " + pids);
        EXPECT_EQ(killed.exit_code, 0) << "no " << functions[hold] << " process to kill";
        // Released only once the killed processes are dead (gone or zombies), so S3's answer
        // reaches no one; lambda-local may already be running the retry in a new one.
        const std::string dead = "for p in " + pids +
                                 "; do s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null);"
                                 " [ -z \"$s\" ] || [ \"$s\" = Z ] || exit 1; done";
        EXPECT_TRUE(tests::wait_until([&] { return tests::run_command(dead).exit_code == 0; },
                                      std::chrono::seconds(10)))
            << functions[hold] << " outlived SIGKILL";
        tests::run_command("curl -s -X POST '" + proxy +
                           "/fault-proxy/release?hold=" + std::to_string(hold) + "'");
        handled[hold] = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(handled[0]) << "the combine hold never fired";
    EXPECT_TRUE(handled[1]) << "the delete hold never fired";
  }
};

TEST_F(DailyAggregationWithCrashes,
       FunctionsKilledMidCombineAndMidDeleteAreRetriedToTheSameResult) {
  const auto outputs = run_day_and_check("e2e-crashes", [this] { kill_at_each_hold(); });
  EXPECT_GE(outputs.size(), 8u);
  for (const char* function : {"CombineLogFilesFunction", "DeleteOriginalsFunction"}) {
    EXPECT_NE(function_log(function).find("Runtime exited with error: signal: Killed"),
              std::string::npos)
        << function << " was killed mid-invocation";
  }
}

// Files that arrive after their day was aggregated are aggregated by a second run for the day,
// into new outputs beside the first run's: nothing is overwritten.
TEST_F(DailyAggregation, ADayRunAgainAddsOutputsAndOverwritesNone) {
  ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket e2e-ct").exit_code, 0);
  ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket e2e-other").exit_code, 0);
  create_crawler();
  s3_->put_object("e2e-other", "alb/2026-03-05/a.log", "first\n");
  const auto first = run("e2e-first", R"({"date":"2026-03-05"})");
  ASSERT_EQ(first.at("status").as_string(), "SUCCEEDED") << json::serialize(first);
  s3_->put_object("e2e-other", "alb/2026-03-05/late.log", "late\n");
  // As aggregate_history starts a day: with the buckets to list.
  const auto again = run("e2e-again", R"({"date":"2026-03-05","buckets":["e2e-other"]})");
  ASSERT_EQ(again.at("status").as_string(), "SUCCEEDED") << json::serialize(again);

  const auto outputs = fetch_all(destination_);
  const std::string base =
      "aggregated/e2e-other/date=2026-03-05/" + tests::output_name("alb/2026-03-05/");
  EXPECT_EQ(outputs, (std::map<std::string, std::string>{{base + "-0001.log", "first\n"},
                                                         {base + "-0002.log", "late\n"}}));
  EXPECT_TRUE(s3_->list_all("e2e-other").empty());
}

TEST_F(DailyAggregation, ADayWithNoFilesSucceedsAndChangesNothing) {
  for (const char* bucket : {"e2e-ct", "e2e-other"}) {
    ASSERT_EQ(
        tests::aws_cli(moto_, std::string("s3api create-bucket --bucket ") + bucket).exit_code, 0);
  }
  const auto execution = run("e2e-empty", R"({"date":"2026-01-01"})");
  EXPECT_EQ(std::string(execution.at("status").as_string()), "SUCCEEDED")
      << json::serialize(execution);
  EXPECT_TRUE(s3_->list_all(destination_).empty());
}

TEST_F(DailyAggregation, AConfiguredBucketThatDoesNotExistFailsTheRun) {
  // e2e-ct exists, e2e-other (configured) does not.
  ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket e2e-ct").exit_code, 0);
  const auto execution = run("e2e-missing", R"({"date":"2026-03-05"})");
  EXPECT_EQ(std::string(execution.at("status").as_string()), "FAILED");
  EXPECT_NE(std::string(execution.at("cause").as_string())
                .find("NoSuchBucket: The specified bucket does not exist: e2e-other"),
            std::string::npos)
      << "the cause names the error and the bucket: " << json::serialize(execution);
}

TEST_F(DailyAggregation, BadInputFailsWithANamedError) {
  // The buckets exist and hold a file of the day: only the input can fail these runs.
  for (const char* bucket : {"e2e-ct", "e2e-other"})
    ASSERT_EQ(
        tests::aws_cli(moto_, std::string("s3api create-bucket --bucket ") + bucket).exit_code, 0);
  s3_->put_object("e2e-other", "alb/2026-03-05/a.log", "a line\n");
  create_crawler();
  const auto no_day = run("e2e-no-day", R"({"day":"tomorrow"})");
  EXPECT_EQ(no_day.at("status").as_string(), "FAILED");
  EXPECT_EQ(no_day.at("error").as_string(), "InvalidInput") << json::serialize(no_day);
  const auto bad_day = run("e2e-bad-day", R"({"date":"2026-02-30"})");
  EXPECT_EQ(bad_day.at("status").as_string(), "FAILED");
  EXPECT_EQ(bad_day.at("error").as_string(), "InvalidInput") << json::serialize(bad_day);
  EXPECT_NE(std::string(bad_day.at("cause").as_string()).find("2026-02-30"), std::string::npos)
      << json::serialize(bad_day);
  const auto good_day = run("e2e-good-day", R"({"date":"2026-03-05"})");
  EXPECT_EQ(good_day.at("status").as_string(), "SUCCEEDED")
      << "the same stack runs a good day: " << json::serialize(good_day);
  EXPECT_EQ(fetch_all(destination_).size(), 1u);
}

}  // namespace
