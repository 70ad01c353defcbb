// CloudTrail log file integrity through aggregation. A trail is generated here: log files and
// hourly digests signed as CloudTrail signs them (its documentation; `aws cloudtrail validate-logs`
// is the reference and must accept them), with a key pair made for the test standing in for
// CloudTrail's (moto-local answers ListPublicKeys with it). The real pipeline (every function a
// handler run as its main() runs it) then aggregates the day and deletes the originals, and
// validate-logs must prove every log file inside the outputs, and report what was damaged.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <ctime>
#include <fstream>
#include <memory>

#include "common/gzip.h"
#include "common/hashing.h"
#include "common/s3.h"
#include "pipeline/work_files.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

constexpr const char* kOrganization = "o-abc123";
constexpr const char* kAccount = "111111111111";
constexpr const char* kRegion = "eu-west-1";
constexpr const char* kTrail = "aws-controltower-BaselineCloudTrail";
constexpr const char* kTrailArn =
    "arn:aws:cloudtrail:us-east-1:222222222222:trail/aws-controltower-BaselineCloudTrail";

// The test's stand-in for CloudTrail's regional signing key.
class SigningKey {
 public:
  SigningKey() : key_(EVP_RSA_gen(2048), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("cannot make an RSA key");
    unsigned char* der = nullptr;
    const int size = i2d_PublicKey(key_.get(), &der);  // PKCS #1 RSAPublicKey, as CloudTrail's
    if (size <= 0) throw std::runtime_error("cannot encode the public key");
    public_der_.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(size));
    OPENSSL_free(der);
    fingerprint_ = common::md5_hex(public_der_);
  }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& public_der() const { return public_der_; }

  // SHA256withRSA (PKCS #1 v1.5), hex.
  std::string sign(const std::string& text) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
    std::size_t size = 0;
    EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get());
    EVP_DigestSign(context.get(), nullptr, &size,
                   reinterpret_cast<const unsigned char*>(text.data()), text.size());
    std::string signature(size, '\0');
    if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                       reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1)
      throw std::runtime_error("cannot sign");
    signature.resize(size);
    return common::hex_encode(signature);
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::string public_der_;
  std::string fingerprint_;
};

std::string base64(const std::string& bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                   reinterpret_cast<const unsigned char*>(bytes.data()),
                                   static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(size));
  return text;
}

