// restore-original: one original object, byte for byte, cut out of the output that holds it.
//
//   restore-original --work-bucket BUCKET [--seal-key KEY] [--date YYYY-MM-DD] s3://BUCKET/KEY
//                    [--version-id ID] (--to FILE | --to-key s3://BUCKET/KEY)
//
// The ledger (ledger/<date>/ in the work bucket) records every output with the index of what it
// holds: each original's bucket, key, version, ETag and size, where its bytes start and their
// SHA-256. Only records sealed by CombineLogFiles are believed (the seal key: --seal-key or
// SEAL_KEY_ID; pipeline/seal.h): a file anyone put in the ledger restores nothing. The original is
// read back with one ranged GET of the output (pipeline/originals.h), checked against its size, its
// SHA-256 and, where its ETag is an MD5 (a single-part upload), that, and only then written. Exit
// status: 0 restored, 1 not found or not verifiable, 2 usage.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/s3.h"
#include "pipeline/originals.h"

namespace cli {
namespace {

const Command kCommand{
    "restore-original",
    "usage: restore-original --work-bucket BUCKET [--seal-key KEY] [--date YYYY-MM-DD]\n"
    "                        s3://BUCKET/KEY [--version-id ID] (--to FILE | --to-key "
    "s3://BUCKET/KEY)\n"
    "--seal-key: the KMS HMAC key the ledger is sealed with (default: SEAL_KEY_ID)\n"
    "--trust-unsealed: also search records without a seal (written before records were sealed);\n"
    "                  the bytes are still checked against the record's size, SHA-256 and MD5\n"};

struct Location {
  std::string bucket;
  std::string key;
};

struct Options {
  std::string work_bucket;
  std::string seal_key;
  bool trust_unsealed = false;
  std::string date;
  Location original;
  std::string version_id;
  std::string to_file;
  std::optional<Location> to_key;
};

[[noreturn]] void usage_error(const std::string& message) {
  cli::usage_error(kCommand, message);
}

Location parse_location(const std::string& uri) {
  if (!uri.starts_with("s3://")) usage_error("'" + uri + "' is not s3://BUCKET/KEY");
  const auto slash = uri.find('/', 5);
  if (slash == std::string::npos || slash == 5 || slash + 1 == uri.size())
    usage_error("'" + uri + "' is not s3://BUCKET/KEY");
  return {uri.substr(5, slash - 5), uri.substr(slash + 1)};
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool have_original = false;
  read_arguments(
      kCommand, argc, argv, {"--trust-unsealed"},
      [&](const std::string& name, const std::string& value) {
        if (name == "--trust-unsealed")
          options.trust_unsealed = true;
        else if (name == "--work-bucket")
          options.work_bucket = value;
        else if (name == "--seal-key")
          options.seal_key = value;
        else if (name == "--date")
          options.date = value;
        else if (name == "--version-id")
          options.version_id = value;
        else if (name == "--to")
          options.to_file = value;
        else if (name == "--to-key")
          options.to_key = parse_location(value);
        else
          usage_error("unexpected argument " + name);
      },
      [&](const std::string& argument) {
        if (have_original) usage_error("unexpected argument " + argument);
        options.original = parse_location(argument);
        have_original = true;
      });
  if (options.work_bucket.empty() || !have_original)
    usage_error("--work-bucket and the original's s3://BUCKET/KEY are required");
  if (options.to_file.empty() == !options.to_key.has_value())
    usage_error("give one of --to FILE and --to-key s3://BUCKET/KEY");
  options.seal_key = seal_key(kCommand, options.seal_key);
  return options;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  common::S3Client s3;
  pipeline::Seals seals(options.seal_key);
  pipeline::Ledger ledger(s3, options.work_bucket);
  const auto index = pipeline::OriginalsIndex::load(
      ledger, seals.checker(),
      options.date.empty() ? std::vector<std::string>{} : std::vector<std::string>{options.date},
      options.trust_unsealed);
  for (const auto& refused : index.refused())
    std::cerr << "restore-original: passed over " << refused << "\n";
  const auto candidates =
      index.find(options.original.bucket, options.original.key, options.version_id);
  if (candidates.empty()) {
    std::cerr << "restore-original: no output in s3://" << options.work_bucket << "/ledger/"
              << options.date << " holds s3://" << options.original.bucket << "/"
              << options.original.key
              << (options.version_id.empty() ? "" : " version " + options.version_id) << "\n";
    return 1;
  }
  const auto recovered = pipeline::read_from_any(s3, candidates);
  if (!recovered.bytes) {
    for (const auto& problem : recovered.problems)
      std::cerr << "restore-original: " << problem << "\n";
    return 1;
  }
  const std::string& bytes = *recovered.bytes;
  const auto& found = recovered.from;
  if (options.to_key) {
    s3.put_object(options.to_key->bucket, options.to_key->key, bytes);
  } else {
    // Written beside it and renamed: a restore cut short never leaves a partial original under
    // the name an auditor asked for.
    const std::string partial = options.to_file + ".partial";
    {
      std::ofstream out(partial, std::ios::binary);
      out << bytes;
      if (!out.flush()) throw std::runtime_error("cannot write " + partial);
    }
    if (std::rename(partial.c_str(), options.to_file.c_str()) != 0)
      throw std::runtime_error("cannot rename " + partial + " to " + options.to_file);
  }
  const auto& source = found->source();
  std::cerr << "restore-original: " << source.size << " bytes of s3://" << options.original.bucket
            << "/" << source.key
            << (source.version_id.empty() ? "" : " (" + source.version_id + ")") << " from s3://"
            << found->output->where.bucket << "/" << found->output->where.key << "\n";
  return 0;
}

}  // namespace
}  // namespace cli

int main(int argc, char** argv) {
  return cli::run_command(cli::kCommand, [&] { return cli::run(argc, argv); });
}
