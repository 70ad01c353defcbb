#include "functions/log_forwarder/handler.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "common/dates.h"
#include "common/errors.h"
#include "common/gzip.h"
#include "common/sigv4.h"
#include "pipeline/record_fields.h"
#include "runtime/clock.h"
#include "runtime/errors.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace functions::log_forwarder {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kRangeBytes = 8ull << 20;  // read at a time: memory stays flat in size

// S3 accepts a body of any size, but no ingestion endpoint takes more than some tens of MiB.
constexpr std::uint64_t kMaxBatchBytes = 64ull << 20;
constexpr std::uint64_t kMaxBatchLines = 1'000'000;

pipeline::NonJsonLines non_json_setting() {
  const std::string value = common::trimmed(common::setting("NON_JSON_LINES", "send"));
  if (value == "send") return pipeline::NonJsonLines::kSend;
  if (value == "wrap") return pipeline::NonJsonLines::kWrap;
  if (value == "drop") return pipeline::NonJsonLines::kDrop;
  throw runtime::ConfigurationError("NON_JSON_LINES must be one of send, wrap, drop, not '" +
                                    value + "'");
}

std::uint64_t at_most(const char* name, std::uint64_t value, std::uint64_t maximum) {
  if (value > maximum) {
    throw runtime::ConfigurationError(std::string(name) + " is " + std::to_string(value) +
                                      "; at most " + std::to_string(maximum));
  }
  return value;
}

// The batches of one object under way: the object is done when each has its answer.
class Outstanding {
 public:
  void add() {
    std::lock_guard lock(mutex_);
    ++count_;
  }
  void answered(std::optional<std::string> failure) {
    {
      std::lock_guard lock(mutex_);
      --count_;
      if (failure && !failure_) failure_ = std::move(failure);
      if (!failure) ++delivered_;
    }
    changed_.notify_all();
  }
  // The first failure, once every batch has its answer.
  std::optional<std::string> wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return count_ == 0; });
    return failure_;
  }
  std::uint64_t delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_ = 0;
  std::uint64_t delivered_ = 0;
  std::optional<std::string> failure_;
};

// Reads the object announced into `sink`, range by range; false when it was overwritten since.
// Each range is read whole before the sink sees it: the sink blocks on the endpoints' answers and
// may throw, and neither may happen on the HTTP engine's thread, where a streamed body arrives.
bool read_announced(common::S3Client& s3, const pipeline::CreatedObject& object,
                    const std::function<void(std::string_view)>& sink) {
  for (std::uint64_t first = 0; first < object.size; first += kRangeBytes) {
    common::GetOptions options;
    options.version_id = object.version_id;
    if (object.version_id.empty()) options.if_match = object.etag;
    options.range = common::ByteRange{first, std::min(object.size, first + kRangeBytes) - 1};
    std::string range;
    try {
      range = s3.get_object(object.bucket, object.key, options);
    } catch (const common::PreconditionFailed&) {
      if (first > 0) throw;  // changed half-way: the lines sent stand, the rest is retried
      return false;
    } catch (const common::NoSuchKey&) {
      if (first > 0) throw;
      return false;  // deleted since: nothing to forward
    }
    sink(range);
  }
  return true;
}

}  // namespace

Forwarded forward_object(const Config& config, Clients clients,
                         const pipeline::CreatedObject& object, SteadyClock::time_point deadline) {
  Forwarded forwarded;
  Outstanding outstanding;
  pipeline::LineBatcher batcher(
      pipeline::BatchId{object.bucket, object.key, object.version_id, 0, 0}, config.limits,
      config.non_json, [&](pipeline::LineBatch&& batch) {
        outstanding.add();
        clients.delivery.send(std::move(batch.body), batch.id.text(), deadline,
                              [&outstanding](std::optional<std::string> failure) {
                                outstanding.answered(std::move(failure));
                              });
      });
  common::ContentStream content([&](std::string_view text) { batcher.feed(text); });
  try {
    forwarded.superseded =
        !read_announced(clients.s3, object, [&](std::string_view bytes) { content.feed(bytes); });
    if (!forwarded.superseded) {
      content.finish();
      batcher.finish();
    }
  } catch (...) {
    outstanding.wait();  // the callbacks hold references to this frame
    throw;
  }
  if (auto failure = outstanding.wait()) {
    throw runtime::Error(runtime::error_type::kTransientError,
                         "not every batch was delivered: " + *failure);
  }
  forwarded.lines = batcher.lines();
  forwarded.dropped = batcher.dropped();
  forwarded.batches = outstanding.delivered();
  return forwarded;
}

