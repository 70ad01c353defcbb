// CombineLogFiles as Lambda runs it, against moto, with outputs checked by the aws CLI and the
// system's gzip: every original's content, in order, each starting on a new line.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "common/gzip.h"
#include "common/s3.h"
#include "common/sigv4.h"
#include "pipeline/work_files.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

std::string random_lines(std::size_t bytes, unsigned seed) {
  std::mt19937 generator(seed);
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  text.reserve(bytes + 100);
  while (text.size() < bytes) {
    text += "{\"eventID\":\"";
    for (int i = 0; i < 60; ++i) text.push_back(kAlphabet[generator() % 64]);
    text += "\"}\n";
  }
  return text;
}

class CombineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = tests::unique_name("src");
    work_ = tests::unique_name("work");
    destination_ = tests::unique_name("dest");
    ASSERT_TRUE(tests::create_buckets(moto_, {source_, work_, destination_}));
  }
  std::map<std::string, std::string> environment() const {
    return {{"WORK_BUCKET", work_},
            {"DESTINATION_BUCKET", destination_},
            {"DESTINATION_PREFIX", "agg"},
            {"GLACIER_MIN_SIZE", "204800"}};
  }
  void put(const std::string& key, const std::string& bytes, const std::string& text) {
    s3_.put_object(source_, key, bytes);
    bytes_of_[key] = bytes;
    text_of_[key] = text;
    sizes_[key] = static_cast<std::int64_t>(bytes.size());
  }
  // GetFiles-like file list -> DetermineOperationType -> CombineLogFiles.
  // `after_planning` runs between the two, as another writer would.
  tests::Invocation plan_and_combine(const std::string& directory,
                                     const std::function<void()>& after_planning = {}) {
    std::vector<json::object> lines;
    for (const auto& object : s3_.list_all(source_, directory)) {
      lines.push_back({{"key", object.key}, {"size", object.size}, {"etag", object.etag}});
    }
    const auto files =
        pipeline::write_jsonl(s3_, work_, "lists/" + tests::unique_name("l") + ".jsonl", lines, 0);
    json::object group{{"group_id", "g-" + directory}, {"kind", "other"},
                       {"source_bucket", source_},     {"directory", directory},
                       {"date", "2026-03-05"},         {"run_id", "run"},
                       {"files", files.to_json()}};
    auto planned = tests::invoke_handler(moto_, "DetermineOperationType", group, environment());
    EXPECT_EQ(planned.exit_code, 0) << planned.logs;
    if (after_planning) after_planning();
    json::object event = planned.response.as_object();
    event["run_id"] = "run";
    auto combine_environment = environment();
    if (!combine_endpoint_.empty()) combine_environment["AWS_ENDPOINT_URL"] = combine_endpoint_;
    return tests::invoke_handler(moto_, "CombineLogFiles", event, combine_environment);
  }
  json::object receipt_of(const tests::Invocation& run) {
    const auto ref = pipeline::FileRef::from_json(run.response.at("receipt"), "receipt");
    return tests::receipt_with_indexes(s3_, ref.bucket, ref.key);
  }
  // The output as the aws CLI downloads it, decompressed by the system's gzip when it is .gz.
  std::string fetch_text(const std::string& key) {
    tests::TempDir dir;
    const auto path = (dir.path() / "out").string();
    EXPECT_EQ(
        tests::aws_cli(moto_, "s3 cp 's3://" + destination_ + "/" + key + "' " + path).exit_code,
        0);
    const auto text = tests::run_command((key.ends_with(".gz") ? "gzip -dc " : "cat ") + path);
    EXPECT_EQ(text.exit_code, 0) << text.err;
    return text.out;
  }
  // What an output must decompress to: each source's text, a newline added where it lacks one.
  std::string expected_text(const json::object& output) {
    std::string text;
    for (const auto& source : output.at("sources").as_array()) {
      const std::string& content = text_of_.at(std::string(source.at("key").as_string()));
      text += content;
      if (!content.empty() && content.back() != '\n') text += "\n";
    }
    return text;
  }

  // `text` through a system compressor (bzip2 -c, zstd -c, gzip -c).
  static std::string compressed_by(const std::string& command, const std::string& text) {
    tests::TempDir dir;
    const auto path = dir.path() / "in";
    std::ofstream(path, std::ios::binary) << text;
    const auto result = tests::run_command(command + " < " + path.string());
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }
  // Whether the aws CLI finds the object (an independent client).
  bool source_exists(const std::string& key) {
    return tests::aws_cli(moto_, "s3api head-object --bucket " + source_ + " --key '" + key + "'")
               .exit_code == 0;
  }
  // `gzip -t` on the output as the aws CLI downloads it.
  bool gzip_test_passes(const std::string& key) {
    tests::TempDir dir;
    const auto path = (dir.path() / "out.gz").string();
    EXPECT_EQ(
        tests::aws_cli(moto_, "s3 cp 's3://" + destination_ + "/" + key + "' " + path).exit_code,
        0);
    return tests::run_command("gzip -t " + path).exit_code == 0;
  }
  // Invokes until no continuation is returned; `inputs` receives every event sent.
  tests::Invocation run_to_end(json::value event, const std::map<std::string, std::string>& env,
                               std::vector<json::value>* inputs = nullptr) {
    tests::Invocation run;
    for (int invocations = 0; invocations < 60; ++invocations) {
      if (inputs != nullptr) inputs->push_back(event);
      run = tests::invoke_handler(moto_, "CombineLogFiles", event, env);
      if (run.exit_code != 0 || !run.response.as_object().contains("continuation")) break;
      event = run.response;
    }
    return run;
  }
  // A plan of one output over these keys, in this order, as DetermineOperationType writes it.
  json::object plan_event(const std::string& name, const std::vector<std::string>& keys,
                          std::uint64_t part_size = 5 << 20) {
    json::array sources;
    for (const auto& key : keys) {
      const auto head = s3_.head_object(source_, key);
      sources.push_back(json::object{{"key", key}, {"size", head.size}, {"etag", head.etag}});
    }
    const json::object plan{{"group_id", "g-" + name},
                            {"operation", "aggregate"},
                            {"source_bucket", source_},
                            {"date", "2026-03-05"},
                            {"outputs", json::array{json::object{{"key_base", "agg/" + name},
                                                                 {"part_size", part_size},
                                                                 {"bytes", 0},
                                                                 {"sources", sources}}}}};
    s3_.put_object(work_, "plans/" + name + ".json", json::serialize(plan));
    return {{"run_id", "run"},
            {"group_id", "g-" + name},
            {"plan", pipeline::FileRef{work_, "plans/" + name + ".json", 1, 0}.to_json()}};
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  std::string combine_endpoint_;  // CombineLogFiles' AWS, when not moto itself
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string source_, work_, destination_;
  std::map<std::string, std::string> text_of_;
  std::map<std::string, std::string> bytes_of_;  // of each source put, as put
  std::map<std::string, std::int64_t> sizes_;    // of each source put, in bytes
};

