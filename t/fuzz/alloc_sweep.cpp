// The failed-allocation sweep: every program of the seed corpus
// runs once to count the library's allocations, then once more for each of
// them with that allocation failing. A call that fails with
// ASGICORE_ERR_NOMEM must have changed nothing: it is retried at once
// (allocations succeed again) and must then give what the run without
// failures gave, as must every call after it. Leaks are LeakSanitizer's
// (this is built with ASan), broken promises the interpreter's.
//
//   alloc_sweep FILE...     (ALLOC_SWEEP_VERBOSE=1 prints the results)
#include "program.hpp"

#include <sanitizer/lsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <vector>

namespace {

long allocations = 0;  // the library's, in this run
long fail_at = 0;      // 0: none
bool failed = false;   // the injected failure happened

bool fail_now()
{
    if (!fuzz::in_library)
        return false;
    allocations++;
    if (fail_at && allocations == fail_at) {
        failed = true;
        return true;
    }
    return false;
}

bool retry_after_nomem()
{
    fail_at = 0;  // the retry must succeed
    return true;
}

}  // namespace

// The library allocates with new (std::nothrow for its own objects, the
// throwing form inside std::string and std::vector).
void *operator new(size_t size)
{
    if (fail_now())
        throw std::bad_alloc();
    void *p = std::malloc(size ? size : 1);
    if (!p)
        throw std::bad_alloc();
    return p;
}

void *operator new[](size_t size)
{
    return operator new(size);
}

void *operator new(size_t size, const std::nothrow_t &) noexcept
{
    if (fail_now())
        return nullptr;
    return std::malloc(size ? size : 1);
}

void *operator new[](size_t size, const std::nothrow_t &t) noexcept
{
    return operator new(size, t);
}

void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete[](void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, size_t) noexcept
{
    std::free(p);
}
void operator delete[](void *p, size_t) noexcept
{
    std::free(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    std::free(p);
}

int main(int argc, char **argv)
{
    fuzz::on_nomem = retry_after_nomem;
    long points = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        std::ifstream f(argv[i], std::ios::binary);
        std::vector<uint8_t> program((std::istreambuf_iterator<char>(f)),
                                     std::istreambuf_iterator<char>());
        allocations = fail_at = 0;
        fuzz::Outcome reference = fuzz::run(program.data(), program.size());
        long total = allocations;
        if (!reference.violation.empty()) {
            std::printf("%s: broken promise without failures: %s\n", argv[i],
                        reference.violation.c_str());
            bad++;
            continue;
        }
        for (long n = 1; n <= total; n++) {
            allocations = 0;
            fail_at = n;
            failed = false;
            fuzz::Outcome out = fuzz::run(program.data(), program.size());
            points++;
            const char *why = nullptr;
            if (!out.violation.empty())
                why = out.violation.c_str();
            else if (failed && out.results != reference.results)
                why = "the calls' results differ from the run without "
                      "failures";
            if (__lsan_do_recoverable_leak_check())
                why = "a leak";
            if (why && std::getenv("ALLOC_SWEEP_VERBOSE")) {
                for (int r : reference.results)
                    std::printf("%d ", r);
                std::printf("(without failures)\n");
                for (int r : out.results)
                    std::printf("%d ", r);
                std::printf("(allocation %ld failing)\n", n);
            }
            if (why) {
                size_t k = 0;
                while (k < out.results.size() && k < reference.results.size() &&
                       out.results[k] == reference.results[k])
                    k++;
                std::printf("%s: allocation %ld of %ld failing: %s (call "
                            "%zu: %d instead of %d)\n",
                            argv[i], n, total, why, k,
                            k < out.results.size() ? out.results[k] : 0,
                            k < reference.results.size() ? reference.results[k]
                                                         : 0);
                bad++;
            }
        }
    }
    std::printf("failed-allocation sweep: %ld programs, %ld allocation "
                "points failed one at a time, %ld problems\n",
                (long)argc - 1, points, bad);
    return bad ? 1 : 0;
}
