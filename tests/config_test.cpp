// Credentials, region, endpoints, S3 addressing and CA bundle probing, from the environment the
// way the AWS SDKs read it. (CTest runs each test in its own process, so setenv stays local.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/config.h"
#include "common/http.h"
#include "common/s3.h"
#include "common/settings.h"
#include "runtime/errors.h"
#include "tests/test_support.h"

namespace {

void clear_aws_environment() {
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_CA_BUNDLE",
        "SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
    unsetenv(name);
  }
  setenv("HOME", "/nonexistent", 1);
}

TEST(Credentials, EnvironmentFirstWithSessionToken) {
  clear_aws_environment();
  setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
  setenv("AWS_SESSION_TOKEN", "token-env", 1);
  const auto credentials = common::load_credentials();
  EXPECT_EQ(credentials.access_key_id, "AKIAENV");
  EXPECT_EQ(credentials.secret_access_key, "secret-env");
  EXPECT_EQ(credentials.session_token, "token-env");
}

TEST(Credentials, ProfileFromSharedFilesThenConfigFile) {
  clear_aws_environment();
  tests::TempDir dir;
  std::ofstream(dir.path() / "credentials") << "[default]\naws_access_key_id = AKIADEFAULT\n"
                                               "aws_secret_access_key = secret-default\n\n"
                                               "[archive]\naws_access_key_id=AKIAARCHIVE\n"
                                               "aws_secret_access_key=secret-archive\n"
                                               "aws_session_token = token-archive\n";
  std::ofstream(dir.path() / "config")
      << "[default]\nregion = eu-west-1\n"
         "[profile only-config]\nregion = ap-south-1\n"
         "aws_access_key_id = AKIACONFIG\naws_secret_access_key = secret-config\n";
  setenv("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").c_str(), 1);
  setenv("AWS_CONFIG_FILE", (dir.path() / "config").c_str(), 1);

  EXPECT_EQ(common::load_credentials().access_key_id, "AKIADEFAULT");
  EXPECT_EQ(common::load_region(), "eu-west-1");
  setenv("AWS_PROFILE", "archive", 1);
  const auto archive = common::load_credentials();
  EXPECT_EQ(archive.access_key_id, "AKIAARCHIVE");
  EXPECT_EQ(archive.session_token, "token-archive");
  setenv("AWS_PROFILE", "only-config", 1);
  EXPECT_EQ(common::load_credentials().access_key_id, "AKIACONFIG");
  EXPECT_EQ(common::load_region(), "ap-south-1");
  setenv("AWS_REGION", "us-west-2", 1);
  EXPECT_EQ(common::load_region(), "us-west-2") << "AWS_REGION wins over the profile";
}

