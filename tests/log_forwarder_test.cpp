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
    const auto notification = tests::s3_object_created(bucket_, key, body.size(), written.etag);
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
  EXPECT_NE(run.logs.find(R"("EndpointErrors":0)"), std::string::npos) << run.logs;
  EXPECT_EQ(run.logs.find(R"("BytesForwarded":0)"), std::string::npos) << run.logs;
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
  EXPECT_NE(run.logs.find(R"("EndpointErrors":2)"), std::string::npos)
      << "both batches" << run.logs;
  EXPECT_TRUE(sqs_.receive_messages(dead_letters_, 10, 0).empty());
}

// Lag is measured to the last byte acknowledged: an object overwritten since its notification
// was not read, so it has no lag to report (its own notification will).
TEST_F(LogForwarderTest, AnObjectOverwrittenSinceItsNotificationIsSkippedAndHasNoLag) {
  devtools::HttpSink sink(0, {});
  const auto stale = put("web/rewritten.log", "first\n");
  s3_.put_object(bucket_, "web/rewritten.log", "second\n");
  const auto run =
      tests::invoke_handler(moto_, "LogForwarder", json::object{{"Records", json::array{stale}}},
                            environment(sink.url()));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})");
  EXPECT_EQ(sink.stats().lines, 0u);
  EXPECT_NE(run.logs.find("superseded=1"), std::string::npos) << run.logs;
  EXPECT_NE(run.logs.find(R"("ObjectsForwarded":0)"), std::string::npos) << run.logs;
  EXPECT_EQ(run.logs.find("LagP50"), std::string::npos) << run.logs;
}

// The token is read at initialisation from SSM Parameter Store as the function's role, sent as
// configured, and never written to the logs.
TEST_F(LogForwarderTest, TheAuthTokenComesFromParameterStoreAndIsNeverLogged) {
  const std::string token = "tok-" + tests::unique_name("secret");
  devtools::HttpSink sink(0, {}, token);
  const std::string name = "/forwarder/" + tests::unique_name("token");
  ASSERT_EQ(tests::aws_cli(
                moto_, "ssm put-parameter --type SecureString --name " + name + " --value " + token)
                .exit_code,
            0);
  auto env = environment(sink.url());
  env["AUTH_TOKEN_PARAMETER"] = name;
  const json::object event{{"Records", json::array{put("web/token.log", "a\nb\n")}}};
  const auto run = tests::invoke_handler(moto_, "LogForwarder", event, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})") << run.logs;
  EXPECT_EQ(sink.stats().lines, 2u);
  EXPECT_EQ(run.logs.find(token), std::string::npos);

  env.erase("AUTH_TOKEN_PARAMETER");
  const std::string secret = tests::unique_name("forwarder-token");
  ASSERT_EQ(tests::aws_cli(moto_, "secretsmanager create-secret --name " + secret +
                                      " --secret-string " + token)
                .exit_code,
            0);
  env["AUTH_TOKEN_SECRET"] = secret;
  const auto again = tests::invoke_handler(
      moto_, "LogForwarder", json::object{{"Records", json::array{put("web/token2.log", "c\n")}}},
      env);
  ASSERT_EQ(again.exit_code, 0) << again.logs;
  EXPECT_EQ(json::serialize(again.response), R"({"batchItemFailures":[]})") << again.logs;
  EXPECT_EQ(sink.stats().lines, 3u);
}

// The backfill's request is checked before anything is listed, and each batch of the listing
// forwards what was modified within the window, nothing else.
TEST_F(LogForwarderTest, ABackfillForwardsWhatChangedWithinItsWindowAndRefusesBadRequests) {
  devtools::HttpSink sink(0, {});
  const auto env = environment(sink.url());
  const auto refused = [&](const json::object& request, const std::string& named) {
    const auto run = tests::invoke_handler(moto_, "LogForwarder", request, env);
    EXPECT_NE(run.exit_code, 0) << named;
    ASSERT_TRUE(run.response.is_object()) << run.logs;
    EXPECT_EQ(run.response.at("errorType"), "InvalidInput");
    const std::string error(run.response.at("errorMessage").as_string());
    EXPECT_NE(error.find(named), std::string::npos) << error;
  };
  refused({{"source", "s3://" + bucket_ + "/dns/"},
           {"from", "2026-03-05T00:00:00Z"},
           {"to", "2026-03-06T00:00:00Z"}},
          "is not under SOURCES (s3://" + bucket_ + "/web/)");
  refused({{"source", "s3://s3:/web/"},
           {"from", "2026-03-05T00:00:00Z"},
           {"to", "2026-03-06T00:00:00Z"}},
          "does not name a bucket S3 allows");
  refused({{"source", "s3://" + bucket_ + "/web/"},
           {"from", "2026-03-05T00:00:00+01:00"},
           {"to", "2026-03-06T00:00:00Z"}},
          "must be a UTC time");
  refused({{"source", "s3://" + bucket_ + "/web/"},
           {"from", "2026-03-06T00:00:00Z"},
           {"to", "2026-03-06T00:00:00Z"}},
          "\"from\" must be before \"to\"");

  const auto planned =
      tests::invoke_handler(moto_, "LogForwarder",
                            json::object{{"source", "s3://" + bucket_ + "/web/2026/"},
                                         {"from", "2026-03-05T00:00:00Z"},
                                         {"to", "2026-03-06T00:00:00Z"}},
                            env);
  ASSERT_EQ(planned.exit_code, 0) << planned.logs;
  EXPECT_EQ(planned.response,
            json::parse(R"({"bucket":")" + bucket_ +
                        R"(","prefix":"web/2026/","from":"2026-03-05T00:00:00.000Z",)"
                        R"("to":"2026-03-06T00:00:00.000Z"})"));

  const auto inside = s3_.put_object(bucket_, "web/2026/in.log", "1\n2\n3\n");
  const auto after = s3_.put_object(bucket_, "web/2026/after.log", "late\n");
  json::object batch{{"BatchInput", planned.response},
                     {"Items", json::array{json::object{{"Key", "web/2026/in.log"},
                                                        {"Size", 6},
                                                        {"Etag", inside.etag},
                                                        {"LastModified", 1772712000}},
                                           json::object{{"Key", "web/2026/after.log"},
                                                        {"Size", 5},
                                                        {"Etag", after.etag},
                                                        {"LastModified", 1772755200}}}}};
  const auto forwarded = tests::invoke_handler(moto_, "LogForwarder", batch, env);
  ASSERT_EQ(forwarded.exit_code, 0) << forwarded.logs;
  EXPECT_EQ(forwarded.response, json::parse(R"({"objects":1,"lines":3,"batches":2,"outside":1,)"
                                            R"("superseded":0,"poison":0})"));
  EXPECT_EQ(sink.stats().lines, 3u);
  EXPECT_EQ(forwarded.logs.find(R"("BytesForwarded":0)"), std::string::npos) << forwarded.logs;
  EXPECT_NE(forwarded.logs.find(R"("BytesForwarded":)"), std::string::npos) << forwarded.logs;
}

}  // namespace
