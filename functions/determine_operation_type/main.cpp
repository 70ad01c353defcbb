#include "functions/determine_operation_type/handler.h"

int main() {
  return runtime::run(functions::determine_operation_type::make_handler);
}
