// The AWS clients against a real local AWS (moto over HTTP). Results that matter are checked with
// the aws CLI, an independent client, not with our own.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latch>
#include <set>
#include <thread>

#include "common/json_services.h"
#include "common/s3.h"
#include "common/sqs.h"
#include "functions/lambda_errors.h"
#include "runtime/metrics.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;
using common::S3Client;

class S3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = tests::unique_name("s3test");
    ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket " + bucket_).exit_code, 0);
  }
  tests::MotoFixture moto_ = tests::moto_fixture();
  S3Client s3_{tests::moto_options(moto_)};
  std::string bucket_;
};

TEST_F(S3Test, ListObjectsV2PagesThroughEveryKeyWithPrefixesAndStartAfter) {
  for (int i = 0; i < 250; ++i) {
    char key[64];
    std::snprintf(key, sizeof key, "logs/%s/file-%03d.json", i % 2 ? "odd" : "even", i);
    s3_.put_object(bucket_, key, "x");
  }
  s3_.put_object(bucket_, "other/file.json", "y");
  int pages = 0;
  std::vector<std::string> keys;
  common::ListOptions options;
  options.prefix = "logs/";
  options.max_keys = 100;
  s3_.for_each_page(bucket_, options, [&](common::ListPage& page) {
    ++pages;
    for (const auto& object : page.objects) keys.push_back(object.key);
    return true;
  });
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(keys.size(), 250u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 250u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));

  options.delimiter = "/";
  const auto top = s3_.list_objects_v2(bucket_, options);
  EXPECT_EQ(top.common_prefixes, (std::vector<std::string>{"logs/even/", "logs/odd/"}));
  EXPECT_TRUE(top.objects.empty());

  common::ListOptions after;
  after.prefix = "logs/odd/";
  after.start_after = "logs/odd/file-241.json";
  std::vector<std::string> tail;
  s3_.for_each_page(bucket_, after, [&](common::ListPage& page) {
    for (const auto& object : page.objects) tail.push_back(object.key);
    return true;
  });
  EXPECT_EQ(tail, (std::vector<std::string>{"logs/odd/file-243.json", "logs/odd/file-245.json",
                                            "logs/odd/file-247.json", "logs/odd/file-249.json"}));
}

TEST_F(S3Test, AwkwardKeysRoundTrip) {
  const std::vector<std::string> keys = {"a key with spaces.log", "plus+sign.log",
                                         "percent%25and%.log",    "unicode-é-ሴ-日志.log",
                                         "equals=and~tilde.log",  "dir/sub dir/x+y=z~.log"};
  for (const auto& key : keys) s3_.put_object(bucket_, key, "content of " + key + "\n");
  std::set<std::string> listed;
  for (const auto& object : s3_.list_all(bucket_)) listed.insert(object.key);
  EXPECT_EQ(listed, std::set<std::string>(keys.begin(), keys.end()));
  for (const auto& key : keys) {
    EXPECT_EQ(s3_.get_object(bucket_, key), "content of " + key + "\n") << key;
    EXPECT_EQ(s3_.head_object(bucket_, key).size, key.size() + 12) << key;
    s3_.copy_object({bucket_, key, "", std::nullopt, ""}, bucket_, "copies/" + key);
    // The aws CLI sees the same key, byte for byte.
    const auto fetched = tests::aws_cli(moto_, "s3 cp 's3://" + bucket_ + "/copies/" + key + "' -");
    EXPECT_EQ(fetched.out, "content of " + key + "\n") << key << fetched.err;
  }
  const auto result = s3_.delete_objects(bucket_, {{keys[0], ""}, {keys[1], ""}, {keys[2], ""}});
  EXPECT_EQ(result.deleted.size(), 3u);
  EXPECT_TRUE(result.errors.empty());
  EXPECT_THROW(s3_.get_object(bucket_, keys[1]), common::NoSuchKey);
}

// S3 keys are not paths: "." and ".." segments and "//" are part of the key. A client that
// normalises the path after signing it writes another key, or fails SignatureDoesNotMatch.
TEST(Signatures, KeysWithDotSegmentsAndDoubleSlashesAreSentAsSigned) {
  const auto moto = tests::moto_fixture(true);
  const std::string bucket = tests::unique_name("dots");
  S3Client s3(tests::moto_options(moto));
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  const std::vector<std::string> keys = {"logs/2026-03-05/./a.log",
                                         "logs/x/../c.log",
                                         "logs//double.log",
                                         "./lead.log",
                                         "../up.log",
                                         "date=2026-03-05/a b+c%d.log",
                                         "unicode-é-ሴ-日志.log"};
  for (const auto& key : keys) s3.put_object(bucket, key, "content of " + key + "\n");
  const auto listed = tests::aws_cli(
      moto, "s3api list-objects-v2 --bucket " + bucket + " --query 'Contents[].Key' --output json");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json::value listed_keys = json::parse(listed.out);
  std::set<std::string> seen;
  for (const auto& key : listed_keys.as_array()) seen.insert(std::string(key.as_string()));
  EXPECT_EQ(seen, std::set<std::string>(keys.begin(), keys.end())) << listed.out;
  for (const auto& key : keys) {
    EXPECT_EQ(s3.get_object(bucket, key), "content of " + key + "\n") << key;
    EXPECT_EQ(s3.head_object(bucket, key).size, key.size() + 12) << key;
  }
  const auto deleted = s3.delete_objects(bucket, {{keys[0], ""}, {keys[1], ""}});
  EXPECT_EQ(deleted.deleted.size(), 2u);
}

