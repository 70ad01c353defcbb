// CrawlerTrigger as Lambda runs it, against moto's Glue, checked with the aws CLI.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/dates.h"
#include "common/s3.h"
#include "pipeline/records.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class CrawlerTriggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = tests::unique_name("logs");
    ASSERT_EQ(
        tests::aws_cli(moto_, "glue create-database --database-input Name=" + database_).exit_code,
        0);
  }
  // A receipt as CombineLogFiles writes it, of outputs at these keys of bucket "dest".
  void put_receipt(const std::string& bucket, const std::string& key,
                   const std::vector<std::string>& output_keys,
                   const std::string& destination = "dest") {
    pipeline::Receipt receipt{"g", "src", destination, {}, {}};
    for (const auto& output_key : output_keys)
      receipt.combined.outputs.push_back(
          {{destination, output_key, 1, "\"e\""}, "", 1, 0, {}, "src", {}, {}, {}, {}});
    s3_.put_object(bucket, key, json::serialize(json::value_from(receipt)));
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string database_;
};

TEST_F(CrawlerTriggerTest, StartsCrawlersAndAlreadyRunningIsSuccess) {
  const std::string first = tests::unique_name("crawl-a");
  const std::string second = tests::unique_name("crawl-b");
  for (const auto& name : {first, second}) {
    ASSERT_EQ(tests::aws_cli(
                  moto_, "glue create-crawler --name " + name +
                             " --role arn:aws:iam::123456789012:role/glue --database-name " +
                             database_ + " --targets '{\"S3Targets\":[{\"Path\":\"s3://b/p\"}]}'")
                  .exit_code,
              0);
  }
  const std::map<std::string, std::string> env{{"CRAWLER_NAMES", first + ", " + second}};
  const auto run =
      tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "r"}}, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("started").as_array().size(), 2u);
  const auto state =
      tests::aws_cli(moto_, "glue get-crawler --name " + first + " --query Crawler.State");
  EXPECT_EQ(state.out, "\"RUNNING\"\n");
  const auto again = tests::invoke_handler(moto_, "CrawlerTrigger", json::object{}, env);
  ASSERT_EQ(again.exit_code, 0) << again.logs;
  EXPECT_EQ(again.response.at("already_running").as_array().size(), 2u);
  EXPECT_TRUE(again.response.at("started").as_array().empty());
}

TEST_F(CrawlerTriggerTest, PartitionsModeRegistersEachNewHiveFolderOnce) {
  const std::string work = tests::unique_name("work");
  ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket " + work).exit_code, 0);
  ASSERT_EQ(
      tests::aws_cli(
          moto_, "glue create-table --database-name " + database_ +
                     " --table-input '{\"Name\":\"ct_cloudtrail\",\"PartitionKeys\":["
                     "{\"Name\":\"account\",\"Type\":\"string\"},{\"Name\":\"region\",\"Type\":"
                     "\"string\"},"
                     "{\"Name\":\"date\",\"Type\":\"string\"}],\"StorageDescriptor\":{\"Location\":"
                     "\"s3://dest/agg/CloudTrail/"
                     "\",\"InputFormat\":\"org.apache.hadoop.mapred.TextInputFormat\"}}'")
          .exit_code,
      0);
  const std::string dir = "agg/CloudTrail/account=111111111111/region=eu-west-1/date=2026-03-05/";
  put_receipt(work, "work/run-7/receipts/g.json",
              {dir + "CloudTrail_x-0001.gz", dir + "CloudTrail_x-0002.gz",
               "agg/Config/account=1/region=r/date=2026-03-05/c.gz"});
  // A receipt naming another bucket's folders registers none of them: partitions point at the
  // configured destination only.
  put_receipt(work, "work/run-7/receipts/elsewhere.json",
              {"agg/CloudTrail/account=222222222222/region=eu-west-1/date=2026-03-05/x.gz"},
              "attacker-bucket");
  const std::map<std::string, std::string> env{
      {"CRAWLER_MODE", "partitions"}, {"WORK_BUCKET", work},        {"DESTINATION_BUCKET", "dest"},
      {"DESTINATION_PREFIX", "agg"},  {"GLUE_DATABASE", database_}, {"GLUE_TABLE_PREFIX", "ct_"}};
  const auto run =
      tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "run-7"}}, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("created").as_int64(), 1) << "two outputs, one folder";
  EXPECT_EQ(json::serialize(run.response.at("missing_tables")), R"(["ct_config"])");
  const auto partitions =
      tests::aws_cli(moto_, "glue get-partitions --database-name " + database_ +
                                " --table-name ct_cloudtrail --query "
                                "'Partitions[].[Values,StorageDescriptor.Location]' --output json");
  const auto listed = json::parse(partitions.out);
  ASSERT_EQ(listed.as_array().size(), 1u) << partitions.out;
  EXPECT_EQ(json::serialize(listed.at(0).at(0)), R"(["111111111111","eu-west-1","2026-03-05"])");
  EXPECT_EQ(listed.at(0).at(1).as_string(), "s3://dest/" + dir);

  const auto again =
      tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "run-7"}}, env);
  ASSERT_EQ(again.exit_code, 0) << again.logs;
  EXPECT_EQ(again.response.at("created").as_int64(), 0);
  EXPECT_EQ(again.response.at("existing").as_int64(), 1);

  for (const json::value& bad :
       {json::value(json::object{}), json::value(json::object{{"run_id", "../run-7"}}),
        json::value(json::object{{"run_id", 7}}), json::value("run-7")}) {
    const auto rejected = tests::invoke_handler(moto_, "CrawlerTrigger", bad, env);
    EXPECT_EQ(rejected.exit_code, 1) << json::serialize(bad);
    EXPECT_EQ(rejected.response.at("errorType").as_string(), "InvalidInput")
        << json::serialize(bad);
  }
}

