#include "functions/get_files/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::get_files::make_handler, functions::lambda_error_type);
}