TEST_F(CombineTest, EveryOriginalInOrderOnItsOwnLinesGzipAndPlainApart) {
  const std::string dir = "app/2026-03-05/";
  const std::string trail = "{\"Records\":[{\"eventName\":\"GetObject\"}]}";  // no final newline
  put(dir + "a-cloudtrail.json.gz", common::gzip(trail), trail);
  put(dir + "b-with-newline.json.gz", common::gzip("line b\n"), "line b\n");
  put(dir + "c-plain.log", "plain c1\nplain c2", "plain c1\nplain c2");
  put(dir + "d-plain-newline.log", "plain d\n", "plain d\n");
  put(dir + "e-empty.log", "", "");
  put(dir + "f-not-really.gz", "named .gz, plain inside\n", "named .gz, plain inside\n");
  const std::string big_text = random_lines(18 << 20, 1);
  const std::string big_gzip = common::gzip(big_text);
  ASSERT_GE(big_gzip.size(), 10u << 20) << "must be large enough to be copied server-side";
  put(dir + "g-large.json.gz", big_gzip, big_text);
  std::string big_plain = random_lines(12 << 20, 2);
  big_plain.pop_back();  // no final newline
  put(dir + "h-large-plain.log", big_plain, big_plain);
  for (int i = 0; i < 40; ++i) {
    const std::string text = random_lines(2000 + i * 97, 10 + i);
    put(dir + "many-" + std::to_string(100 + i) + ".json.gz", common::gzip(text), text);
  }

  // CombineLogFiles reaches moto through the fault proxy (no faults), which counts its traffic.
  const tests::FaultProxy proxy(moto_.endpoint, "--rate 0");
  combine_endpoint_ = proxy.url();
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  const auto& outputs = receipt.at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 2u) << json::serialize(receipt);
  // The large sources went server-side, as the proxy saw it: S3 copied their bytes, and what
  // went up from the function is everything else (the small files, the 5 MiB tails, a few
  // separating newlines). Downloads are no measure: a gzip source is read whole, every member
  // checked, before any of it is combined.
  const auto traffic = proxy.stats().at("operations");
  std::int64_t all_sources = 0;
  for (const auto& [key, bytes] : sizes_) all_sources += bytes;
  const std::int64_t copied_by_s3 =
      static_cast<std::int64_t>(big_gzip.size() + big_plain.size()) - 2 * (5 << 20);
  EXPECT_EQ(traffic.at("UploadPartCopy").at("count").as_int64(), 2) << traffic;
  const std::int64_t uploaded = traffic.at("UploadPart").at("bytes_sent").as_int64();
  EXPECT_GE(uploaded, all_sources - copied_by_s3) << traffic;
  EXPECT_LE(uploaded, all_sources - copied_by_s3 + 1024) << traffic;
  std::set<std::string> combined;
  for (const auto& output : outputs) {
    const std::string key(output.at("key").as_string());
    EXPECT_EQ(fetch_text(key), expected_text(output.as_object())) << key;
    for (const auto& source : output.at("sources").as_array())
      combined.insert(std::string(source.at("key").as_string()));
    const auto head = tests::aws_cli(
        moto_, "s3api head-object --bucket " + destination_ + " --key '" + key + "'");
    EXPECT_NE(head.out.find("STANDARD_IA"), std::string::npos) << head.out;
  }
  EXPECT_TRUE(outputs[0].at("key").as_string().ends_with(".gz"));
  EXPECT_TRUE(outputs[1].at("key").as_string().ends_with(".log"));
  // The large sources went server-side but for their downloaded 5 MiB tails.
  EXPECT_EQ(outputs[0].at("copied_bytes").as_int64(),
            static_cast<std::int64_t>(big_gzip.size() - (5 << 20)));
  EXPECT_EQ(outputs[1].at("copied_bytes").as_int64(),
            static_cast<std::int64_t>(big_plain.size() - (5 << 20)));
  EXPECT_EQ(combined.size(), text_of_.size() - 1)
      << "every non-empty file is in exactly one output";
  EXPECT_EQ(receipt.at("empty_sources").as_array().size(), 1u);
  EXPECT_TRUE(receipt.at("skipped").as_array().empty());
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u) << "no upload left open";
}