// BatchCreatePartition takes at most 100 partitions: 250 new day folders take three calls, and a
// table folder with '-' is the table with '_'.
TEST_F(CrawlerTriggerTest, ManyPartitionsAreRegisteredAHundredAtATime) {
  const std::string work = tests::unique_name("work");
  ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket " + work).exit_code, 0);
  ASSERT_EQ(tests::aws_cli(moto_,
                           "glue create-table --database-name " + database_ +
                               " --table-input '{\"Name\":\"ct_vpc_flow\",\"PartitionKeys\":["
                               "{\"Name\":\"date\",\"Type\":\"string\"}],"
                               "\"StorageDescriptor\":{\"Location\":\"s3://dest/agg/vpc-flow/\"}}'")
                .exit_code,
            0);
  std::vector<std::string> outputs;
  common::Date day{2025, 1, 1};
  for (int i = 0; i < 250; ++i, day = day.next())
    outputs.push_back("agg/vpc-flow/date=" + day.iso() + "/f-0001.log");
  put_receipt(work, "work/run-250/receipts/g.json", outputs);
  const auto run =
      tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "run-250"}},
                            {{"CRAWLER_MODE", "partitions"},
                             {"WORK_BUCKET", work},
                             {"DESTINATION_BUCKET", "dest"},
                             {"DESTINATION_PREFIX", "agg"},
                             {"GLUE_DATABASE", database_},
                             {"GLUE_TABLE_PREFIX", "ct_"}});
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("created").as_int64(), 250) << json::serialize(run.response);
  EXPECT_TRUE(run.response.at("missing_tables").as_array().empty());
  const auto listed = tests::aws_cli(moto_, "glue get-partitions --database-name " + database_ +
                                                " --table-name ct_vpc_flow --query "
                                                "'length(Partitions)' --output json");
  EXPECT_EQ(listed.out, "250\n") << listed.err;
}

TEST_F(CrawlerTriggerTest, ACrawlerThatDoesNotExistFailsNamingIt) {
  const std::string missing = tests::unique_name("no-such-crawler");
  const auto run = tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "r"}},
                                         {{"CRAWLER_NAMES", missing}});
  EXPECT_EQ(run.exit_code, 1);
  const std::string message(run.response.at("errorMessage").as_string());
  EXPECT_NE(message.find("EntityNotFoundException"), std::string::npos) << message;
  EXPECT_NE(message.find(missing), std::string::npos) << message;
}

// Projection mode: the template's tables project their partitions (Athena partition projection),
// so the run has nothing to register and nothing is asked of Glue or S3.
TEST_F(CrawlerTriggerTest, ProjectionModeHasNothingToDo) {
  const auto run = tests::invoke_handler(moto_, "CrawlerTrigger", json::object{{"run_id", "r"}},
                                         {{"CRAWLER_MODE", "projection"}});
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response, json::parse(R"({"mode":"projection","registered":0})"));
  EXPECT_EQ(run.logs.find(R"("AwsRequests")"), std::string::npos) << "no AWS request" << run.logs;
}

