#include "functions/lambda_errors.h"
#include "functions/manifest_builder/handler.h"

int main() {
  return runtime::run(functions::manifest_builder::make_handler, functions::lambda_error_type);
}