TEST_F(S3Test, MissingThingsAreTypedErrors) {
  EXPECT_THROW(s3_.get_object(bucket_, "nope"), common::NoSuchKey);
  EXPECT_THROW(s3_.head_object(bucket_, "nope"), common::NoSuchKey);
  EXPECT_THROW(s3_.list_objects_v2("no-such-bucket-" + bucket_, {}), common::NoSuchBucket);
  EXPECT_THROW(s3_.abort_multipart_upload(bucket_, "k", "no-such-upload"), common::NoSuchUpload);
  try {
    s3_.get_object(bucket_, "nope");
  } catch (const common::AwsError& error) {
    EXPECT_EQ(error.http_status(), 404);
    EXPECT_FALSE(error.retryable());
    EXPECT_EQ(functions::lambda_error_type(error), "AwsError");
  }
}

TEST_F(S3Test, VersionedBucketListsVersionsAndDeleteMarkers) {
  ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + bucket_ +
                                      " --versioning-configuration Status=Enabled")
                .exit_code,
            0);
  std::vector<std::string> version_ids;
  for (int i = 0; i < 3; ++i) {
    version_ids.push_back(
        s3_.put_object(bucket_, "log.json", "version " + std::to_string(i)).version_id);
  }
  s3_.put_object(bucket_, "other.json", "x");
  // A plain delete leaves a marker; the versions survive.
  s3_.delete_objects(bucket_, {{"log.json", ""}});
  EXPECT_THROW(s3_.get_object(bucket_, "log.json"), common::NoSuchKey);
  common::GetOptions old;
  old.version_id = version_ids[1];
  EXPECT_EQ(s3_.get_object(bucket_, "log.json", old), "version 1");

  std::vector<common::S3Object> versions;
  int pages = 0;
  common::VersionListOptions options;
  options.max_keys = 2;
  s3_.for_each_version_page(bucket_, options, [&](common::VersionPage& page) {
    ++pages;
    for (auto& version : page.versions) versions.push_back(version);
    return true;
  });
  EXPECT_GE(pages, 3);
  int markers = 0, log_versions = 0;
  for (const auto& version : versions) {
    if (version.key != "log.json") continue;
    if (version.delete_marker) {
      ++markers;
      EXPECT_TRUE(version.is_latest);
    } else {
      ++log_versions;
    }
  }
  EXPECT_EQ(markers, 1);
  EXPECT_EQ(log_versions, 3);
  // With a delimiter, everything below a folder is one common prefix; loose keys are listed.
  s3_.put_object(bucket_, "dir/a.json", "a");
  s3_.put_object(bucket_, "dir/sub/b.json", "b");
  common::VersionListOptions root;
  root.delimiter = "/";
  root.max_keys = 1;
  std::set<std::string> loose;
  std::vector<std::string> folders;
  s3_.for_each_version_page(bucket_, root, [&](common::VersionPage& page) {
    for (const auto& version : page.versions) loose.insert(version.key);
    for (const auto& folder : page.common_prefixes) folders.push_back(folder);
    return true;
  });
  EXPECT_EQ(folders, std::vector<std::string>{"dir/"});
  EXPECT_EQ(loose, (std::set<std::string>{"log.json", "other.json"}));
  // Copies read exactly the version named, not the current one.
  s3_.copy_object({bucket_, "log.json", version_ids[1], std::nullopt, ""}, bucket_,
                  "copy-of-v1.json");
  EXPECT_EQ(s3_.get_object(bucket_, "copy-of-v1.json"), "version 1");
  const std::string upload = s3_.create_multipart_upload(bucket_, "part-copy-of-v0.json");
  const auto part =
      s3_.upload_part_copy(bucket_, "part-copy-of-v0.json", upload, 1,
                           {bucket_, "log.json", version_ids[0], common::ByteRange{0, 6}, ""});
  s3_.complete_multipart_upload(bucket_, "part-copy-of-v0.json", upload, {part});
  EXPECT_EQ(s3_.get_object(bucket_, "part-copy-of-v0.json"), "version");
  // Deleting exactly one version removes it and only it.
  s3_.delete_objects(bucket_, {{"log.json", version_ids[0]}});
  EXPECT_THROW(s3_.get_object(bucket_, "log.json", common::GetOptions{version_ids[0], {}, ""}),
               common::AwsError);
  EXPECT_EQ(s3_.get_object(bucket_, "log.json", common::GetOptions{version_ids[2], {}, ""}),
            "version 2");
}