// Each output's record is the index of what it holds: where each original's bytes start. Cut out
// with restore-original (one ranged GET of the output, checked against the original's size and
// MD5 ETag), every original comes back byte for byte: gzip members as they were, plain text without
// the newline the output added, a large one copied server-side.
TEST_F(CombineTest, EachOriginalIsCutOutOfItsOutputByteForByte) {
  const std::string dir = "app/2026-03-05/";
  const std::string trail = "{\"Records\":[{\"eventName\":\"GetObject\"}]}";
  put(dir + "a-cloudtrail.json.gz", common::gzip(trail), trail);
  put(dir + "b-plain.log", "no final newline", "no final newline");
  put(dir + "c-plain-newline.log", "line c\n", "line c\n");
  const std::string big_text = random_lines(18 << 20, 3);
  const std::string big_gzip = common::gzip(big_text);
  ASSERT_GE(big_gzip.size(), 10u << 20) << "must be large enough to be copied server-side";
  put(dir + "d-large.json.gz", big_gzip, big_text);
  put(dir + "e-small.json.gz", common::gzip("e\n"), "e\n");
  const std::string big_plain = random_lines(11 << 20, 4);
  put(dir + "f-large-plain.log", big_plain, big_plain);

  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  std::size_t restored = 0;
  const auto receipt = receipt_of(run);
  tests::TempDir hashed;
  // The digests the index records are those sha256sum gives of the original and its content.
  const auto sha256sum = [&](const std::string& bytes) {
    const auto path = hashed.path() / "bytes";
    std::ofstream(path, std::ios::binary) << bytes;
    return tests::run_command("sha256sum " + path.string() + " | cut -c1-64").out;
  };
  for (const auto& output : receipt.at("outputs").as_array()) {
    EXPECT_EQ(output.at("source_bucket").as_string(), source_);
    // The output names its index in its metadata: the ledger record, as the aws CLI reads both.
    const auto head =
        tests::aws_cli(moto_, "s3api head-object --bucket " + destination_ + " --key '" +
                                  std::string(output.at("key").as_string()) +
                                  "' --query Metadata.index --output text");
    ASSERT_EQ(head.exit_code, 0) << head.err;
    const std::string index_uri = "s3://" + work_ + "/";
    ASSERT_TRUE(head.out.starts_with(index_uri)) << head.out;
    const std::string ledger_key = common::url_decode(
        head.out.substr(index_uri.size(), head.out.size() - index_uri.size() - 1));
    const auto record =
        json::parse(tests::aws_cli(moto_, "s3 cp 's3://" + work_ + "/" + ledger_key + "' -").out);
    EXPECT_EQ(record.at("key"), output.at("key"));
    EXPECT_EQ(record.at("sha256"), output.at("sha256"));
    const auto& sources = output.at("sources").as_array();
    ASSERT_EQ(output.at("offsets").as_array().size(), sources.size());
    ASSERT_EQ(output.at("sha256").as_array().size(), sources.size());
    ASSERT_EQ(output.at("content_sha256").as_array().size(), sources.size());
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::string key(sources[i].at("key").as_string());
      EXPECT_EQ(std::string(output.at("sha256").at(i).as_string()) + "\n",
                sha256sum(bytes_of_.at(key)))
          << key;
      EXPECT_EQ(std::string(output.at("content_sha256").at(i).as_string()) + "\n",
                sha256sum(text_of_.at(key)))
          << key;
    }
    for (const auto& source : sources) {
      const std::string key(source.at("key").as_string());
      tests::TempDir dir_out;
      const auto path = dir_out.path() / "original";
      const auto cut = tests::run_command(
          tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint + " " +
          tests::bin_path("restore-original").string() + " --seal-key " + tests::seal_key(moto_) +
          " --work-bucket " + work_ + " --date 2026-03-05 's3://" + source_ + "/" + key +
          "' --to " + path.string());
      ASSERT_EQ(cut.exit_code, 0) << key << ": " << cut.err;
      std::ifstream in(path, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      EXPECT_TRUE(bytes == bytes_of_.at(key)) << key << " is not restored byte for byte";
      ++restored;
    }
  }
  EXPECT_EQ(restored, bytes_of_.size());
  // To a key: what the aws CLI then downloads is the original.
  const std::string restored_key = "restored/" + dir + "a-cloudtrail.json.gz";
  const auto to_key = tests::run_command(
      tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint + " " +
      tests::bin_path("restore-original").string() + " --seal-key " + tests::seal_key(moto_) +
      " --work-bucket " + work_ + " 's3://" + source_ + "/" + dir +
      "a-cloudtrail.json.gz' --to-key 's3://" + work_ + "/" + restored_key + "'");
  ASSERT_EQ(to_key.exit_code, 0) << to_key.err;
  tests::TempDir downloaded;
  ASSERT_EQ(tests::aws_cli(moto_, "s3 cp 's3://" + work_ + "/" + restored_key + "' " +
                                      (downloaded.path() / "a").string())
                .exit_code,
            0);
  std::ifstream restored_file(downloaded.path() / "a", std::ios::binary);
  EXPECT_TRUE(std::string(std::istreambuf_iterator<char>(restored_file), {}) ==
              bytes_of_.at(dir + "a-cloudtrail.json.gz"));
  const auto missing =
      tests::run_command(tests::credentials_env(moto_) + "AWS_ENDPOINT_URL=" + moto_.endpoint +
                         " " + tests::bin_path("restore-original").string() + " --seal-key " +
                         tests::seal_key(moto_) + " --work-bucket " + work_ + " 's3://" + source_ +
                         "/" + dir + "never-combined.log' --to /dev/null");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no output"), std::string::npos) << missing.err;
}

