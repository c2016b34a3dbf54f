/* manifest_edit: small in-place edits of a manifest file that keep the operator's comments and
 * layout: adding a host to pipelock.allow. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "core/diag.h"
#include "core/manifest.h"
#include "core/util.h"

#define EDIT_MAX_FILE (1024 * 1024)
#define EDIT_MAX_DEPTH 64

/* Where things are, as byte offsets into the text (-1: not seen). */
struct spots {
    bool root_flow;
    long pipelock_value; /* start of pipelock's value node */
    bool pipelock_map, pipelock_flow;
    long pipelock_first_key; /* start of the first key in it */
    long allow_value;        /* start of allow's value node */
    bool allow_seq, allow_flow;
    long allow_end; /* flow: the ']' */
    long last_item_start, last_item_end;
    size_t nitems;
};

struct frame {
    bool map, expect_key;
    char key[16];
    int role; /* 0 other, 1 the root, 2 pipelock's map, 3 allow's sequence */
};

/* libyaml marks count characters; edits need bytes. */
static long byte_offset(const char *text, size_t len, const yaml_mark_t *mk)
{
    size_t i = 0, line = 0;
    while (line < mk->line && i < len) {
        if (text[i++] == '\n')
            line++;
    }
    for (size_t col = 0; col < mk->column && i < len && text[i] != '\n'; col++) {
        i++;
        while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
    }
    return (long)i;
}

static long line_start(const char *text, long off)
{
    while (off > 0 && text[off - 1] != '\n')
        off--;
    return off;
}

