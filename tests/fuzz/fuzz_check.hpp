#pragma once
// The fuzz targets' assertion: names the broken property and its line, then aborts, which
// libFuzzer reports as a crash and saves the input. Kept in release builds, unlike assert().
#include <cstdio>
#include <cstdlib>

#define GW_FUZZ_CHECK(condition)                                                              \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)