TEST_F(S3Test, MultipartFromCopyRangesAndAFinalSmallPart) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  std::string source(12 * kMiB, '\0');
  for (std::size_t i = 0; i < source.size(); ++i)
    source[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  s3_.put_object(bucket_, "source object.bin", source);

  common::PutOptions put;
  put.storage_class = "STANDARD_IA";
  const std::string upload = s3_.create_multipart_upload(bucket_, "combined/out+1.bin", put);
  std::vector<common::CompletedPart> parts;
  parts.push_back(s3_.upload_part_copy(
      bucket_, "combined/out+1.bin", upload, 1,
      {bucket_, "source object.bin", "", common::ByteRange{0, 5 * kMiB - 1}, ""}));
  parts.push_back(s3_.upload_part_copy(
      bucket_, "combined/out+1.bin", upload, 2,
      {bucket_, "source object.bin", "", common::ByteRange{5 * kMiB, 10 * kMiB - 1}, ""}));
  const std::string tail = "the final part is small\n";
  parts.push_back(s3_.upload_part(bucket_, "combined/out+1.bin", upload, 3, tail));

  // The parts as the aws CLI lists them.
  const auto listed_parts = tests::aws_cli(
      moto_, "s3api list-parts --bucket " + bucket_ + " --key 'combined/out+1.bin' --upload-id " +
                 upload + " --query 'Parts[].Size' --output text");
  EXPECT_EQ(listed_parts.out, std::to_string(5 * kMiB) + "\t" + std::to_string(5 * kMiB) + "\t" +
                                  std::to_string(tail.size()) + "\n")
      << listed_parts.err;
  bool upload_listed = false;
  for (const auto& item : s3_.list_multipart_uploads(bucket_))
    upload_listed |= item.upload_id == upload;
  EXPECT_TRUE(upload_listed);

  const auto written = s3_.complete_multipart_upload(bucket_, "combined/out+1.bin", upload, parts);
  EXPECT_TRUE(written.etag.ends_with("-3\"")) << written.etag;
  EXPECT_EQ(tests::cli_open_uploads(moto_, bucket_), 0u);

  // Checked with the aws CLI, not our GET.
  tests::TempDir dir;
  const auto path = dir.path() / "out.bin";
  ASSERT_EQ(
      tests::aws_cli(moto_, "s3 cp 's3://" + bucket_ + "/combined/out+1.bin' " + path.string())
          .exit_code,
      0);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes.size(), 10 * kMiB + tail.size());
  EXPECT_TRUE(bytes == source.substr(0, 10 * kMiB) + tail);
  const auto head = tests::aws_cli(
      moto_, "s3api head-object --bucket " + bucket_ + " --key 'combined/out+1.bin'");
  EXPECT_NE(head.out.find("STANDARD_IA"), std::string::npos) << head.out;

  const std::string aborted = s3_.create_multipart_upload(bucket_, "abandoned.bin");
  s3_.upload_part(bucket_, "abandoned.bin", aborted, 1, "x");
  s3_.abort_multipart_upload(bucket_, "abandoned.bin", aborted);
  EXPECT_THROW(s3_.upload_part(bucket_, "abandoned.bin", aborted, 2, "y"), common::NoSuchUpload)
      << "an aborted upload takes no part";
}

// Two attempts at one output (an Express child run twice) complete the same key at once: S3
// applies a conditional write atomically, so one wins and the other is refused (412, or 409
// ConditionalRequestConflict while the first is in flight), and the key has one version.
TEST_F(S3Test, ConcurrentConditionalCompletionsOfOneKeyHaveOneWinner) {
  ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + bucket_ +
                                      " --versioning-configuration Status=Enabled")
                .exit_code,
            0);
  constexpr int kWriters = 6;
  std::vector<std::string> uploads(kWriters);
  std::vector<std::vector<common::CompletedPart>> parts(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    uploads[i] = s3_.create_multipart_upload(bucket_, "out.log");
    parts[i].push_back(s3_.upload_part(bucket_, "out.log", uploads[i], 1, "the same bytes\n"));
  }
  std::latch ready(kWriters);
  std::vector<std::string> outcomes(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      S3Client client{tests::moto_options(moto_)};
      ready.arrive_and_wait();
      try {
        client.complete_multipart_upload(bucket_, "out.log", uploads[i], parts[i], true);
        outcomes[i] = "written";
      } catch (const common::AwsError& error) {
        outcomes[i] = error.code();
      }
    });
  }
  for (auto& writer : writers) writer.join();
  std::multiset<std::string> counted(outcomes.begin(), outcomes.end());
  EXPECT_EQ(counted.count("written"), 1u) << ::testing::PrintToString(outcomes);
  EXPECT_EQ(counted.count("written") + counted.count("PreconditionFailed") +
                counted.count("ConditionalRequestConflict"),
            static_cast<std::size_t>(kWriters))
      << ::testing::PrintToString(outcomes);
  EXPECT_EQ(tests::cli_versions(moto_, bucket_, "out.log").size(), 1u);
}

TEST_F(S3Test, RangedAndStreamedGets) {
  s3_.put_object(bucket_, "range.txt", "0123456789");
  common::GetOptions range;
  range.range = common::ByteRange{2, 5};
  EXPECT_EQ(s3_.get_object(bucket_, "range.txt", range), "2345");

  // A body streamed from a source that cannot rewind, and one streamed into a sink.
  class OnceSource : public common::BodySource {
   public:
    explicit OnceSource(std::string text) : text_(std::move(text)) {}
    std::size_t read(char* buffer, std::size_t size) override {
      const std::size_t count = std::min(size, text_.size() - offset_);
      std::memcpy(buffer, text_.data() + offset_, count);
      offset_ += count;
      return count;
    }
    bool rewind() override { return offset_ == 0; }
    std::uint64_t size() const override { return text_.size(); }

   private:
    std::string text_;
    std::size_t offset_ = 0;
  };
  const std::string big(3 * 1024 * 1024 + 17, 'z');
  s3_.put_object(bucket_, "streamed.bin", std::make_shared<OnceSource>(big));
  std::size_t received = 0;
  int chunks = 0;
  s3_.get_object_to(bucket_, "streamed.bin", {}, [&](std::string_view chunk) {
    received += chunk.size();
    ++chunks;
    return true;
  });
  EXPECT_EQ(received, big.size());
  EXPECT_GT(chunks, 1) << "the body arrived in pieces, never whole";
  EXPECT_THROW(s3_.get_object_to(bucket_, "missing.bin", {}, [](std::string_view) { return true; }),
               common::NoSuchKey);
}

