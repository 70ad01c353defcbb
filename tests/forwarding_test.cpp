// LogForwarder through the local stack as the template wires it: S3's notifications published to
// NotificationTopic reach both queues (raw), Lambda's SQS event source runs LogForwarder on
// ForwarderQueue, and the lines arrive at the local sink (tools/local-stack --sink). Every line
// arrives once without faults; with 20 % of the sink's answers faulty and an invocation killed
// mid-object, none is lost and every repeat carries its batch's id and lines; a poison object
// ends in the dead-letter queue with its reason; the backfill sends the same batches again.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <thread>

#include "common/gzip.h"
#include "common/s3.h"
#include "common/sqs.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr const char* kBucket = "forwarded-logs";

class Forwarding : public ::testing::Test {
 protected:
  void start(const std::string& arguments) {
    // s3:// in the setting: the lesson of the daemon this replaces, whose bucket became "s3:".
    stack_ = std::make_unique<tests::LocalStack>("--sink --parameter ForwarderSources=s3://" +
                                                 std::string(kBucket) +
                                                 "/web/ --env BATCH_MAX_LINES=50 " + arguments);
    s3_ = std::make_unique<common::S3Client>(tests::moto_options(stack_->moto()));
    sqs_ = std::make_unique<common::SqsClient>(tests::moto_options(stack_->moto()));
    ASSERT_EQ(tests::aws_cli(stack_->moto(), std::string("s3api create-bucket --bucket ") + kBucket)
                  .exit_code,
              0);
  }

  // Puts an object and publishes S3's notification of it to the topic, as S3 would.
  void put(const std::string& key, const std::string& body) {
    const auto written = s3_->put_object(kBucket, key, body);
    const auto notification = tests::s3_object_created(kBucket, key, body.size(), written.etag);
    tests::TempDir dir;
    std::ofstream(dir.path() / "message.json") << json::serialize(notification);
    const auto published = tests::aws_cli(
        stack_->moto(), "sns publish --topic-arn " + stack_->resource("NotificationTopic") +
                            " --message file://" + (dir.path() / "message.json").string());
    ASSERT_EQ(published.exit_code, 0) << published.err;
  }

  json::value sink_stats() const {
    const std::string sink(stack_->info().at("sink").as_string());
    const auto answer = tests::run_command("curl -s " + sink + "/_sink/stats");
    if (answer.exit_code != 0) ADD_FAILURE() << "the sink did not answer: " << answer.err;
    return json::parse(answer.out);
  }
  std::uint64_t stat(const json::value& stats, const char* name) const {
    return stats.at(name).to_number<std::uint64_t>();
  }

  tests::EventSourceRun forward_until_idle() {
    return tests::run_sqs_event_source(*stack_, stack_->resource("ForwarderQueue"),
                                       "LogForwarderFunction", 2);
  }

  std::unique_ptr<tests::LocalStack> stack_;
  std::unique_ptr<common::S3Client> s3_;
  std::unique_ptr<common::SqsClient> sqs_;
};

