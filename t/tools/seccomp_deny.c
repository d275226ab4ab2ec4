/*
 * seccomp_deny kill|eperm COMMAND [ARG...]: runs COMMAND with
 * sched_setscheduler and sched_setattr denied by a seccomp filter, the
 * process killed (as systemd's SystemCallFilter=~@resources does) or the
 * call refused with EPERM (as a container's profile may). For t/python.t:
 * the runtime's scheduling policy must cost nothing where it is denied.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    unsigned int deny;

    if (argc < 3) {
        fprintf(stderr, "usage: seccomp_deny kill|eperm COMMAND [ARG...]\n");
        return 2;
    }
    deny = strcmp(argv[1], "kill") == 0
               ? SECCOMP_RET_KILL_PROCESS
               : SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);

    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sched_setscheduler, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sched_setattr, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, deny),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    {
        perror("seccomp_deny");
        return 1;
    }
    execvp(argv[2], argv + 2);
    perror("seccomp_deny: exec");
    return 127;
}
