#include "common/sqs.h"

#include <charconv>

#include "runtime/errors.h"

namespace common {

namespace json = boost::json;

const ServiceInfo& SqsClient::service_info() {
  static const ServiceInfo info{"sqs", "SQS", "sqs", Protocol::Json};
  return info;
}

SqsClient::SqsClient(ClientOptions options)
    : json_(service_info(), "AmazonSQS.", "application/x-amz-json-1.0", std::move(options)) {}
SqsClient::SqsClient() : SqsClient(ClientOptions::from_environment(service_info())) {}

std::string SqsClient::get_queue_url(const std::string& name) {
  return json_.call("GetQueueUrl", {{"QueueName", name}}).string("QueueUrl");
}

std::string SqsClient::send_message(const std::string& queue_url, const std::string& body,
                                    const std::map<std::string, std::string>& attributes) {
  json::object input{{"QueueUrl", queue_url}, {"MessageBody", body}};
  if (!attributes.empty()) {
    json::object values;
    for (const auto& [name, value] : attributes)
      values[name] = json::object{{"DataType", "String"}, {"StringValue", value}};
    input["MessageAttributes"] = std::move(values);
  }
  return json_.call("SendMessage", input).string("MessageId");
}

std::vector<std::string> SqsClient::send_message_batch(const std::string& queue_url,
                                                       const std::vector<std::string>& bodies) {
  if (bodies.empty() || bodies.size() > 10) {
    throw runtime::InvalidInput("SendMessageBatch takes 1 to 10 messages");
  }
  json::array entries;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)}, {"MessageBody", bodies[i]}});
  }
  return failed_entry_ids(
      json_.call("SendMessageBatch", {{"QueueUrl", queue_url}, {"Entries", entries}}));
}

std::vector<std::string> SqsClient::failed_entry_ids(const Answer& answer) {
  std::vector<std::string> failed;
  for (const auto& entry : answer.objects("Failed")) failed.push_back(entry.string("Id"));
  return failed;
}

std::vector<SqsMessage> SqsClient::received_messages(const Answer& answer) {
  std::vector<SqsMessage> messages;
  for (const auto& message : answer.objects("Messages")) {
    SqsMessage parsed{message.string("MessageId"),
                      message.string("ReceiptHandle"),
                      message.string("Body"),
                      0,
                      {}};
    if (message.object("Attributes")) {
      const auto count = message.member("Attributes").optional_string("ApproximateReceiveCount");
      // A count that is not a number (or overflows) reads as 0, as unknown.
      if (count)
        std::from_chars(count->data(), count->data() + count->size(), parsed.receive_count);
    }
    if (const auto attributes = message.object("MessageAttributes")) {
      for (const auto& [name, value] : *attributes) {
        const auto* fields = value.if_object();
        const auto* text = fields ? fields->if_contains("StringValue") : nullptr;
        if (text && text->is_string())
          parsed.attributes[std::string(name)] = std::string(text->get_string());
      }
    }
    messages.push_back(std::move(parsed));
  }
  return messages;
}

std::vector<SqsMessage> SqsClient::receive_messages(const std::string& queue_url, int max_messages,
                                                    int wait_seconds, int visibility_timeout) {
  json::object input{{"QueueUrl", queue_url},
                     {"MaxNumberOfMessages", max_messages},
                     {"WaitTimeSeconds", wait_seconds},
                     {"MessageSystemAttributeNames", json::array{"ApproximateReceiveCount"}},
                     {"MessageAttributeNames", json::array{"All"}}};
  if (visibility_timeout >= 0) input["VisibilityTimeout"] = visibility_timeout;
  return received_messages(json_.call("ReceiveMessage", input));
}

void SqsClient::delete_message_batch(const std::string& queue_url,
                                     const std::vector<std::string>& receipt_handles) {
  for (std::size_t start = 0; start < receipt_handles.size(); start += 10) {
    json::array entries;
    for (std::size_t i = start; i < std::min(receipt_handles.size(), start + 10); ++i) {
      entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", receipt_handles[i]}});
    }
    json_.call("DeleteMessageBatch", {{"QueueUrl", queue_url}, {"Entries", entries}});
  }
}

}  // namespace common
