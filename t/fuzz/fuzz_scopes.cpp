// libFuzzer target: every input is a program (program.hpp) run against the
// library built with ASan and UBSan; a broken promise aborts with its name.
#include "program.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz::Outcome out = fuzz::run(data, size);
    if (!out.violation.empty()) {
        std::fprintf(stderr, "broken promise: %s (after %zu steps)\n",
                     out.violation.c_str(), out.steps);
        std::abort();
    }
    return 0;
}
