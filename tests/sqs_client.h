#pragma once
// SQS, for the tests that feed the event-driven batching its notifications (the functions never
// call SQS: Lambda's event source mapping does).
#include <string>
#include <vector>

#include "common/json_services.h"

namespace tests {

struct SqsMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int receive_count = 0;
};

class SqsClient {
 public:
  explicit SqsClient(common::ClientOptions options);
  SqsClient();
  static const common::ServiceInfo& service_info();

  std::string get_queue_url(const std::string& name);
  // Up to 10 bodies; returns the ids of entries SQS refused.
  std::vector<std::string> send_message_batch(const std::string& queue_url,
                                              const std::vector<std::string>& bodies);
  static std::vector<SqsMessage> received_messages(const common::Answer& answer);
  static std::vector<std::string> failed_entry_ids(const common::Answer& answer);
  std::vector<SqsMessage> receive_messages(const std::string& queue_url, int max_messages,
                                           int wait_seconds, int visibility_timeout = -1);
  void delete_message_batch(const std::string& queue_url,
                            const std::vector<std::string>& receipt_handles);

 private:
  common::JsonServiceClient json_;
};

}  // namespace tests