TEST_F(CombineTest, ASourceChangedAfterPlanningIsLeftOutAndReported) {
  const std::string dir = "svc/2026-03-05/";
  put(dir + "changed.log", "original\n", "original\n");
  put(dir + "stable.log", "stable\n", "stable\n");
  const auto run = plan_and_combine(
      dir, [&] { s3_.put_object(source_, dir + "changed.log", "rewritten after planning\n"); });
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("skipped").as_array().size(), 1u);
  EXPECT_EQ(receipt.at("skipped").at(0).at("key").as_string(), dir + "changed.log");
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  EXPECT_EQ(fetch_text(std::string(receipt.at("outputs").at(0).at("key").as_string())), "stable\n");
}

TEST_F(CombineTest, ASourceDeletedAfterPlanningIsLeftOutAndReported) {
  const std::string dir = "svc/2026-03-05/";
  put(dir + "gone.log", "gone\n", "gone\n");
  put(dir + "stable.log", "stable\n", "stable\n");
  const auto run = plan_and_combine(dir, [&] {
    ASSERT_EQ(tests::aws_cli(
                  moto_, "s3api delete-object --bucket " + source_ + " --key " + dir + "gone.log")
                  .exit_code,
              0);
  });
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("skipped").as_array().size(), 1u) << json::serialize(receipt);
  EXPECT_EQ(receipt.at("skipped").at(0).at("key").as_string(), dir + "gone.log");
  EXPECT_EQ(receipt.at("skipped").at(0).at("reason").as_string(), "NoSuchKey");
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  EXPECT_EQ(fetch_text(std::string(receipt.at("outputs").at(0).at("key").as_string())), "stable\n");
}

TEST_F(CombineTest, AStaleUploadFromACrashedAttemptIsAbortedAndTheOutputIsWhole) {
  const std::string dir = "svc/2026-03-05/";
  put(dir + "one.log", "one\n", "one\n");
  put(dir + "two.log", "two", "two");
  const std::string key =
      "agg/" + source_ + "/date=2026-03-05/" + tests::output_name("svc/2026-03-05/") + "-0001.log";
  const std::string stale = s3_.create_multipart_upload(destination_, key);
  s3_.upload_part(destination_, key, stale, 1, "half-written garbage");
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(fetch_text(key), "one\ntwo\n");
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u);
}

TEST_F(CombineTest, CopyAllCopiesEachFileAsItIs) {
  const std::string dir = "big/2026-03-05/";
  const std::string text = random_lines(300 * 1024, 3);
  put(dir + "x.log", text, text);
  const std::string packed = common::gzip(text);
  put(dir + "y.log.gz", packed + std::string(300 * 1024 - packed.size() % 1024, 'x'), "");
  const std::string z_text = random_lines(3 << 20, 4);
  put(dir + "z.json.gz", common::gzip(z_text), z_text);
  ASSERT_GE(bytes_of_.at(dir + "z.json.gz").size(), 128u << 10) << "copied as it is";
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 3u);
  // Copied without a download into the output, each is still read once to hash it: its content
  // is its bytes, unless it is whole gzip (y is gzip with trailing garbage: copied as it is).
  for (const auto& output : receipt.at("outputs").as_array()) {
    const std::string key(output.at("sources").at(0).at("key").as_string());
    const std::string& bytes = bytes_of_.at(key);
    EXPECT_EQ(output.at("sha256").at(0).as_string(), common::sha256_hex(bytes)) << key;
    EXPECT_EQ(output.at("content_sha256").at(0).as_string(),
              common::sha256_hex(key.ends_with("z.json.gz") ? text_of_.at(key) : bytes))
        << key;
    EXPECT_EQ(output.at("offsets").at(0).as_int64(), 0) << key;
  }
  const std::string key(receipt.at("outputs").at(0).at("key").as_string());
  ASSERT_EQ(key, "agg/" + source_ + "/date=2026-03-05/" + tests::output_name("big/2026-03-05/") +
                     "_x.log");
  EXPECT_EQ(fetch_text(key), text);
}

