#include "functions/lambda_errors.h"
#include "functions/log_forwarder/handler.h"

int main() {
  return runtime::run(functions::log_forwarder::make_handler, functions::lambda_error_type);
}
