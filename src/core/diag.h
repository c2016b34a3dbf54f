/* diag: a list of file:line:column diagnostics (errors and warnings) collected while loading input.
 */
#ifndef BOTTLE_CORE_DIAG_H
#define BOTTLE_CORE_DIAG_H

#include <stdio.h>
#include <stddef.h>

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag {
    enum diag_level level;
    char *file;
    int line; /* 1-based; 0 when the whole file is meant */
    int col;  /* 1-based */
    char *msg;
};

struct diag_list {
    struct diag *v;
    size_t n;
    size_t errors;
};

void diag_add(struct diag_list *d, enum diag_level level, const char *file, int line, int col,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Sort by line and column (stable), so output follows the file. */
void diag_sort(struct diag_list *d);
/* "file:line:col: error: msg" lines. */
void diag_print(const struct diag_list *d, FILE *out);
void diag_free(struct diag_list *d);

#endif