// credential_process is how SSO and assume-role profiles reach a client that does not call the
// SSO portal or STS itself (aws configure export-credentials --format process prints this).
TEST(Credentials, AProfilesCredentialProcessIsRunAndItsAnswerRead) {
  clear_aws_environment();
  tests::TempDir dir;
  const auto helper = dir.path() / "helper";
  std::ofstream(helper)
      << "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCESS\", "
         "\"SecretAccessKey\": \"secret-process\", \"SessionToken\": \"token-process\", "
         "\"Expiration\": \"2026-11-26T12:00:00Z\"}'\n";
  std::filesystem::permissions(helper, std::filesystem::perms::owner_all);
  std::ofstream(dir.path() / "config") << "[profile sso]\ncredential_process = " << helper.string()
                                       << "\n[profile broken]\ncredential_process = echo nope\n"
                                          "[profile failing]\ncredential_process = false\n";
  setenv("AWS_CONFIG_FILE", (dir.path() / "config").c_str(), 1);
  setenv("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "none").c_str(), 1);
  setenv("AWS_PROFILE", "sso", 1);
  const auto credentials = common::load_credentials();
  EXPECT_EQ(credentials.access_key_id, "ASIAPROCESS");
  EXPECT_EQ(credentials.secret_access_key, "secret-process");
  EXPECT_EQ(credentials.session_token, "token-process");
  for (const char* profile : {"broken", "failing"}) {
    setenv("AWS_PROFILE", profile, 1);
    try {
      common::load_credentials();
      ADD_FAILURE() << profile;
    } catch (const runtime::ConfigurationError& error) {
      EXPECT_NE(std::string(error.what())
                    .find("credential_process of profile '" + std::string(profile) + "'"),
                std::string::npos)
          << error.what();
    }
  }
}

TEST(Credentials, AnSsoOrAssumeRoleProfileErrorSaysHowToExportItsCredentials) {
  clear_aws_environment();
  tests::TempDir dir;
  std::ofstream(dir.path() / "config")
      << "[profile org-sso]\nsso_session = org\nsso_account_id = 111111111111\n"
         "[profile admin]\nrole_arn = arn:aws:iam::111111111111:role/Admin\nsource_profile = "
         "org-sso\n";
  setenv("AWS_CONFIG_FILE", (dir.path() / "config").c_str(), 1);
  setenv("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "none").c_str(), 1);
  for (const char* profile : {"org-sso", "admin"}) {
    setenv("AWS_PROFILE", profile, 1);
    try {
      common::load_credentials();
      ADD_FAILURE() << profile;
    } catch (const runtime::ConfigurationError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("aws configure export-credentials --profile " + std::string(profile) +
                             " --format env"),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("credential_process"), std::string::npos) << message;
    }
  }
}

TEST(Credentials, NoneIsAClearConfigurationError) {
  clear_aws_environment();
  try {
    common::load_credentials();
    FAIL();
  } catch (const runtime::ConfigurationError& error) {
    EXPECT_NE(std::string(error.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos);
  }
  EXPECT_THROW(common::load_region(), runtime::ConfigurationError);
}

TEST(Endpoints, ServiceSpecificThenGeneralThenAws) {
  clear_aws_environment();
  auto s3 = common::resolve_endpoint("S3", "s3", "eu-west-1");
  EXPECT_EQ(s3.scheme, "https");
  EXPECT_EQ(s3.host, "s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(s3.overridden);
  EXPECT_EQ(common::resolve_endpoint("SFN", "states", "cn-north-1").host,
            "states.cn-north-1.amazonaws.com.cn");

  setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000", 1);
  setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000/base/", 1);
  s3 = common::resolve_endpoint("S3", "s3", "eu-west-1");
  EXPECT_EQ(s3.host, "localhost:9000");
  EXPECT_EQ(s3.base_path, "/base");
  EXPECT_TRUE(s3.overridden);
  const auto dynamodb = common::resolve_endpoint("DYNAMODB", "dynamodb", "eu-west-1");
  EXPECT_EQ(dynamodb.scheme, "http");
  EXPECT_EQ(dynamodb.host, "127.0.0.1:5000");
  EXPECT_THROW(common::parse_endpoint_url("127.0.0.1:5000"), runtime::ConfigurationError);
  EXPECT_THROW(common::parse_endpoint_url("ftp://host"), runtime::ConfigurationError);
}

TEST(S3Addressing, VirtualHostedAgainstAwsPathStyleWhenOverridden) {
  const common::Endpoint aws{"https", "s3.eu-west-1.amazonaws.com", "", false};
  auto address = common::s3_address(aws, "log-archive", "2026/11/22/a b.gz");
  EXPECT_EQ(address.host_prefix, "log-archive.");
  EXPECT_EQ(address.path, "/2026/11/22/a b.gz");
  address = common::s3_address(aws, "dotted.bucket.name", "k");
  EXPECT_EQ(address.host_prefix, "") << "dots cannot be virtual-hosted over TLS";
  EXPECT_EQ(address.path, "/dotted.bucket.name/k");

  const common::Endpoint local{"http", "127.0.0.1:5000", "", true};
  address = common::s3_address(local, "log-archive", "k");
  EXPECT_EQ(address.host_prefix, "");
  EXPECT_EQ(address.path, "/log-archive/k");
  EXPECT_EQ(common::s3_address(local, "log-archive", "").path, "/log-archive");
}

TEST(CaBundle, EnvironmentThenTheUsualPlaces) {
  clear_aws_environment();
  setenv("AWS_CA_BUNDLE", "/opt/custom/ca.pem", 1);
  EXPECT_EQ(common::ca_bundle_path(), "/opt/custom/ca.pem");
  unsetenv("AWS_CA_BUNDLE");
  const std::string probed = common::ca_bundle_path();
  // This machine is Debian; Amazon Linux 2023's path is probed first when it exists.
  if (std::ifstream("/etc/pki/tls/certs/ca-bundle.crt")) {
    EXPECT_EQ(probed, "/etc/pki/tls/certs/ca-bundle.crt");
  } else {
    EXPECT_EQ(probed, "/etc/ssl/certs/ca-certificates.crt");
  }
}

// S3's bucket naming rules, and locations written the ways people write them: "s3://name/prefix"
// must never become a bucket named "s3:".
TEST(Settings, BucketsFollowS3sNamingRules) {
  for (const std::string good :
       {"abc", "logs.example-org", "aws-controltower-logs-123456789012-eu-west-1", "a1b"})
    EXPECT_TRUE(common::valid_bucket_name(good)) << good;
  EXPECT_TRUE(common::valid_bucket_name(std::string(63, 'a')));
  for (const char* bad :
       {"ab", "s3:", "Logs", "logs_archive", "-logs", "logs-", "a..b", "192.168.1.1", "xn--logs",
        "logs-s3alias", "logs--ol-s3", "a b", "logs/prefix", ""})
    EXPECT_FALSE(common::valid_bucket_name(bad)) << bad;
  EXPECT_FALSE(common::valid_bucket_name(std::string(64, 'a')));
}

TEST(Settings, LocationsAreBucketAndPrefixHoweverWritten) {
  setenv("SOURCES", " s3://zscaler-logs/web/ , app-logs/2026 ,plain-bucket,s3://only-bucket", 1);
  const auto locations = common::location_list_setting("SOURCES");
  const std::vector<common::S3Location> expected = {
      {"zscaler-logs", "web/"}, {"app-logs", "2026"}, {"plain-bucket", ""}, {"only-bucket", ""}};
  EXPECT_EQ(locations, expected);
  for (const char* bad : {"s3:/logs", "S3://Logs/x", "s3:", "bucket_with_underscore/x"}) {
    setenv("SOURCES", bad, 1);
    try {
      common::location_list_setting("SOURCES");
      ADD_FAILURE() << bad << " accepted";
    } catch (const runtime::ConfigurationError& error) {
      EXPECT_NE(std::string(error.what()).find(std::string("SOURCES: '") + bad + "'"),
                std::string::npos)
          << error.what();
    }
  }
}

}  // namespace
