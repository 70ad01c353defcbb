#include "functions/amplify_log_exporter/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::amplify_log_exporter::make_handler, functions::lambda_error_type);
}
