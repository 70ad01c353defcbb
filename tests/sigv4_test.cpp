// SigV4 against the AWS Signature Version 4 test suite (credentials AKIDEXAMPLE, 2015-08-30
// 12:36:00 UTC, us-east-1, service "service"), plus the S3 forms of the payload header.
#include <gtest/gtest.h>

#include <chrono>

#include "common/sigv4.h"

namespace {

using common::SignableRequest;

const common::Credentials kSuiteCredentials{"AKIDEXAMPLE",
                                            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::chrono::system_clock::time_point suite_time() {
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(1440938160));  // 20150830T123600Z
}

std::string authorization(const SignableRequest& request,
                          const common::Credentials& credentials = kSuiteCredentials) {
  common::Signer signer("us-east-1", "service");
  for (const auto& [name, value] : signer.sign(request, credentials, suite_time())) {
    if (name == "authorization") return value;
  }
  return {};
}

SignableRequest suite_request(std::string method, std::string path = "/") {
  SignableRequest request;
  request.method = std::move(method);
  request.host = "example.amazonaws.com";
  request.path = std::move(path);
  request.payload_hash = kEmptyHash;
  return request;
}

std::string expected(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         signed_headers + ", Signature=" + signature;
}

TEST(SigV4Suite, GetVanilla) {
  EXPECT_EQ(authorization(suite_request("GET")),
            expected("host;x-amz-date",
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  auto request = suite_request("GET");
  request.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  EXPECT_EQ(authorization(request),
            expected("host;x-amz-date",
                     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST(SigV4Suite, GetUnreserved) {
  const auto request =
      suite_request("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(authorization(request),
            expected("host;x-amz-date",
                     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"));
}

TEST(SigV4Suite, GetUtf8) {
  EXPECT_EQ(authorization(suite_request("GET", "/\xe1\x88\xb4")),
            expected("host;x-amz-date",
                     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"));
}

TEST(SigV4Suite, GetVanillaUtf8Query) {
  auto request = suite_request("GET");
  request.query = {{"\xe1\x88\xb4", "bar"}};
  EXPECT_EQ(authorization(request),
            expected("host;x-amz-date",
                     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"));
}

TEST(SigV4Suite, GetVanillaQueryUnreserved) {
  auto request = suite_request("GET");
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  request.query = {{unreserved, unreserved}};
  EXPECT_EQ(authorization(request),
            expected("host;x-amz-date",
                     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"));
}

TEST(SigV4Suite, GetHeaderValueTrim) {
  auto request = suite_request("GET");
  request.headers = {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}};
  EXPECT_EQ(authorization(request),
            expected("host;my-header1;my-header2;x-amz-date",
                     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"));
}

TEST(SigV4Suite, GetHeaderKeyDuplicate) {
  auto request = suite_request("GET");
  request.headers = {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}};
  EXPECT_EQ(authorization(request),
            expected("host;my-header1;x-amz-date",
                     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"));
}

TEST(SigV4Suite, PostVanillaQueryNonunreserved) {
  auto request = suite_request("POST");
  request.query = {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}};
  EXPECT_EQ(authorization(request),
            expected("host;x-amz-date",
                     "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"));
}

TEST(SigV4Suite, PostXWwwFormUrlencoded) {
  auto request = suite_request("POST");
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.payload_hash = common::sha256_hex("Param1=value1");
  EXPECT_EQ(authorization(request),
            expected("content-type;host;x-amz-date",
                     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

TEST(SigV4Suite, PostStsHeaderBefore) {
  const common::Credentials with_token{
      "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      "AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwth"
      "Ax7mSEI/qkPpKPi/"
      "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcH"
      "NVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
      "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="};
  EXPECT_EQ(authorization(suite_request("POST"), with_token),
            expected("host;x-amz-date;x-amz-security-token",
                     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
}

// S3's documented GET Object example (examplebucket, 2013-05-24, range bytes=0-9).
TEST(SigV4S3, GetObjectWithPayloadHashHeader) {
  SignableRequest request;
  request.method = "GET";
  request.host = "examplebucket.s3.amazonaws.com";
  request.path = "/test.txt";
  request.payload_hash = kEmptyHash;
  request.headers = {{"Range", "bytes=0-9"}, {"x-amz-content-sha256", kEmptyHash}};
  common::Signer signer("us-east-1", "s3");
  const common::Credentials credentials{"AKIAIOSFODNN7EXAMPLE",
                                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  const auto headers =
      signer.sign(request, credentials,
                  std::chrono::system_clock::time_point(std::chrono::seconds(1369353600)));
  EXPECT_EQ(headers.back().second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3, UnsignedPayloadIsTheLastCanonicalLine) {
  SignableRequest request;
  request.method = "PUT";
  request.host = "127.0.0.1:5000";
  request.path = "/bucket/key";
  request.payload_hash = "UNSIGNED-PAYLOAD";
  request.headers = {{"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
  std::string signed_headers;
  const auto canonical = common::Signer::canonical_request(
      request, {{"host", request.host}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}},
      &signed_headers);
  EXPECT_TRUE(canonical.ends_with("\nhost;x-amz-content-sha256\nUNSIGNED-PAYLOAD")) << canonical;
}

TEST(SigV4S3, KeysAreEncodedOnceWithSlashesKept) {
  EXPECT_EQ(common::uri_encode("/bucket/a key+with%/~tilde=é.gz", true),
            "/bucket/a%20key%2Bwith%25/~tilde%3D%C3%A9.gz");
  EXPECT_EQ(common::uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(common::url_decode("a%20key%2Bwith%25"), "a key+with%");
  EXPECT_EQ(common::url_decode("a+b%2Bc", true), "a b+c");
  EXPECT_EQ(common::url_decode("a+b"), "a+b");
}

TEST(SigV4, SigningKeyCacheFollowsTheDate) {
  common::Signer signer("us-east-1", "service");
  const auto first = signer.sign(suite_request("GET"), kSuiteCredentials, suite_time());
  const auto next_day =
      signer.sign(suite_request("GET"), kSuiteCredentials, suite_time() + std::chrono::hours(24));
  const auto again = signer.sign(suite_request("GET"), kSuiteCredentials, suite_time());
  EXPECT_NE(first.back().second, next_day.back().second);
  EXPECT_EQ(first.back().second, again.back().second);
}

}  // namespace