// A day's conversion to Parquet starts from an empty folder (Athena's UNLOAD writes only into
// one, and leaves a failed run's files behind): the day's Parquet files go, nothing else does,
// and the answer is the day's UNLOAD into that folder. Run again, it finds nothing to clear.
TEST_F(CrawlerTriggerTest, ClearingADaysParquetEmptiesItsFolderAndGivesTheDaysUnload) {
  const std::string bucket = tests::unique_name("dest");
  ASSERT_TRUE(tests::create_buckets(moto_, {bucket}));
  const std::string day = "aggregated-parquet/logs_cloudtrail/date=2026-03-05/";
  const std::vector<std::string> kept = {
      "aggregated-parquet/logs_cloudtrail/date=2026-03-06/next-day.parquet",
      "aggregated/CloudTrail/account=111111111111/region=eu-west-1/date=2026-03-05/ct.gz"};
  for (const auto& key : kept) s3_.put_object(bucket, key, "x");
  s3_.put_object(bucket, day + "20260305_a.parquet", "earlier run");
  s3_.put_object(bucket, day + "orphan of a failed run", "half");
  const std::map<std::string, std::string> env{{"CRAWLER_MODE", "projection"},
                                               {"DESTINATION_BUCKET", bucket},
                                               {"GLUE_DATABASE", database_},
                                               {"GLUE_TABLE_PREFIX", "logs_"}};
  const json::object event{{"action", "clear_parquet_day"}, {"date", "2026-03-05"}};
  const auto run = tests::invoke_handler(moto_, "CrawlerTrigger", event, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("cleared"), 2);
  EXPECT_EQ(run.response.at("query").as_string(),
            "UNLOAD (SELECT eventtime, eventsource, eventname, awsregion, sourceipaddress, "
            "useragent, errorcode, errormessage, useridentity.type AS identity_type, "
            "useridentity.arn AS principal_arn, useridentity.accountid AS principal_account, "
            "requestparameters, responseelements, resources, recipientaccountid, readonly, "
            "eventid, eventtype, account, region FROM \"" +
                database_ + "\".\"logs_cloudtrail\" WHERE date = '2026-03-05') TO 's3://" + bucket +
                "/" + day + "' WITH (format = 'PARQUET', compression = 'SNAPPY')");
  EXPECT_EQ(tests::cli_keys(moto_, bucket), std::set<std::string>(kept.begin(), kept.end()));

  const auto again = tests::invoke_handler(moto_, "CrawlerTrigger", event, env);
  ASSERT_EQ(again.exit_code, 0) << again.logs;
  EXPECT_EQ(again.response.at("cleared"), 0);
  EXPECT_EQ(again.response.at("query"), run.response.at("query"));

  const auto bad = tests::invoke_handler(
      moto_, "CrawlerTrigger",
      json::object{{"action", "clear_parquet_day"}, {"date", "2026-03-05' OR '1'='1"}}, env);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.response.at("errorType").as_string(), "InvalidInput");
  EXPECT_EQ(tests::cli_keys(moto_, bucket).size(), kept.size()) << "nothing more deleted";
}

TEST_F(CrawlerTriggerTest, ClearingABatchsParquetEmptiesItsOwnFolderAndGivesTheBatchsUnload) {
  const std::string bucket = tests::unique_name("dest");
  ASSERT_TRUE(tests::create_buckets(moto_, {bucket}));
  const std::string day = "aggregated-parquet/other_logs/bucket=app-logs/date=2026-03-05/";
  const std::string batch = day + "batch=m_2026-03-05_1/";
  const std::vector<std::string> kept = {
      day + "batch=m_2026-03-05_2/another batch.parquet",
      "aggregated/app-logs/date=2026-03-05/batch-m_2026-03-05_1-0001.log"};
  for (const auto& key : kept) s3_.put_object(bucket, key, "x");
  s3_.put_object(bucket, batch + "earlier run.parquet", "earlier run");
  const std::map<std::string, std::string> env{
      {"CRAWLER_MODE", "projection"}, {"DESTINATION_BUCKET", bucket}, {"GLUE_DATABASE", database_}};
  json::object event{{"action", "clear_parquet_batch"},
                     {"bucket", "app-logs"},
                     {"date", "2026-03-05"},
                     {"manifest_id", "m_2026-03-05_1"}};
  const auto run = tests::invoke_handler(moto_, "CrawlerTrigger", event, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("cleared"), 1);
  // The batch's own outputs only: '_' in its id would match any character unescaped.
  EXPECT_EQ(run.response.at("query").as_string(),
            "UNLOAD (SELECT line FROM \"" + database_ +
                "\".\"other_logs\" WHERE bucket = 'app-logs' AND date = '2026-03-05' AND \"$path\" "
                "LIKE 's3://" +
                bucket +
                "/aggregated/app-logs/date=2026-03-05/batch-m\\_2026-03-05\\_1-%' ESCAPE '\\') "
                "TO 's3://" +
                bucket + "/" + batch + "' WITH (format = 'PARQUET', compression = 'SNAPPY')");
  EXPECT_EQ(tests::cli_keys(moto_, bucket), std::set<std::string>(kept.begin(), kept.end()));

  for (const auto& [field, value] :
       {std::pair<std::string, std::string>{"manifest_id", "m' OR '1'='1"},
        {"bucket", "app-logs' OR 'x"},
        {"date", "2026-02-30"}}) {
    auto bad = event;
    bad[field] = value;
    const auto refused = tests::invoke_handler(moto_, "CrawlerTrigger", bad, env);
    EXPECT_EQ(refused.exit_code, 1) << field;
    EXPECT_EQ(refused.response.at("errorType").as_string(), "InvalidInput") << field;
  }
  EXPECT_EQ(tests::cli_keys(moto_, bucket).size(), kept.size()) << "nothing more deleted";
}

TEST_F(CrawlerTriggerTest, BadConfigurationFailsInitialisation) {
  const auto run = tests::invoke_handler(moto_, "CrawlerTrigger", json::object{},
                                         {{"CRAWLER_MODE", "sometimes"}});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.response.at("errorType").as_string(), "ConfigurationError");
  EXPECT_NE(run.response.at("errorMessage").as_string().find("crawler, partitions or projection"),
            std::string::npos);
  const auto none = tests::invoke_handler(moto_, "CrawlerTrigger", json::object{}, {});
  EXPECT_EQ(none.response.at("errorType").as_string(), "ConfigurationError");
}

}  // namespace