class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = tests::unique_name("ct-logs");
    work_ = tests::unique_name("work");
    destination_ = tests::unique_name("dest");
    ASSERT_TRUE(tests::create_buckets(moto_, {source_, work_, destination_}));
    for (const auto& bucket : {source_, destination_}) {
      ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + bucket +
                                          " --versioning-configuration Status=Enabled")
                    .exit_code,
                0);
    }
    register_public_key();
  }

  // What CloudTrail's ListPublicKeys gives in the region whose digests it signs, on moto-local.
  void register_public_key() {
    const json::object key{{"Region", kRegion},
                           {"Fingerprint", key_.fingerprint()},
                           {"Value", base64(key_.public_der())},
                           {"ValidityStartTime", 1700000000},
                           {"ValidityEndTime", 1900000000}};
    const auto posted =
        tests::run_command("curl -sf -X POST --data-binary '" + json::serialize(key) + "' " +
                           moto_.endpoint + "/moto-local/cloudtrail-public-keys");
    ASSERT_EQ(posted.exit_code, 0) << posted.err;
  }

  std::string prefix(const std::string& type) const {
    // Control Tower before 3.0 (account trails with the organisation as prefix): the layout
    // `aws cloudtrail validate-logs --s3-prefix` can also be pointed at.
    return std::string(kOrganization) + "/AWSLogs/" + kAccount + "/" + type + "/" + kRegion +
           "/2026/03/05/";
  }

  // Hour h's log files (gzip, as CloudTrail delivers them) and its digest, chained to the last.
  void deliver_hour(int hour, int files) {
    const std::string hh = (hour < 10 ? "0" : "") + std::to_string(hour);
    json::array listed;
    for (int i = 0; i < files; ++i) {
      const std::string key = prefix("CloudTrail") + kAccount + "_CloudTrail_" + kRegion +
                              "_20260305T" + hh + std::to_string(10 + i) + "Z_" +
                              std::to_string(hour * 10 + i) + ".json.gz";
      std::string records = "{\"Records\":[";
      for (int event = 0; event <= hour + i; ++event)
        records += std::string(event ? "," : "") +
                   "{\"eventName\":\"GetObject\",\"n\":" + std::to_string(event) +
                   ",\"hour\":" + std::to_string(hour) + "}";
      records += "]}";
      s3_.put_object(source_, key, common::gzip(records));
      logs_.push_back(key);
      listed.push_back({{"s3Bucket", source_},
                        {"s3Object", key},
                        {"hashValue", common::sha256_hex(records)},
                        {"hashAlgorithm", "SHA-256"},
                        {"newestEventTime", "2026-03-05T" + hh + ":10:00Z"},
                        {"oldestEventTime", "2026-03-05T" + hh + ":01:00Z"}});
    }
    const std::string end = "2026-03-05T" + hh + ":00:00Z";
    const std::string digest_key = prefix("CloudTrail-Digest") + kAccount + "_CloudTrail-Digest_" +
                                   kRegion + "_" + kTrail + "_us-east-1_20260305T" + hh +
                                   "0000Z.json.gz";
    const bool first = digests_.empty();
    json::object digest{
        {"awsAccountId", kAccount},
        {"digestStartTime",
         "2026-03-05T" + std::string(hour <= 10 ? "0" : "") + std::to_string(hour - 1) + ":00:00Z"},
        {"digestEndTime", end},
        {"digestS3Bucket", source_},
        {"digestS3Object", digest_key},
        {"digestPublicKeyFingerprint", key_.fingerprint()},
        {"digestSignatureAlgorithm", "SHA256withRSA"},
        {"newestEventTime", end},
        {"oldestEventTime", end},
        {"previousDigestS3Bucket", first ? json::value() : json::value(source_)},
        {"previousDigestS3Object", first ? json::value() : json::value(digests_.back())},
        {"previousDigestHashValue", first ? json::value() : json::value(previous_hash_)},
        {"previousDigestHashAlgorithm", first ? json::value() : json::value("SHA-256")},
        {"previousDigestSignature", first ? json::value() : json::value(previous_signature_)},
        {"logFiles", listed}};
    const std::string text = json::serialize(digest);
    const std::string signature =
        key_.sign(end + "\n" + source_ + "/" + digest_key + "\n" + common::sha256_hex(text) + "\n" +
                  (first ? "null" : previous_signature_));
    // Uploaded by the aws CLI, with the metadata CloudTrail gives a digest object.
    tests::TempDir dir;
    const auto path = dir.path() / "digest.json.gz";
    std::ofstream(path, std::ios::binary) << common::gzip(text);
    const auto put = tests::aws_cli(moto_, "s3api put-object --bucket " + source_ + " --key '" +
                                               digest_key + "' --body " + path.string() +
                                               " --metadata signature=" + signature +
                                               ",signature-algorithm=SHA256withRSA");
    ASSERT_EQ(put.exit_code, 0) << put.err;
    digests_.push_back(digest_key);
    previous_hash_ = common::sha256_hex(text);
    previous_signature_ = signature;
  }

  std::string arguments() const {
    return std::string(" --trail-arn ") + kTrailArn + " --s3-bucket " + source_ + " --s3-prefix " +
           kOrganization + " --account-id " + kAccount + " --region " + kRegion +
           " --start-time 2026-03-05T00:00:00Z --end-time 2026-03-05T23:00:00Z";
  }

  tests::CommandResult validate(bool with_index = true) const {
    return tests::run_command(
        tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint + " " +
        tests::bin_path("validate-logs").string() + arguments() +
        (with_index ? " --work-bucket " + work_ + " --seal-key " + tests::seal_key(moto_) : "") +
        " --verbose");
  }

  std::map<std::string, std::string> environment() const {
    return {{"WORK_BUCKET", work_},
            {"DESTINATION_BUCKET", destination_},
            {"DESTINATION_PREFIX", "agg"},
            {"CONTROL_TOWER_BUCKET", source_},
            {"ORGANIZATION_ID", kOrganization},
            {"AGGREGATION_REGIONS", kRegion},
            {"DELAY_WINDOW_S", "0"}};
  }

  // GetFiles -> DetermineOperationType -> CombineLogFiles -> DeleteOriginals for the day.
  void aggregate_day() {
    const auto found = tests::invoke_handler(
        moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "run"}}, environment());
    ASSERT_EQ(found.exit_code, 0) << found.logs;
    const auto groups = pipeline::read_json_array(
        s3_, pipeline::FileRef::from_json(found.response.at("groups"), "groups"));
    ASSERT_EQ(groups.size(), 1u) << "the CloudTrail log files, digests left alone";
    json::object group = groups.at(0).as_object();
    group["run_id"] = "run";
    auto planned = tests::invoke_handler(moto_, "DetermineOperationType", group, environment());
    ASSERT_EQ(planned.exit_code, 0) << planned.logs;
    json::object plan = planned.response.as_object();
    plan["run_id"] = "run";
    auto combined = tests::invoke_handler(moto_, "CombineLogFiles", plan, environment());
    ASSERT_EQ(combined.exit_code, 0) << combined.logs;
    json::object result = combined.response.as_object();
    result["run_id"] = "run";
    const auto deleted = tests::invoke_handler(moto_, "DeleteOriginals", result, environment());
    ASSERT_EQ(deleted.exit_code, 0) << deleted.logs;
    ASSERT_EQ(deleted.response.at("deleted").as_int64(), static_cast<std::int64_t>(logs_.size()));
  }

  static std::size_t count(const std::string& text, const std::string& what) {
    std::size_t found = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++found;
    return found;
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  SigningKey key_;
  std::string source_, work_, destination_;
  std::vector<std::string> logs_, digests_;
  std::string previous_hash_, previous_signature_;
};