TEST_F(S3Test, DeleteObjectsSplitsIntoThousands) {
  std::vector<common::ObjectId> objects;
  std::vector<common::AwsRequest> puts;
  for (int i = 0; i < 2500; ++i) {
    const std::string key = "bulk/" + std::to_string(i) + ".log";
    objects.push_back({key, ""});
    common::AwsRequest request;
    request.operation = "PutObject";
    request.method = "PUT";
    request.path = "/" + bucket_ + "/" + key;
    request.s3_payload_header = true;
    request.body = "line\n";
    puts.push_back(std::move(request));
  }
  for (const auto& outcome : s3_.client().send_all(std::move(puts), 32)) ASSERT_TRUE(outcome.ok());
  ASSERT_EQ(s3_.list_all(bucket_, "bulk/").size(), 2500u);
  const auto result = s3_.delete_objects(bucket_, objects);
  EXPECT_EQ(result.requests, 3);
  EXPECT_EQ(result.deleted.size(), 2500u);
  EXPECT_TRUE(result.errors.empty());
  const auto listed =
      tests::aws_cli(moto_, "s3api list-objects-v2 --bucket " + bucket_ +
                                " --prefix bulk/ --query 'length(Contents || `[]`)'");
  EXPECT_EQ(listed.out, "0\n") << "aws sees none left: " << listed.err;

  std::vector<common::ObjectId> too_many(1001, common::ObjectId{"k", ""});
  EXPECT_THROW(s3_.delete_objects_request(bucket_, too_many), runtime::InvalidInput);
}

// ---- DynamoDB -------------------------------------------------------------------------------

class DynamoDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = tests::unique_name("ledger");
    const auto created = tests::aws_cli(
        moto_, "dynamodb create-table --table-name " + table_ +
                   " --attribute-definitions AttributeName=pk,AttributeType=S "
                   "AttributeName=sk,AttributeType=S --key-schema AttributeName=pk,KeyType=HASH "
                   "AttributeName=sk,KeyType=RANGE --billing-mode PAY_PER_REQUEST");
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }
  static json::object file_item(const std::string& date, const std::string& key,
                                const std::string& status) {
    return {{"pk", {{"S", date}}}, {"sk", {{"S", key}}}, {"status", {{"S", status}}}};
  }
  tests::MotoFixture moto_ = tests::moto_fixture();
  common::DynamoDbClient dynamodb_{tests::moto_options(moto_)};
  std::string table_;
};

TEST_F(DynamoDbTest, ConditionalPutTwiceIsConditionalCheckFailedWithTheItem) {
  common::Condition once;
  once.expression = "attribute_not_exists(pk)";
  once.return_item_on_failure = true;
  dynamodb_.put_item(table_, file_item("2026-11-22", "a.log", "PENDING"), once);
  try {
    dynamodb_.put_item(table_, file_item("2026-11-22", "a.log", "CLAIMED"), once);
    FAIL() << "the second put must fail its condition";
  } catch (const common::ConditionalCheckFailed& error) {
    EXPECT_EQ(functions::lambda_error_type(error), "ConflictError");
    EXPECT_EQ(error.code(), "ConditionalCheckFailedException");
    ASSERT_TRUE(error.item.contains("status")) << "ALL_OLD returns the item that blocked the write";
    EXPECT_EQ(error.item.at("status").at("S").as_string(), "PENDING");
  }
  const auto item =
      dynamodb_.get_item(table_, {{"pk", {{"S", "2026-11-22"}}}, {"sk", {{"S", "a.log"}}}});
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->at("status").at("S").as_string(), "PENDING") << "the first write stands";
}

TEST_F(DynamoDbTest, UpdateWithConditionClaimsOnlyOnce) {
  dynamodb_.put_item(table_, file_item("d", "f", "PENDING"));
  common::Condition pending;
  pending.expression = "#s = :pending";
  pending.names = {{"#s", "status"}};
  pending.values = {{":pending", {{"S", "PENDING"}}}, {":claimed", {{"S", "CLAIMED"}}}};
  const auto attributes =
      dynamodb_.update_item(table_, {{"pk", {{"S", "d"}}}, {"sk", {{"S", "f"}}}},
                            "SET #s = :claimed", pending, "ALL_NEW");
  EXPECT_EQ(attributes.at("status").at("S").as_string(), "CLAIMED");
  EXPECT_THROW(dynamodb_.update_item(table_, {{"pk", {{"S", "d"}}}, {"sk", {{"S", "f"}}}},
                                     "SET #s = :claimed", pending),
               common::ConditionalCheckFailed);
}

