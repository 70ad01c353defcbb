#pragma once
// SQS. Lambda's event source mapping receives and deletes the functions' messages; LogForwarder
// sends a poison record to its dead-letter queue itself, with the reason; the tests feed queues.
#include <map>
#include <string>
#include <vector>

#include "common/json_services.h"

namespace common {

struct SqsMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int receive_count = 0;
  std::map<std::string, std::string> attributes;  // its string message attributes
};

class SqsClient {
 public:
  explicit SqsClient(ClientOptions options);
  SqsClient();
  static const ServiceInfo& service_info();

  std::string get_queue_url(const std::string& name);
  // One message with string attributes; its message id.
  std::string send_message(const std::string& queue_url, const std::string& body,
                           const std::map<std::string, std::string>& attributes = {});
  // Up to 10 bodies; returns the ids of entries SQS refused.
  std::vector<std::string> send_message_batch(const std::string& queue_url,
                                              const std::vector<std::string>& bodies);
  static std::vector<SqsMessage> received_messages(const Answer& answer);
  static std::vector<std::string> failed_entry_ids(const Answer& answer);
  std::vector<SqsMessage> receive_messages(const std::string& queue_url, int max_messages,
                                           int wait_seconds, int visibility_timeout = -1);
  void delete_message_batch(const std::string& queue_url,
                            const std::vector<std::string>& receipt_handles);

 private:
  JsonServiceClient json_;
};

}  // namespace common
