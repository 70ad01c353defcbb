#include "functions/delete_originals/handler.h"

int main() {
  return runtime::run(functions::delete_originals::make_handler);
}