// Forced to stop at every commit point: several invocations, a retried one among them, and the
// same output as one invocation makes. The plan asks for 5 MiB parts (S3's smallest) so 17 MiB
// of logs commit three times.
TEST_F(CombineTest, ContinuationAcrossInvocationsGivesTheSameOutputEvenWhenRetried) {
  const std::string dir = "bulk/2026-03-05/";
  json::array sources;
  for (int i = 0; i < 17; ++i) {
    std::string text = random_lines(1 << 20, 100 + i);
    if (i % 2) text.pop_back();  // some without a final newline
    const std::string key = dir + "part-" + std::to_string(100 + i) + ".log";
    const auto written = s3_.put_object(source_, key, text);
    text_of_[key] = text;
    sources.push_back(json::object{{"key", key}, {"size", text.size()}, {"etag", written.etag}});
  }
  const json::object plan{{"group_id", "g-bulk"},
                          {"operation", "aggregate"},
                          {"source_bucket", source_},
                          {"date", "2026-03-05"},
                          {"outputs", json::array{json::object{{"key_base", "agg/bulk"},
                                                               {"part_size", 5 << 20},
                                                               {"bytes", 17 << 20},
                                                               {"sources", sources}}}}};
  s3_.put_object(work_, "plans/bulk.json", json::serialize(plan));
  const json::object event{{"run_id", "run"},
                           {"group_id", "g-bulk"},
                           {"plan", pipeline::FileRef{work_, "plans/bulk.json", 1, 0}.to_json()}};

  const auto once = tests::invoke_handler(moto_, "CombineLogFiles", event, environment());
  ASSERT_EQ(once.exit_code, 0) << once.logs;
  const auto once_receipt = receipt_of(once);
  ASSERT_EQ(once_receipt.at("outputs").as_array().size(), 1u);
  const std::string once_text = fetch_text("agg/bulk.log");
  ASSERT_TRUE(once_text == expected_text(once_receipt.at("outputs").at(0).as_object()));
  s3_.delete_objects(destination_, {{"agg/bulk.log", ""}});

  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";
  json::value next = event;
  int invocations = 0;
  bool retried = false;
  tests::Invocation run;
  while (true) {
    run = tests::invoke_handler(moto_, "CombineLogFiles", next, env);
    ASSERT_EQ(run.exit_code, 0) << run.logs;
    ++invocations;
    if (!run.response.as_object().contains("continuation") || invocations > 40) break;
    if (!retried && invocations == 2) {
      retried = true;  // as if this answer were lost: the previous input is sent again
      continue;
    }
    next = run.response;
  }
  EXPECT_GE(invocations, 4);
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  EXPECT_TRUE(fetch_text("agg/bulk.log") == once_text) << "identical to the one-shot output";
  EXPECT_EQ(json::serialize(receipt.at("outputs").at(0).at("sources")),
            json::serialize(once_receipt.at("outputs").at(0).at("sources")));
  EXPECT_EQ(json::serialize(receipt.at("outputs").at(0).at("offsets")),
            json::serialize(once_receipt.at("outputs").at(0).at("offsets")))
      << "the index survives continuations and retries";
  EXPECT_GE(receipt.at("outputs").at(0).at("parts").as_int64(), 4);
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u) << "no upload left open";
}

// Only valid gzip (every member inflated) and text are combined: a truncated member, bzip2,
// zstd and NUL-bearing files stay in place, reported with a reason, small or large; a large
// source rejected after its copied parts were uploaded leaves none of its bytes behind.
TEST_F(CombineTest, BrokenAndBinarySourcesAreLeftInPlaceAndReported) {
  const std::string dir = "mixed/2026-03-05/";
  put(dir + "good-1.json.gz", common::gzip("good one\n"), "good one\n");
  put(dir + "good-2.log", "good two\n", "good two\n");
  const std::string whole = common::gzip(random_lines(200000, 5));
  put(dir + "truncated.json.gz", whole.substr(0, whole.size() / 2), "");
  std::string corrupt = common::gzip(random_lines(50000, 6));
  corrupt[corrupt.size() / 2] ^= 0x55;
  put(dir + "corrupt.json.gz", corrupt, "");
  put(dir + "archive.log.bz2", compressed_by("bzip2 -c", random_lines(5000, 7)), "");
  put(dir + "frame.log.zst", compressed_by("zstd -q -c", random_lines(5000, 8)), "");
  put(dir + "nul.log", std::string("text\0with a NUL\n", 17), "");
  const std::string big = common::gzip(random_lines(18 << 20, 9));
  ASSERT_GE(big.size() - (1 << 20), 10u << 20);
  put(dir + "big-truncated.json.gz", big.substr(0, big.size() - (1 << 20)), "");
  std::string big_plain = random_lines(12 << 20, 10);
  big_plain[big_plain.size() - 100] = '\0';  // in the downloaded tail, after the copied parts
  put(dir + "big-binary.log", big_plain, "");
  const std::vector<std::string> bad = {dir + "truncated.json.gz", dir + "corrupt.json.gz",
                                        dir + "archive.log.bz2",   dir + "frame.log.zst",
                                        dir + "nul.log",           dir + "big-truncated.json.gz",
                                        dir + "big-binary.log"};

  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  std::set<std::string> skipped;
  for (const auto& entry : receipt.at("skipped").as_array()) {
    skipped.insert(std::string(entry.at("key").as_string()));
    EXPECT_FALSE(entry.at("reason").as_string().empty());
  }
  EXPECT_EQ(skipped, std::set<std::string>(bad.begin(), bad.end())) << json::serialize(receipt);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 2u) << json::serialize(receipt);
  for (const auto& output : receipt.at("outputs").as_array()) {
    const std::string key(output.at("key").as_string());
    EXPECT_EQ(output.at("sources").as_array().size(), 1u) << key;
    EXPECT_EQ(output.at("copied_bytes").as_int64(), 0) << "no part of a rejected source stays";
    if (key.ends_with(".gz")) {
      EXPECT_TRUE(gzip_test_passes(key)) << key;
    }
    EXPECT_EQ(fetch_text(key), expected_text(output.as_object())) << key;
  }
  EXPECT_EQ(json::serialize(run.response.at("skipped")), "7");
  EXPECT_NE(run.logs.find("SkippedFiles"), std::string::npos) << "the metric is emitted";

  json::object delete_event = run.response.as_object();
  const auto deleted = tests::invoke_handler(moto_, "DeleteOriginals", delete_event, environment());
  ASSERT_EQ(deleted.exit_code, 0) << deleted.logs;
  for (const auto& key : bad) EXPECT_TRUE(source_exists(key)) << key << " must stay";
  EXPECT_FALSE(source_exists(dir + "good-1.json.gz"));
  EXPECT_FALSE(source_exists(dir + "good-2.log"));
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u);
}

