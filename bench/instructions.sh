#!/bin/sh
# make bench-instructions: user-space instructions per request (valgrind's
# callgrind), per thread, for nginx's `return 200`, the module (native
# inline, raw ASGI, Starlette, FastAPI) and uvicorn (httptools, uvloop)
# serving the same apps. Instruction counts do not move with the machine's
# noise, so an A/B of two builds shows a change of a few hundred
# instructions that wall-clock runs cannot; they leave out the kernel
# (system calls, wake-ups), which `make bench` measures.
# Usage: bench/instructions.sh BUILD_DIR; ONLY=REGEX picks rows; CONNS=N
# connections (4; 1 serves one request per loop turn); KEEP=DIR
# keeps each row's callgrind profiles there (callgrind_annotate reads them).
set -eu
. "$(dirname "$0")/common.sh"
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-4}
dir=$(mktemp -d)
vg=""
cleanup() {
    [ -n "$vg" ] && kill "$vg" 2>/dev/null && wait "$vg" 2>/dev/null
    [ -z "${KEEP:-}" ] || cp -r "$dir/logs" "$dir/valgrind.log" "$KEEP/" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs"
port=$((22000 + $$ % 1000 * 2))

counting_conf "$B" "$port" "$HERE/apps" > "$dir/nginx.conf"

# count LABEL URL: warm up, zero the counters, load for DURATION, dump;
# prints LABEL and the instructions per request of each thread
count() {
    wrk -t1 -c"$CONNS" -d1s "$2" > /dev/null
    callgrind_control -z "$vg" > /dev/null 2>&1
    n=$(wrk -t1 -c"$CONNS" -d"$DURATION" "$2" | awk '/requests in/ { print $1 }')
    callgrind_control -d "$1" "$vg" > /dev/null 2>&1
    for f in $(ls "$dir"/cg.out."$vg".* | sort); do
        case $f in *-[0-9][0-9]) ;; *.[0-9]*) ;; *) continue ;; esac
        grep -h '^totals:' "$f"
        if [ -n "${KEEP:-}" ]; then
            mv "$f" "$KEEP/$1.${f##*.}"
        else
            rm -f "$f"
        fi
    done | awk -v l="$1" -v n="$n" '
        { t[NR] = $2 / n; s += $2 / n }
        END {
            printf "  %-22s %8.0f instructions/request", l, s
            if (NR > 1) {
                printf " ("
                for (i = 1; i <= NR; i++)
                    if (t[i] >= 1)
                        printf "%s%.0f", (i > 1 ? " + " : ""), t[i]
                printf ")"
            }
            printf "\n"
        }'
}
want() { [ -z "${ONLY:-}" ] || echo "$1" | grep -Eq "$ONLY"; }

echo "callgrind, wrk -t1 -c$CONNS -d$DURATION; user-space instructions per request" \
     "(module: nginx thread + Python thread):"
valgrind --tool=callgrind --separate-threads=yes --dump-instr=no -q \
    --callgrind-out-file="$dir/cg.out.%p" \
    nginx -p "$dir/" -c nginx.conf > "$dir/valgrind.log" 2>&1 &
vg=$!
for path in /raw/x /star/x /fast/x; do
    await_answer "http://127.0.0.1:$port$path" "$vg" "$dir/valgrind.log"
done
for row in nginx_return_200:/return200 nginx_empty_gif:/empty_gif \
    module_native_inline:/inline/x \
    module_raw:/raw/x module_starlette:/star/x module_fastapi:/fast/x; do
    want "${row%%:*}" && count "${row%%:*}" "http://127.0.0.1:$port${row#*:}"
done
kill "$vg"; wait "$vg" 2>/dev/null || true; vg=""

for row in uvicorn_httptools_raw:hello_raw uvicorn_httptools_starlette:hello_star \
    uvicorn_httptools_fastapi:hello_fastapi; do
    want "${row%%:*}" || continue
    valgrind --tool=callgrind --dump-instr=no -q \
        --callgrind-out-file="$dir/cg.out.%p" \
        "$PY" -m uvicorn --app-dir "$HERE/apps" --loop uvloop \
        --http httptools --no-access-log --log-level warning \
        --port $((port + 1)) "${row#*:}:app" > "$dir/valgrind.log" 2>&1 &
    vg=$!
    await_answer "http://127.0.0.1:$((port + 1))/x" "$vg" "$dir/valgrind.log"
    count "${row%%:*}" "http://127.0.0.1:$((port + 1))/x"
    kill "$vg"; wait "$vg" 2>/dev/null || true; vg=""
done

# The interpreter itself: the same Python loop run by Debian's python3
# (uvicorn's interpreter) and by libpython3.11.so (the module's, as
# embedded), instructions per iteration. Two lengths, so that start-up
# cancels out.
if want interpreter_libpython; then
    cat > "$dir/embed.c" <<'C'
#include <Python.h>
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "r");
    Py_Initialize();
    if (!f || PyRun_SimpleFile(f, argv[1]) != 0)
        return 1;
    return Py_FinalizeEx() < 0;
}
C
    cat > "$dir/loop.py" <<'PY'
def f(a, b=1):
    return a + b
class C:
    def __init__(self, x):
        self.x = x
    def m(self):
        return self.x
d = {}
for i in range(int(open(__file__ + ".n").read())):
    d[i & 1023] = f(i)
    C(i).m()
    s = str(i) + "x"
    l = [d, s, i]
PY
    cc -O2 "$dir/embed.c" -o "$dir/embed" \
        $($PY-config --cflags --embed --ldflags) \
        -Wl,-rpath,"$($PY -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')"
    ir() {
        echo "$2" > "$dir/loop.py.n"
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" \
            "$dir/loop.py" 2>&1 | awk '/refs:/ { gsub(/,/, "", $4); print $4 }'
    }
    s1=$(ir "$PY" 20000) s2=$(ir "$PY" 80000)
    e1=$(ir "$dir/embed" 20000) e2=$(ir "$dir/embed" 80000)
    [ -n "$s1" ] && [ -n "$e1" ] || { echo "the interpreter runs failed"; exit 1; }
    awk -v s=$((s2 - s1)) -v e=$((e2 - e1)) 'BEGIN {
        printf "  %-22s %8.0f instructions/iteration (%s)\n", "python3 (static)", s / 60000, "uvicorn'"'"'s"
        printf "  %-22s %8.0f instructions/iteration, %.2fx\n", "libpython3.11.so", e / 60000, e / s }'
fi
