"""Where a thread's CPU goes, from `perf script -F tid,ip,sym,dso` output:
each sample is put under the system call it was in (the kernel frame below
do_syscall_64), or under the shared object of its user frame (libc's
malloc and mutex calls apart). Prints a table per thread, biggest first.

usage: perf_breakdown.py SCRIPT_OUTPUT [TID=NAME ...]
"""
import collections
import re
import sys
from typing import Dict, List, Tuple

Frame = Tuple[str, str]


def samples(path: str) -> List[Tuple[str, List[Frame]]]:
    out: List[Tuple[str, List[Frame]]] = []
    tid, frames = None, []  # type: Tuple[None, List[Frame]]
    for line in open(path, errors="replace"):
        if not line.strip():
            if tid is not None:
                out.append((tid, frames))
            tid, frames = None, []
        elif not line.startswith("\t"):
            tid, frames = line.split()[0], []
        else:
            rest = line.strip().split(None, 1)[-1]
            m = re.match(r"(.*) \((.*)\)$", rest)
            frames.append((m.group(1), m.group(2)) if m else (rest, ""))
    if tid is not None:
        out.append((tid, frames))
    return out


def category(frames: List[Frame]) -> str:
    for i, (sym, _) in enumerate(frames):
        if sym == "do_syscall_64" and i > 0:
            name = re.sub(r"^(__x64_sys_|__se_sys_|__do_sys_|ksys_|do_|__)",
                          "", frames[i - 1][0])
            return "syscall " + name
    if not frames:
        return "?"
    sym, dso = frames[0]
    if "kernel" in dso:
        return "kernel, no system call (interrupts, scheduling)"
    base = dso.rsplit("/", 1)[-1]
    if base.startswith("libc"):
        if re.search(r"malloc|free|_int_|unlink_chunk|calloc|realloc", sym):
            return "libc malloc/free"
        if "mutex" in sym or "cond" in sym:
            return "libc mutex"
        return "libc other"
    return re.sub(r"\.so[.\d]*$", "", base)


def main() -> int:
    names: Dict[str, str] = dict(a.split("=", 1) for a in sys.argv[2:])
    by: Dict[str, collections.Counter] = collections.defaultdict(
        collections.Counter)
    for tid, frames in samples(sys.argv[1]):
        by[tid][category(frames)] += 1
    for tid, counts in sorted(by.items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(counts.values())
        print("%s (thread %s): %d samples" % (names.get(tid, "thread"), tid,
                                              total))
        for what, n in counts.most_common(12):
            print("  %5.1f%%  %s" % (100.0 * n / total, what))
    return 0


if __name__ == "__main__":
    sys.exit(main())
