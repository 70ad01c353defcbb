// Event-driven batching end to end: template.yaml brought up locally, S3 notifications through
// the real (moto) queue, ManifestBuilder invoked through lambda-local's Invoke API the way the
// SQS event source does it, process_manifest executed by moto's Step Functions. Results checked
// with the aws CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/json_services.h"
#include "common/s3.h"
#include "common/sigv4.h"
#include "common/sqs.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr const char* kSource = "batch-src";

// S3's notification for one object, in one of the three shapes ManifestBuilder takes.
std::string notification(const std::string& key, std::size_t size, const std::string& etag,
                         int shape) {
  if (shape == 2) {  // EventBridge: keys as they are
    return json::serialize(json::object{
        {"version", "0"},
        {"detail-type", "Object Created"},
        {"source", "aws.s3"},
        {"time", "2026-03-05T10:00:00Z"},
        {"detail",
         json::object{{"bucket", json::object{{"name", kSource}}},
                      {"object", json::object{{"key", key}, {"size", size}, {"etag", etag}}}}}});
  }
  const std::string s3 = json::serialize(tests::s3_object_created(kSource, key, size, etag));
  if (shape == 1) {  // through SNS
    return json::serialize(
        json::object{{"Type", "Notification"}, {"MessageId", "sns-1"}, {"Message", s3}});
  }
  return s3;
}

class Batching : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ =
        std::make_unique<tests::LocalStack>("--parameter OtherBuckets=" + std::string(kSource) +
                                            " --env SWEEP_AFTER_S=0");  // swept once all is done
    s3_ = std::make_unique<common::S3Client>(tests::moto_options(stack_->moto()));
    sqs_ = std::make_unique<common::SqsClient>(tests::moto_options(stack_->moto()));
    ASSERT_EQ(tests::aws_cli(stack_->moto(), std::string("s3api create-bucket --bucket ") + kSource)
                  .exit_code,
              0);
    queue_ = stack_->resource("NotificationQueue");
  }

  // Puts `count` small log files and returns key → content.
  std::map<std::string, std::string> put_files(int count, const std::string& prefix) {
    std::map<std::string, std::string> files;
    for (int i = 0; i < count; ++i) {
      const std::string key =
          prefix + "/2026-03-05/file " + std::to_string(i) + (i % 7 == 0 ? "+plus" : "") + ".log";
      files[key] = "line " + std::to_string(i) + " of " + prefix + "\n";
    }
    common::S3Client& s3 = *s3_;
    std::vector<std::pair<std::string, std::string>> items(files.begin(), files.end());
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> putters;
    for (int t = 0; t < 8; ++t) {
      putters.emplace_back([&] {
        for (std::size_t i = next++; i < items.size(); i = next++) {
          const auto put = s3.put_object(kSource, items[i].first, items[i].second);
          std::lock_guard lock(mutex_);
          etags_[items[i].first] = put.etag;
        }
      });
    }
    for (auto& putter : putters) putter.join();
    return files;
  }

  std::string body_for(const std::string& key, const std::string& content, int shape) {
    std::string etag = etags_.at(key);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    return notification(key, content.size(), etag, shape);
  }

  void send(const std::vector<std::string>& bodies) {
    for (std::size_t i = 0; i < bodies.size(); i += 10) {
      const std::vector<std::string> batch(
          bodies.begin() + static_cast<std::ptrdiff_t>(i),
          bodies.begin() + static_cast<std::ptrdiff_t>(std::min(bodies.size(), i + 10)));
      ASSERT_TRUE(sqs_->send_message_batch(queue_, batch).empty());
    }
  }

  // Failed records come back after the 1 s visibility timeout the test uses (the template's is
  // 360 s).
  void consume_until_idle(int loops) {
    const auto run = tests::run_sqs_event_source(*stack_, queue_, "ManifestBuilderFunction", loops);
    invocations_ += run.invocations;
    failures_ += run.failed_records;
  }

  // Every execution of process_manifest, once none is running.
  json::array executions() {
    json::array listed;
    for (int i = 0; i < 600; ++i) {
      const auto run =
          tests::aws_cli(stack_->moto(), "stepfunctions list-executions --state-machine-arn " +
                                             stack_->state_machine("ProcessManifestStateMachine"));
      listed = json::parse(run.out).at("executions").as_array();
      const bool running = std::any_of(listed.begin(), listed.end(), [](const json::value& e) {
        return e.at("status").as_string() == "RUNNING";
      });
      if (!running) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return listed;
  }

  json::array ledger() {
    const auto run = tests::aws_cli(
        stack_->moto(), "dynamodb scan --table-name " + stack_->resource("LedgerTable"));
    return json::parse(run.out).at("Items").as_array();
  }

  // Checks that every output of every manifest holds exactly its sources' content, in order;
  // returns the number of files in outputs.
  std::size_t check_outputs(const std::map<std::string, std::string>& files) {
    tests::TempDir dir;
    EXPECT_EQ(tests::aws_cli(stack_->moto(), "s3 sync --quiet s3://" +
                                                 stack_->resource("DestinationBucket") + " " +
                                                 dir.path().string())
                  .exit_code,
              0);
    std::size_t combined = 0;
    const std::string work = stack_->resource("WorkBucket");
    for (const auto& object : s3_->list_all(work, "work/")) {
      if (object.key.find("/receipts/") == std::string::npos) continue;
      const auto receipt = tests::receipt_with_indexes(*s3_, work, object.key);
      for (const auto& output : receipt.at("outputs").as_array()) {
        std::string expected;
        for (const auto& source : output.at("sources").as_array()) {
          expected += files.at(std::string(source.at("key").as_string()));
          ++combined;
        }
        const auto path = dir.path() / std::string(output.at("key").as_string());
        EXPECT_EQ(tests::run_command("cat '" + path.string() + "'").out, expected)
            << output.at("key").as_string();
      }
    }
    return combined;
  }

  std::unique_ptr<tests::LocalStack> stack_;
  std::unique_ptr<common::S3Client> s3_;
  std::unique_ptr<common::SqsClient> sqs_;
  std::string queue_;
  std::mutex mutex_;
  std::map<std::string, std::string> etags_;
  int invocations_ = 0;
  int failures_ = 0;
};