TEST_F(Forwarding, EveryLineOfEveryKindOfObjectArrivesOnceAndAPoisonOneEndsInTheDeadLetterQueue) {
  start("");
  put("web/2026/03/05/multi.json.gz", common::gzip("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n") +
                                          common::gzip("{\"b\":1}\n{\"b\":2}"));  // 5 lines
  put("web/2026/03/05/plain.log", "p1\np2\r\np3\np4\n");                          // 4
  put("web/2026/03/05/fake.gz", "not gzip at all\nsecond\n");                     // 2
  put("web/2026/03/05/empty.log", "");                                            // 0
  put("web/2026/03/05/a key/with ./ and ../+plus.log", "only line");              // 1
  put("web/2026/03/05/x.zst", std::string("\x28\xb5\x2f\xfd", 4) + std::string(64, 'z'));
  put("dns/2026/03/05/elsewhere.log", "not under ForwarderSources\n");

  const auto run = forward_until_idle();
  EXPECT_EQ(run.failed_records, 0);
  auto stats = sink_stats();
  EXPECT_EQ(stat(stats, "distinct_lines"), 12u) << stats;
  EXPECT_EQ(stat(stats, "lines"), 12u) << stats;
  EXPECT_EQ(stat(stats, "duplicate_batches"), 0u) << stats;
  EXPECT_EQ(stat(stats, "bad_batches"), 0u) << stats;
  const auto batches = stat(stats, "distinct_batches");
  EXPECT_EQ(batches, 4u) << "one batch per object with lines";

  const auto dead = sqs_->receive_messages(stack_->resource("ForwarderDeadLetterQueue"), 10, 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attributes.at("reason"), "zstd content");
  EXPECT_EQ(dead[0].attributes.at("object"), std::string(kBucket) + "/web/2026/03/05/x.zst");

  // The topic gave batching the same notifications, as S3's own document (raw delivery).
  int batching_messages = 0;
  for (int i = 0; i < 3; ++i) {
    for (const auto& message :
         sqs_->receive_messages(stack_->resource("NotificationQueue"), 10, 1, 60)) {
      EXPECT_TRUE(message.body.starts_with("{\"Records\"")) << message.body;
      ++batching_messages;
    }
  }
  EXPECT_EQ(batching_messages, 7);

  // The backfill over the same prefix and time sends every batch again under the same id.
  const auto execution = tests::aws_cli(
      stack_->moto(),
      "stepfunctions start-execution --state-machine-arn " +
          stack_->state_machine("ForwardBackfillStateMachine") + " --input '{\"source\": \"s3://" +
          kBucket +
          "/web/2026/\", \"from\": \"2000-01-01T00:00:00Z\", \"to\": \"2100-01-01T00:00:00Z\"}'");
  ASSERT_EQ(execution.exit_code, 0) << execution.err;
  const auto ended =
      stack_->wait_for(std::string(json::parse(execution.out).at("executionArn").as_string()));
  EXPECT_EQ(ended.at("status"), "SUCCEEDED") << json::serialize(ended);
  stats = sink_stats();
  EXPECT_EQ(stat(stats, "distinct_batches"), batches) << stats;
  EXPECT_EQ(stat(stats, "duplicate_batches"), batches) << stats;
  EXPECT_EQ(stat(stats, "changed_duplicates"), 0u) << stats;
  EXPECT_EQ(sqs_->receive_messages(stack_->resource("ForwarderDeadLetterQueue"), 10, 1).size(), 1u)
      << "the poison object, once more";
}

TEST_F(Forwarding, WithSinkFaultsAndAnInvocationKilledMidObjectNoLineIsLost) {
  start("--sink-faults 0.2");
  std::uint64_t expected = 0;
  for (int object = 0; object < 6; ++object) {
    std::string text;
    const int lines = 400 + 100 * object;
    for (int i = 0; i < lines; ++i)
      text += "{\"object\":" + std::to_string(object) + ",\"n\":" + std::to_string(i) + "}\n";
    expected += static_cast<std::uint64_t>(lines);
    put("web/2026/03/05/big-" + std::to_string(object) + ".json.gz", common::gzip(text));
  }

  // Killed once the sink has taken some of an object's batches: SQS redelivers the record, and
  // those batches arrive again under their ids.
  std::thread killer([&] {
    const auto server = std::to_string(stack_->info().at("lambda_local_pid").as_int64());
    const bool started =
        tests::wait_until([&] { return stat(sink_stats(), "accepted_batches") >= 5; },
                          std::chrono::seconds(60), std::chrono::milliseconds(20));
    ASSERT_TRUE(started) << "nothing arrived";
    const auto killed = tests::run_command("pkill -KILL -P " + server + " -f 'bin/LogForwarder$'");
    EXPECT_EQ(killed.exit_code, 0) << "no LogForwarder process to kill";
  });
  auto run = forward_until_idle();
  killer.join();
  EXPECT_GT(run.failed_records, 0) << "the killed invocation's records came back";

  const auto stats = sink_stats();
  EXPECT_EQ(stat(stats, "distinct_lines"), expected) << stats;
  EXPECT_GT(stat(stats, "duplicate_batches"), 0u) << stats;
  EXPECT_EQ(stat(stats, "changed_duplicates"), 0u) << stats;
  EXPECT_EQ(stat(stats, "bad_batches"), 0u) << stats;
  std::uint64_t faults = 0;
  for (const auto& [kind, count] : stats.at("faults").as_object()) {
    faults += count.to_number<std::uint64_t>();
  }
  EXPECT_GT(faults, 0u) << stats;
  EXPECT_NE(stack_->function_log("LogForwarderFunction").find("signal: Killed"), std::string::npos);
  EXPECT_TRUE(sqs_->receive_messages(stack_->resource("ForwarderDeadLetterQueue"), 10, 0).empty());
}

}  // namespace
