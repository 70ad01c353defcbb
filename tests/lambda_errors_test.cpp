// The AWS core's errors reach the state machines under the errorType their Retry and Catch name.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "functions/lambda_errors.h"
#include "runtime/errors.h"

namespace {

TEST(LambdaErrors, AwsErrorsAreNamedAsTheStateMachinesRetryAndCatchThem) {
  using functions::lambda_error_type;
  EXPECT_EQ(lambda_error_type(common::AwsError("SlowDown", "", "", 503, true, true)), "Throttled");
  EXPECT_EQ(lambda_error_type(common::AwsError("InternalError", "", "", 500, true)),
            "TransientError");
  EXPECT_EQ(lambda_error_type(common::TransportError("reset")), "TransientError");
  EXPECT_EQ(lambda_error_type(common::AwsError("PreconditionFailed", "", "", 412, false)),
            "ConflictError");
  // S3's answer to a conditional write while another write of the key is under way (two
  // attempts at one output: an Express child run twice); the retried step adopts the winner's.
  EXPECT_EQ(lambda_error_type(common::AwsError("ConditionalRequestConflict", "", "", 409, false)),
            "ConflictError");
  EXPECT_EQ(lambda_error_type(common::ConditionalCheckFailed("ConditionalCheckFailedException", "",
                                                             "", 400, false)),
            "ConflictError");
  EXPECT_EQ(lambda_error_type(common::AwsError("AccessDenied", "", "", 403, false)), "AwsError");
  EXPECT_FALSE(lambda_error_type(std::runtime_error("not AWS's")).has_value());
  EXPECT_FALSE(lambda_error_type(runtime::InvalidInput("named by the runtime")).has_value());
}

}  // namespace
