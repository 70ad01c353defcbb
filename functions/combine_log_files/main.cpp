#include "functions/combine_log_files/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::combine_log_files::make_handler, functions::lambda_error_type);
}