Config Config::from_environment() {
  Config config;
  config.dead_letter_queue_url = common::required_setting("DEAD_LETTER_QUEUE_URL");
  config.sources = common::location_list_setting("SOURCES");
  if (config.sources.empty()) throw runtime::ConfigurationError("SOURCES is required");
  for (const auto& url : common::list_setting("ENDPOINTS")) {
    // Named by its place, not its text: a URL may carry a key in its query.
    const std::string which = "ENDPOINTS: item " + std::to_string(config.endpoints.size() + 1);
    common::Endpoint endpoint;
    try {
      endpoint = common::parse_endpoint_url(url);
    } catch (const runtime::ConfigurationError&) {
      throw runtime::ConfigurationError(which + " is not an http:// or https:// URL with a host");
    }
    if (endpoint.host.find('@') != std::string::npos) {
      throw runtime::ConfigurationError(
          which +
          " carries credentials; give the token as AUTH_TOKEN_SECRET or AUTH_TOKEN_PARAMETER");
    }
    config.endpoints.push_back(url);
  }
  if (config.endpoints.empty()) throw runtime::ConfigurationError("ENDPOINTS is required");
  config.limits.max_lines =
      at_most("BATCH_MAX_LINES", common::number_setting("BATCH_MAX_LINES", 1000), kMaxBatchLines);
  config.limits.max_bytes = at_most(
      "BATCH_MAX_BYTES", common::number_setting("BATCH_MAX_BYTES", 1 << 20, 1024), kMaxBatchBytes);
  config.limits.max_line_bytes = common::number_setting("MAX_LINE_BYTES", 256 << 10);
  if (config.limits.max_line_bytes >= config.limits.max_bytes) {
    throw runtime::ConfigurationError(
        "MAX_LINE_BYTES (" + std::to_string(config.limits.max_line_bytes) +
        ") must be less than BATCH_MAX_BYTES (" + std::to_string(config.limits.max_bytes) +
        "): a line must fit a batch");
  }
  config.non_json = non_json_setting();
  config.gzip_requests = common::flag_setting("GZIP_REQUESTS", true);
  config.requests_in_flight = common::number_setting("REQUESTS_IN_FLIGHT", 4);
  config.endpoint_rest = std::chrono::seconds(common::number_setting("ENDPOINT_REST_S", 30, 0));
  config.auth_token_secret = common::trimmed(common::setting("AUTH_TOKEN_SECRET"));
  config.auth_token_parameter = common::trimmed(common::setting("AUTH_TOKEN_PARAMETER"));
  if (!config.auth_token_secret.empty() && !config.auth_token_parameter.empty()) {
    throw runtime::ConfigurationError(
        "set AUTH_TOKEN_SECRET or AUTH_TOKEN_PARAMETER, not both: which token is meant?");
  }
  config.auth_header = common::trimmed(common::setting("AUTH_HEADER", config.auth_header));
  config.auth_scheme = common::trimmed(common::setting("AUTH_SCHEME", config.auth_scheme));
  if (config.auth_header.empty() ||
      config.auth_header.find_first_of(" :\r\n") != std::string::npos) {
    throw runtime::ConfigurationError("AUTH_HEADER must be a header name, not '" +
                                      config.auth_header + "'");
  }
  return config;
}

bool Config::forwards(const std::string& bucket, const std::string& key) const {
  return std::any_of(sources.begin(), sources.end(), [&](const common::S3Location& source) {
    return source.bucket == bucket && key.starts_with(source.prefix);
  });
}

namespace {

struct Totals {
  std::uint64_t objects = 0, lines = 0, batches = 0, dropped = 0, skipped = 0, superseded = 0,
                poison = 0;
  std::vector<double> lag_seconds;  // event time to the last batch acknowledged, per object
};

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[index];
}

// A poison object goes to the dead-letter queue with its reason, once: redelivering it would
// fail the same way.
void send_to_dead_letters(const Config& config, Clients clients, const std::string& body,
                          const std::string& where, const std::string& reason) {
  clients.sqs.send_message(config.dead_letter_queue_url, body,
                           {{"reason", reason}, {"object", where}});
  runtime::log::warn("sent to the dead-letter queue", "object", where, "reason", reason);
}

// One object, or the dead-letter queue with its reason when it is poison (`body`: what goes there,
// the notification or the listed item). A batch not delivered is thrown on.
void forward_or_dead_letter(const Config& config, Clients clients,
                            const pipeline::CreatedObject& object, const std::string& body,
                            SteadyClock::time_point deadline, Totals& totals, bool measure_lag) {
  // Keys may hold any byte: named encoded in logs and attributes.
  const std::string where = object.bucket + "/" + common::uri_encode(object.key, true);
  try {
    const Forwarded forwarded = forward_object(config, clients, object, deadline);
    totals.objects += forwarded.superseded ? 0 : 1;
    totals.lines += forwarded.lines;
    totals.batches += forwarded.batches;
    totals.dropped += forwarded.dropped;
    totals.superseded += forwarded.superseded;
    // An object not read has no last byte acknowledged: its own notification brings its lag.
    const auto announced = common::parse_s3_time(object.event_time);
    if (measure_lag && announced && !forwarded.superseded) {
      totals.lag_seconds.push_back(
          std::chrono::duration<double>(std::chrono::system_clock::now() - *announced).count());
    }
  } catch (const common::ContentRefused& refused) {
    ++totals.poison;
    send_to_dead_letters(config, clients, body, where, refused.what());
  } catch (const runtime::InvalidInput& refused) {
    ++totals.poison;
    send_to_dead_letters(config, clients, body, where, refused.what());
  }
}

