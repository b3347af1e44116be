/*
 * The simulator's small xenstore: a flat list of nodes keyed by path,
 * watches that fire on a node, its ancestors' watches and, for removal,
 * watches below it; special "@" paths fire only exactly.  Every watch
 * fires once when it is set, as xenstored does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "sim.h"

#define MAX_NODES   1024
#define MAX_WATCHES 64
#define MAX_VALUE   4096

struct node {
    char *path;
    char *val;
    size_t len;
    char perms[64];
};

struct watch {
    int client;                 /* -1: free */
    char *path, *token;
    bool relative;
};

struct xs_store {
    struct node nodes[MAX_NODES];
    int nr_nodes;
    struct watch watches[MAX_WATCHES];
};

static struct node *find(struct xs_store *x, const char *path)
{
    for (int i = 0; i < x->nr_nodes; i++) {
        if (!strcmp(x->nodes[i].path, path)) {
            return &x->nodes[i];
        }
    }
    return NULL;
}

static bool valid_path(const char *path)
{
    size_t l = strlen(path);

    return path[0] == '/' && (l == 1 || path[l - 1] != '/') &&
           !strstr(path, "//");
}

/* Is child strictly below parent? */
static bool below(const char *parent, const char *child)
{
    size_t l = strlen(parent);

    if (!strcmp(parent, "/")) {
        return child[0] == '/' && child[1];
    }
    return !strncmp(parent, child, l) && child[l] == '/';
}

static struct node *create(struct xs_store *x, const char *path)
{
    struct node *n = find(x, path);
    char *parent;
    char *slash;

    if (n) {
        return n;
    }
    parent = strdup(path);
    slash = strrchr(parent, '/');
    if (slash != parent) {
        *slash = '\0';
        if (!create(x, parent)) {
            free(parent);
            return NULL;
        }
    }
    free(parent);
    if (x->nr_nodes == MAX_NODES) {
        return NULL;
    }
    n = &x->nodes[x->nr_nodes++];
    *n = (struct node) { .path = strdup(path), .val = strdup("") };
    return n;
}

static void seed(struct xs_store *x, const char *path, const char *val)
{
    struct node *n = create(x, path);

    free(n->val);
    n->val = strdup(val);
    n->len = strlen(val);
}

struct xs_store *xsd_new(void)
{
    struct xs_store *x = calloc(1, sizeof(*x));

    if (!x) {
        return NULL;
    }
    for (int i = 0; i < MAX_WATCHES; i++) {
        x->watches[i].client = -1;
    }
    create(x, "/");
    seed(x, "/local/domain/0/name", "Domain-0");
    seed(x, "/local/domain/0/domid", "0");
    return x;
}

int xsd_read(struct xs_store *x, const char *path, char *buf, size_t *len)
{
    struct node *n = find(x, path);

    if (!n) {
        return ENOENT;
    }
    if (n->len > *len) {
        return E2BIG;
    }
    memcpy(buf, n->val, n->len);
    *len = n->len;
    return 0;
}