TEST_F(DynamoDbTest, BatchWriteSixtyThenQueryAcrossPages) {
  std::vector<json::object> writes;
  for (int i = 0; i < 60; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "file-%02d.log", i);
    writes.push_back(
        {{"PutRequest", {{"Item", file_item("2026-11-22", key, i % 3 ? "PENDING" : "DONE")}}}});
  }
  dynamodb_.batch_write(table_, writes);
  common::QueryInput query;
  query.table = table_;
  query.key_condition = "pk = :date";
  query.values = {{":date", {{"S", "2026-11-22"}}}};
  query.limit = 20;
  int pages = 0;
  std::size_t items = 0;
  dynamodb_.query(query, [&](std::vector<json::object>& page) {
    ++pages;
    items += page.size();
    return true;
  });
  EXPECT_GE(pages, 3);
  EXPECT_EQ(items, 60u);

  query.filter = "#s = :pending";
  query.names = {{"#s", "status"}};
  query.values[":pending"] = json::object{{"S", "PENDING"}};
  EXPECT_EQ(dynamodb_.query_all(query).size(), 40u);
}

TEST_F(DynamoDbTest, TransactionsAreAllOrNothingAndLimited) {
  dynamodb_.put_item(table_, file_item("t", "exists", "PENDING"));
  json::array items;
  items.push_back(json::object{
      {"Put", json::object{{"TableName", table_}, {"Item", file_item("t", "new", "PENDING")}}}});
  items.push_back(
      json::object{{"Put", json::object{{"TableName", table_},
                                        {"Item", file_item("t", "exists", "PENDING")},
                                        {"ConditionExpression", "attribute_not_exists(pk)"}}}});
  try {
    dynamodb_.transact_write(items);
    ADD_FAILURE() << "the second item's condition fails";
  } catch (const common::TransactionCanceled& canceled) {
    EXPECT_EQ(canceled.reasons, (std::vector<std::string>{"None", "ConditionalCheckFailed"}))
        << "which item failed, for a caller to drop it and go on";
  }
  EXPECT_FALSE(
      dynamodb_.get_item(table_, {{"pk", {{"S", "t"}}}, {"sk", {{"S", "new"}}}}).has_value());
  json::array too_many(101, items[0]);
  EXPECT_THROW(dynamodb_.transact_write(too_many), runtime::InvalidInput);
}

// ---- Step Functions, Glue, SQS --------------------------------------------------------------

TEST(StepFunctions, StartAndDescribeAndNameReuse) {
  const auto moto = tests::moto_fixture();
  const std::string name = tests::unique_name("machine");
  const auto created = tests::aws_cli(
      moto, "stepfunctions create-state-machine --name " + name +
                " --role-arn arn:aws:iam::123456789012:role/sfn --definition "
                "'{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string arn = std::string(json::parse(created.out).at("stateMachineArn").as_string());
  common::StepFunctionsClient sfn(tests::moto_options(moto));
  const auto first = sfn.start_execution(arn, "run-1", R"({"date":"2026-11-22"})");
  const auto second = sfn.start_execution(arn, "run-2", R"({"date":"2026-11-23"})");
  EXPECT_NE(first.execution_arn, second.execution_arn);
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = std::string(sfn.describe_execution(first.execution_arn).at("status").as_string());
    if (status != "RUNNING") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, "SUCCEEDED");
  EXPECT_THROW(sfn.start_execution(arn, "run-1", R"({"date":"different"})"),
               common::ExecutionAlreadyExists);
  EXPECT_THROW(sfn.describe_execution(arn + ":nope"), common::AwsError);
}

TEST(Glue, CrawlerRunningIsTypedAndPartitionsAreCreatedOnce) {
  const auto moto = tests::moto_fixture();
  const std::string database = tests::unique_name("db");
  const std::string crawler = tests::unique_name("crawler");
  ASSERT_EQ(
      tests::aws_cli(moto, "glue create-database --database-input Name=" + database).exit_code, 0);
  ASSERT_EQ(
      tests::aws_cli(
          moto,
          "glue create-table --database-name " + database +
              " --table-input "
              "'{\"Name\":\"logs\",\"PartitionKeys\":[{\"Name\":\"date\",\"Type\":\"string\"}]}'")
          .exit_code,
      0);
  ASSERT_EQ(
      tests::aws_cli(moto, "glue create-crawler --name " + crawler +
                               " --role arn:aws:iam::123456789012:role/glue --database-name " +
                               database +
                               " --targets '{\"S3Targets\":[{\"Path\":\"s3://bucket/prefix\"}]}'")
          .exit_code,
      0);
  common::GlueClient glue(tests::moto_options(moto));
  glue.start_crawler(crawler);
  EXPECT_THROW(glue.start_crawler(crawler), common::CrawlerRunning);
  EXPECT_EQ(glue.get_crawler(crawler).at("Name").as_string(), crawler);

  json::array partitions{
      json::object{{"Values", json::array{"2026-11-22"}},
                   {"StorageDescriptor", {{"Location", "s3://bucket/prefix/date=2026-11-22/"}}}}};
  EXPECT_TRUE(glue.batch_create_partition(database, "logs", partitions).empty());
  const auto again = glue.batch_create_partition(database, "logs", partitions);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].code, "AlreadyExistsException");
}

