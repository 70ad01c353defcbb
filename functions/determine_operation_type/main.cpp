#include "functions/determine_operation_type/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::determine_operation_type::make_handler,
                      functions::lambda_error_type);
}
