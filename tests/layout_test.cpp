// Where outputs and work files are kept: the key layout the README and the Athena tables rely on.
#include <gtest/gtest.h>

#include "pipeline/layout.h"

namespace {

using namespace pipeline;

Group control_tower_group() {
  Group group;
  group.kind = GroupKind::kControlTower;
  group.source_bucket = "ct-logs";
  group.date = "2026-03-05";
  group.account = "111111111111";
  group.log_type = "CloudTrail";
  group.region = "eu-west-1";
  return group;
}

TEST(Layout, OutputsGoToHiveFoldersUnderThePrefixHoweverItIsWritten) {
  for (const char* prefix : {"aggregated", "aggregated/", "aggregated//"}) {
    EXPECT_EQ(group_directory(prefix, control_tower_group()),
              "aggregated/CloudTrail/account=111111111111/region=eu-west-1/date=2026-03-05");
  }
  EXPECT_EQ(group_directory("", control_tower_group()),
            "CloudTrail/account=111111111111/region=eu-west-1/date=2026-03-05");
  EXPECT_EQ(group_output_name(control_tower_group()),
            "CloudTrail_111111111111_eu-west-1_2026-03-05");
  EXPECT_EQ(manifest_key_base("batch/", "app-logs", "2026-03-05", "m-1"),
            "batch/app-logs/date=2026-03-05/batch-m-1");
}

TEST(Layout, TwoFoldersWhoseSlugsMeetStillGetTheirOwnOutputNames) {
  Group a, b, root;
  a.directory = "a/b/";
  b.directory = "a_b/";
  root.directory = "";
  EXPECT_NE(group_output_name(a), group_output_name(b));
  EXPECT_TRUE(group_output_name(a).starts_with("a_b-"));
  EXPECT_TRUE(group_output_name(root).starts_with("root-"));
}

// A day's Parquet lies beside the combined objects, never under the prefix the text tables read.
TEST(Layout, ADaysParquetLiesBesideTheCombinedObjects) {
  EXPECT_EQ(pipeline::parquet_day_folder("aggregated", "cloudtrail", "2026-03-05"),
            "aggregated-parquet/cloudtrail/date=2026-03-05/");
  EXPECT_EQ(pipeline::parquet_day_folder("logs/aggregated//", "cloudtrail", "2026-03-05"),
            "logs/aggregated-parquet/cloudtrail/date=2026-03-05/");
  EXPECT_EQ(pipeline::parquet_day_folder("", "cloudtrail", "2026-03-05"),
            "parquet/cloudtrail/date=2026-03-05/");
  EXPECT_FALSE(
      pipeline::hive_partition_of("aggregated", "aggregated-parquet/cloudtrail/date=2026-03-05/x"))
      << "outside the combined objects' prefix";
}

TEST(Layout, ABatchsParquetHasAFolderOfItsOwnInItsDay) {
  EXPECT_EQ(
      pipeline::parquet_batch_folder("aggregated", "other_logs", "app-logs", "2026-03-05", "m-1"),
      "aggregated-parquet/other_logs/bucket=app-logs/date=2026-03-05/batch=m-1/");
  EXPECT_TRUE(
      pipeline::parquet_batch_folder("aggregated", "other_logs", "app-logs", "2026-03-05", "m-1")
          .starts_with(pipeline::parquet_day_folder("aggregated", "other_logs/bucket=app-logs",
                                                    "2026-03-05")));
}

TEST(Layout, AnAmplifyChunkIsNamedByItsStart) {
  const std::chrono::sys_seconds start{std::chrono::sys_days{std::chrono::November / 16 / 2026} +
                                       std::chrono::hours(8) + std::chrono::minutes(30)};
  EXPECT_EQ(pipeline::amplify_log_key("aggregated/", "type=amplify_logs/", "shop", start),
            "aggregated/type=amplify_logs/app=shop/date_export=2026-11-16/log_20261116_083000");
  EXPECT_EQ(pipeline::amplify_log_key("", "amplify", "shop", start),
            "amplify/app=shop/date_export=2026-11-16/log_20261116_083000");
  const auto partition = pipeline::hive_partition_of(
      "aggregated", pipeline::amplify_log_key("aggregated", "type=amplify_logs", "shop", start));
  ASSERT_TRUE(partition);
  EXPECT_EQ(partition->values, (std::vector<std::string>{"shop", "2026-11-16"}));
}

TEST(Layout, AnOutputKeyNamesItsHivePartition) {
  const auto partition = hive_partition_of(
      "agg/", "agg/CloudTrail/account=1/region=r/date=2026-03-05/CloudTrail_1_r-0001.gz");
  ASSERT_TRUE(partition.has_value());
  EXPECT_EQ(partition->table_folder, "CloudTrail");
  EXPECT_EQ(partition->folder, "CloudTrail/account=1/region=r/date=2026-03-05/");
  EXPECT_EQ(partition->values, (std::vector<std::string>{"1", "r", "2026-03-05"}));
  EXPECT_FALSE(hive_partition_of("agg", "other/CloudTrail/date=1/x.gz")) << "outside the prefix";
  EXPECT_FALSE(hive_partition_of("agg", "agg/CloudTrail/x.gz")) << "no partition folder";
  EXPECT_FALSE(hive_partition_of("agg", "agg/copies/plain/x.gz")) << "no key=value folder";
}

TEST(Layout, WorkFilesAreTheRunsAndNamedSafely) {
  EXPECT_EQ(run_file_key("day-1", "groups.json"), "work/day-1/groups.json");
  const std::string receipt = group_file_key("day-1", "receipts", "bucket/a b/../c", "json");
  EXPECT_TRUE(receipt.starts_with("work/day-1/receipts/")) << receipt;
  EXPECT_EQ(receipt.find("../"), std::string::npos) << receipt;
  EXPECT_NE(checkpoint_key("day-1", "progress", "g", 1, "json"),
            checkpoint_key("day-1", "progress", "g", 2, "json"));
  EXPECT_TRUE(
      ledger_key(ledger_prefix("2026-03-05", "g"), "out/k.gz").starts_with("ledger/2026-03-05/"));
  EXPECT_EQ(planned_sources_key("work/day-1/plans/g-1a2b3c4d.json", 12),
            "work/day-1/plans/g-1a2b3c4d-0012.jsonl");
  EXPECT_EQ(planned_sources_key("work/m-7/plan.json", 1), "work/m-7/plan-0001.jsonl");
}

}  // namespace
