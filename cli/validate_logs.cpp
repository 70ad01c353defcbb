// validate-logs: CloudTrail log file integrity validation, as `aws cloudtrail validate-logs` does
// it, that also finds log files inside the outputs this pipeline wrote.
//
//   validate-logs --trail-arn ARN --s3-bucket BUCKET --start-time TIME [--end-time TIME]
//                 [--s3-prefix PREFIX] [--organization-id O-ID] [--account-id ID]
//                 [--region REGION] [--work-bucket BUCKET] [--verbose]
//
// Digest files are walked from the newest in the range back along their chain; each must be where
// it says it was delivered, signed (SHA256withRSA) by the key ListPublicKeys gives for its
// fingerprint, and carry the signature the next digest chains to. Every log file a valid digest
// lists is then hashed (the SHA-256 of its decompressed content): at its key if it is still there
// (not yet aggregated), otherwise cut out of the output that holds it through the ledger's index
// in --work-bucket (one ranged GET of its bytes only). A log file in neither place is missing.
// TIME is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC). Exit status: 0 every digest and log file valid,
// 1 anything invalid, missing or nothing to validate, 2 usage.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/gzip.h"
#include "common/json_services.h"
#include "common/s3.h"
#include "common/sigv4.h"
#include "pipeline/cloudtrail_digest.h"
#include "pipeline/originals.h"

