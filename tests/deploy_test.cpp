// ./deploy against moto: the dry run builds, validates, packages and creates a change set, and
// changes nothing else; settings that are missing are said before anything is built or sent.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

int elf_machine(const std::filesystem::path& executable) {
  std::ifstream binary(executable, std::ios::binary);
  unsigned char header[20] = {};
  binary.read(reinterpret_cast<char*>(header), sizeof header);
  return header[18] | header[19] << 8;
}

class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(tests::create_buckets(moto_, {bucket_})); }

  // ./deploy with moto as AWS and no other AWS setting of the machine's.
  tests::CommandResult deploy(const std::string& arguments, const std::string& environment = "") {
    return tests::run_command("(cd " + tests::source_path("").string() +
                              " && env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_PROFILE HOME=" +
                              home_.path().string() + " AWS_ENDPOINT_URL=" + moto_.endpoint +
                              " env " + environment + " ./deploy " + arguments + " 2>&1)");
  }

  std::vector<std::string> buckets() {
    std::vector<std::string> names;
    const auto listed = json::parse(tests::aws_cli(moto_, "s3api list-buckets").out);
    for (const auto& bucket : listed.at("Buckets").as_array())
      names.emplace_back(bucket.at("Name").as_string());
    return names;
  }

  tests::MotoServer server_;
  tests::MotoFixture moto_{server_.endpoint(),
                           {server_.access_key_id(), server_.secret_access_key(), ""}};
  tests::TempDir home_;
  const std::string bucket_ = tests::unique_name("artifacts");
  const std::string credentials_ = "AWS_ACCESS_KEY_ID=" + server_.access_key_id() +
                                   " AWS_SECRET_ACCESS_KEY=" + server_.secret_access_key();
};

TEST_F(DeployTest, ADryRunShowsTheChangeSetAndChangesNothing) {
  const auto run = deploy("--dry-run region=us-east-1 stack_name=dry s3_bucket=" + bucket_ +
                              " --param OtherBuckets=app-logs",
                          credentials_);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("dry run: nothing is changed"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("would change"), std::string::npos) << run.out;
  for (const char* resource : {"GetFilesFunction", "ManifestBuilderFunction",
                               "AggregateDailyStateMachine", "LedgerTable"}) {
    EXPECT_NE(run.out.find(resource), std::string::npos) << resource;
  }
  EXPECT_EQ(buckets(), std::vector<std::string>{bucket_}) << "no resource was created";
  const auto stack =
      json::parse(tests::aws_cli(moto_, "cloudformation describe-stacks --stack-name dry").out);
  EXPECT_EQ(stack.at("Stacks").at(0).at("StackStatus").as_string(), "REVIEW_IN_PROGRESS")
      << "the change set waits, not executed";
  const auto packaged = tests::aws_cli(moto_, "s3 ls --recursive s3://" + bucket_).out;
  EXPECT_GE(std::count(packaged.begin(), packaged.end(), '\n'), 6) << "six bootstraps packaged";
  EXPECT_EQ(elf_machine(tests::source_path(".aws-sam/build/GetFilesFunction/bootstrap")), 0xB7)
      << "arm64, the template's default Architecture";
}

// The committed example is what a new user copies: it must read as ./deploy's settings.
TEST_F(DeployTest, TheCommittedExampleSettingsRead) {
  const auto read = tests::run_command(tests::source_path("tools/deploy-helper").string() +
                                       " settings --config-file " +
                                       tests::source_path("samconfig.example.toml").string());
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_NE(read.out.find("stack_name=log-aggregator\n"), std::string::npos) << read.out;
  EXPECT_NE(read.out.find("region=eu-west-1\n"), std::string::npos) << read.out;
  EXPECT_NE(read.out.find("Architecture=arm64"), std::string::npos) << read.out;
  EXPECT_NE(read.out.find("template_architecture=arm64\n"), std::string::npos) << read.out;
}

// sam cannot tell make the template's Architecture: ./deploy checks what was built before it
// packages anything.
TEST_F(DeployTest, ABootstrapBuiltForAnotherArchitectureIsNotPackaged) {
  const auto built = home_.path() / "build";
  std::filesystem::create_directories(built / "GetFilesFunction");
  std::filesystem::copy_file(
      tests::source_path("build/artifacts/x86_64/GetFilesFunction/bootstrap"),
      built / "GetFilesFunction" / "bootstrap");
  const auto helper = tests::source_path("tools/deploy-helper").string();
  const auto refused =
      tests::run_command("(" + helper + " check-architecture " + built.string() + " arm64 2>&1)");
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("Architecture=arm64 but GetFilesFunction is x86_64"),
            std::string::npos)
      << refused.out;
  const auto accepted =
      tests::run_command("(" + helper + " check-architecture " + built.string() + " x86_64 2>&1)");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out;
}