static void send_event(struct sim *s, struct watch *w, const char *path)
{
    struct client *c = &s->clients[w->client];
    size_t home = strlen(XS_DOM0_HOME);
    char msg[1024];
    int n;

    /* A watch set with a relative path reports relative paths. */
    if (w->relative && !strncmp(path, XS_DOM0_HOME "/", home + 1)) {
        path += home + 1;
    }
    n = snprintf(msg, sizeof(msg), "%s%c%s", path, 0, w->token);

    if (n < 0 || (size_t)n + 1 > sizeof(msg)) {
        return;
    }
    if (send(c->watchfd, msg, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        sim_log(s, "sim: watch event %s lost: %s", path, strerror(errno));
    }
}

static bool matches(const char *watch, const char *path, bool recursive)
{
    if (watch[0] == '@' || path[0] == '@') {
        return !strcmp(watch, path);
    }
    return !strcmp(watch, path) || below(watch, path) ||
           (recursive && below(path, watch));
}

static void fire(struct sim *s, const char *path, bool recursive)
{
    for (int i = 0; i < MAX_WATCHES; i++) {
        struct watch *w = &s->xs->watches[i];

        if (w->client >= 0 && matches(w->path, path, recursive)) {
            sim_log(s, "sim: watch event %s (token %s) to pid %d", path,
                    w->token, s->clients[w->client].pid);
            send_event(s, w, path);
        }
    }
}

void xsd_fire(struct sim *s, const char *path)
{
    fire(s, path, false);
}

int xsd_write(struct sim *s, const char *path, const void *val, size_t len)
{
    struct node *n;

    if (!valid_path(path)) {
        return EINVAL;
    }
    if (len > MAX_VALUE) {
        return E2BIG;
    }
    n = create(s->xs, path);
    if (!n) {
        return ENOSPC;
    }
    free(n->val);
    n->val = malloc(len + 1);
    memcpy(n->val, val, len);
    n->val[len] = '\0';
    n->len = len;
    fire(s, path, false);
    return 0;
}

int xsd_mkdir(struct sim *s, const char *path)
{
    if (!valid_path(path)) {
        return EINVAL;
    }
    if (find(s->xs, path)) {
        return 0;
    }
    if (!create(s->xs, path)) {
        return ENOSPC;
    }
    fire(s, path, false);
    return 0;
}

int xsd_rm(struct sim *s, const char *path)
{
    struct xs_store *x = s->xs;
    char *parent;
    bool parent_exists;

    if (!valid_path(path) || !strcmp(path, "/")) {
        return EINVAL;
    }
    if (!find(x, path)) {
        /* Removing a missing child of an existing node succeeds. */
        parent = strdup(path);
        *strrchr(parent, '/') = '\0';
        parent_exists = !*parent || find(x, parent);
        free(parent);
        return parent_exists ? 0 : ENOENT;
    }
    for (int i = 0; i < x->nr_nodes;) {
        struct node *n = &x->nodes[i];

        if (!strcmp(n->path, path) || below(path, n->path)) {
            free(n->path);
            free(n->val);
            *n = x->nodes[--x->nr_nodes];
        } else {
            i++;
        }
    }
    fire(s, path, true);
    return 0;
}

int xsd_directory(struct xs_store *x, const char *path, char *buf,
                  size_t *len)
{
    size_t used = 0, pl = strcmp(path, "/") ? strlen(path) : 0;

    if (!find(x, path)) {
        return ENOENT;
    }
    for (int i = 0; i < x->nr_nodes; i++) {
        const char *p = x->nodes[i].path;
        size_t l;

        if (!below(path, p) || strchr(p + pl + 1, '/')) {
            continue;
        }
        l = strlen(p + pl + 1) + 1;
        if (used + l > *len) {
            return E2BIG;
        }
        memcpy(buf + used, p + pl + 1, l);
        used += l;
    }
    *len = used;
    return 0;
}

int xsd_set_perms(struct xs_store *x, const char *path, const void *perms,
                  size_t len)
{
    struct node *n = find(x, path);

    if (!n) {
        return ENOENT;
    }
    memcpy(n->perms, perms, len < sizeof(n->perms) ? len : sizeof(n->perms));
    return 0;
}

int xsd_watch(struct sim *s, int client, const char *path,
              const char *token, bool relative)
{
    struct xs_store *x = s->xs;

    if (path[0] != '@' && !valid_path(path)) {
        return EINVAL;
    }
    for (int i = 0; i < MAX_WATCHES; i++) {
        struct watch *w = &x->watches[i];

        if (w->client == client && !strcmp(w->path, path) &&
            !strcmp(w->token, token)) {
            return EEXIST;
        }
    }
    for (int i = 0; i < MAX_WATCHES; i++) {
        struct watch *w = &x->watches[i];

        if (w->client < 0) {
            *w = (struct watch) {
                .client = client, .path = strdup(path),
                .token = strdup(token), .relative = relative,
            };
            send_event(s, w, path);
            return 0;
        }
    }
    return E2BIG;
}

static void free_watch(struct watch *w)
{
    free(w->path);
    free(w->token);
    w->client = -1;
}

int xsd_unwatch(struct xs_store *x, int client, const char *path,
                const char *token)
{
    for (int i = 0; i < MAX_WATCHES; i++) {
        struct watch *w = &x->watches[i];

        if (w->client == client && !strcmp(w->path, path) &&
            !strcmp(w->token, token)) {
            free_watch(w);
            return 0;
        }
    }
    return ENOENT;
}

bool xsd_watched(struct xs_store *x, const char *path)
{
    for (int i = 0; i < MAX_WATCHES; i++) {
        if (x->watches[i].client >= 0 && !strcmp(x->watches[i].path, path)) {
            return true;
        }
    }
    return false;
}

void xsd_drop_client(struct xs_store *x, int client)
{
    for (int i = 0; i < MAX_WATCHES; i++) {
        if (x->watches[i].client == client) {
            free_watch(&x->watches[i]);
        }
    }
}
