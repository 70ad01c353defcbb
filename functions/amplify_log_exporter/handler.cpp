#include "functions/amplify_log_exporter/handler.h"

#include <algorithm>
#include <boost/json/value_from.hpp>
#include <deque>
#include <future>
#include <memory>

#include "common/json_services.h"
#include "common/settings.h"
#include "pipeline/amplify_apps.h"
#include "pipeline/layout.h"
#include "pipeline/record_fields.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::amplify_log_exporter {

namespace json = boost::json;
using std::chrono::sys_seconds;

namespace {

// Amplify's (CloudFront's) access log CSV begins with this header.
constexpr std::string_view kHeaderStart = "date,time,";
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
// Ranges of a log file read at once, and parts of its object uploaded at once: memory is about
// twice this many parts.
constexpr std::size_t kRangesInFlight = 4;
constexpr std::size_t kPartsInFlight = 4;

// One object written as it arrives: parts of one multipart upload once it outgrows a part, a
// single PUT otherwise. Parts upload while the next are read, kPartsInFlight at a time (each
// waits for S3's first byte; several hide it). An upload not completed is aborted (and the
// bucket's lifecycle aborts one a crash left).
class ObjectUpload {
 public:
  ObjectUpload(common::S3Client& s3, std::string bucket, std::string key, std::uint64_t part_bytes)
      : s3_(s3), bucket_(std::move(bucket)), key_(std::move(key)), part_bytes_(part_bytes) {}
  ObjectUpload(const ObjectUpload&) = delete;
  ObjectUpload& operator=(const ObjectUpload&) = delete;
  ~ObjectUpload() {
    for (auto& part : in_flight_)
      if (part.valid()) part.wait();  // one whose get() threw is no longer valid
    if (upload_id_.empty() || completed_) return;
    try {
      s3_.abort_multipart_upload(bucket_, key_, upload_id_);
    } catch (const std::exception&) {
      // The lifecycle rule aborts it within a day.
    }
  }

  void write(std::string_view bytes) {
    buffer_.append(bytes);
    size_ += bytes.size();
    if (buffer_.size() >= part_bytes_) upload_part();
  }
  std::uint64_t size() const { return size_; }

  void complete() {
    if (upload_id_.empty()) {
      s3_.put_object(bucket_, key_, std::move(buffer_), options());
    } else {
      if (!buffer_.empty()) upload_part();
      for (auto& part : in_flight_) parts_.push_back(part.get());
      in_flight_.clear();
      s3_.complete_multipart_upload(bucket_, key_, upload_id_, parts_);
    }
    completed_ = true;
  }

 private:
  static common::PutOptions options() {
    common::PutOptions options;
    options.content_type = "text/csv";
    return options;
  }
  void upload_part() {
    const int number = static_cast<int>(parts_.size() + in_flight_.size()) + 1;
    if (number > static_cast<int>(common::kMaxParts)) {
      throw runtime::InvalidInput("the access logs for " + key_ + " need more than " +
                                  std::to_string(common::kMaxParts) +
                                  " parts: raise PART_BYTES or lower CHUNK_DAYS");
    }
    if (upload_id_.empty()) upload_id_ = s3_.create_multipart_upload(bucket_, key_, options());
    if (in_flight_.size() == kPartsInFlight) {
      parts_.push_back(in_flight_.front().get());
      in_flight_.pop_front();
    }
    in_flight_.push_back(
        std::async(std::launch::async, [this, number, body = std::move(buffer_)]() mutable {
          return s3_.upload_part(bucket_, key_, upload_id_, number, std::move(body));
        }));
    buffer_ = std::string();
    buffer_.reserve(part_bytes_ + part_bytes_ / 4);
  }