TEST_F(IntegrityTest, AnAggregatedTrailIsProvenAndEveryDamageIsReported) {
  deliver_hour(1, 2);
  deliver_hour(2, 3);
  deliver_hour(3, 2);
  // The trail as generated is one `aws cloudtrail validate-logs` itself accepts.
  const auto reference =
      tests::run_command(tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint +
                         " aws cloudtrail validate-logs" + arguments() + " --verbose 2>&1");
  ASSERT_EQ(reference.exit_code, 0) << reference.out;
  ASSERT_NE(reference.out.find("3/3 digest files valid"), std::string::npos) << reference.out;
  ASSERT_NE(reference.out.find("7/7 log files valid"), std::string::npos) << reference.out;
  const auto before = validate();
  ASSERT_EQ(before.exit_code, 0) << before.out << before.err;
  EXPECT_NE(before.out.find("7/7 log files valid (0 inside aggregated outputs, 7 at their keys"),
            std::string::npos)
      << before.out;

  aggregate_day();
  EXPECT_EQ(tests::cli_keys(moto_, source_, prefix("CloudTrail")).size(), 0u);
  EXPECT_EQ(tests::cli_keys(moto_, source_, prefix("CloudTrail-Digest")).size(), 3u);
  // AWS's validator now finds the log files gone; ours finds each inside its output.
  const auto reference_after =
      tests::run_command(tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint +
                         " aws cloudtrail validate-logs" + arguments() + " 2>&1");
  EXPECT_NE(reference_after.exit_code, 0) << reference_after.out;
  // A record an attempt left for the same output key before another attempt took it (its digests
  // are not this output's): the record that fits is found, the other passed over.
  const auto ledger = s3_.list_all(work_, "ledger/2026-03-05/");
  ASSERT_EQ(ledger.size(), 1u);
  auto stale = json::parse(s3_.get_object(work_, ledger[0].key));
  auto& stale_digests = stale.at("sha256").as_array();
  std::rotate(stale_digests.begin(), stale_digests.begin() + 1, stale_digests.end());
  s3_.put_object(work_, ledger[0].key.substr(0, ledger[0].key.rfind('/')) + "/zz-stale.json",
                 json::serialize(stale));
  const auto after = validate();
  ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
  EXPECT_NE(after.out.find("3/3 digest files valid"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("7/7 log files valid (7 inside aggregated outputs, 0 at their keys"),
            std::string::npos)
      << after.out;
  EXPECT_EQ(validate(false).exit_code, 1) << "without the index they are missing";

  // One byte changed inside the output: exactly that log file is modified.
  const auto outputs = s3_.list_all(destination_);
  ASSERT_EQ(outputs.size(), 1u);
  std::string bytes = s3_.get_object(destination_, outputs[0].key);
  const auto record = json::parse(s3_.get_object(work_, ledger[0].key));
  const std::size_t third = 2;
  const auto offset = record.at("offsets").at(third).to_number<std::size_t>();
  const std::string damaged_log(record.at("sources").at(third).at("key").as_string());
  bytes[offset + 12] = static_cast<char>(bytes[offset + 12] ^ 0x01);
  s3_.put_object(destination_, outputs[0].key, bytes);
  const auto modified = validate();
  EXPECT_EQ(modified.exit_code, 1);
  EXPECT_NE(modified.out.find(damaged_log + "\tINVALID: modified"), std::string::npos)
      << modified.out;
  EXPECT_EQ(count(modified.out, "INVALID"), 1u) << modified.out;
  EXPECT_NE(modified.out.find("6/7 log files valid"), std::string::npos) << modified.out;

  // A digest removed: the chain break is reported where it breaks.
  ASSERT_EQ(tests::aws_cli(
                moto_, "s3api delete-object --bucket " + source_ + " --key '" + digests_[1] + "'")
                .exit_code,
            0);
  const auto broken = validate();
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find(digests_[1] + "\tINVALID: not found: the chain from s3://" + source_ +
                            "/" + digests_[2] + " breaks here"),
            std::string::npos)
      << broken.out;

  // The output deleted: every log file it held (and the remaining digests list) is missing.
  ASSERT_EQ(tests::aws_cli(moto_, "s3api delete-object --bucket " + destination_ + " --key '" +
                                      outputs[0].key + "'")
                .exit_code,
            0);
  const auto gone = validate();
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(count(gone.out, "\tINVALID: missing"), 4u) << gone.out;  // hours 1 and 3
  for (const std::size_t log : {0u, 1u, 5u, 6u})
    EXPECT_NE(gone.out.find(logs_[log] + "\tINVALID: missing"), std::string::npos) << gone.out;
}

}  // namespace

