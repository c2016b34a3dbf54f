/* util: small allocation, string and bounded-buffer helpers shared by every module. */
#ifndef BOTTLE_CORE_UTIL_H
#define BOTTLE_CORE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that aborts on out-of-memory: the callers cannot do better. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A growable byte buffer with a hard ceiling (curl's rule: past max is an
 * error, not a realloc). max == 0 means unbounded. Always NUL-terminated. */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};
void buf_init(struct buf *b, size_t max);
/* Returns 0, or -1 when the append would pass b->max (nothing appended). */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n); /* drop n bytes from the front */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* A slice: a pointer and a length, not owned. */
struct slice {
    const char *ptr;
    size_t len;
};

/* A list of owned strings. */
struct strv {
    char **v;
    size_t n;
};
void strv_push(struct strv *s, const char *str); /* copies str */
void strv_push_own(struct strv *s, char *str);   /* takes str */
void strv_free(struct strv *s);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* ASCII case-insensitive equality. */
bool str_ieq(const char *a, const char *b);

/* Resolve PATH the way a manifest means it: `~` and `~/x` against $HOME,
 * relative paths against BASE_DIR. Returns a new string. */
char *path_resolve(const char *base_dir, const char *path);
/* Directory part of PATH (new string; "." when there is none). */
char *path_dirname(const char *path);
/* mkdir -p with MODE for each created component. Returns 0 or -errno. */
int mkdir_p(const char *path, unsigned mode);
/* Read a whole file (up to max bytes). Returns a NUL-terminated buffer or NULL (errno set). */
char *file_read_all(const char *path, size_t max, size_t *len_out);

/* RFC 3339 UTC timestamp with milliseconds into out (at least 32 bytes). */
void time_rfc3339_ms(char *out, size_t outlen);
/* Monotonic milliseconds. */
uint64_t time_mono_ms(void);

#endif