TEST(Sqs, SendReceiveDelete) {
  const auto moto = tests::moto_fixture();
  const std::string name = tests::unique_name("queue");
  ASSERT_EQ(tests::aws_cli(moto, "sqs create-queue --queue-name " + name).exit_code, 0);
  common::SqsClient sqs(tests::moto_options(moto));
  const std::string url = sqs.get_queue_url(name);
  std::vector<std::string> bodies;
  for (int i = 0; i < 10; ++i) bodies.push_back(R"({"n":)" + std::to_string(i) + "}");
  EXPECT_TRUE(sqs.send_message_batch(url, bodies).empty());
  std::set<std::string> received;
  std::vector<std::string> handles;
  for (int round = 0; round < 10 && received.size() < 10; ++round) {
    for (const auto& message : sqs.receive_messages(url, 10, 1, 30)) {
      received.insert(message.body);
      handles.push_back(message.receipt_handle);
      EXPECT_GE(message.receive_count, 1);
    }
  }
  EXPECT_EQ(received.size(), 10u);
  sqs.delete_message_batch(url, handles);
  EXPECT_TRUE(sqs.receive_messages(url, 10, 0, 0).empty());
  EXPECT_THROW(sqs.send_message_batch(url, std::vector<std::string>(11, "x")),
               runtime::InvalidInput);

  // A message with its reason, as LogForwarder sends a poison record to its dead-letter queue;
  // read back with the aws CLI.
  sqs.send_message(url, R"({"Records":[]})", {{"reason", "zstd content"}, {"object", "b/k"}});
  const auto cli = tests::aws_cli(
      moto, "sqs receive-message --queue-url " + url + " --message-attribute-names All");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto answer = boost::json::parse(cli.out);
  const auto& attributes = answer.at("Messages").at(0).at("MessageAttributes");
  EXPECT_EQ(attributes.at("reason").at("StringValue"), "zstd content");
  EXPECT_EQ(attributes.at("object").at("StringValue"), "b/k");
}

// ---- Signature checking ---------------------------------------------------------------------

TEST(Signatures, OursAreAcceptedAndAWrongSecretIsRejected) {
  const auto moto = tests::moto_fixture(true);
  const std::string bucket = tests::unique_name("signed");
  S3Client s3(tests::moto_options(moto));
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  // Keys that need encoding are signed-checked in
  // KeysWithDotSegmentsAndDoubleSlashesAreSentAsSigned.
  s3.put_object(bucket, "signed-key_1.txt", "signed");
  EXPECT_EQ(s3.get_object(bucket, "signed-key_1.txt"), "signed");
  EXPECT_EQ(s3.list_all(bucket).size(), 1u);

  common::DynamoDbClient dynamodb(tests::moto_options(moto));
  const std::string table = tests::unique_name("signedtable");
  ASSERT_EQ(
      tests::aws_cli(
          moto, "dynamodb create-table --table-name " + table +
                    " --attribute-definitions AttributeName=pk,AttributeType=S "
                    "--key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST")
          .exit_code,
      0);
  dynamodb.put_item(table, {{"pk", {{"S", "x"}}}});
  EXPECT_TRUE(dynamodb.get_item(table, {{"pk", {{"S", "x"}}}}).has_value());

  common::StepFunctionsClient sfn(tests::moto_options(moto));
  EXPECT_THROW(sfn.describe_execution("arn:aws:states:us-east-1:123456789012:execution:none:none"),
               common::ResourceNotFound)
      << "a signed request gets as far as the service";
  common::GlueClient glue(tests::moto_options(moto));
  EXPECT_THROW(glue.get_crawler("none"), common::ResourceNotFound);

  auto wrong = moto;
  wrong.credentials.secret_access_key += "x";
  S3Client forged(tests::moto_options(wrong));
  try {
    forged.get_object(bucket, "signed-key_1.txt");
    FAIL() << "a wrong secret must be rejected";
  } catch (const common::AwsError& error) {
    EXPECT_EQ(error.code(), "SignatureDoesNotMatch");
    EXPECT_EQ(error.http_status(), 403);
  }
  common::DynamoDbClient forged_dynamodb(tests::moto_options(wrong));
  EXPECT_THROW(forged_dynamodb.get_item(table, {{"pk", {{"S", "x"}}}}), common::AwsError);
}

// ---- Connections and faults -----------------------------------------------------------------

// moto closes every connection itself; a keep-alive front (the proxy at rate 0) shows what our
// engine does with a server that, like S3, keeps them open.
TEST(Connections, SequentialRequestsReuseOneConnectionAndParallelOnesAreBounded) {
  const auto moto = tests::moto_fixture();
  const tests::FaultProxy proxy(moto.endpoint, "--rate 0");
  const std::string proxy_url = proxy.url();
  const std::string bucket = tests::unique_name("conns");
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);

  common::HttpOptions http;
  http.max_connections_per_host = 4;
  common::HttpEngine engine(http);
  auto options = tests::moto_options(moto, proxy_url);
  options.engine = &engine;
  S3Client s3(options);
  for (int i = 0; i < 50; ++i) s3.put_object(bucket, "k" + std::to_string(i), "v");
  EXPECT_EQ(engine.stats().connections_opened, 1u) << "50 sequential requests, one connection";

  std::vector<common::AwsRequest> gets;
  for (int i = 0; i < 200; ++i)
    gets.push_back(s3.get_object_request(bucket, "k" + std::to_string(i % 50), {}));
  for (auto& outcome : s3.client().send_all(std::move(gets), 32)) ASSERT_TRUE(outcome.ok());
  EXPECT_LE(engine.stats().connections_opened, 4u) << "never more than the per-host bound";
  EXPECT_EQ(engine.stats().requests, 250u);
}