  common::S3Client& s3_;
  std::string bucket_, key_;
  std::uint64_t part_bytes_;
  std::string upload_id_;
  std::vector<common::CompletedPart> parts_;
  std::deque<std::future<common::CompletedPart>> in_flight_;
  std::string buffer_;
  std::uint64_t size_ = 0;
  bool completed_ = false;
};

// A chunk's ranges, asked of Amplify in order, halved when refused, written into one object.
class ChunkExport {
 public:
  ChunkExport(const Config& config, Services services, const pipeline::AmplifyChunk& chunk,
              std::string key)
      : config_(config),
        chunk_(chunk),
        amplify_(services.amplify_for(chunk.app)),
        downloads_(services.s3.client()),
        upload_(services.s3, config.destination_bucket, std::move(key), config.part_bytes) {}

  void export_range(sys_seconds start, sys_seconds end, int depth) {
    std::string url;
    try {
      // Amplify includes a range's end: the second `end` is the next range's.
      url = amplify_.generate_access_logs(chunk_.app.app_id, chunk_.app.domain_name, start,
                                          end - std::chrono::seconds(1));
    } catch (const common::AwsError& error) {
      if (error.code() != "BadRequestException") throw;
      if (depth >= config_.max_split_depth || end - start < std::chrono::seconds(2)) {
        throw runtime::InvalidInput(
            "Amplify refused the access logs of app " + chunk_.app.app_name + " from " +
            common::format_utc_seconds(start) + " to " + common::format_utc_seconds(end) +
            " after " + std::to_string(depth) + " halvings (MAX_SPLIT_DEPTH " +
            std::to_string(config_.max_split_depth) + "): " + error.aws_message());
      }
      ++result_.splits;
      const sys_seconds middle = start + (end - start) / 2;
      runtime::log::info("Amplify refused a range; asking for its halves", "app",
                         chunk_.app.app_name, "start", common::format_utc_seconds(start), "end",
                         common::format_utc_seconds(end), "depth", depth + 1);
      export_range(start, middle, depth + 1);
      export_range(middle, end, depth + 1);
      return;
    }
    ++result_.ranges;
    try {
      copy_file(url);
    } catch (const common::AwsError& error) {
      // A presigned URL expires: the chunk is asked for again (Step Functions retries it).
      if (error.http_status() != 403) throw;
      throw runtime::Error(runtime::error_type::kTransientError,
                           "the access logs' URL of app " + chunk_.app.app_name +
                               " was refused while it was read (" + error.code() +
                               "): the chunk is to be exported again");
    }
  }

  pipeline::AmplifyExport finish(std::string key) {
    upload_.complete();
    result_.app = chunk_.app.app_name;
    result_.key = std::move(key);
    result_.bytes = upload_.size();
    return result_;
  }

 private:
  // The file at `url`, less its header when the object has one already: its first range, then
  // the rest kRangesInFlight at a time (a range waits for S3's first byte; several hide it),
  // written in order.
  void copy_file(const std::string& url) {
    const std::uint64_t part = config_.part_bytes;
    auto first = common::fetch_range(downloads_, url, 0, part);
    const std::uint64_t total = first.total;
    std::deque<std::pair<std::uint64_t, std::future<common::FetchedRange>>> ahead;  // by start
    std::uint64_t next = first.bytes.size();
    const auto fill = [&] {
      for (; ahead.size() < kRangesInFlight && next < total; next += part)
        ahead.emplace_back(next, std::async(std::launch::async, [this, &url, next, part] {
                             return common::fetch_range(downloads_, url, next, part);
                           }));
    };
    fill();
    std::string first_line;
    bool in_first_line = true;
    for (auto range = std::move(first);;) {
      std::string_view bytes = range.bytes;
      if (in_first_line) {
        const auto newline = bytes.find('\n');
        first_line.append(bytes.substr(0, newline));
        in_first_line = newline == std::string_view::npos;
        // A header is a few hundred bytes: a file without a newline for long is not a CSV.
        if (in_first_line && first_line.size() > kMaxHeaderBytes) take_header(first_line);
        bytes = in_first_line ? std::string_view() : bytes.substr(newline + 1);
        if (!in_first_line) take_header(first_line);
      }
      write(bytes);
      if (ahead.empty()) break;
      const std::uint64_t start = ahead.front().first;
      range = ahead.front().second.get();
      ahead.pop_front();
      // Presigned URLs name one object; one that changed size mid-read is read again whole.
      if (range.total != total || range.bytes.size() != std::min(part, total - start))
        throw runtime::Error(runtime::error_type::kTransientError,
                             "the access logs' file changed while it was read");
      fill();
    }
    if (in_first_line && !first_line.empty()) take_header(first_line);
    // A file without a final newline must not run into the next range's first row.
    if (last_byte_ != '\n' && upload_.size() > 0) write("\n");
  }