/* Walk the event stream once and note the spots an edit needs. */
static int find_spots(const char *text, size_t len, struct spots *sp, char **err)
{
    memset(sp, 0, sizeof *sp);
    sp->pipelock_value = sp->pipelock_first_key = sp->allow_value = sp->allow_end = -1;
    sp->last_item_start = sp->last_item_end = -1;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    struct frame st[EDIT_MAX_DEPTH];
    int depth = 0, rc = 0;
    for (bool done = false; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            *err = xasprintf("line %zu: %s", p.problem_mark.line + 1,
                             p.problem ? p.problem : "YAML error");
            rc = -1;
            break;
        }
        struct frame *top = depth ? &st[depth - 1] : NULL;
        /* The node this event starts is a value under TOP's key (role of the new node). */
        int role = 0;
        bool is_value = top && top->map && !top->expect_key;
        if (is_value && top->role == 1 && strcmp(top->key, "pipelock") == 0)
            role = 2;
        if (is_value && top->role == 2 && strcmp(top->key, "allow") == 0)
            role = 3;
        long start = byte_offset(text, len, &ev.start_mark);
        long end = byte_offset(text, len, &ev.end_mark);
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            bool map = ev.type == YAML_MAPPING_START_EVENT;
            bool flow = map ? ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                            : ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
            if (depth == EDIT_MAX_DEPTH) {
                *err = xstrdup("nested too deeply");
                rc = -1;
                done = true;
                break;
            }
            if (depth == 0) {
                role = 1;
                sp->root_flow = flow;
            }
            if (role == 2) {
                sp->pipelock_value = start;
                sp->pipelock_map = map;
                sp->pipelock_flow = flow;
            }
            if (role == 3) {
                sp->allow_value = start;
                sp->allow_seq = !map;
                sp->allow_flow = flow;
            }
            if (top && top->role == 3) {
                sp->nitems++;
                sp->last_item_start = start;
            }
            st[depth++] = (struct frame){.map = map, .expect_key = true, .role = role};
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (top && top->role == 3 && sp->allow_flow)
                sp->allow_end = start;
            depth--;
            if (depth > 0 && st[depth - 1].role == 3)
                sp->last_item_end = end;
            if (depth > 0 && st[depth - 1].map)
                st[depth - 1].expect_key = true;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (!top)
                break;
            if (top->map && top->expect_key) {
                const char *k =
                    ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.value : "";
                snprintf(top->key, sizeof top->key, "%s", k);
                top->expect_key = false;
                if (top->role == 2 && sp->pipelock_first_key < 0)
                    sp->pipelock_first_key = start;
                break;
            }
            if (role == 2)
                sp->pipelock_value = start;
            if (role == 3)
                sp->allow_value = start;
            if (top->role == 3) {
                sp->nitems++;
                sp->last_item_start = start;
                sp->last_item_end = end;
            }
            if (top->map)
                top->expect_key = true;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* The text with HOST added, or NULL with *ERR. */
static char *edit_text(const char *text, size_t len, const char *host, char **err)
{
    struct spots sp;
    if (find_spots(text, len, &sp, err) != 0)
        return NULL;
    /* '*' starts an alias in YAML: quote wildcard patterns. */
    char *item = host[0] == '*' ? xasprintf("\"%s\"", host) : xstrdup(host);
    struct buf out;
    buf_init(&out, EDIT_MAX_FILE * 2);
    long at = -1;
    char *ins = NULL;
    if (sp.allow_value >= 0) {
        if (!sp.allow_seq) {
            *err = xstrdup("pipelock.allow is not a list");
        } else if (sp.allow_flow) {
            at = sp.allow_end;
            if (at < 0 || text[at] != ']')
                *err = xstrdup("cannot find the end of pipelock.allow's [...] list");
            else
                ins = xasprintf("%s%s", sp.nitems ? ", " : "", item);
        } else {
            /* A block list: a new "- host" line like the last item's, after its line. */
            long ls = line_start(text, sp.last_item_start);
            const char *pre = text + ls;
            size_t plen = (size_t)(sp.last_item_start - ls);
            size_t k = strspn(pre, " ");
            if (sp.last_item_start < 0 || k >= plen || pre[k] != '-' ||
                strspn(pre + k + 1, " ") != plen - k - 1) {
                *err = xstrdup("pipelock.allow's layout is unusual; add the host by hand");
            } else {
                const char *nl =
                    memchr(text + sp.last_item_end, '\n', len - (size_t)sp.last_item_end);
                at = nl ? (long)(nl - text) + 1 : (long)len;
                ins = xasprintf("%s%.*s%s\n", nl ? "" : "\n", (int)plen, pre, item);
            }
        }
    } else if (sp.pipelock_value >= 0) {
        if (!sp.pipelock_map) {
            *err = xstrdup("pipelock is not a mapping");
        } else if (sp.pipelock_flow) {
            at = sp.pipelock_value + 1; /* after the '{' */
            ins = xasprintf("allow: [%s]%s", item, sp.pipelock_first_key >= 0 ? ", " : "");
        } else {
            long ls = line_start(text, sp.pipelock_first_key);
            at = ls;
            ins =
                xasprintf("%.*sallow: [%s]\n", (int)(sp.pipelock_first_key - ls), text + ls, item);
        }
    } else if (sp.root_flow) {
        *err = xstrdup("the manifest is one flow mapping; add pipelock.allow by hand");
    } else {
        at = (long)len;
        ins = xasprintf("%spipelock:\n  allow: [%s]\n", len && text[len - 1] != '\n' ? "\n" : "",
                        item);
    }
    free(item);
    if (!ins) {
        buf_free(&out);
        return NULL;
    }
    buf_append(&out, text, (size_t)at);
    buf_append(&out, ins, strlen(ins));
    buf_append(&out, text + at, len - (size_t)at);
    buf_append(&out, "", 1);
    free(ins);
    return out.p;
}

static bool has_allow(const struct manifest *m, const char *host)
{
    for (size_t i = 0; i < m->pipelock.allow.n; i++)
        if (str_ieq(m->pipelock.allow.v[i], host))
            return true;
    return false;
}

int manifest_add_allow(const char *path, const char *host, char **err)
{
    *err = NULL;
    if (!manifest_host_pattern_ok(host)) {
        *err = xasprintf("'%s' is not a host pattern", host);
        return -1;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len;
    char *text = file_read_all(real, EDIT_MAX_FILE, &len);
    if (!text) {
        *err = xasprintf("%s: cannot read: %s", real, strerror(errno));
        return -1;
    }
    struct diag_list d = {0};
    struct manifest *m = manifest_load_buffer(real, text, len, &d);
    diag_free(&d);
    if (!m) {
        *err = xasprintf("%s does not load now; fix it first (bottle-tui check)", real);
        free(text);
        return -1;
    }
    bool present = has_allow(m, host);
    manifest_free(m);
    if (present) {
        free(text);
        return 0;
    }
    char *why = NULL;
    char *edited = edit_text(text, len, host, &why);
    free(text);
    if (!edited) {
        *err = xasprintf("%s: %s", real, why);
        free(why);
        return -1;
    }
    /* The edit must load and say what was meant. */
    m = manifest_load_buffer(real, edited, strlen(edited), &d);
    bool ok = m && has_allow(m, host);
    manifest_free(m);
    diag_free(&d);
    if (!ok) {
        *err = xasprintf("%s: the edited manifest would not load; add %s by hand", real, host);
        free(edited);
        return -1;
    }
    struct stat sb;
    mode_t mode = stat(real, &sb) == 0 ? sb.st_mode & 07777 : 0644;
    char *tmp = xasprintf("%s.bottle-edit.XXXXXX", real);
    int fd = mkstemp(tmp);
    int rc = -1;
    if (fd >= 0) {
        size_t n = strlen(edited), off = 0;
        while (off < n) {
            ssize_t w = write(fd, edited + off, n - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off == n && fchmod(fd, mode) == 0 && fsync(fd) == 0 && close(fd) == 0) {
            fd = -1;
            rc = rename(tmp, real);
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc != 0) {
        *err = xasprintf("%s: cannot write: %s", real, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(edited);
    return rc;
}