// What CloudFormation would refuse at CreateChangeSet (a parameter's pattern, allowed values, a
// rule) is said before anything is built or uploaded, each problem named.
TEST_F(DeployTest, ParametersTheTemplateRefusesAreNamedBeforeAnythingIsBuilt) {
  const std::string settings = "--dry-run region=us-east-1 stack_name=s s3_bucket=" + bucket_;
  const struct {
    std::string parameters, message;
  } cases[] = {
      {"--param ControlTowerBucket=Logs_Bucket", "'Logs_Bucket' is not an S3 bucket name"},
      {"--param OtherBuckets=alb-logs,s3://app-logs/prefix", "'s3://app-logs/prefix' is not"},
      {"--param AlertEmail=ops", "'ops' is not an e-mail address"},
      {"--param AggregationRegions=eu-west-1,Ireland", "is not comma-separated region codes"},
      {"--param DestinationPrefix=../aggregated", "is not a key prefix"},
      {"--param LogRetentionInDays=10", "LogRetentionInDays='10' is not one of 1, 3, 5"},
      {"--param CrawlerMode=crawler", "rule CrawlerModeNamesItsCrawlers"},
      {"--param ExpirationInDays=120", "is less than DaysUntilGlacierDeepArchive (90) + 180"},
      {"--param NoSuchParameter=1", "the template has no parameter NoSuchParameter"},
  };
  for (const auto& c : cases) {
    const auto run = deploy(settings + " " + c.parameters, credentials_);
    EXPECT_EQ(run.exit_code, 2) << c.parameters << "\n" << run.out;
    EXPECT_NE(run.out.find(c.message), std::string::npos) << c.parameters << "\n" << run.out;
    EXPECT_EQ(run.out.find("cfn-lint"), std::string::npos) << "nothing validated or built";
  }
  EXPECT_TRUE(tests::aws_cli(moto_, "s3 ls --recursive s3://" + bucket_).out.empty());
  const auto stacks = tests::aws_cli(moto_, "cloudformation list-stacks").out;
  EXPECT_EQ(stacks.find("\"StackName\": \"s\""), std::string::npos) << stacks;
}

// resolve_s3 without sam makes (or finds) SAM's managed artifact bucket, and stack tags reach
// CloudFormation, which puts them on every resource that takes tags.
TEST_F(DeployTest, ResolveS3UsesSamsManagedBucketAndTagsGoToTheStack) {
  const auto run = deploy(
      "--dry-run region=us-east-1 stack_name=tagged resolve_s3=true "
      "'tags=Project=log-archive Owner=secops'",
      credentials_);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const auto managed = json::parse(
      tests::aws_cli(moto_,
                     "cloudformation describe-stacks --stack-name aws-sam-cli-managed-default")
          .out);
  std::string source_bucket;
  for (const auto& output : managed.at("Stacks").at(0).at("Outputs").as_array())
    if (output.at("OutputKey") == "SourceBucket")
      source_bucket = output.at("OutputValue").as_string();
  ASSERT_FALSE(source_bucket.empty()) << run.out;
  const auto packaged = tests::aws_cli(moto_, "s3 ls --recursive s3://" + source_bucket).out;
  EXPECT_GE(std::count(packaged.begin(), packaged.end(), '\n'), 6) << "six bootstraps packaged";
  const auto stack =
      json::parse(tests::aws_cli(moto_, "cloudformation describe-stacks --stack-name tagged").out);
  std::map<std::string, std::string> tags;
  for (const auto& tag : stack.at("Stacks").at(0).at("Tags").as_array())
    tags[std::string(tag.at("Key").as_string())] = tag.at("Value").as_string();
  EXPECT_EQ(tags["Project"], "log-archive");
  EXPECT_EQ(tags["Owner"], "secops");
  const auto again =
      deploy("--dry-run region=us-east-1 stack_name=tagged2 resolve_s3=true", credentials_);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(again.out.find("making the artifact bucket"), std::string::npos)
      << "the managed bucket is made once: " << again.out;
}

TEST_F(DeployTest, MissingSettingsAreSaidBeforeAnythingIsBuiltOrSent) {
  const struct {
    std::string arguments, environment, message;
  } cases[] = {
      {"stack_name=s s3_bucket=" + bucket_, credentials_, "no region"},
      {"region=us-east-1 stack_name=s", credentials_, "no artifact bucket"},
      {"region=us-east-1 s3_bucket=" + bucket_ + " stack_name=", credentials_, "no stack name"},
      {"region=us-east-1 stack_name=s s3_bucket=" + bucket_,
       "-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED=true",
       "no usable AWS credentials"},
      {"region=us-east-1 stack_name=s s3_bucket=" + bucket_ + " --param Architecture=sparc",
       credentials_, "Architecture='sparc' is not one of arm64, x86_64"},
      {"--frobnicate", credentials_, "unknown argument"},
  };
  for (const auto& c : cases) {
    const auto run = deploy(c.arguments, c.environment);
    EXPECT_EQ(run.exit_code, 2) << c.arguments << "\n" << run.out;
    EXPECT_NE(run.out.find(c.message), std::string::npos) << c.arguments << "\n" << run.out;
    EXPECT_EQ(run.out.find("cfn-lint"), std::string::npos) << "nothing validated or built";
  }
  EXPECT_TRUE(tests::aws_cli(moto_, "s3 ls --recursive s3://" + bucket_).out.empty());
  EXPECT_EQ(deploy("--help").exit_code, 0);
}

}  // namespace