  void take_header(std::string line) {
    if (line.ends_with('\r')) line.pop_back();
    if (!line.starts_with(kHeaderStart) || line.size() > kMaxHeaderBytes) {
      throw runtime::VerificationFailed("the access logs of app " + chunk_.app.app_name +
                                        " do not begin with Amplify's CSV header (" +
                                        std::string(kHeaderStart) + "...): nothing stored");
    }
    if (header_.empty()) {
      header_ = line;
      upload_.write(line + "\n");
      last_byte_ = '\n';
    } else if (line != header_) {
      throw runtime::VerificationFailed("the access logs of app " + chunk_.app.app_name +
                                        " changed their columns within a chunk: nothing stored");
    }
  }

  void write(std::string_view bytes) {
    if (bytes.empty()) return;
    result_.rows += static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    upload_.write(bytes);
    last_byte_ = bytes.back();
  }

  const Config& config_;
  const pipeline::AmplifyChunk& chunk_;
  common::AmplifyClient amplify_;
  common::AwsClient& downloads_;  // presigned URLs are S3's: its client reads their errors
  ObjectUpload upload_;
  std::string header_;
  char last_byte_ = '\n';
  pipeline::AmplifyExport result_;
};

int days_setting(const char* name, int fallback) {
  return static_cast<int>(std::min<std::uint64_t>(common::number_setting(name, fallback), 3650));
}

}  // namespace

Config Config::from_environment() {
  Config config;
  config.apps_source = common::required_setting("AMPLIFY_APPS");
  if (!config.apps_source.starts_with("s3://") && !config.apps_source.starts_with('/')) {
    throw runtime::ConfigurationError(
        "AMPLIFY_APPS must be s3://bucket/key or an SSM parameter's name starting with /, not '" +
        config.apps_source + "'");
  }
  if (config.apps_source.starts_with("s3://")) {
    const auto location = common::parse_s3_location(config.apps_source);
    if (!location || location->prefix.empty())
      throw runtime::ConfigurationError("AMPLIFY_APPS '" + config.apps_source +
                                        "' does not name an object (s3://bucket/key)");
  }
  config.destination_bucket = common::required_setting("DESTINATION_BUCKET");
  config.destination_prefix = common::setting("DESTINATION_PREFIX");
  config.amplify_folder = common::setting("AMPLIFY_PREFIX", config.amplify_folder);
  if (config.amplify_folder.empty() || config.amplify_folder.starts_with('/') ||
      config.amplify_folder.find("..") != std::string::npos) {
    throw runtime::ConfigurationError("AMPLIFY_PREFIX must be a folder such as type=amplify_logs");
  }
  config.chunk = std::chrono::days(days_setting("CHUNK_DAYS", 14));
  config.export_days = days_setting("EXPORT_DAYS", 7);
  config.max_split_depth = static_cast<int>(
      std::min<std::uint64_t>(common::number_setting("MAX_SPLIT_DEPTH", 3, 0), 10));
  config.part_bytes =
      common::number_setting("PART_BYTES", config.part_bytes, common::kMinPartBytes);
  config.role_name = common::setting("CROSS_ACCOUNT_ROLE_NAME", config.role_name);
  return config;
}