TEST(Faults, ThousandObjectsRoundTripThroughTwentyPercentFaults) {
  const auto moto = tests::moto_fixture();
  const tests::FaultProxy proxy(moto.endpoint, "--rate 0.2 --seed 7");
  const std::string proxy_url = proxy.url();
  const std::string bucket = tests::unique_name("faults");
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  runtime::metrics::take_lines();  // start counting from zero

  S3Client s3(tests::moto_options(moto, proxy_url));
  constexpr int kObjects = 1000;
  std::vector<common::AwsRequest> puts;
  for (int i = 0; i < kObjects; ++i) {
    common::AwsRequest request;
    request.operation = "PutObject";
    request.method = "PUT";
    request.path = "/" + bucket + "/round/" + std::to_string(i) + ".log";
    request.s3_payload_header = true;
    request.body = "object " + std::to_string(i) + "\n";
    puts.push_back(std::move(request));
  }
  for (const auto& outcome : s3.client().send_all(std::move(puts), 32)) ASSERT_TRUE(outcome.ok());

  const auto listed = s3.list_all(bucket, "round/");
  ASSERT_EQ(listed.size(), static_cast<std::size_t>(kObjects));
  EXPECT_EQ(tests::cli_keys(moto, bucket, "round/").size(), static_cast<std::size_t>(kObjects))
      << "the aws CLI lists them all too";
  std::vector<common::AwsRequest> gets;
  for (const auto& object : listed) gets.push_back(s3.get_object_request(bucket, object.key, {}));
  const auto outcomes = s3.client().send_all(std::move(gets), 32);
  for (std::size_t i = 0; i < listed.size(); ++i) {
    ASSERT_TRUE(outcomes[i].ok()) << listed[i].key;
    // Each body is the one its key was written with: "round/17.log" holds "object 17\n".
    const std::string number = listed[i].key.substr(6, listed[i].key.size() - 6 - 4);
    EXPECT_EQ(outcomes[i].response.body, "object " + number + "\n") << listed[i].key;
  }
  std::vector<common::ObjectId> ids;
  for (const auto& object : listed) ids.push_back({object.key, ""});
  const auto deleted = s3.delete_objects(bucket, ids);
  EXPECT_EQ(deleted.deleted.size(), static_cast<std::size_t>(kObjects));
  EXPECT_TRUE(deleted.errors.empty());
  EXPECT_TRUE(tests::cli_keys(moto, bucket, "round/").empty());

  // The proxy really misbehaved, and the client really retried.
  const auto stats = proxy.stats();
  const auto& faults = stats.at("faults").as_object();
  long injected = 0;
  for (const auto& [name, count] : faults) {
    if (name != "none") injected += count.as_int64();
  }
  EXPECT_GT(injected, 300) << json::serialize(stats);
  double retries = 0;
  for (const auto& line : runtime::metrics::take_lines()) {
    if (const auto* value = line.if_contains("AwsRetries")) retries += value->to_number<double>();
  }
  EXPECT_GT(retries, 200);
}

// 200 OK with an <Error> body, as CompleteMultipartUpload, UploadPartCopy and CopyObject can
// answer: detected and retried until the operation really succeeds.
TEST(Faults, ErrorsInsideSuccessfulAnswersAreRetried) {
  const auto moto = tests::moto_fixture();
  const tests::FaultProxy proxy(moto.endpoint, "--rate 0.5 --faults error_in_200 --seed 3");
  const std::string proxy_url = proxy.url();
  const std::string bucket = tests::unique_name("error200");
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  S3Client s3(tests::moto_options(moto, proxy_url));
  s3.put_object(bucket, "source.log", "source line\n");
  constexpr int kRounds = 8;
  for (int i = 0; i < kRounds; ++i) {
    const std::string key = "out-" + std::to_string(i) + ".log";
    s3.copy_object({bucket, "source.log", "", std::nullopt, ""}, bucket, "copy-" + key);
    const std::string upload = s3.create_multipart_upload(bucket, key);
    const auto part =
        s3.upload_part_copy(bucket, key, upload, 1, {bucket, "source.log", "", std::nullopt, ""});
    s3.complete_multipart_upload(bucket, key, upload, {part});
  }
  // Every output holds exactly the source, as the aws CLI reads it.
  tests::TempDir dir;
  ASSERT_EQ(tests::aws_cli(moto, "s3 cp --recursive s3://" + bucket + "/ " + dir.path().string())
                .exit_code,
            0);
  int outputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::ifstream in(entry.path());
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "source line\n")
        << entry.path();
    ++outputs;
  }
  EXPECT_EQ(outputs, 1 + 2 * kRounds);
  const auto stats = proxy.stats();
  EXPECT_GT(stats.at("faults").at("error_in_200").as_int64(), 5) << json::serialize(stats);
  EXPECT_EQ(tests::cli_open_uploads(moto, bucket), 0u);
}

