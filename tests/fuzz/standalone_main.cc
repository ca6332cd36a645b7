// Runs a libFuzzer target without libFuzzer (for gcc builds and ctest):
// every file in the corpus directories, then a fixed number of deterministic
// mutations of them (byte flips, inserts, truncations, splices). Real
// coverage-guided fuzzing: build with -DMAILSTACK_LIBFUZZER=ON and clang.
//   usage: <target> [--iterations=N] CORPUS_DIR...
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

std::string Mutate(std::string s, std::mt19937_64& rng, const std::vector<std::string>& pool) {
  static const char* kTokens[] = {
      ":",           "\n",        "  ",          "- ",     "[",         "]",        "{",        "}",    "\"", "'",
      "&a",          "*a",        "!!",          "---",    "#",         "\t",       "30s",      "1h",   "0",  "-",
      "collectors:", "defaults:", "filesystem:", "paths:", "interval:", "timeout:", "enabled:", "\xff", "%"};
  int ops = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < ops; ++i) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0:
        if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(rng());
        break;
      case 1: s.insert(pos, kTokens[rng() % (sizeof kTokens / sizeof *kTokens)]); break;
      case 2:
        if (pos < s.size()) s.erase(pos, 1 + rng() % 8);
        break;
      case 3: s.resize(pos); break;
      case 4: {
        const std::string& o = pool[rng() % pool.size()];
        if (!o.empty()) s.insert(pos, o.substr(rng() % o.size(), 1 + rng() % 32));
        break;
      }
      case 5: s.insert(pos, std::string(1 + rng() % 64, static_cast<char>("[{- :\n"[rng() % 6]))); break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 20000;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::atol(argv[i] + 13);
      continue;
    }
    DIR* d = opendir(argv[i]);
    if (!d) {
      std::fprintf(stderr, "cannot open corpus dir %s\n", argv[i]);
      return 2;
    }
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(std::string(argv[i]) + "/" + e->d_name, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      corpus.push_back(ss.str());
    }
    closedir(d);
  }
  if (corpus.empty()) corpus.emplace_back();
  for (const auto& c : corpus) Run(c);
  std::mt19937_64 rng(0x6d61696c);  // fixed seed: reproducible in CI
  for (long i = 0; i < iterations; ++i) Run(Mutate(corpus[i % corpus.size()], rng, corpus));
  // Pathological shapes a parser must survive.
  Run(std::string(100000, '['));
  Run(std::string(100000, '{'));
  Run(std::string(50000, '-') + std::string(50000, ' '));
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += std::string(static_cast<size_t>(i % 50), ' ') + "- a:\n";
  Run(deep);
  std::printf("%zu corpus inputs and %ld mutations ran without a crash\n", corpus.size(), iterations);
  return 0;
}
