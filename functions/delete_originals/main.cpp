#include "functions/delete_originals/handler.h"
#include "functions/lambda_errors.h"

int main() {
  return runtime::run(functions::delete_originals::make_handler, functions::lambda_error_type);
}
