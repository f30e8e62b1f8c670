// The `thinkcache` command: dispatches to self-registered subcommands (src/cli/cmd_*.cpp).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cli/args.h"
#include "util/error.h"

namespace {

void print_usage() {
  auto cmds = tc::cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return std::strcmp(a.name, b.name) < 0; });
  std::printf("thinkcache: LLM inference with a bounded, policy-managed KV cache\n\nusage: thinkcache <command> [options]\n\ncommands:\n");
  for (auto& c : cmds) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\n'thinkcache <command> --help' shows a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  for (auto& c : tc::cli::commands()) {
    if (name != c.name) continue;
    std::vector<std::string> tokens(argv + 2, argv + argc);
    if (std::find(tokens.begin(), tokens.end(), "--help") != tokens.end()) {
      std::printf("usage: thinkcache %s %s\n\n%s\n", c.name, c.usage, c.summary);
      return 0;
    }
    try {
      tc::cli::Args args(name, std::move(tokens));
      return c.run(args);
    } catch (const tc::Error& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "thinkcache %s: error: %s\n", name.c_str(), e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fflush(stdout);
      std::fprintf(stderr, "thinkcache %s: error: out of memory\n", name.c_str());
      return 1;
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "thinkcache %s: error: %s\n", name.c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "thinkcache: unknown command '%s'\n\n", name.c_str());
  print_usage();
  return 2;
}