namespace {

TEST(ValidateLogsUsage, BadArgumentsAreAUsageErrorNamingThemAndNothingIsRead) {
  const std::string command = tests::bin_path("validate-logs").string();
  const struct {
    std::string arguments, says;
  } cases[] = {
      {"--s3-bucket b --start-time 2026-03-05", "--trail-arn, --s3-bucket and --start-time"},
      {"--trail-arn arn:aws:s3:::b --s3-bucket b --start-time 2026-03-05", "is not a trail ARN"},
      {std::string("--trail-arn ") + kTrailArn + " --s3-bucket b --start-time 2026-02-30",
       "'2026-02-30' is not YYYY-MM-DD"},
      {std::string("--trail-arn ") + kTrailArn +
           " --s3-bucket b --start-time 2026-03-05 --end-time 2026-03-04",
       "--end-time is before --start-time"},
      {std::string("--trail-arn ") + kTrailArn + " --s3-bucket b --start-time", "needs a value"},
      {"--verbose extra", "unexpected argument extra"},
  };
  for (const auto& bad : cases) {
    // No AWS is reachable: a usage error must come before any request.
    const auto run =
        tests::run_command("AWS_ENDPOINT_URL=http://127.0.0.1:9 " + command + " " + bad.arguments);
    EXPECT_EQ(run.exit_code, 2) << bad.arguments << ": " << run.err;
    EXPECT_NE(run.err.find(bad.says), std::string::npos) << bad.arguments << ": " << run.err;
    EXPECT_NE(run.err.find("usage: validate-logs"), std::string::npos) << run.err;
  }
}

}  // namespace
