/*
 * Starting, watching and stopping the device model under test, and a
 * minimal QMP client.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

void report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int build_argv(struct ctx *c, const char *const *extra,
                      const char **argv, char bufs[][64])
{
    struct sim *s = c->s;
    int n = 0;

    argv[n++] = c->dm_path;
    if (c->kind == DM_QEMU) {
        snprintf(bufs[0], 64, "%u", s->domid);
        snprintf(bufs[1], 64, "%u", s->nr_vcpus);
        snprintf(bufs[2], 64, "%luM", (unsigned long)(s->ram_bytes >> 20));
        const char *fixed[] = {
            "-xen-domid", bufs[0], "-xen-attach", "-smp", bufs[1],
            "-m", bufs[2], "-nodefaults", "-display", "none", "-qmp", NULL,
        };

        argv[n++] = "-M";
        argv[n++] = c->machine;
        if (!strcmp(c->machine, "xenfv")) {
            /*
             * xenpvh's accelerator is Xen already; QEMU 10.2 without
             * patches-upstream refuses any -accel for it.
             */
            argv[n++] = "-accel";
            argv[n++] = "xen";
        }
        for (int i = 0; fixed[i]; i++) {
            argv[n++] = fixed[i];
        }
        snprintf(c->qmp, sizeof(c->qmp), "%s/qmp.sock", c->workdir);
        snprintf(bufs[3], 64, "unix:qmp.sock,server=on,wait=off");
        argv[n++] = bufs[3];
    } else {
        snprintf(bufs[0], 64, "--domid=%u", s->domid);
        snprintf(bufs[1], 64, "--vcpus=%u", s->nr_vcpus);
        argv[n++] = bufs[0];
        argv[n++] = bufs[1];
        if (c->bug) {
            snprintf(bufs[2], 64, "--bug=%s", c->bug);
            argv[n++] = bufs[2];
        }
    }
    for (int i = 0; extra && extra[i] && n < MAX_DM_ARGS - 1; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return n;
}

int dm_start(struct ctx *c, const char *const *extra)
{
    const char *argv[MAX_DM_ARGS];
    char bufs[4][64];
    pid_t parent;
    int fd;

    build_argv(c, extra, argv, bufs);
    snprintf(c->dm_log, sizeof(c->dm_log), "%s/dm.log", c->workdir);
    sim_log(c->s, "harness: starting %s", c->dm_path);
    for (int i = 1; argv[i]; i++) {
        sim_log(c->s, "harness:   arg %s", argv[i]);
    }
    c->exited = false;
    parent = getpid();
    c->pid = fork();
    if (c->pid < 0) {
        return -1;
    }
    if (c->pid == 0) {
        /*
         * A simulator that dies (a crash, a kill) takes its device model
         * with it: left alone, QEMU polls sockets nobody serves, at full
         * CPU, for as long as the machine runs.
         */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
            _exit(125);
        }
        fd = open(c->dm_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(c->workdir) < 0) {
            _exit(126);
        }
        setenv("LD_LIBRARY_PATH", c->libdir, 1);
        setenv(XFV_ENV_SOCKET, c->sock, 1);
        if (c->preload) {
            char preload[600];

            snprintf(preload, sizeof(preload), "%s/%s", c->libdir,
                     c->preload);
            setenv("LD_PRELOAD", preload, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return 0;
}

bool dm_alive(struct ctx *c)
{
    if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
        c->exited = true;
        sim_log(c->s, "harness: device model exited, %s %d",
                WIFEXITED(c->status) ? "status" : "signal",
                WIFEXITED(c->status) ? WEXITSTATUS(c->status)
                                     : WTERMSIG(c->status));
    }
    return !c->exited;
}

static bool ready(struct sim *s)
{
    char path[128], val[32];
    size_t len = sizeof(val) - 1;

    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state",
             s->domid);
    if (xsd_read(s->xs, path, val, &len) || len != 7 ||
        memcmp(val, "running", 7)) {
        return false;
    }
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (s->servers[i].used && s->servers[i].enabled) {
            return true;
        }
    }
    return false;
}

int dm_wait_ready(struct ctx *c, int timeout_ms)
{
    struct timespec dl, now;

    deadline_in(&dl, timeout_ms);
    for (;;) {
        bool ok;

        pthread_mutex_lock(&c->s->lock);
        ok = ready(c->s);
        pthread_mutex_unlock(&c->s->lock);
        if (ok) {
            /* Xen's mapcache invalidation once the domain is set up. */
            if (guest_invalidate(c->s, 0) != 0) {
                report("initial IOREQ_TYPE_INVALIDATE not answered");
                return -1;
            }
            return 0;
        }
        if (!dm_alive(c)) {
            report("device model exited before it was ready (see %s)",
                   c->dm_log);
            return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > dl.tv_sec ||
            (now.tv_sec == dl.tv_sec && now.tv_nsec > dl.tv_nsec)) {
            report("device model not ready after %d ms (see %s)",
                   timeout_ms, c->dm_log);
            return -1;
        }
        usleep(10000);
    }
}

bool dm_wait_exit(struct ctx *c, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        if (!dm_alive(c)) {
            return true;
        }
        usleep(5000);
    }
    return false;
}

void dm_kill(struct ctx *c)
{
    if (c->pid > 0 && dm_alive(c)) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &c->status, 0);
        c->exited = true;
    }
}

int dm_count_mappings(struct ctx *c, const char *name)
{
    char path[64], line[512];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)c->pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        n += strstr(line, name) != NULL;
    }
    fclose(f);
    return n;
}

/* Read until a line holding "return" or "error" arrives. */
static int qmp_read_reply(int fd, char *reply, size_t len)
{
    size_t used = 0;

    for (;;) {
        ssize_t n = read(fd, reply + used, len - used - 1);

        if (n <= 0) {
            return -1;
        }
        used += n;
        reply[used] = '\0';
        if (strstr(reply, "\"return\"")) {
            return 0;
        }
        if (strstr(reply, "\"error\"")) {
            return -1;
        }
        if (used >= len - 1) {
            return -1;
        }
    }
}

int qmp_command(struct ctx *c, const char *json, char *reply, size_t len)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    const char *caps = "{\"execute\":\"qmp_capabilities\"}\n";
    char greeting[4096];
    int fd, r = -1;

    if (strlen(c->qmp) >= sizeof(sa.sun_path)) {
        report("QMP socket path too long: %s", c->qmp);
        return -1;
    }
    strcpy(sa.sun_path, c->qmp);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        report("QMP connect %s: %s", c->qmp, strerror(errno));
        goto out;
    }
    if (read(fd, greeting, sizeof(greeting)) <= 0 ||
        write(fd, caps, strlen(caps)) < 0 ||
        qmp_read_reply(fd, greeting, sizeof(greeting)) < 0 ||
        write(fd, json, strlen(json)) < 0) {
        report("QMP handshake failed");
        goto out;
    }
    r = qmp_read_reply(fd, reply, len);
    if (r < 0) {
        report("QMP %s failed: %s", json, reply);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        return NULL;
    }
    do {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

bool log_has(const char *path, const char *what)
{
    char *text = slurp(path);
    bool found = text && strstr(text, what);

    if (!found) {
        report("%s does not contain \"%s\"", path, what);
    }
    free(text);
    return found;
}
