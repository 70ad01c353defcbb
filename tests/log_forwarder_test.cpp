// LogForwarder in-process against moto and the local sink (devtools/http_sink): every line of
// every kind of object arrives once, a replay sends the same batch ids, a poison object ends in
// the dead-letter queue with its reason, and a record whose batches were refused goes back to SQS.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/gzip.h"
#include "common/s3.h"
#include "common/sqs.h"
#include "devtools/http_sink/sink.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class LogForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = tests::unique_name("zscaler-logs");
    ASSERT_TRUE(tests::create_buckets(moto_, {bucket_}));
    const std::string queue = tests::unique_name("forwarder-dlq");
    ASSERT_EQ(tests::aws_cli(moto_, "sqs create-queue --queue-name " + queue).exit_code, 0);
    dead_letters_ = sqs_.get_queue_url(queue);
  }

  // Puts an object and returns the SQS record S3's notification of it would be.
  json::object put(const std::string& key, const std::string& body) {
    const auto written = s3_.put_object(bucket_, key, body);
    const json::object notification{
        {"Records",
         json::array{json::object{
             {"eventVersion", "2.1"},
             {"eventSource", "aws:s3"},
             {"eventTime", "2026-03-05T10:00:00.000Z"},
             {"eventName", "ObjectCreated:Put"},
             {"s3", json::object{{"bucket", json::object{{"name", bucket_}}},
                                 {"object", json::object{{"key", common::uri_encode(key, true)},
                                                         {"size", body.size()},
                                                         {"eTag", written.etag}}}}}}}}};
    return json::object{{"messageId", "m-" + key},
                        {"receiptHandle", "r"},
                        {"body", json::serialize(notification)},
                        {"eventSource", "aws:sqs"}};
  }

  std::map<std::string, std::string> environment(const std::string& endpoint) const {
    return {{"SOURCES", "s3://" + bucket_ + "/web/"},
            {"ENDPOINTS", endpoint},
            {"DEAD_LETTER_QUEUE_URL", dead_letters_},
            {"BATCH_MAX_LINES", "2"}};
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  common::SqsClient sqs_{tests::moto_options(moto_)};
  std::string bucket_, dead_letters_;
};

TEST_F(LogForwarderTest, EveryLineOfEveryKindOfObjectArrivesOnceAndAReplayRepeatsTheIds) {
  devtools::HttpSink sink(0, {});
  json::array records;
  records.push_back(put("web/2026/03/05/multi.json.gz",
                        common::gzip("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n") +
                            common::gzip("{\"b\":1}\n{\"b\":2 no newline}")));    // 5 lines
  records.push_back(put("web/2026/03/05/plain.log", "p1\np2\r\np3\np4\n"));       // 4
  records.push_back(put("web/2026/03/05/fake.gz", "not gzip at all\nsecond\n"));  // 2
  records.push_back(put("web/2026/03/05/empty.log", ""));                         // 0
  records.push_back(put("web/2026/03/05/key with space+plus.log", "only line"));  // 1
  records.push_back(put("dns/2026/03/05/elsewhere.log", "not under SOURCES\n"));
  const json::object event{{"Records", records}};

  const auto run = tests::invoke_handler(moto_, "LogForwarder", event, environment(sink.url()));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})");
  auto stats = sink.stats();
  EXPECT_EQ(stats.lines, 12u);
  EXPECT_EQ(stats.duplicate_batches, 0u);
  EXPECT_EQ(stats.bad_batches, 0u);
  const std::size_t batches = stats.ids.size();
  EXPECT_EQ(batches, 3u + 2u + 1u + 1u) << "two lines a batch, per object";
  EXPECT_NE(run.logs.find(R"("LinesForwarded":12)"), std::string::npos) << run.logs;
  EXPECT_TRUE(sqs_.receive_messages(dead_letters_, 10, 0).empty()) << "nothing was poison";

  // Delivered again (SQS is at least once): the same batches under the same ids.
  const auto again = tests::invoke_handler(moto_, "LogForwarder", event, environment(sink.url()));
  ASSERT_EQ(again.exit_code, 0) << again.logs;
  stats = sink.stats();
  EXPECT_EQ(stats.ids.size(), batches);
  EXPECT_EQ(stats.duplicate_batches, batches);
}

// Many more batches than requests in flight, in more than one range: the reading waits for the
// endpoint's answers, and every line still arrives once.
TEST_F(LogForwarderTest, AnObjectOfManyBatchesAndRangesArrivesWhole) {
  devtools::HttpSink sink(0, {});
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "{\"n\":" + std::to_string(i) + "}\n";
  std::string big(9u << 20, 'x');  // over one 8 MiB range, in lines of 1 KiB
  for (std::size_t i = 1023; i < big.size(); i += 1024) big[i] = '\n';
  const json::object event{{"Records", json::array{put("web/many.json.gz", common::gzip(text)),
                                                   put("web/big.log", big)}}};
  auto env = environment(sink.url());
  env["REQUESTS_IN_FLIGHT"] = "2";
  const auto run = tests::invoke_handler(moto_, "LogForwarder", event, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})");
  const auto stats = sink.stats();
  EXPECT_EQ(stats.lines, 3000u + (9u << 20) / 1024);
  EXPECT_EQ(stats.ids.size(), 1500u + (9u << 20) / 1024 / 2);
  EXPECT_EQ(stats.duplicate_batches, 0u);
}

TEST_F(LogForwarderTest, APoisonObjectGoesToTheDeadLetterQueueWithItsReason) {
  devtools::HttpSink sink(0, {});
  const json::object event{
      {"Records",
       json::array{put("web/x.zst", std::string("\x28\xb5\x2f\xfd", 4) + std::string(100, 'z')),
                   put("web/ok.log", "fine\n")}}};
  const auto run = tests::invoke_handler(moto_, "LogForwarder", event, environment(sink.url()));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})")
      << "a poison record is not redelivered: it would fail the same way";
  EXPECT_EQ(sink.stats().lines, 1u);
  const auto dead = sqs_.receive_messages(dead_letters_, 10, 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].attributes.at("reason"), "zstd content");
  EXPECT_EQ(dead[0].attributes.at("object"), bucket_ + "/web/x.zst");
  EXPECT_NE(dead[0].body.find("web/x.zst"), std::string::npos) << "the notification itself";
}

TEST_F(LogForwarderTest, ARecordWhoseBatchesWereRefusedGoesBackToTheQueue) {
  devtools::HttpSink sink(0, {}, "a-token-the-forwarder-lacks");
  const json::object event{{"Records", json::array{put("web/refused.log", "l1\nl2\nl3\n")}}};
  const auto run = tests::invoke_handler(moto_, "LogForwarder", event, environment(sink.url()));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response),
            R"({"batchItemFailures":[{"itemIdentifier":"m-web/refused.log"}]})");
  EXPECT_NE(run.logs.find("refused it: HTTP 401"), std::string::npos) << run.logs;
  EXPECT_TRUE(sqs_.receive_messages(dead_letters_, 10, 0).empty());
}

}  // namespace
