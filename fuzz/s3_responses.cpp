// S3's XML answers come off the network: every listing parser, the DeleteObjects result and the
// error document must parse any bytes into a value or a named AwsError (MalformedResponse),
// never crash, leak or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/aws_client.h"
#include "common/errors.h"
#include "common/s3.h"

namespace {

template <typename Parse>
void parse_or_named_error(const Parse& parse) {
  try {
    parse();
  } catch (const common::AwsError& error) {
    if (error.code().empty()) __builtin_trap();  // an error S3's callers cannot name
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  parse_or_named_error([&] { common::parse_list_page(body); });
  parse_or_named_error([&] { common::parse_version_page(body); });
  parse_or_named_error([&] { common::parse_uploads_page(body); });
  parse_or_named_error([&] { common::S3Client::parse_delete_errors(body); });
  const auto details = common::parse_error(common::Protocol::RestXml, 500, {}, body);
  if (details.code.empty()) __builtin_trap();  // a status always gives a code
  return 0;
}