// A plain file before the gzip stream's commits and one after, across forced continuations:
// each stream resumes from its own commits, and neither file is left out.
TEST_F(CombineTest, PlainFilesAroundGzipOnesSurviveContinuations) {
  const std::string dir = "around/2026-03-05/";
  std::vector<std::string> keys = {dir + "a.log"};
  put(dir + "a.log", "first plain line\n", "first plain line\n");
  for (int i = 0; i < 19; ++i) {
    const std::string text = random_lines(1 << 20, 200 + i);
    const std::string key = dir + "m-" + std::to_string(100 + i) + ".json.gz";
    put(key, common::gzip(text), text);
    keys.push_back(key);
  }
  put(dir + "z.log", "last plain line", "last plain line");
  keys.push_back(dir + "z.log");
  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";
  std::vector<json::value> inputs;
  const auto run = run_to_end(plan_event("around", keys), env, &inputs);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_GE(inputs.size(), 3u) << "the gzip stream committed more than once";
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 2u) << json::serialize(receipt);
  std::size_t combined = 0;
  for (const auto& output : receipt.at("outputs").as_array()) {
    const std::string key(output.at("key").as_string());
    EXPECT_EQ(fetch_text(key), expected_text(output.as_object())) << key;
    combined += output.at("sources").as_array().size();
  }
  EXPECT_EQ(combined, keys.size());
  EXPECT_EQ(fetch_text("agg/around.log"), "first plain line\nlast plain line\n");
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u);
}

// A crash or timeout after the last output completed: the same input again (a resumed call and
// a first call alike) gives the same receipt, finds its own output instead of writing it again,
// and never takes the missing upload for a changed source.
TEST_F(CombineTest, AnInvocationRepeatedAfterItsOutputCompletedGivesTheSameResult) {
  const std::string dir = "again/2026-03-05/";
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) {
    const std::string text = random_lines(1 << 20, 300 + i);
    const std::string key = dir + "f-" + std::to_string(100 + i) + ".json.gz";
    put(key, common::gzip(text), text);
    keys.push_back(key);
  }
  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";
  std::vector<json::value> inputs;
  const auto first = run_to_end(plan_event("again", keys), env, &inputs);
  ASSERT_EQ(first.exit_code, 0) << first.logs;
  ASSERT_GE(inputs.size(), 2u);
  const std::string expected = json::serialize(receipt_of(first).at("outputs"));
  const std::string text = fetch_text("agg/again.gz");
  for (const json::value& input : {inputs.back(), inputs.front()}) {
    const auto repeated = run_to_end(input, env);
    ASSERT_EQ(repeated.exit_code, 0) << repeated.logs;
    EXPECT_EQ(json::serialize(receipt_of(repeated).at("outputs")), expected);
    EXPECT_EQ(json::serialize(repeated.response.at("files")), "12");
    EXPECT_EQ(receipt_of(repeated).at("skipped").as_array().size(), 0u);
  }
  EXPECT_TRUE(fetch_text("agg/again.gz") == text);
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u) << "no upload left open";
}

// An output key that holds someone else's object is never written over: the group fails.
TEST_F(CombineTest, AnOutputKeyTakenByAnotherObjectIsNeverWrittenOver) {
  const std::string dir = "taken/2026-03-05/";
  put(dir + "one.log", "one\n", "one\n");
  s3_.put_object(destination_, "agg/taken.log", "somebody else's object\n");
  const auto run = tests::invoke_handler(moto_, "CombineLogFiles",
                                         plan_event("taken", {dir + "one.log"}), environment());
  EXPECT_EQ(run.exit_code, 1) << run.logs;
  EXPECT_EQ(run.response.at("errorType").as_string(), "VerificationFailed") << run.logs;
  EXPECT_EQ(fetch_text("agg/taken.log"), "somebody else's object\n");
  EXPECT_EQ(tests::cli_open_uploads(moto_, destination_), 0u);
}

