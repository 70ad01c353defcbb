#include "runtime/runtime.h"
#include "tests/echo/handler.h"

int main() {
  return runtime::run(tests::echo::make_handler);
}
