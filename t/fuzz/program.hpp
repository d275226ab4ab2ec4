// A byte string read as a program of host and app events over a few
// scopes, run against libasgicore through its public header, with the
// library's promises checked after every step. Shared by the
// libFuzzer target and the failed-allocation sweep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fuzz {

// What a run saw: the result of every library call, in order, and the
// first broken promise ("" when none).
struct Outcome {
    std::vector<int> results;
    std::string violation;
    size_t steps = 0;
};

// Set around every library call: the failed-allocation build counts (and
// fails) only the library's own allocations.
extern thread_local int in_library;

// Hook for the failed-allocation sweep: called with each NOMEM result;
// returns whether the call should be retried (injection then disabled).
using NomemHook = bool (*)();
extern NomemHook on_nomem;

// Runs one program. Never aborts: a broken promise is returned.
Outcome run(const uint8_t *data, size_t size);

}  // namespace fuzz
