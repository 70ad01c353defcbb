#include "functions/combine_log_files/handler.h"

int main() {
  return runtime::run(functions::combine_log_files::make_handler);
}
