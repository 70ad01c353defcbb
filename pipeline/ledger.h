#pragma once
// The ledger of combined versions, in the work bucket under ledger/<date>/<group>/ (expiring with
// the outputs, not with the work files): before an output is completed, the output it is about to
// become (its key, size, multipart ETag, destination bucket and every source) is written there,
// one file per output. A day run again (late files, a backfill, a run killed after an output
// completed but before its originals were deleted) looks its group up there: an original version
// inside an output that stands as its record says goes straight to deletion, never into a second
// output. An attempt that finds its own key taken adopts the object only if it is that record.
#include <boost/json/object.hpp>
#include <map>
#include <string>

#include "common/s3.h"
#include "pipeline/layout.h"
#include "pipeline/records.h"

namespace pipeline {

// What identifies one original's bytes: the version in a versioned bucket, else key and etag.
std::string combined_identity(const Source& source);

// Every source of the group and day recorded in an output, by combined_identity, with that
// output as recorded. Whether it stands is the caller's to see.
std::map<std::string, OutputRef> combined_sources(common::S3Client& s3,
                                                  const std::string& work_bucket,
                                                  const std::string& date,
                                                  const std::string& group_id);

}  // namespace pipeline