void forward_message(const Config& config, Clients clients, const std::string& body,
                     SteadyClock::time_point deadline, Totals& totals) {
  std::vector<pipeline::CreatedObject> objects;
  try {
    objects = pipeline::objects_of_message(body);
  } catch (const runtime::InvalidInput& malformed) {
    ++totals.poison;
    return send_to_dead_letters(config, clients, body, "", malformed.what());
  }
  for (const auto& object : objects) {
    if (!config.forwards(object.bucket, object.key)) {
      ++totals.skipped;
      continue;
    }
    forward_or_dead_letter(config, clients, object, body, deadline, totals, true);
  }
}

// A backfill names its window in UTC: no offset is guessed.
std::chrono::system_clock::time_point utc_time(const std::string& text, const std::string& field) {
  const auto time = common::parse_s3_time(text);
  if (!time || !text.ends_with('Z')) {
    throw runtime::InvalidInput("the backfill's \"" + field +
                                "\" must be a UTC time such as 2026-03-05T00:00:00Z, not '" + text +
                                "'");
  }
  return *time;
}

// The delivery's counters run from initialisation; an invocation reports what changed in it.
void report_delivery(const common::DeliveryStats& before, const common::DeliveryStats& after) {
  using runtime::metrics::Unit;
  runtime::metrics::add("BytesForwarded", Unit::Bytes,
                        static_cast<double>(after.bytes - before.bytes));
  for (const auto& [cause, count] : after.retries) {
    const auto earlier = before.retries.find(cause);
    const auto retries = count - (earlier == before.retries.end() ? 0 : earlier->second);
    if (retries > 0) {
      const std::string name = cause == "transport" ? "Transport" : cause;  // 429, 5xx, 408
      runtime::metrics::add("RetriesOn" + name, Unit::Count, static_cast<double>(retries));
    }
  }
  std::uint64_t errors = 0;
  for (std::size_t i = 0; i < after.endpoint_errors.size(); ++i) {
    errors += after.endpoint_errors[i] -
              (i < before.endpoint_errors.size() ? before.endpoint_errors[i] : 0);
  }
  runtime::metrics::add("EndpointErrors", Unit::Count, static_cast<double>(errors));
}

void report(const Totals& totals, std::size_t failed) {
  using runtime::metrics::Unit;
  runtime::metrics::add("ObjectsForwarded", Unit::Count, static_cast<double>(totals.objects));
  runtime::metrics::add("LinesForwarded", Unit::Count, static_cast<double>(totals.lines));
  runtime::metrics::add("BatchesForwarded", Unit::Count, static_cast<double>(totals.batches));
  runtime::metrics::add("PoisonObjects", Unit::Count, static_cast<double>(totals.poison));
  if (!totals.lag_seconds.empty()) {
    runtime::metrics::add("LagP50", Unit::Seconds, percentile(totals.lag_seconds, 0.5));
    runtime::metrics::add("LagP99", Unit::Seconds, percentile(totals.lag_seconds, 0.99));
  }
  runtime::log::info("batch", "objects", totals.objects, "lines", totals.lines, "batches",
                     totals.batches, "dropped", totals.dropped, "skipped", totals.skipped,
                     "superseded", totals.superseded, "poison", totals.poison, "failed", failed);
}

}  // namespace

pipeline::BackfillPlan plan_backfill(const Config& config,
                                     const pipeline::BackfillRequest& request) {
  const auto location = common::parse_s3_location(request.source);
  if (!location) {
    throw runtime::InvalidInput("the backfill's \"source\" '" + request.source +
                                "' does not name a bucket S3 allows (write s3://bucket/prefix)");
  }
  // This function's role reads its SOURCES and nothing else.
  const bool covered =
      std::any_of(config.sources.begin(), config.sources.end(), [&](const auto& source) {
        return source.bucket == location->bucket && location->prefix.starts_with(source.prefix);
      });
  if (!covered) {
    std::string sources;
    for (const auto& source : config.sources)
      sources += (sources.empty() ? "s3://" : ", s3://") + source.bucket + "/" + source.prefix;
    throw runtime::InvalidInput("the backfill's source s3://" + location->bucket + "/" +
                                location->prefix + " is not under SOURCES (" + sources + ")");
  }
  const auto from = utc_time(request.from, "from");
  const auto to = utc_time(request.to, "to");
  if (from >= to) throw runtime::InvalidInput("the backfill's \"from\" must be before \"to\"");
  return pipeline::BackfillPlan{location->bucket, location->prefix,
                                runtime::format_rfc3339_ms(from), runtime::format_rfc3339_ms(to)};
}

