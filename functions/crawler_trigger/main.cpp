#include "functions/crawler_trigger/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::crawler_trigger::make_handler, functions::lambda_error_type);
}
