/* diag: a list of file:line:column diagnostics (errors and warnings) collected while loading input.
 */
#include "core/diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "core/util.h"

void diag_add(struct diag_list *d, enum diag_level level, const char *file, int line, int col,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    d->v = xrealloc(d->v, (d->n + 1) * sizeof *d->v);
    d->v[d->n++] = (struct diag){level, xstrdup(file ? file : "-"), line, col, msg};
    if (level == DIAG_ERROR)
        d->errors++;
}

void diag_sort(struct diag_list *d)
{
    /* Insertion sort: stable, and diagnostic lists are short. */
    for (size_t i = 1; i < d->n; i++) {
        struct diag x = d->v[i];
        size_t j = i;
        while (j > 0 && (d->v[j - 1].line > x.line ||
                         (d->v[j - 1].line == x.line && d->v[j - 1].col > x.col))) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = x;
    }
}

void diag_print(const struct diag_list *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct diag *g = &d->v[i];
        const char *lvl = g->level == DIAG_ERROR ? "error" : "warning";
        if (g->line > 0)
            fprintf(out, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col, lvl, g->msg);
        else
            fprintf(out, "%s: %s: %s\n", g->file, lvl, g->msg);
    }
}

void diag_free(struct diag_list *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    d->v = NULL;
    d->n = d->errors = 0;
}
