#pragma once
// The ledger of combined versions: every receipt is also kept under
// ledger/<date>/<group>/<run>.json in the work bucket (expiring with the outputs, not with the
// work files). A day run again (late files, a backfill, a run whose deletions failed) looks its
// group up there: an original version already inside an output that still stands goes straight
// to deletion, never into a second output.
#include <boost/json/object.hpp>
#include <map>
#include <string>

#include "common/plan.h"
#include "common/s3.h"

namespace common {

// What identifies one original's bytes: the version in a versioned bucket, else key and etag.
std::string combined_identity(const Source& source);

// Keeps a group's receipt in the ledger.
void record_combined(S3Client& s3, const std::string& work_bucket, const std::string& date,
                     const std::string& group_id, const std::string& run_id,
                     const boost::json::object& receipt);

// Every source of the group and day that an earlier receipt put into an output, by
// combined_identity, with that output ({"key", "size", "etag"}) and its destination bucket.
std::map<std::string, boost::json::object> combined_sources(S3Client& s3,
                                                            const std::string& work_bucket,
                                                            const std::string& date,
                                                            const std::string& group_id);

}  // namespace common
