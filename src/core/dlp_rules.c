/* dlp_rules: the DLP pattern list: the shipped defaults (assets/dlp/default.yaml) plus a manifest's
 * own. */
#include "core/dlp_rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/util.h"

/* A rules file is a few KiB; anything much bigger is a mistake. */
#define RULES_FILE_MAX (4u << 20)

const char *dlp_rules_default_path(void)
{
    static char path[4096];
    const char *dir = getenv("BOTTLE_ASSETS");
    if (!dir || !*dir)
        dir = BOTTLE_ASSETS_DIR;
    snprintf(path, sizeof path, "%s/dlp/default.yaml", dir);
    return path;
}

static void push_rule(struct dlp_rules *r, const char *name, const char *regex)
{
    r->v = xrealloc(r->v, (r->n + 1) * sizeof *r->v);
    r->v[r->n].name = xstrdup(name);
    r->v[r->n].regex = xstrdup(regex);
    r->n++;
}

/* Compile REGEX the way the scanner will, to report PCRE2's own message at
 * load time instead of at first use. Returns 0 or -1 (diag added). */
static int check_regex(struct diag_list *d, const char *file, int line, int col, const char *name,
                       const char *regex)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    if (re) {
        pcre2_code_free(re);
        return 0;
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
        snprintf((char *)msg, sizeof msg, "error %d", ec);
    diag_add(d, DIAG_ERROR, file, line, col,
             "pattern '%s': regex does not compile: %s at offset %zu", name, (const char *)msg,
             (size_t)off);
    return -1;
}

/* The event-driven reader: one parser, the file name for messages, and a
 * failure flag that stops the walk at the first structural error. */
struct rd {
    yaml_parser_t p;
    const char *file;
    struct diag_list *d;
    bool failed;
};

static int next(struct rd *r, yaml_event_t *ev)
{
    /* After an error libyaml "succeeds" with YAML_NO_EVENT forever: stop. */
    if (r->failed)
        return -1;
    if (yaml_parser_parse(&r->p, ev)) {
        if (ev->type != YAML_NO_EVENT)
            return 0;
        yaml_event_delete(ev);
        r->failed = true;
        return -1;
    }
    diag_add(r->d, DIAG_ERROR, r->file, (int)r->p.problem_mark.line + 1,
             (int)r->p.problem_mark.column + 1, "YAML: %s",
             r->p.problem ? r->p.problem : "syntax error");
    r->failed = true;
    return -1;
}

static int line_of(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static int col_of(const yaml_event_t *ev)
{
    return (int)ev->start_mark.column + 1;
}

static const char *kind_name(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return "a scalar";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "nothing";
    }
}

/* Consume the rest of a value that started with EV (already taken). */
static int skip_value(struct rd *r, yaml_event_t *ev)
{
    int depth = (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT);
    while (depth > 0) {
        yaml_event_t e;
        if (next(r, &e) != 0)
            return -1;
        if (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT)
            depth++;
        else if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT)
            depth--;
        yaml_event_delete(&e);
    }
    return 0;
}

/* One {name, regex} item; EV is its MAPPING_START. */
static void read_pattern(struct rd *r, yaml_event_t *start, struct dlp_rules *out)
{
    char *name = NULL, *regex = NULL;
    int rline = 0, rcol = 0;
    bool bad = false;
    for (;;) {
        yaml_event_t k, v;
        if (next(r, &k) != 0)
            break;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            break;
        }
        if (k.type != YAML_SCALAR_EVENT) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&k), col_of(&k),
                     "patterns: expected a key, got %s", kind_name(&k));
            skip_value(r, &k);
            yaml_event_delete(&k);
            bad = true;
            continue;
        }
        const char *key = (const char *)k.data.scalar.value;
        if (next(r, &v) != 0) {
            yaml_event_delete(&k);
            break;
        }
        bool is_name = strcmp(key, "name") == 0, is_regex = strcmp(key, "regex") == 0;
        if (!is_name && !is_regex) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&k), col_of(&k),
                     "patterns: unknown key '%s' (expected name or regex)", key);
            bad = true;
        } else if (v.type != YAML_SCALAR_EVENT) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&v), col_of(&v),
                     "patterns.%s: expected a string, got %s", key, kind_name(&v));
            bad = true;
        } else if ((is_name ? name : regex) != NULL) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&k), col_of(&k),
                     "patterns: duplicate key '%s'", key);
            bad = true;
        } else if (v.data.scalar.length == 0 ||
                   strlen((const char *)v.data.scalar.value) != v.data.scalar.length) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&v), col_of(&v),
                     "patterns.%s: expected a non-empty string without NUL bytes", key);
            bad = true;
        } else if (is_name) {
            name = xstrdup((const char *)v.data.scalar.value);
        } else {
            regex = xstrdup((const char *)v.data.scalar.value);
            rline = line_of(&v);
            rcol = col_of(&v);
        }
        skip_value(r, &v);
        yaml_event_delete(&k);
        yaml_event_delete(&v);
    }
    if (!r->failed && !bad) {
        if (!name || !regex) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(start), col_of(start),
                     "patterns: pattern is missing '%s'", name ? "regex" : "name");
        } else {
            for (size_t i = 0; i < out->n; i++)
                if (strcmp(out->v[i].name, name) == 0) {
                    diag_add(r->d, DIAG_ERROR, r->file, line_of(start), col_of(start),
                             "patterns: duplicate pattern name '%s'", name);
                    bad = true;
                }
            if (!bad && check_regex(r->d, r->file, rline, rcol, name, regex) == 0)
                push_rule(out, name, regex);
        }
    }
    free(name);
    free(regex);
}

