#include "functions/get_files/handler.h"

int main() {
  return runtime::run(functions::get_files::make_handler);
}
