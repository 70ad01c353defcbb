// References to work files come back from the state machine's input and the work bucket: what is
// not one this project wrote is refused with InvalidInput, never half-read.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "pipeline/plan.h"
#include "pipeline/work_files.h"
#include "runtime/errors.h"

namespace {

pipeline::FileRef read(const char* json) {
  return pipeline::FileRef::from_json(boost::json::parse(json), "groups");
}

TEST(FileRefs, AReferenceReadsBackAsItWasWritten) {
  const pipeline::FileRef ref{"work", "work/run/groups.json", 3, 120};
  const auto again = pipeline::FileRef::from_json(ref.to_json(), "groups");
  EXPECT_EQ(again.bucket, "work");
  EXPECT_EQ(again.key, "work/run/groups.json");
  EXPECT_EQ(again.count, 3);
  EXPECT_EQ(again.bytes, 120);
  EXPECT_EQ(read(R"({"bucket":"w","key":"k"})").count, 0) << "counts are optional";
}

// Found by fuzzing: a count too large for 64 bits escaped as boost's system_error, which the
// runtime reports as an unhandled error instead of the input's fault.
TEST(FileRefs, CountsThatAreNotWholeNumbersAreInvalidInput) {
  for (const char* json :
       {R"({"bucket":"w","key":"k","bytes":1444444444444444444444444444})",
        R"({"bucket":"w","key":"k","count":-1})", R"({"bucket":"w","key":"k","count":1.5})",
        R"({"bucket":"w","key":"k","count":"3"})", R"({"bucket":"w","key":7})", R"([1,2])"}) {
    EXPECT_THROW(read(json), runtime::InvalidInput) << json;
  }
}

}  // namespace