// Archived originals (GLACIER, DEEP_ARCHIVE) cannot be read until restored: they stay, are
// reported with a count, and the rest of the group is combined, copied or not.
TEST_F(CombineTest, ArchivedSourcesStayAndAreCounted) {
  tests::TempDir scratch;
  const std::string text = random_lines(300 * 1024, 4);
  std::ofstream(scratch.path() / "body") << text;
  auto put_archived = [&](const std::string& key, const std::string& storage_class) {
    ASSERT_EQ(tests::aws_cli(moto_, "s3api put-object --bucket " + source_ + " --key " + key +
                                        " --storage-class " + storage_class + " --body " +
                                        (scratch.path() / "body").string())
                  .exit_code,
              0);
  };
  const std::string dir = "cold/2026-03-05/";
  put(dir + "warm.log", "warm\n", "warm\n");
  put_archived(dir + "frozen.log", "GLACIER");
  put_archived(dir + "deep.log", "DEEP_ARCHIVE");
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("skipped").as_array().size(), 2u) << json::serialize(receipt);
  for (const auto& entry : receipt.at("skipped").as_array())
    EXPECT_EQ(entry.at("reason").as_string(), "InvalidObjectState");
  EXPECT_EQ(fetch_text(std::string(receipt.at("outputs").at(0).at("key").as_string())), "warm\n");
  EXPECT_NE(run.logs.find("2 files are archived"), std::string::npos) << run.logs;

  // Copied as they are (every file large enough): the archived one stays all the same.
  const std::string big_dir = "cold-big/2026-03-05/";
  put(big_dir + "thawed.log", text, text);
  put_archived(big_dir + "archived.log", "GLACIER");
  const auto copied = plan_and_combine(big_dir);
  ASSERT_EQ(copied.exit_code, 0) << copied.logs;
  const auto copy_receipt = receipt_of(copied);
  ASSERT_EQ(copy_receipt.at("skipped").as_array().size(), 1u) << json::serialize(copy_receipt);
  EXPECT_EQ(copy_receipt.at("skipped").at(0).at("reason").as_string(), "InvalidObjectState");
  EXPECT_EQ(copy_receipt.at("outputs").as_array().size(), 1u);
}

// Manifest mode (process_manifest): the manifest's files are planned here into
// <DESTINATION_PREFIX>/<bucket>/date=<date>/batch-<manifest id>-NNNN, split at MAX_OUTPUT_BYTES,
// gzip and plain apart, and the manifest id is the run and the group of the receipt.
TEST_F(CombineTest, AManifestIsPlannedIntoBatchOutputsSplitAtMaxOutputBytes) {
  json::array manifest;
  for (int i = 0; i < 6; ++i) {
    const std::string key = "app/2026-03-05/m" + std::to_string(i) + (i < 4 ? ".log" : ".log.gz");
    const std::string text = std::string(900, 'a' + i) + "\n";
    put(key, i < 4 ? text : common::gzip(text), text);
    const auto head = s3_.head_object(source_, key);
    manifest.push_back(json::object{{"key", key}, {"size", head.size}, {"etag", head.etag}});
  }
  s3_.put_object(work_, "work/m-1/manifest.json", json::serialize(manifest));
  const json::object event{
      {"manifest_id", "m-1"},
      {"source_bucket", source_},
      {"date", "2026-03-05"},
      {"manifest", pipeline::FileRef{work_, "work/m-1/manifest.json", 6, 0}.to_json()}};
  auto env = environment();
  env["MAX_OUTPUT_BYTES"] = "2000";
  const auto run = run_to_end(event, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("group_id").as_string(), "m-1");
  const auto receipt_ref = pipeline::FileRef::from_json(run.response.at("receipt"), "receipt");
  EXPECT_TRUE(receipt_ref.key.starts_with("work/m-1/receipts/m-1-")) << receipt_ref.key;
  const auto receipt = receipt_of(run);
  std::set<std::string> keys, combined;
  for (const auto& output : receipt.at("outputs").as_array()) {
    const std::string key(output.at("key").as_string());
    keys.insert(key);
    EXPECT_EQ(fetch_text(key), expected_text(output.as_object())) << key;
    for (const auto& source : output.at("sources").as_array())
      combined.insert(std::string(source.at("key").as_string()));
  }
  const std::string base = "agg/" + source_ + "/date=2026-03-05/batch-m-1-";
  // 4 x 901 plain bytes and 2 small gzip files: (m0, m1), (m2, m3, m4, m5), the second one's
  // gzip and plain content apart.
  EXPECT_EQ(keys, (std::set<std::string>{base + "0001.log", base + "0002.log", base + "0002.gz"}))
      << json::serialize(receipt);
  EXPECT_EQ(tests::cli_keys(moto_, destination_), keys) << "the receipt names every output";
  EXPECT_EQ(combined.size(), 6u);
}

