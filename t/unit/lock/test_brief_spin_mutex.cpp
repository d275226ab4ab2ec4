// The context's lock (lib/brief_spin_mutex.hpp), below the public header:
// mutual exclusion under contention, waiters that outlast the brief retry
// and sleep, and that every sleeper is woken. Built plain and with TSan
// (which reports a missing acquire or release as a race on the counter).
// A lost wake-up hangs: the alarm fails the test instead.
#include "brief_spin_mutex.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

// after the C++ headers: cmocka defines fail()
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
}

using asgicore::BriefSpinMutex;

namespace {

// Many threads, short holds: the counter, written only under the lock,
// ends exact.
void contended_increments_are_exact(void **)
{
    BriefSpinMutex mu;
    long counter = 0;
    constexpr int kThreads = 4;
    constexpr int kRounds = 100000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++)
        threads.emplace_back([&] {
            for (int i = 0; i < kRounds; i++) {
                std::lock_guard<BriefSpinMutex> g(mu);
                long seen = counter;
                if (i % 64 == 0)
                    std::this_thread::yield();  // others arrive meanwhile
                counter = seen + 1;
            }
        });
    for (auto &th : threads)
        th.join();
    assert_int_equal(counter, static_cast<long>(kThreads) * kRounds);
}

// Holds far longer than the retry: the waiters sleep, and every one is
// woken as the lock passes along; none enters while it is held.
void sleepers_are_all_woken(void **)
{
    BriefSpinMutex mu;
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> entered{0};
    constexpr int kThreads = 3;
    constexpr int kRounds = 40;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++)
        threads.emplace_back([&] {
            for (int i = 0; i < kRounds; i++) {
                mu.lock();
                if (inside.fetch_add(1) != 0)
                    overlaps++;
                entered++;
                std::this_thread::sleep_for(std::chrono::microseconds(300));
                inside.fetch_sub(1);
                mu.unlock();
            }
        });
    for (auto &th : threads)
        th.join();
    assert_int_equal(overlaps.load(), 0);
    assert_int_equal(entered.load(), kThreads * kRounds);
}

// One holder, one waiter that must sleep: it enters only after the
// release, and try_lock fails while the lock is held.
void a_sleeping_waiter_enters_after_the_release(void **)
{
    BriefSpinMutex mu;
    std::atomic<bool> released{false};
    std::atomic<bool> entered_early{false};
    std::atomic<bool> entered{false};
    mu.lock();
    assert_false(mu.try_lock());
    std::thread waiter([&] {
        mu.lock();
        entered_early = !released.load();
        entered = true;
        mu.unlock();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    assert_false(entered.load());
    released = true;
    mu.unlock();
    waiter.join();
    assert_true(entered.load());
    assert_false(entered_early.load());
    assert_true(mu.try_lock());
    mu.unlock();
}

// Two waiters asleep behind one holder: the release wakes one, and that
// one's release must wake the other (it took the lock still marked as
// slept on). A lost wake-up leaves the second asleep: the alarm.
void two_sleepers_behind_one_release_both_enter(void **)
{
    for (int round = 0; round < 20; round++) {
        BriefSpinMutex mu;
        std::atomic<int> entered{0};
        mu.lock();
        auto wait_and_enter = [&] {
            mu.lock();
            entered++;
            mu.unlock();
        };
        std::thread w1(wait_and_enter), w2(wait_and_enter);
        // long past the brief retry: both sleep
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        mu.unlock();
        w1.join();
        w2.join();
        assert_int_equal(entered.load(), 2);
    }
}

}  // namespace

int main(void)
{
    alarm(120);  // a lost wake-up hangs: SIGALRM ends the run, failed
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contended_increments_are_exact),
        cmocka_unit_test(sleepers_are_all_woken),
        cmocka_unit_test(a_sleeping_waiter_enters_after_the_release),
        cmocka_unit_test(two_sleepers_behind_one_release_both_enter),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