pipeline::BackfillResult forward_listed(const Config& config, Clients clients,
                                        const pipeline::BackfillBatch& batch,
                                        SteadyClock::time_point deadline) {
  const auto from = utc_time(batch.plan.from, "from");
  const auto to = utc_time(batch.plan.to, "to");
  Totals totals;
  std::uint64_t outside = 0;
  for (const auto& item : batch.items) {
    const std::chrono::system_clock::time_point modified{std::chrono::seconds(item.last_modified)};
    if (modified < from || modified >= to || !config.forwards(batch.plan.bucket, item.key)) {
      ++outside;
      continue;
    }
    const pipeline::CreatedObject object{batch.plan.bucket,
                                         item.key,
                                         item.size,
                                         item.etag,
                                         "",
                                         common::Date::from_time_point(modified),
                                         runtime::format_rfc3339_ms(modified)};
    const json::value body{{"bucket", batch.plan.bucket}, {"item", json::value_from(item)}};
    forward_or_dead_letter(config, clients, object, json::serialize(body), deadline, totals, false);
  }
  report(totals, 0);
  return pipeline::BackfillResult{totals.objects, totals.lines,      totals.batches,
                                  outside,        totals.superseded, totals.poison};
}

json::value handle(const Config& config, Clients clients, const json::value& event,
                   const common::Deadline& deadline) {
  const pipeline::RecordFields fields(event, "the event");
  const auto stop_at = SteadyClock::now() + deadline.remaining();
  const auto delivery_before = clients.delivery.stats();
  if (fields.has("source")) {
    return json::value_from(
        plan_backfill(config, pipeline::read_record<pipeline::BackfillRequest>(event)));
  }
  if (fields.has("BatchInput")) {
    const auto batch = pipeline::read_record<pipeline::BackfillBatch>(event);
    const auto result = forward_listed(config, clients, batch, stop_at);
    report_delivery(delivery_before, clients.delivery.stats());
    return json::value_from(result);
  }
  const auto* records = fields.object().if_contains("Records");
  if (records == nullptr || !records->is_array()) {
    throw runtime::InvalidInput(
        "expected an SQS batch ({\"Records\": [...]}), a backfill's request ({\"source\", "
        "\"from\", \"to\"}) or a batch of its listing ({\"BatchInput\", \"Items\"})");
  }
  Totals totals;
  json::array failures;
  for (const auto& value : records->get_array()) {
    const pipeline::RecordFields record(value, "an SQS record");
    const std::string message_id = record.text("messageId");
    // Not started this late: SQS delivers it again.
    if (deadline.reached()) {
      failures.push_back(json::object{{"itemIdentifier", message_id}});
      continue;
    }
    try {
      forward_message(config, clients, record.text("body", true), stop_at, totals);
    } catch (const std::exception& error) {
      runtime::log::error("record not forwarded; SQS delivers it again", "messageId", message_id,
                          "error", error.what());
      failures.push_back(json::object{{"itemIdentifier", message_id}});
    }
  }
  report(totals, failures.size());
  report_delivery(delivery_before, clients.delivery.stats());
  return json::object{{"batchItemFailures", std::move(failures)}};
}

runtime::Handler make_handler() {
  auto config = std::make_shared<Config>(Config::from_environment());
  common::DeliveryOptions options;
  options.urls = config->endpoints;
  options.in_flight_per_endpoint = config->requests_in_flight;
  options.rest = config->endpoint_rest;
  options.gzip = config->gzip_requests;
  std::string token;
  if (!config->auth_token_secret.empty())
    token = common::SecretsClient::secret_string(config->auth_token_secret);
  if (!config->auth_token_parameter.empty())
    token = common::SecretsClient::parameter_value(config->auth_token_parameter);
  if (!token.empty()) {
    options.headers.emplace_back(config->auth_header, config->auth_scheme.empty()
                                                          ? token
                                                          : config->auth_scheme + " " + token);
  }
  auto s3 = std::make_shared<common::S3Client>();
  auto sqs = std::make_shared<common::SqsClient>();
  auto delivery = std::make_shared<common::HttpDelivery>(common::HttpEngine::shared(), options);
  return [config, s3, sqs, delivery](const json::value& event,
                                     const runtime::InvocationContext& context) {
    return handle(*config, Clients{*s3, *sqs, *delivery}, event, common::Deadline(context));
  };
}

}  // namespace functions::log_forwarder