TEST_F(Batching, AThousandNotificationsWithDuplicatesReachExactlyOneManifestEach) {
  const auto started = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const auto files = put_files(1000, "app");
  std::vector<std::string> bodies;
  std::mt19937 random(7);
  int shape = 0;
  for (const auto& [key, content] : files) {
    bodies.push_back(body_for(key, content, shape++ % 3));
    if (random() % 5 == 0) bodies.push_back(body_for(key, content, shape++ % 3));  // 20 % twice
  }
  std::shuffle(bodies.begin(), bodies.end(), random);
  send(bodies);
  std::printf("sent %zu notifications at %.1f s\n", bodies.size(), seconds());
  consume_until_idle(3);
  std::printf("queue drained in %d invocations at %.1f s\n", invocations_, seconds());
  // The day is over: the end-of-day flush cuts what is left; the sweep starts any manifest a
  // builder claimed but could not start.
  for (const char* action : {"flush", "sweep"}) {
    const auto run = stack_->invoke("ManifestBuilderFunction", json::object{{"action", action}});
    ASSERT_EQ(run.exit_code, 0) << json::serialize(run.response);
  }

  const auto listed = executions();
  std::printf("%zu executions done at %.1f s\n", listed.size(), seconds());
  ASSERT_GE(listed.size(), 5u) << "1,000 files in manifests of 200";
  for (const auto& execution : listed)
    EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);

  std::map<std::string, std::string> manifest_of;
  std::set<std::string> manifests;
  for (const auto& item : ledger()) {
    const std::string pk(item.at("pk").at("S").as_string());
    if (pk.starts_with("F#")) {
      EXPECT_EQ(item.at("state").at("S").as_string(), "COMPLETED") << json::serialize(item);
      manifest_of[std::string(item.at("sk").at("S").as_string())] =
          std::string(item.at("manifest_id").at("S").as_string());
    } else if (pk.starts_with("M#")) {
      EXPECT_EQ(item.at("state").at("S").as_string(), "COMPLETED") << json::serialize(item);
      manifests.insert(std::string(item.at("sk").at("S").as_string()));
    }
  }
  EXPECT_EQ(manifest_of.size(), files.size()) << "every file recorded once";
  EXPECT_EQ(manifests.size(), listed.size()) << "one execution per manifest";
  EXPECT_EQ(check_outputs(files), files.size()) << "every file in exactly one batch object";
  // Records SQS redelivered (an invocation that failed or timed out under the emulator's load):
  // allowed, and the checks above hold anyway.
  std::printf("%d records redelivered\n", failures_);
  if (HasFailure()) {  // what the builder said went wrong
    std::istringstream log(stack_->function_log("ManifestBuilderFunction"));
    int shown = 0;
    for (std::string line; std::getline(log, line) && shown < 12;) {
      if (line.find("\"level\":\"ERROR\"") != std::string::npos ||
          line.find("\"level\":\"WARN\"") != std::string::npos ||
          line.find("Runtime.") != std::string::npos ||
          line.find("timed out") != std::string::npos) {
        ADD_FAILURE() << line;
        ++shown;
      }
    }
  }
}

// One record the builder cannot take, in a batch of ten: only it is failed, each time SQS hands it
// back; after maxReceiveCount (5) receives SQS moves it to the dead-letter queue. The other nine
// were taken the first time.
TEST_F(Batching, APoisonRecordAloneIsRetriedAndEndsInTheDeadLetterQueue) {
  const auto files = put_files(9, "poison");
  std::vector<std::string> bodies;
  for (const auto& [key, content] : files) bodies.push_back(body_for(key, content, 0));
  const std::string poison = R"({"Records":[{"eventName":"ObjectCreated:Put","s3":{}}]})";
  bodies.insert(bodies.begin() + 4, poison);
  send(bodies);
  consume_until_idle(1);
  EXPECT_EQ(failures_, 5) << "the poison record, once per receive, and nothing else";

  const auto state_of = tests::ledger_file_states(ledger());
  EXPECT_EQ(state_of.size(), files.size()) << "the nine good files recorded";
  for (const auto& [key, state] : state_of) EXPECT_EQ(state, "PENDING") << key;

  const std::string dead_letters = stack_->resource("NotificationDeadLetterQueue");
  const auto dead = sqs_->receive_messages(dead_letters, 10, 1, 30);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead.front().body, poison);
  EXPECT_TRUE(sqs_->receive_messages(queue_, 10, 0, 30).empty()) << "the queue is empty";
}

}  // namespace
