#include "functions/crawler_trigger/handler.h"

int main() {
  return runtime::run(functions::crawler_trigger::make_handler);
}
