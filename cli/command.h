#pragma once
// The edges every command shares: a usage error exits 2 with the usage, any other failure exits 1
// with one line, -h/--help prints the usage, and "--name VALUE" options are read one way.
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <set>
#include <string>

namespace cli {

struct Command {
  const char* name;
  const char* usage;
};

[[noreturn]] inline void usage_error(const Command& command, const std::string& message) {
  std::cerr << command.name << ": " << message << "\n" << command.usage;
  std::exit(2);
}

// Hands each "--name VALUE" to on_option (each of `flags` takes no value: VALUE is empty) and
// anything else to on_positional.
inline void read_arguments(
    const Command& command, int argc, char** argv, const std::set<std::string>& flags,
    const std::function<void(const std::string&, const std::string&)>& on_option,
    const std::function<void(const std::string&)>& on_positional) {
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "-h" || argument == "--help") {
      std::cout << command.usage;
      std::exit(0);
    }
    if (!argument.starts_with("--")) {
      on_positional(argument);
    } else if (flags.contains(argument)) {
      on_option(argument, "");
    } else {
      if (i + 1 >= argc) usage_error(command, argument + " needs a value");
      on_option(argument, argv[++i]);
    }
  }
}

// The seal key the ledger's records are checked with: --seal-key, else SEAL_KEY_ID, else a usage
// error (a record is trusted only with its seal, pipeline/seal.h).
inline std::string seal_key(const Command& command, const std::string& option) {
  if (!option.empty()) return option;
  const char* from_environment = std::getenv("SEAL_KEY_ID");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  usage_error(command, "the ledger is read only with its seal key: --seal-key KEY or SEAL_KEY_ID");
}

inline int run_command(const Command& command, const std::function<int()>& run) {
  try {
    return run();
  } catch (const std::exception& error) {
    std::cerr << command.name << ": " << error.what() << "\n";
    return 1;
  }
}

}  // namespace cli