// A body that cannot be produced again is never resent; one held in memory is, up to the limit.
TEST(Faults, OnlyRewindableBodiesAreRetried) {
  const auto moto = tests::moto_fixture();
  const tests::FaultProxy proxy(moto.endpoint, "--rate 1 --faults internal");
  const std::string proxy_url = proxy.url();
  const std::string bucket = tests::unique_name("rewind");
  ASSERT_EQ(tests::aws_cli(moto, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  auto options = tests::moto_options(moto, proxy_url);
  options.retry.max_attempts = 3;
  options.retry.base_delay = std::chrono::milliseconds(1);
  S3Client s3(options);
  auto requests_seen = [&] { return proxy.stats().at("requests").as_int64(); };

  class OneShot : public common::BodySource {
   public:
    std::size_t read(char* buffer, std::size_t size) override {
      const std::size_t count = std::min<std::size_t>(size, 5 - offset_);
      std::memcpy(buffer, "once\n" + offset_, count);
      offset_ += count;
      return count;
    }
    bool rewind() override { return offset_ == 0; }
    std::uint64_t size() const override { return 5; }

   private:
    std::size_t offset_ = 0;
  };
  try {
    s3.put_object(bucket, "streamed", std::make_shared<OneShot>());
    FAIL() << "every attempt fails";
  } catch (const common::AwsError& error) {
    EXPECT_EQ(error.code(), "InternalError");
    EXPECT_NE(std::string(error.what()).find("not retried"), std::string::npos) << error.what();
  }
  EXPECT_EQ(requests_seen(), 1);
  EXPECT_THROW(s3.put_object(bucket, "in-memory", "again\n"), common::AwsError);
  EXPECT_EQ(requests_seen(), 1 + 3) << "three attempts in all";
}

}  // namespace

// An IAM user on the signature-checking moto whose only policy is `statements`; its credentials.
tests::MotoFixture user_with_policy(const tests::MotoFixture& moto, const std::string& statements) {
  const std::string user = tests::unique_name("user");
  EXPECT_EQ(tests::aws_cli(moto, "iam create-user --user-name " + user).exit_code, 0);
  EXPECT_EQ(tests::aws_cli(moto, "iam put-user-policy --user-name " + user +
                                     " --policy-name only --policy-document "
                                     "'{\"Version\":\"2012-10-17\",\"Statement\":" +
                                     statements + "}'")
                .exit_code,
            0);
  const auto key = tests::aws_cli(moto, "iam create-access-key --user-name " + user);
  const auto access_key = json::parse(key.out).at("AccessKey");
  tests::MotoFixture limited = moto;
  limited.credentials = {std::string(access_key.at("AccessKeyId").as_string()),
                         std::string(access_key.at("SecretAccessKey").as_string()), ""};
  return limited;
}

std::string error_code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const common::AwsError& error) {
    return error.code();
  }
  return "no error";
}

// moto-local authorises S3 requests as S3 does (tools/moto-local, iam_as_aws_evaluates_it), where
// moto 5.2.1 checks one action against the bucket.
TEST(Authorisation, S3ChecksEachKeyOfADeleteTheSourceOfACopyAndHidesMissingKeysWithoutListBucket) {
  const auto admin = tests::moto_fixture(true);
  const std::string bucket = tests::unique_name("authorised");
  ASSERT_EQ(tests::aws_cli(admin, "s3api create-bucket --bucket " + bucket).exit_code, 0);
  S3Client as_admin(tests::moto_options(admin));
  for (const char* key : {"mine/a.log", "theirs/b.log", "secret/c.log"})
    as_admin.put_object(bucket, key, key);
  const std::string arn = "arn:aws:s3:::" + bucket;
  const auto user = user_with_policy(
      admin,
      R"([{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload"],)"
      R"("Resource":")" +
          arn +
          R"(/mine/*"},)"
          R"({"Effect":"Allow","Action":"s3:GetObject","Resource":")" +
          arn + R"(/theirs/*"}])");
  S3Client s3(tests::moto_options(user));
  const auto source = [&](const std::string& key) {
    common::CopySource copied;
    copied.bucket = bucket;
    copied.key = key;
    return copied;
  };

  // DeleteObjects: each key on its own; the refused one comes back as an AccessDenied error.
  const auto deleted = s3.delete_objects(bucket, {{"mine/a.log", ""}, {"theirs/b.log", ""}});
  ASSERT_EQ(deleted.errors.size(), 1u)
      << deleted.errors[0].object.key << " " << deleted.errors[0].code << " "
      << deleted.errors[0].message;
  EXPECT_EQ(deleted.errors[0].object.key, "theirs/b.log");
  EXPECT_EQ(deleted.errors[0].code, "AccessDenied");
  const auto listed = tests::aws_cli(admin, "s3api list-objects-v2 --bucket " + bucket +
                                                " --query 'Contents[].Key' --output text");
  EXPECT_EQ(listed.out, "secret/c.log\ttheirs/b.log\n") << "checked with the aws CLI";

  // A copy needs s3:GetObject on its source as well as s3:PutObject on its destination.
  EXPECT_EQ(error_code_of([&] { s3.copy_object(source("theirs/b.log"), bucket, "mine/copy.log"); }),
            "no error");
  EXPECT_EQ(
      error_code_of([&] { s3.copy_object(source("secret/c.log"), bucket, "mine/stolen.log"); }),
      "AccessDenied");
  const auto upload = s3.create_multipart_upload(bucket, "mine/parts.log");
  EXPECT_EQ(error_code_of([&] {
              s3.upload_part_copy(bucket, "mine/parts.log", upload, 1, source("secret/c.log"));
            }),
            "AccessDenied");
  s3.abort_multipart_upload(bucket, "mine/parts.log", upload);

  // Without s3:ListBucket a missing key is 403, so nothing learns what is not there.
  EXPECT_EQ(error_code_of([&] { s3.get_object(bucket, "mine/missing.log"); }), "AccessDenied");
  EXPECT_EQ(error_code_of([&] { as_admin.get_object(bucket, "mine/missing.log"); }), "NoSuchKey");
}