// At most DOWNLOAD_CONCURRENCY small sources are fetched at once, and fewer when their bytes would
// pass MEMORY_BUDGET_BYTES, as the fault proxy (every request held 100 ms) counts them.
TEST_F(CombineTest, DownloadsInFlightStayWithinTheConcurrencyAndTheMemoryBudget) {
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) {
    const std::string key = "app/2026-03-05/d" + std::to_string(10 + i) + ".log";
    const std::string text = random_lines(100'000, 50 + i);
    put(key, text, text);
    keys.push_back(key);
  }
  struct Case {
    const char* name;
    const char* concurrency;
    const char* budget;
    std::int64_t expected_most;
  };
  for (const Case& limits :
       {Case{"by-count", "3", "67108864", 3}, Case{"by-bytes", "8", "250000", 2}}) {
    SCOPED_TRACE(limits.name);
    const tests::FaultProxy proxy(moto_.endpoint, "--faults delay --rate 1 --delay-ms 100");
    auto env = environment();
    env["AWS_ENDPOINT_URL"] = proxy.url();
    env["DOWNLOAD_CONCURRENCY"] = limits.concurrency;
    env["MEMORY_BUDGET_BYTES"] = limits.budget;
    const auto run = run_to_end(plan_event(limits.name, keys), env);
    ASSERT_EQ(run.exit_code, 0) << run.logs;
    const auto output = receipt_of(run).at("outputs").at(0).as_object();
    EXPECT_EQ(fetch_text(std::string(output.at("key").as_string())), expected_text(output));
    const auto gets = proxy.stats().at("operations").at("GetObject");
    EXPECT_EQ(gets.at("most_in_flight").as_int64(), limits.expected_most) << gets;
  }
}

// The size check before the receipt: an output overwritten between its completion and the check
// (held by the fault proxy meanwhile) fails the call with VerificationFailed and no receipt, so
// DeleteOriginals never sees its originals.
TEST_F(CombineTest, AnOutputThatIsNotWhatWasWrittenFailsTheCallAndWritesNoReceipt) {
  const std::string key = "app/2026-03-05/v.log";
  put(key, "verified\n", "verified\n");
  const tests::FaultProxy proxy(moto_.endpoint, "--rate 0 --hold '^HEAD /" + destination_ + "/'");
  auto env = environment();
  env["AWS_ENDPOINT_URL"] = proxy.url();
  tests::Invocation run;
  std::thread combine([&] { run = run_to_end(plan_event("verify", {key}), env); });
  const bool held =
      tests::wait_until([&] { return proxy.stats().at("holds").at(0).at("state") == "waiting"; },
                        std::chrono::seconds(60));
  EXPECT_TRUE(held) << "the output was never checked";
  if (held) {
    const auto outputs = tests::cli_keys(moto_, destination_);
    ASSERT_EQ(outputs.size(), 1u);
    s3_.put_object(destination_, *outputs.begin(), "someone else's, and longer\n");
  }
  tests::run_command("curl -s -X POST '" + proxy.url() + "/fault-proxy/release'");
  combine.join();
  EXPECT_EQ(run.exit_code, 1) << run.logs;
  EXPECT_EQ(run.response.at("errorType").as_string(), "VerificationFailed") << run.logs;
  for (const auto& work_key : tests::cli_keys(moto_, work_))
    EXPECT_EQ(work_key.find("/receipts/"), std::string::npos) << "a receipt: " << work_key;
  EXPECT_TRUE(source_exists(key));
}

// Each planned output's sources are in a file of their own: one that lost a line since planning
// (edited, or written by something else) is refused before anything is written, never combined
// short.
TEST_F(CombineTest, APlanWhoseSourcesFileLostALineWritesNothing) {
  const std::string dir = "app/2026-03-05/";
  put(dir + "a.log", "a\n", "a\n");
  put(dir + "b.log", "b\n", "b\n");
  const auto run = plan_and_combine(dir, [&] {
    std::vector<std::string> files;
    for (const auto& object : s3_.list_all(work_, "work/run/plans/"))
      if (object.key.ends_with(".jsonl")) files.push_back(object.key);
    ASSERT_EQ(files.size(), 1u);
    const std::string lines = s3_.get_object(work_, files[0]);
    s3_.put_object(work_, files[0], lines.substr(0, lines.find('\n') + 1));
  });
  EXPECT_EQ(run.exit_code, 1) << run.logs;
  EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput") << run.logs;
  EXPECT_NE(json::serialize(run.response).find("holds 1 sources"), std::string::npos)
      << run.response;
  EXPECT_TRUE(tests::cli_keys(moto_, destination_).empty());
}

TEST_F(CombineTest, BadInputIsAClearErrorAndWritesNothing) {
  const auto bad_plan =
      pipeline::write_jsonl(s3_, work_, "bad-plan.json", {{{"no", "outputs"}}}, 0);
  for (const json::value& event :
       {json::value(json::object{{"run_id", "r"}, {"group_id", "g"}}),
        json::value(json::object{{"run_id", "r"}, {"group_id", "g"}, {"plan", "nope"}}),
        json::value(json::object{{"run_id", "r"}, {"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(json::object{{"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(
            json::object{{"run_id", "a/b"}, {"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(42)}) {
    const auto run = tests::invoke_handler(moto_, "CombineLogFiles", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput")
        << json::serialize(event) << run.logs;
  }
  EXPECT_TRUE(s3_.list_all(destination_).empty());
}

}  // namespace