pipeline::AmplifyPlan plan(const Config& config, Services services, const json::value& event) {
  const pipeline::RecordFields fields(event, "the Amplify export's input");
  sys_seconds from, to;
  if (fields.has("time")) {
    const auto scheduled = common::parse_s3_time(fields.text("time"));
    if (!scheduled) fields.refuse("needs \"time\" as an RFC 3339 time (the scheduled time)");
    std::tie(from, to) = pipeline::scheduled_window(
        std::chrono::floor<std::chrono::seconds>(*scheduled), config.export_days);
  } else if (fields.has("from") || fields.has("to")) {
    from = fields.utc_seconds("from");
    to = fields.utc_seconds("to");
  } else {
    fields.refuse(
        "needs {\"time\"} (a scheduled run) or {\"from\", \"to\"} (UTC times to the second)");
  }
  const auto apps = pipeline::parse_amplify_apps(services.read_apps(), config.apps_source);
  return pipeline::plan_amplify_export(apps, from, to, config.chunk);
}

pipeline::AmplifyExport export_chunk(const Config& config, Services services,
                                     const pipeline::AmplifyChunk& chunk) {
  const sys_seconds start = chunk.range.start, end = chunk.range.end;
  std::string key = pipeline::amplify_log_key(config.destination_prefix, config.amplify_folder,
                                              chunk.app.app_name, start);
  ChunkExport exporter(config, services, chunk, key);
  exporter.export_range(start, end, 0);
  auto result = exporter.finish(std::move(key));
  runtime::metrics::add("AmplifyBytesExported", runtime::metrics::Unit::Bytes,
                        static_cast<double>(result.bytes));
  runtime::metrics::add("AmplifyRangesSplit", runtime::metrics::Unit::Count,
                        static_cast<double>(result.splits));
  runtime::log::info("exported an Amplify chunk", "app", result.app, "key", result.key, "bytes",
                     result.bytes, "rows", result.rows, "ranges", result.ranges);
  return result;
}

json::value handle(const Config& config, Services services, const json::value& event) {
  if (const auto* object = event.if_object(); object != nullptr && object->contains("app")) {
    return json::value_from(
        export_chunk(config, services, pipeline::read_record<pipeline::AmplifyChunk>(event)));
  }
  return json::value_from(plan(config, services, event));
}

std::string role_for(const Config& config, const pipeline::AmplifyApp& app,
                     const std::string& function_arn) {
  if (!app.role_arn.empty()) return app.role_arn;
  // arn:<partition>:lambda:<region>:<account>:function:<name>
  std::vector<std::string> parts;
  for (std::size_t start = 0, colon = 0; colon != std::string::npos; start = colon + 1) {
    colon = function_arn.find(':', start);
    parts.push_back(function_arn.substr(start, colon - start));
  }
  if (parts.size() < 5) throw runtime::InvalidInput("no function ARN to tell this account by");
  if (parts[4] == app.account_id) return "";
  return "arn:" + parts[1] + ":iam::" + app.account_id + ":role/" + config.role_name;
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  auto s3 = std::make_shared<common::S3Client>();
  return [config, s3](const json::value& event, const runtime::InvocationContext& context) {
    Services services{
        *s3,
        [&](const pipeline::AmplifyApp& app) {
          auto options =
              common::ClientOptions::from_environment(common::AmplifyClient::service_info());
          options.region = app.region;
          options.endpoint = common::resolve_endpoint("AMPLIFY", "amplify", app.region);
          if (const auto role = role_for(*config, app, context.invoked_function_arn);
              !role.empty()) {
            common::StsClient sts(
                common::ClientOptions::from_environment(common::StsClient::service_info()));
            // Session names allow [\w+=,.@-]{2,64}; appName is of those characters.
            options.credentials =
                sts.assume_role(role, ("amplify-export-" + app.app_name).substr(0, 64)).credentials;
          }
          return common::AmplifyClient(std::move(options));
        },
        [&] {
          if (!config->apps_source.starts_with("s3://"))
            return common::SecretsClient::parameter_value(config->apps_source);
          const auto location = common::parse_s3_location(config->apps_source);
          return s3->get_object(location->bucket, location->prefix);
        }};
    return handle(*config, services, event);
  };
}

}  // namespace functions::amplify_log_exporter