namespace cli {
namespace {

const Command kCommand{
    "validate-logs",
    "usage: validate-logs --trail-arn ARN --s3-bucket BUCKET --start-time TIME [--end-time TIME]\n"
    "                     [--s3-prefix PREFIX] [--organization-id O-ID] [--account-id ID]\n"
    "                     [--region REGION] [--work-bucket BUCKET [--seal-key KEY]] [--verbose]\n"
    "TIME: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)\n"};

struct Options {
  pipeline::DigestLocation location;
  std::string bucket;
  std::string start;  // YYYYMMDDTHHMMSSZ, as digest keys write times
  std::string end;
  std::string work_bucket;
  std::string seal_key;
  bool verbose = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  cli::usage_error(kCommand, message);
}

// YYYY-MM-DD (midnight) or YYYY-MM-DDTHH:MM:SSZ as YYYYMMDDTHHMMSSZ.
std::string key_time(const std::string& text) {
  static const std::regex kDay("(\\d{4})-(\\d{2})-(\\d{2})");
  static const std::regex kTime("(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})Z");
  std::smatch match;
  if (std::regex_match(text, match, kDay) && common::Date::parse(text))
    return match.str(1) + match.str(2) + match.str(3) + "T000000Z";
  if (std::regex_match(text, match, kTime) && common::Date::parse(text.substr(0, 10)))
    return match.str(1) + match.str(2) + match.str(3) + "T" + match.str(4) + match.str(5) +
           match.str(6) + "Z";
  usage_error("'" + text + "' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
}

common::Date date_of(const std::string& time) {
  return *common::Date::parse(time.substr(0, 4) + "-" + time.substr(4, 2) + "-" +
                              time.substr(6, 2));
}

// arn:PARTITION:cloudtrail:HOME-REGION:ACCOUNT:trail/NAME
void read_trail_arn(const std::string& arn, pipeline::DigestLocation& location) {
  static const std::regex kArn("arn:[^:]+:cloudtrail:([^:]+):(\\d{12}):trail/([^/]+)");
  std::smatch match;
  if (!std::regex_match(arn, match, kArn))
    usage_error("'" + arn + "' is not a trail ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME)");
  location.home_region = match.str(1);
  if (location.account.empty()) location.account = match.str(2);
  location.trail_name = match.str(3);
}

Options parse_options(int argc, char** argv) {
  Options options;
  std::string arn, start, end;
  const std::map<std::string, std::string*> values{
      {"--trail-arn", &arn},
      {"--s3-bucket", &options.bucket},
      {"--s3-prefix", &options.location.prefix},
      {"--organization-id", &options.location.organization_id},
      {"--account-id", &options.location.account},
      {"--region", &options.location.region},
      {"--start-time", &start},
      {"--end-time", &end},
      {"--work-bucket", &options.work_bucket},
      {"--seal-key", &options.seal_key}};
  read_arguments(
      kCommand, argc, argv, {"--verbose"},
      [&](const std::string& name, const std::string& value) {
        if (name == "--verbose")
          options.verbose = true;
        else if (const auto field = values.find(name); field != values.end())
          *field->second = value;
        else
          usage_error("unexpected argument " + name);
      },
      [](const std::string& argument) { usage_error("unexpected argument " + argument); });
  if (arn.empty() || options.bucket.empty() || start.empty())
    usage_error("--trail-arn, --s3-bucket and --start-time are required");
  read_trail_arn(arn, options.location);
  if (!options.work_bucket.empty()) options.seal_key = seal_key(kCommand, options.seal_key);
  if (options.location.region.empty()) options.location.region = options.location.home_region;
  while (options.location.prefix.ends_with('/')) options.location.prefix.pop_back();
  options.start = key_time(start);
  options.end = end.empty() ? "99991231T235959Z" : key_time(end);
  if (options.end < options.start) usage_error("--end-time is before --start-time");
  return options;
}

// "2026-11-20T01:00:00Z" as "20261120T010000Z"; anything else as it is (compares as later).
std::string compact_time(std::string time) {
  std::erase(time, '-');
  std::erase(time, ':');
  return time;
}

double epoch_of(const std::string& time) {
  const common::Date day = date_of(time);
  const auto days =
      std::chrono::sys_days(std::chrono::year(day.year) / static_cast<unsigned>(day.month) /
                            static_cast<unsigned>(day.day));
  const int seconds = std::stoi(time.substr(9, 2)) * 3600 + std::stoi(time.substr(11, 2)) * 60 +
                      std::stoi(time.substr(13, 2));
  return static_cast<double>(days.time_since_epoch().count()) * 86400 + seconds;
}

struct Tally {
  std::size_t digests_valid = 0, digests_invalid = 0;
  std::size_t logs_at_key = 0, logs_aggregated = 0, logs_modified = 0, logs_missing = 0;
  bool failed() const { return digests_invalid + logs_modified + logs_missing > 0; }
};

class Validator {
 public:
  Validator(const Options& options, common::S3Client& s3,
            std::map<std::string, std::string> public_keys)
      : options_(options), s3_(s3), public_keys_(std::move(public_keys)) {}

  int run() {
    std::vector<std::string> listed = list_digests();
    std::cout << "Validating digest and log files of trail " << options_.location.trail_name
              << " (account " << options_.location.account << ", region "
              << options_.location.region << ") in s3://" << options_.bucket << "\n";
    if (listed.empty()) {
      std::cout << "No digest files were found in the range: nothing is proven.\n";
      return 1;
    }
    walk_chain(listed);
    summarise();
    return tally_.failed() ? 1 : 0;
  }

 private:
  struct Loaded {
    pipeline::Digest digest;
    std::string signature;
  };

  // The trail's hourly digests whose end time is in [start, end + 1 hour), oldest first.
  std::vector<std::string> list_digests() {
    std::vector<std::pair<std::string, std::string>> found;  // end time, key
    const std::string last = std::min(options_.end, std::string("99991231T225959Z"));
    common::Date day = date_of(options_.start);
    const common::Date final_day = date_of(last).next();
    for (; day <= final_day; day = day.next()) {
      for (const auto& object : s3_.list_all(options_.bucket, options_.location.day_prefix(day))) {
        const auto time = options_.location.end_time_of(object.key);
        if (time && *time >= options_.start && *time <= hour_after(options_.end))
          found.emplace_back(*time, object.key);
      }
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> keys;
    for (auto& entry : found) keys.push_back(std::move(entry.second));
    return keys;
  }

  static std::string hour_after(const std::string& time) {
    if (time.starts_with("9999")) return time;
    const double later = epoch_of(time) + 3600;
    const auto point =
        std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<long long>(later)));
    return common::format_amz_date(point);
  }

  // From the newest listed digest back along previousDigestS3Object; where the chain breaks (a
  // digest missing or invalid), on from the newest listed digest older than the break.
  void walk_chain(std::vector<std::string> listed) {
    std::string bucket = options_.bucket;
    std::optional<std::string> key = listed.back();
    listed.pop_back();
    std::optional<std::string> chained_signature;  // what the newer digest says this one's is
    std::string newer;
    while (key) {
      const auto loaded = load_digest(bucket, *key, newer, chained_signature);
      if (loaded) {
        check_logs(loaded->digest);
        if (compact_time(loaded->digest.start_time) < options_.start) return;
      }
      if (loaded && !loaded->digest.previous_key.empty()) {
        newer = "s3://" + bucket + "/" + *key;
        chained_signature = loaded->digest.previous_signature;
        bucket = loaded->digest.previous_bucket;
        key = loaded->digest.previous_key;
        continue;
      }
      key = next_older(listed, *key);
      newer.clear();
      chained_signature.reset();
      bucket = options_.bucket;
    }
  }

  // The newest listed digest older than `key`.
  std::optional<std::string> next_older(std::vector<std::string>& listed,
                                        const std::string& key) const {
    const auto time = options_.location.end_time_of(key);
    while (!listed.empty()) {
      std::string candidate = listed.back();
      listed.pop_back();
      if (!time || options_.location.end_time_of(candidate) < time) return candidate;
    }
    return std::nullopt;
  }

  std::optional<Loaded> load_digest(const std::string& bucket, const std::string& key,
                                    const std::string& newer,
                                    const std::optional<std::string>& chained_signature) {
    const std::string where = "s3://" + bucket + "/" + key;
    try {
      const common::HeadResult head = s3_.head_object(bucket, key);
      common::GetOptions get;
      get.if_match = head.etag;
      const std::string decompressed = common::gunzip(s3_.get_object(bucket, key, get));
      Loaded loaded{pipeline::parse_digest(decompressed), ""};
      if (const auto it = head.metadata.find("signature"); it != head.metadata.end())
        loaded.signature = it->second;
      if (const auto problem = digest_problem(loaded, bucket, key, chained_signature)) {
        invalid_digest(where, *problem);
        return std::nullopt;
      }
      ++tally_.digests_valid;
      if (options_.verbose) std::cout << "Digest file\t" << where << "\tvalid\n";
      return loaded;
    } catch (const common::NoSuchKey&) {
      invalid_digest(
          where, "not found" + (newer.empty() ? "" : ": the chain from " + newer + " breaks here"));
    } catch (const common::AwsError&) {
      throw;
    } catch (const std::exception& error) {
      invalid_digest(where, error.what());
    }
    return std::nullopt;
  }

  std::optional<std::string> digest_problem(const Loaded& loaded, const std::string& bucket,
                                            const std::string& key,
                                            const std::optional<std::string>& chained) const {
    const auto& digest = loaded.digest;
    if (digest.bucket != bucket || digest.key != key)
      return std::string("has been moved from where it was delivered");
    const auto public_key = public_keys_.find(digest.fingerprint);
    if (public_key == public_keys_.end())
      return "no public key for fingerprint " + digest.fingerprint + " in " +
             options_.location.region;
    if (loaded.signature.empty()) return std::string("has no signature in its metadata");
    if (!pipeline::signature_valid(digest, loaded.signature, public_key->second))
      return std::string("signature verification failed");
    if (chained && *chained != loaded.signature)
      return std::string("is not the digest the next one chains to (its signature differs)");
    return std::nullopt;
  }

  void invalid_digest(const std::string& where, const std::string& why) {
    ++tally_.digests_invalid;
    std::cout << "Digest file\t" << where << "\tINVALID: " << why << "\n";
  }

  void check_logs(const pipeline::Digest& digest) {
    for (const auto& log : digest.log_files) check_log(log);
  }

  void check_log(const pipeline::DigestLogFile& log) {
    const std::string where = "s3://" + log.bucket + "/" + log.key;
    std::optional<std::string> bytes;
    std::string place = "at its key, not yet aggregated";
    try {
      bytes = s3_.get_object(log.bucket, log.key);
    } catch (const common::NoSuchKey&) {
      const auto candidates = find_in_outputs(log);
      if (candidates.empty())
        return log_invalid(where, "missing: not at its key, and in no output's index",
                           tally_.logs_missing);
      const auto recovered = pipeline::read_from_any(s3_, candidates);
      if (!recovered.bytes) {
        const std::string problems = join(recovered.problems);
        return recovered.outputs_gone
                   ? log_invalid(where, "missing: " + problems, tally_.logs_missing)
                   : log_invalid(where, "modified: " + problems, tally_.logs_modified);
      }
      bytes = recovered.bytes;
      const auto& output = *recovered.from->output;
      const std::uint64_t first = output.offsets[recovered.from->index];
      place = "inside s3://" + output.where.bucket + "/" + output.where.key + " (bytes " +
              std::to_string(first) + "-" +
              std::to_string(first + recovered.from->source().size - 1) + ")";
    }
    if (common::check_content(*bytes).content_sha256 != log.content_sha256)
      return log_invalid(where, "modified: hash value doesn't match (" + place + ")",
                         tally_.logs_modified);
    ++(place.starts_with("inside") ? tally_.logs_aggregated : tally_.logs_at_key);
    if (options_.verbose) std::cout << "Log file\t" << where << "\tvalid: " << place << "\n";
  }

  static std::string join(const std::vector<std::string>& problems) {
    std::string text;
    for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem;
    return text;
  }

  void log_invalid(const std::string& where, const std::string& why, std::size_t& count) {
    ++count;
    std::cout << "Log file\t" << where << "\tINVALID: " << why << "\n";
  }

  // The ledger of the day the log file's key names (YYYY/MM/DD), loaded once per day.
  std::vector<pipeline::HeldOriginal> find_in_outputs(const pipeline::DigestLogFile& log) {
    if (options_.work_bucket.empty()) return {};
    static const std::regex kDay("/(\\d{4})/(\\d{2})/(\\d{2})/");
    std::smatch match;
    std::string day;
    if (std::regex_search(log.key, match, kDay))
      day = match.str(1) + "-" + match.str(2) + "-" + match.str(3);
    auto loaded = ledgers_.find(day);
    if (loaded == ledgers_.end()) {
      loaded = ledgers_
                   .emplace(day, pipeline::OriginalsIndex::load(
                                     ledger_, seals_->checker(),
                                     day.empty() ? std::vector<std::string>{}
                                                 : std::vector<std::string>{day}))
                   .first;
      for (const auto& refused : loaded->second.refused())
        std::cout << "Ledger file\tpassed over: " << refused << "\n";
    }
    return loaded->second.find(log.bucket, log.key);
  }

  void summarise() const {
    const std::size_t logs =
        tally_.logs_at_key + tally_.logs_aggregated + tally_.logs_modified + tally_.logs_missing;
    std::cout << "\nResults:\n"
              << tally_.digests_valid << "/" << tally_.digests_valid + tally_.digests_invalid
              << " digest files valid\n"
              << tally_.logs_at_key + tally_.logs_aggregated << "/" << logs << " log files valid ("
              << tally_.logs_aggregated << " inside aggregated outputs, " << tally_.logs_at_key
              << " at their keys, not yet aggregated), " << tally_.logs_modified << " modified, "
              << tally_.logs_missing << " missing\n";
  }

  const Options& options_;
  common::S3Client& s3_;
  std::map<std::string, std::string> public_keys_;  // fingerprint: DER
  std::map<std::string, pipeline::OriginalsIndex> ledgers_;
  pipeline::Ledger ledger_{s3_, options_.work_bucket};
  std::unique_ptr<pipeline::Seals> seals_ =
      options_.work_bucket.empty() ? nullptr : std::make_unique<pipeline::Seals>(options_.seal_key);
  Tally tally_;
};

std::map<std::string, std::string> public_keys(const Options& options) {
  auto client_options =
      common::ClientOptions::from_environment(common::CloudTrailClient::service_info());
  // Each region signs its digests with its own keys: asked where the events happened, as the AWS
  // CLI asks.
  client_options.region = options.location.region;
  common::CloudTrailClient cloudtrail(std::move(client_options));
  // A digest is signed at the end of its hour: keys valid up to two hours past the range.
  const double end = options.end.starts_with("9999")
                         ? static_cast<double>(std::time(nullptr)) + 7200
                         : epoch_of(options.end) + 7200;
  std::map<std::string, std::string> keys;
  for (auto& key : cloudtrail.list_public_keys(epoch_of(options.start) - 3600, end))
    keys[key.fingerprint] = std::move(key.der);
  if (keys.empty()) throw std::runtime_error("CloudTrail gave no public keys for the range");
  return keys;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  common::S3Client s3;
  Validator validator(options, s3, public_keys(options));
  return validator.run();
}

}  // namespace
}  // namespace cli

int main(int argc, char** argv) {
  return cli::run_command(cli::kCommand, [&] { return cli::run(argc, argv); });
}