static void read_patterns(struct rd *r, struct dlp_rules *out)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return;
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        diag_add(r->d, DIAG_ERROR, r->file, line_of(&ev), col_of(&ev),
                 "patterns: expected a list of {name, regex}, got %s", kind_name(&ev));
        skip_value(r, &ev);
        yaml_event_delete(&ev);
        return;
    }
    yaml_event_delete(&ev);
    while (!r->failed) {
        if (next(r, &ev) != 0)
            return;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return;
        }
        if (ev.type == YAML_MAPPING_START_EVENT) {
            read_pattern(r, &ev, out);
        } else {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&ev), col_of(&ev),
                     "patterns: expected a {name, regex} mapping, got %s", kind_name(&ev));
            skip_value(r, &ev);
        }
        yaml_event_delete(&ev);
    }
}

static void read_document(struct rd *r, struct dlp_rules *out)
{
    yaml_event_t ev;
    bool seen = false;
    for (int depth = 0; !r->failed;) {
        if (next(r, &ev) != 0)
            return;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            depth += t == YAML_DOCUMENT_START_EVENT;
            if (depth > 1 && t == YAML_DOCUMENT_START_EVENT) {
                diag_add(r->d, DIAG_ERROR, r->file, line_of(&ev), col_of(&ev),
                         "expected one YAML document");
                r->failed = true;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (t != YAML_MAPPING_START_EVENT) {
            diag_add(r->d, DIAG_ERROR, r->file, line_of(&ev), col_of(&ev),
                     "expected a mapping with 'patterns', got %s", kind_name(&ev));
            skip_value(r, &ev);
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        for (;;) {
            yaml_event_t k;
            if (next(r, &k) != 0)
                return;
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type == YAML_SCALAR_EVENT &&
                strcmp((const char *)k.data.scalar.value, "patterns") == 0 && !seen) {
                seen = true;
                read_patterns(r, out);
            } else {
                yaml_event_t v;
                diag_add(r->d, DIAG_ERROR, r->file, line_of(&k), col_of(&k),
                         k.type == YAML_SCALAR_EVENT
                             ? (seen && strcmp((const char *)k.data.scalar.value, "patterns") == 0
                                    ? "duplicate key '%s'"
                                    : "unknown key '%s' (expected patterns)")
                             : "expected a key%s",
                         k.type == YAML_SCALAR_EVENT ? (const char *)k.data.scalar.value : "");
                if (k.type != YAML_SCALAR_EVENT)
                    skip_value(r, &k);
                else if (next(r, &v) == 0) {
                    skip_value(r, &v);
                    yaml_event_delete(&v);
                }
            }
            yaml_event_delete(&k);
            if (r->failed)
                return;
        }
    }
    if (!r->failed && !seen)
        diag_add(r->d, DIAG_ERROR, r->file, 0, 0, "missing 'patterns'");
}

int dlp_rules_load_file(struct dlp_rules *out, const char *path, struct diag_list *diags)
{
    size_t len = 0;
    size_t errors = diags->errors;
    char *data = file_read_all(path, RULES_FILE_MAX, &len);
    if (!data) {
        diag_add(diags, DIAG_ERROR, path, 0, 0, "cannot read DLP rules: %m");
        return -1;
    }
    struct rd r = {.file = path, .d = diags};
    struct dlp_rules got = {0};
    yaml_parser_initialize(&r.p);
    yaml_parser_set_input_string(&r.p, (const unsigned char *)data, len);
    read_document(&r, &got);
    yaml_parser_delete(&r.p);
    free(data);
    if (diags->errors != errors) {
        dlp_rules_free(&got);
        return -1;
    }
    for (size_t i = 0; i < got.n; i++) {
        out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = got.v[i];
    }
    free(got.v);
    return 0;
}

int dlp_rules_for_manifest(struct dlp_rules *out, const struct manifest *m, struct diag_list *diags)
{
    struct dlp_rules r = {0};
    if (m->pipelock.dlp_defaults && dlp_rules_load_file(&r, dlp_rules_default_path(), diags) != 0) {
        dlp_rules_free(&r);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < m->pipelock.npatterns; i++) {
        const struct mf_dlp_pattern *p = &m->pipelock.patterns[i];
        const char *file = m->file ? m->file : "manifest";
        if (!p->name || !p->regex ||
            check_regex(diags, file, p->pos.line, p->pos.col, p->name ? p->name : "?",
                        p->regex ? p->regex : "(") != 0) {
            rc = -1;
            continue;
        }
        /* A manifest pattern named like a default replaces it: the way to
         * tune one default without turning all of them off. */
        size_t j;
        for (j = 0; j < r.n && strcmp(r.v[j].name, p->name) != 0; j++)
            ;
        if (j < r.n) {
            free(r.v[j].regex);
            r.v[j].regex = xstrdup(p->regex);
        } else {
            push_rule(&r, p->name, p->regex);
        }
    }
    if (rc != 0) {
        dlp_rules_free(&r);
        return -1;
    }
    *out = r;
    return 0;
}

void dlp_rules_free(struct dlp_rules *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].regex);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}
