// Seals (pipeline/seal.h) against moto's KMS, which makes and checks the HMACs: a sealed record
// reads back only at its own place and as it was written; a key KMS did not certify, a seal of
// another key, or a record moved or edited, is refused with why.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/hashing.h"
#include "common/s3.h"
#include "pipeline/seal.h"
#include "runtime/errors.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

class Seals : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(tests::create_buckets(moto_, {bucket_})); }

  // What read_sealed says of s3://<bucket>/<key>: "" when it is trusted.
  std::string refusal(const std::string& key) {
    try {
      pipeline::read_sealed(s3_, seals_.checker(), bucket_, key);
      return "";
    } catch (const runtime::VerificationFailed& error) {
      return error.what();
    }
  }

  tests::MotoFixture moto_ = tests::moto_fixture(true);
  common::S3Client s3_{tests::moto_options(moto_)};
  pipeline::Seals seals_{tests::moto_options(moto_), tests::seal_key(moto_)};
  std::string bucket_ = tests::unique_name("seals");
  const json::object record_{{"key", "a/b.log"},
                             {"size", 18446744073709551615ull},
                             {"etag", "\"x\\\"y\""},
                             {"sources", json::array{1, -2, "é\n"}}};
};

TEST_F(Seals, ARecordReadsBackOnlyAtItsPlaceAndAsItWasWritten) {
  pipeline::write_sealed(s3_, seals_.sealer(), bucket_, "ledger/r.json", record_);
  EXPECT_EQ(pipeline::read_sealed(s3_, seals_.checker(), bucket_, "ledger/r.json"), record_);
  // Read as the aws CLI reads it, then written elsewhere byte for byte: moved, it fails.
  const auto copied = tests::aws_cli(
      moto_, "s3 cp s3://" + bucket_ + "/ledger/r.json s3://" + bucket_ + "/ledger/moved.json");
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_NE(refusal("ledger/moved.json").find("its seal is not for this record"),
            std::string::npos);
  // Edited, its seal kept: it fails.
  auto edited = json::parse(s3_.get_object(bucket_, "ledger/r.json")).as_object();
  edited["size"] = 1;
  s3_.put_object(bucket_, "ledger/edited.json", json::serialize(edited));
  EXPECT_NE(refusal("ledger/edited.json").find("its seal is not for this record"),
            std::string::npos);
  // The seal moved before another member: taken out, it would reorder what was signed.
  auto reordered = json::parse(s3_.get_object(bucket_, "ledger/r.json")).as_object();
  json::object seal_first{{"seal", reordered.at("seal")}};
  for (const auto& [name, value] : record_) seal_first[name] = value;
  s3_.put_object(bucket_, "ledger/reordered.json", json::serialize(seal_first));
  EXPECT_NE(refusal("ledger/reordered.json").find("its seal is not one"), std::string::npos);
  s3_.put_object(bucket_, "ledger/bare.json", json::serialize(record_));
  EXPECT_NE(refusal("ledger/bare.json").find("it has no seal"), std::string::npos);
  s3_.put_object(bucket_, "ledger/text.json", "not json");
  EXPECT_NE(refusal("ledger/text.json").find("is not a record CombineLogFiles sealed"),
            std::string::npos);
}

// Anyone can make a key and sign with it; only KMS's MAC under the seal key certifies one.
TEST_F(Seals, AKeyTheSealKeyDidNotCertifyIsRefused) {
  const common::Ed25519Key forger;
  json::object forged = record_;
  const std::string message = "log-aggregation sealed record v1\ns3://" + bucket_ +
                              "/ledger/f.json\n" + common::sha256_hex(json::serialize(record_));
  for (const std::string& certificate : {std::string(32, 'c'), std::string(7, 'c')}) {
    forged["seal"] = json::object{{"key", common::base64_encode(forger.public_key())},
                                  {"certificate", common::base64_encode(certificate)},
                                  {"signature", common::base64_encode(forger.sign(message))}};
    s3_.put_object(bucket_, "ledger/f.json", json::serialize(forged));
    EXPECT_NE(refusal("ledger/f.json").find("a key the seal key did not certify"),
              std::string::npos)
        << certificate.size() << "-byte certificate";
  }
  // A seal made under another HMAC key (another stack's) does not verify under this one.
  const auto other =
      tests::aws_cli(moto_,
                     "kms create-key --key-spec HMAC_256 --key-usage GENERATE_VERIFY_MAC --query "
                     "KeyMetadata.Arn --output text");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  std::string other_key = other.out;
  while (!other_key.empty() && other_key.back() == '\n') other_key.pop_back();
  pipeline::Seals elsewhere(tests::moto_options(moto_), other_key);
  pipeline::write_sealed(s3_, elsewhere.sealer(), bucket_, "ledger/other.json", record_);
  EXPECT_NE(refusal("ledger/other.json").find("a key the seal key did not certify"),
            std::string::npos);
  EXPECT_EQ(pipeline::read_sealed(s3_, elsewhere.checker(), bucket_, "ledger/other.json"), record_);
}

}  // namespace
