// Command-line arguments for one subcommand. Accessors consume what they read; finish()
// rejects anything left over (an unknown or misspelt option is an error, not ignored).
// Forms: --name value, --name=value, --flag, and positionals.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tc::cli {

class Args {
 public:
  Args(std::string command, std::vector<std::string> tokens);

  const std::string& command() const { return command_; }
  bool flag(const std::string& name);                               // --name present?
  std::optional<std::string> value(const std::string& name);        // --name V
  std::vector<std::string> values(const std::string& name);         // repeated --name V
  std::string require(const std::string& name);                     // throws if absent
  std::string get(const std::string& name, const std::string& def);
  int get_int(const std::string& name, int def);
  int64_t get_int64(const std::string& name, int64_t def);
  double get_double(const std::string& name, double def);
  std::optional<std::string> positional();                          // next unconsumed non-option
  void finish();                                                    // throws on leftovers

 private:
  std::string command_;
  std::vector<std::string> tokens_;
  std::vector<bool> used_;
};

using CommandFn = int (*)(Args&);

struct Command {
  const char* name;
  const char* usage;    // one line: arguments
  const char* summary;  // one line: what it does
  CommandFn run;
};

std::vector<Command>& commands();

struct CommandRegistrar {
  CommandRegistrar(const char* name, const char* usage, const char* summary, CommandFn fn) {
    commands().push_back({name, usage, summary, fn});
  }
};

}  // namespace tc::cli

// Registers a subcommand: TC_COMMAND(tokenize, "--model PATH ...", "prints token ids") { ... }
#define TC_COMMAND(ident, usage, summary)                                                   \
  static int tc_cmd_##ident(::tc::cli::Args& args);                                        \
  static ::tc::cli::CommandRegistrar tc_cmd_reg_##ident(#ident, usage, summary, tc_cmd_##ident); \
  static int tc_cmd_##ident(::tc::cli::Args& args)
