// Hand-off records come back from the work bucket and the state machine's input: whatever JSON
// they hold, every record (pipeline/records.h) and continuation (pipeline/continuation.h), a
// reference to a work file and a run's id are read or refused with InvalidInput, never
// half-read (any other exception escapes and fails the run):
// - a record read back from the JSON it writes is the same record, and writes the same JSON;
// - a FileRef read back from its own JSON is the same reference;
// - an accepted run id is 1-80 of A-Z a-z 0-9 - _ (it names a folder);
// - a work file name never holds '/' and differs for different ids.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/continuation.h"
#include "pipeline/records.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace {

bool is_folder_name(const std::string& id) {
  if (id.empty() || id.size() > 80) return false;
  for (char c : id) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!allowed) return false;
  }
  return true;
}

template <typename Record>
void read_or_refuse(const boost::json::value& value) {
  try {
    const auto record = pipeline::read_record<Record>(value);
    const boost::json::value written = boost::json::value_from(record);
    const auto again = pipeline::read_record<Record>(written);
    if (!(again == record) || boost::json::value_from(again) != written) __builtin_trap();
  } catch (const runtime::InvalidInput&) {
  }
}

void read_every_record(const boost::json::value& value) {
  read_or_refuse<pipeline::FileEntry>(value);
  read_or_refuse<pipeline::Group>(value);
  read_or_refuse<pipeline::PlannedOutput>(value);
  read_or_refuse<pipeline::Plan>(value);
  read_or_refuse<pipeline::OutputRecord>(value);
  read_or_refuse<pipeline::AlreadyCombined>(value);
  read_or_refuse<pipeline::Receipt>(value);
  read_or_refuse<pipeline::ListingResult>(value);
  read_or_refuse<pipeline::PlanResult>(value);
  read_or_refuse<pipeline::CombineResult>(value);
  read_or_refuse<pipeline::DeleteResult>(value);
  read_or_refuse<pipeline::ListingUnit>(value);
  read_or_refuse<pipeline::ListingContinuation>(value);
  read_or_refuse<pipeline::CombineContinuation>(value);
  read_or_refuse<pipeline::DeleteContinuation>(value);
  read_or_refuse<pipeline::BackfillRequest>(value);
  read_or_refuse<pipeline::BackfillPlan>(value);
  read_or_refuse<pipeline::BackfillBatch>(value);
  read_or_refuse<pipeline::BackfillResult>(value);
  read_or_refuse<pipeline::AmplifyPlan>(value);
  read_or_refuse<pipeline::AmplifyChunk>(value);
  read_or_refuse<pipeline::AmplifyExport>(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  boost::system::error_code error;
  const boost::json::value value = boost::json::parse(text, error);
  if (!error) {
    read_every_record(value);
    try {
      const auto ref = pipeline::FileRef::from_json(value, "file");
      const auto again = pipeline::FileRef::from_json(ref.to_json(), "file");
      if (again.bucket != ref.bucket || again.key != ref.key || again.count != ref.count ||
          again.bytes != ref.bytes)
        __builtin_trap();
    } catch (const runtime::InvalidInput&) {
    }
    if (value.is_object()) {
      try {
        if (!is_folder_name(pipeline::run_id_of(value.as_object()))) __builtin_trap();
      } catch (const runtime::InvalidInput&) {
      }
    }
  }
  const std::string name = pipeline::work_file_name(text);
  if (name.find('/') != std::string::npos) __builtin_trap();
  if (size > 0 && pipeline::work_file_name(text + "x") == name) __builtin_trap();
  return 0;
}
