/* dlp: the compiled DLP scanner: finds secrets in URLs, headers and bodies with PCRE2 behind a
 * literal prefilter. */
#define _GNU_SOURCE /* memmem */
#include "proxy/dlp.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define LIT_MAX 32                   /* longest literal kept per anchor */
#define SET_MAX 16                   /* most alternatives in one literal set */
#define LEN_INF ((size_t)-1)         /* an unbounded length */
#define LEN_CAP ((size_t)1 << 30)    /* lengths past this count as unbounded */
#define DEPTH_MAX 32                 /* group nesting the extractor follows */
#define LOOK_SLACK 256               /* subject bytes past a bounded match (lookaheads, \b) */
#define WINDOW_UNBOUNDED (64u << 10) /* subject bytes an unbounded rule may see per attempt */
#define MATCH_LIMIT 1000000u         /* PCRE2 backtracking budget per attempt */
#define ANCHORS_MAX 65000u           /* fits the 16-bit bucket links */
#define URL_DECODE_ROUNDS 3          /* %25xx double (and triple) encoding */
#define ENCODED_MIN 16               /* shortest base64/hex value worth decoding */

/* ---- literal extraction ---------------------------------------------------
 * From a regex, find a set of literals one of which every match contains, and
 * how far before that literal a match can start (maxback). This only decides
 * where the scanner looks: anything the extractor does not understand makes
 * it give up, and the rule is then searched over the whole input. So the
 * extractor may be incomplete, but must never return a set a match can avoid. */

struct litset {
    size_t n;
    size_t maxback; /* LEN_INF when unbounded */
    unsigned char len[SET_MAX];
    unsigned char lit[SET_MAX][LIT_MAX];
};

struct node {
    size_t minlen, maxlen;
    bool has; /* BEST is valid */
    struct litset best;
};

struct rx {
    const unsigned char *p;
    size_t i, n;
    int depth;
    bool fail;
    bool ci;           /* (?i) somewhere: compare literals case-insensitively */
    size_t look_extra; /* longest lookaround body, added to the window */
};

static size_t len_add(size_t a, size_t b)
{
    if (a == LEN_INF || b == LEN_INF || a + b > LEN_CAP)
        return LEN_INF;
    return a + b;
}

static size_t len_mul(size_t a, size_t q)
{
    if (a == 0 || q == 0)
        return 0;
    if (a == LEN_INF || q == LEN_INF || a > LEN_CAP / q)
        return LEN_INF;
    return a * q;
}

/* Higher is better; -1 means unusable. Long literals are rare in clean text;
 * a start far before the literal costs one PCRE2 attempt per byte. */
static int set_score(const struct litset *s)
{
    if (s->n == 0 || s->maxback == LEN_INF || s->maxback > 4096)
        return -1;
    size_t minlit = LIT_MAX;
    for (size_t i = 0; i < s->n; i++)
        if (s->len[i] < minlit)
            minlit = s->len[i];
    if (minlit < 2)
        return -1;
    return 10 * (int)(minlit > 8 ? 8 : minlit) - (int)(s->maxback / 4) - 2 * (int)(s->n - 1) + 1000;
}

static void consider(struct node *nd, const struct litset *cand)
{
    if (set_score(cand) < 0)
        return;
    if (!nd->has || set_score(cand) > set_score(&nd->best)) {
        nd->best = *cand;
        nd->has = true;
    }
}

static bool is_alnum(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int peek(struct rx *r)
{
    return r->i < r->n ? r->p[r->i] : -1;
}

/* Skip past the next CLOSE at or after r->i; fails when there is none. */
static void skip_to(struct rx *r, unsigned char close)
{
    while (r->i < r->n && r->p[r->i] != close)
        r->i++;
    if (r->i >= r->n)
        r->fail = true;
    else
        r->i++;
}

enum atom_kind { ATOM_LIT, ATOM_OTHER, ATOM_SUB, ATOM_ZW };

struct atom {
    enum atom_kind kind;
    unsigned char c;
    size_t minlen, maxlen;
    struct node sub;
};

static void parse_alt(struct rx *r, struct node *out);

static void parse_class(struct rx *r)
{
    r->i++; /* '[' */
    if (peek(r) == '^')
        r->i++;
    if (peek(r) == ']')
        r->i++;
    while (!r->fail) {
        int c = peek(r);
        if (c < 0) {
            r->fail = true;
        } else if (c == ']') {
            r->i++;
            return;
        } else if (c == '\\') {
            r->i++;
            int e = peek(r);
            if (e < 0 || e == 'Q' || e == 'E') {
                r->fail = true;
                return;
            }
            r->i++;
            if ((e == 'x' || e == 'o' || e == 'p' || e == 'P') && peek(r) == '{')
                skip_to(r, '}');
        } else if (c == '[' && r->i + 1 < r->n && r->p[r->i + 1] == ':') {
            r->i += 2;
            while (r->i + 1 < r->n && !(r->p[r->i] == ':' && r->p[r->i + 1] == ']'))
                r->i++;
            if (r->i + 1 >= r->n)
                r->fail = true;
            else
                r->i += 2;
        } else {
            r->i++;
        }
    }
}

static void parse_escape(struct rx *r, struct atom *a)
{
    r->i++; /* '\\' */
    int e = peek(r);
    if (e < 0) {
        r->fail = true;
        return;
    }
    r->i++;
    a->kind = ATOM_OTHER;
    a->minlen = a->maxlen = 1;
    if (!is_alnum((unsigned)e)) {
        if (e < 0x80) {
            a->kind = ATOM_LIT;
            a->c = (unsigned char)e;
        }
        return;
    }
    switch (e) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 's':
    case 'S':
    case 'h':
    case 'H':
    case 'v':
    case 'V':
    case 'N':
    case 'C':
        return;
    case 'R':
        a->maxlen = 2;
        return;
    case 'X':
        a->maxlen = LEN_INF;
        return;
    case 'b':
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
    case 'K':
        a->kind = ATOM_ZW;
        a->minlen = a->maxlen = 0;
        return;
    case 'n':
    case 't':
    case 'r':
    case 'f':
    case 'e':
    case 'a':
        a->kind = ATOM_LIT;
        a->c = e == 'n'   ? '\n'
               : e == 't' ? '\t'
               : e == 'r' ? '\r'
               : e == 'f' ? '\f'
               : e == 'e' ? 0x1b
                          : 0x07;
        return;
    case 'x':
        if (peek(r) == '{') {
            skip_to(r, '}');
        } else {
            for (int k = 0; k < 2 && peek(r) >= 0 && strchr("0123456789abcdefABCDEF", peek(r)); k++)
                r->i++;
        }
        return;
    case 'o':
        if (peek(r) != '{')
            r->fail = true;
        else
            skip_to(r, '}');
        return;
    case 'p':
    case 'P':
        if (peek(r) == '{')
            skip_to(r, '}');
        else if (peek(r) < 0)
            r->fail = true;
        else
            r->i++;
        return;
    case 'c':
        if (peek(r) < 0)
            r->fail = true;
        else
            r->i++;
        return;
    case '0':
        for (int k = 0; k < 2 && peek(r) >= '0' && peek(r) <= '7'; k++)
            r->i++;
        return;
    default: /* back references, \g, \k, \Q..\E and the rest: give up */
        r->fail = true;
        return;
    }
}

static void parse_group(struct rx *r, struct atom *a)
{
    bool look = false;
    r->i++; /* '(' */
    if (peek(r) == '*') {
        r->fail = true;
        return;
    }
    if (peek(r) == '?') {
        r->i++;
        int c = peek(r);
        if (c == '#') {
            skip_to(r, ')');
            a->kind = ATOM_ZW;
            return;
        } else if (c == ':' || c == '>' || c == '|') {
            r->i++;
        } else if (c == '=' || c == '!') {
            r->i++;
            look = true;
        } else if (c == '<' && r->i + 1 < r->n &&
                   (r->p[r->i + 1] == '=' || r->p[r->i + 1] == '!')) {
            r->i += 2;
            look = true;
        } else if (c == '<' || c == '\'') {
            skip_to(r, c == '<' ? '>' : '\'');
        } else if (c == 'P' && r->i + 1 < r->n && r->p[r->i + 1] == '<') {
            r->i++;
            skip_to(r, '>');
        } else {
            /* Option settings: (?i) (?s-i) (?i: ...). 'x' changes how the
             * pattern reads (whitespace ignored): give up on it. */
            bool neg = false;
            for (;;) {
                c = peek(r);
                if (c == 'i' && !neg)
                    r->ci = true;
                if (c == 'x' || c < 0) {
                    r->fail = true;
                    return;
                }
                if (c == '-')
                    neg = true;
                if (c == ')' || c == ':')
                    break;
                if (!strchr("imnsJU^", c) && c != '-') {
                    r->fail = true;
                    return;
                }
                r->i++;
            }
            r->i++;
            if (c == ')') {
                a->kind = ATOM_ZW;
                return;
            }
        }
    } else {
        r->i++;
    }
    if (r->fail)
        return;
    if (++r->depth > DEPTH_MAX) {
        r->fail = true;
        return;
    }
    parse_alt(r, &a->sub);
    r->depth--;
    if (peek(r) != ')') {
        r->fail = true;
        return;
    }
    r->i++;
    if (look) {
        /* Zero-width: it consumes nothing, but the subject must reach past it. */
        if (a->sub.maxlen > r->look_extra)
            r->look_extra = a->sub.maxlen;
        a->kind = ATOM_ZW;
        a->minlen = a->maxlen = 0;
        return;
    }
    a->kind = ATOM_SUB;
    a->minlen = a->sub.minlen;
    a->maxlen = a->sub.maxlen;
}

static void parse_atom(struct rx *r, struct atom *a)
{
    memset(a, 0, sizeof *a);
    a->kind = ATOM_OTHER;
    a->minlen = a->maxlen = 1;
    int c = peek(r);
    switch (c) {
    case '\\':
        parse_escape(r, a);
        return;
    case '[':
        parse_class(r);
        return;
    case '(':
        parse_group(r, a);
        return;
    case '.':
        r->i++;
        return;
    case '^':
    case '$':
        r->i++;
        a->kind = ATOM_ZW;
        a->minlen = a->maxlen = 0;
        return;
    case '*':
    case '+':
    case '?':
    case '{':
        r->fail = true;
        return;
    default:
        r->i++;
        if (c < 0x80) {
            a->kind = ATOM_LIT;
            a->c = (unsigned char)c;
        }
        return;
    }
}

static bool parse_num(struct rx *r, size_t *out)
{
    size_t v = 0;
    bool any = false;
    while (peek(r) >= '0' && peek(r) <= '9') {
        v = v * 10 + (size_t)(peek(r) - '0');
        if (v > 65535)
            v = 65535;
        r->i++;
        any = true;
    }
    *out = v;
    return any;
}

/* Returns whether a quantifier followed; *QMIN, *QMAX its bounds. */
static bool parse_quant(struct rx *r, size_t *qmin, size_t *qmax)
{
    int c = peek(r);
    *qmin = *qmax = 1;
    if (c == '?' || c == '*' || c == '+') {
        r->i++;
        *qmin = c == '+';
        *qmax = c == '?' ? 1 : LEN_INF;
    } else if (c == '{') {
        r->i++;
        if (!parse_num(r, qmin)) {
            r->fail = true; /* "{,n}" or a literal brace: give up */
            return false;
        }
        *qmax = *qmin;
        if (peek(r) == ',') {
            r->i++;
            if (!parse_num(r, qmax))
                *qmax = LEN_INF;
        }
        if (peek(r) != '}') {
            r->fail = true;
            return false;
        }
        r->i++;
    } else {
        return false;
    }
    if (peek(r) == '?' || peek(r) == '+')
        r->i++; /* lazy or possessive: the same lengths */
    return true;
}

static void flush_run(struct node *out, unsigned char *run, size_t *runlen, size_t maxback)
{
    if (*runlen >= 2) {
        struct litset s = {.n = 1, .maxback = maxback};
        s.len[0] = (unsigned char)*runlen;
        memcpy(s.lit[0], run, *runlen);
        consider(out, &s);
    }
    *runlen = 0;
}

static void parse_seq(struct rx *r, struct node *out)
{
    unsigned char run[LIT_MAX];
    size_t runlen = 0, run_maxback = 0;
    memset(out, 0, sizeof *out);
    while (!r->fail && peek(r) >= 0 && peek(r) != '|' && peek(r) != ')') {
        struct atom a;
        size_t qmin, qmax;
        parse_atom(r, &a);
        if (r->fail)
            return;
        bool quant = parse_quant(r, &qmin, &qmax);
        if (r->fail)
            return;
        if (a.kind == ATOM_LIT && !quant) {
            if (runlen == LIT_MAX)
                flush_run(out, run, &runlen, run_maxback);
            if (runlen == 0)
                run_maxback = out->maxlen;
            run[runlen++] = a.c;
        } else {
            flush_run(out, run, &runlen, run_maxback);
            if (a.kind == ATOM_SUB && qmin >= 1 && a.sub.has) {
                struct litset s = a.sub.best;
                s.maxback = len_add(out->maxlen, s.maxback);
                consider(out, &s);
            }
        }
        out->minlen = len_add(out->minlen, len_mul(a.minlen, qmin));
        out->maxlen = len_add(out->maxlen, len_mul(a.maxlen, qmax));
    }
    flush_run(out, run, &runlen, run_maxback);
}

static void parse_alt(struct rx *r, struct node *out)
{
    parse_seq(r, out);
    if (r->fail || peek(r) != '|')
        return;
    bool all = out->has;
    while (!r->fail && peek(r) == '|') {
        struct node alt;
        r->i++;
        parse_seq(r, &alt);
        if (r->fail)
            return;
        if (alt.minlen < out->minlen)
            out->minlen = alt.minlen;
        if (alt.maxlen == LEN_INF || alt.maxlen > out->maxlen)
            out->maxlen = alt.maxlen;
        if (!all || !alt.has || out->best.n + alt.best.n > SET_MAX) {
            all = false;
            continue;
        }
        for (size_t k = 0; k < alt.best.n; k++) {
            out->best.len[out->best.n] = alt.best.len[k];
            memcpy(out->best.lit[out->best.n], alt.best.lit[k], LIT_MAX);
            out->best.n++;
        }
        if (alt.best.maxback > out->best.maxback)
            out->best.maxback = alt.best.maxback;
    }
    /* Every alternative must contribute, or a match could avoid them all. */
    out->has = all && set_score(&out->best) >= 0;
}

/* ---- the scanner ---------------------------------------------------------- */

struct crule {
    char *name;
    pcre2_code *re;      /* unanchored: whole-input search when there is no literal */
    pcre2_code *re_anch; /* PCRE2_ANCHORED: the attempts near a literal */
    bool prefiltered;
    size_t maxback; /* how far before its literal a match may start */
    size_t window;  /* subject bytes an attempt may see from its start */
    /* Cheap rejections before calling PCRE2 (a call costs ~50 ns, and short
     * literals like "NT" or "token" occur in clean text): the bytes a match
     * can start with (PCRE2's own start bitmap), and the bytes a leading
     * (?<![...]) forbids just before the start. */
    uint8_t start_ok[32];
    uint8_t before_bad[32];
};

/* One literal in one 2-byte bucket: at byte offset K of the literal sits
 * the pair the bucket is keyed by. */
struct anchor {
    unsigned char lit[LIT_MAX];
    uint8_t len;
    uint8_t k;
    bool ci;
    uint16_t next; /* 1-based index of the next anchor in the bucket, 0 ends */
    uint32_t rule;
};

struct dlp {
    struct crule *rules;
    size_t n;
    size_t nprefiltered;
    struct anchor *anchors;
    size_t nanchors;
    pcre2_match_context *mctx;
    uint64_t bitmap[65536 / 64]; /* pairs that start some anchor's key */
    uint16_t head[65536];        /* 1-based first anchor per pair */
};

/* Rough frequency of a byte in text, JSON and code: the pair with the lowest
 * product is the one least often seen, so the one to key the filter on. */
static unsigned byte_rank(unsigned char c)
{
    static const char order[] = "etaoinsrhldcumfpgwybvkxjqz";
    if (c >= 'a' && c <= 'z')
        return 40 - (unsigned)(strchr(order, c) - order);
    if (c >= 'A' && c <= 'Z')
        return 8;
    if (c >= '0' && c <= '9')
        return 10;
    switch (c) {
    case ' ':
        return 45;
    case '"':
        return 30;
    case ',':
    case ':':
    case '.':
    case '\n':
        return 16;
    case '/':
    case '-':
    case '_':
    case '=':
        return 10;
    default:
        return 6;
    }
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static unsigned char upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

static unsigned char other_case(unsigned char c)
{
    return lower(c) == c ? upper(c) : lower(c);
}

static unsigned pair_cost(unsigned char a, unsigned char b, bool ci)
{
    if (!ci)
        return byte_rank(a) * byte_rank(b);
    return (byte_rank(lower(a)) + byte_rank(upper(a))) *
           (byte_rank(lower(b)) + byte_rank(upper(b)));
}

static int add_anchor(struct dlp *d, const unsigned char *lit, size_t len, bool ci, uint32_t rule)
{
    size_t best = 0;
    unsigned cost = ~0u;
    for (size_t k = 0; k + 1 < len; k++) {
        unsigned c = pair_cost(lit[k], lit[k + 1], ci);
        if (c < cost) {
            cost = c;
            best = k;
        }
    }
    /* Case-insensitive literals key every case spelling of their pair. */
    unsigned char a0[2] = {lit[best], ci ? other_case(lit[best]) : lit[best]};
    unsigned char a1[2] = {lit[best + 1], ci ? other_case(lit[best + 1]) : lit[best + 1]};
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            if ((i && a0[1] == a0[0]) || (j && a1[1] == a1[0]))
                continue;
            if (d->nanchors >= ANCHORS_MAX)
                return -1;
            unsigned v = a0[i] | (unsigned)a1[j] << 8;
            struct anchor *an = &d->anchors[d->nanchors];
            memset(an, 0, sizeof *an);
            memcpy(an->lit, lit, len);
            an->len = (uint8_t)len;
            an->k = (uint8_t)best;
            an->ci = ci;
            an->rule = rule;
            an->next = d->head[v];
            d->head[v] = (uint16_t)++d->nanchors;
            d->bitmap[v >> 6] |= (uint64_t)1 << (v & 63);
        }
    }
    return 0;
}

static bool bit_get(const uint8_t *set, unsigned char c)
{
    return set[c >> 3] >> (c & 7) & 1;
}

static void bit_set(uint8_t *set, unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

/* A regex that opens with "(?<![...])": the class as a byte set. Only plain
 * members, ranges, \d, \w and escaped punctuation are understood; anything
 * else returns false and the check is simply not made. */
static bool leading_lookbehind(const char *re, uint8_t *set)
{
    const unsigned char *p = (const unsigned char *)re;
    if (strncmp(re, "(?<![", 5) != 0)
        return false;
    p += 5;
    if (*p == '^' || *p == ']')
        return false;
    memset(set, 0, 32);
    while (*p && *p != ']') {
        unsigned lo = *p;
        if (*p == '\\') {
            p++;
            if (*p == 'd' || *p == 'w') {
                for (unsigned c = '0'; c <= '9'; c++)
                    bit_set(set, c);
                if (*p == 'w') {
                    for (unsigned c = 'a'; c <= 'z'; c++) {
                        bit_set(set, c);
                        bit_set(set, c - 32);
                    }
                    bit_set(set, '_');
                }
                p++;
                continue;
            }
            if (!*p || is_alnum(*p) || *p >= 0x80)
                return false;
            lo = *p;
        } else if (*p == '[' || *p >= 0x80) {
            return false;
        }
        p++;
        if (*p == '-' && p[1] && p[1] != ']') {
            unsigned hi = p[1];
            if (hi == '\\' || hi == '[' || hi >= 0x80 || hi < lo)
                return false;
            for (unsigned c = lo; c <= hi; c++)
                bit_set(set, c);
            p += 2;
        } else {
            bit_set(set, lo);
        }
    }
    return p[0] == ']' && p[1] == ')';
}

/* Bytes a match of RE can start with, from PCRE2's analysis; all when unknown. */
static void start_bytes(const pcre2_code *re, uint8_t *set)
{
    const uint8_t *bm = NULL;
    uint32_t type = 0, unit = 0;
    memset(set, 0xff, 32);
    if (pcre2_pattern_info(re, PCRE2_INFO_FIRSTBITMAP, &bm) == 0 && bm) {
        memcpy(set, bm, 32);
    } else if (pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 && type == 1 &&
               pcre2_pattern_info(re, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 && unit < 256) {
        /* Both cases: PCRE2 does not say whether the unit is caseless. */
        memset(set, 0, 32);
        bit_set(set, unit);
        bit_set(set, other_case((unsigned char)unit));
    }
}

static char *compile_error(const char *name, int ec, size_t off)
{
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
        snprintf((char *)msg, sizeof msg, "error %d", ec);
    return xasprintf("pattern '%s': regex does not compile: %s at offset %zu", name,
                     (const char *)msg, off);
}

struct dlp *dlp_new(const struct dlp_rules *rules, char **err)
{
    struct dlp *d = xcalloc(1, sizeof *d);
    size_t cap_anchors = rules->n * SET_MAX * 4;
    if (err)
        *err = NULL;
    d->rules = xcalloc(rules->n ? rules->n : 1, sizeof *d->rules);
    d->anchors = xcalloc(cap_anchors ? cap_anchors : 1, sizeof *d->anchors);
    d->mctx = pcre2_match_context_create(NULL);
    if (!d->mctx)
        goto error;
    pcre2_set_match_limit(d->mctx, MATCH_LIMIT);
    for (size_t i = 0; i < rules->n; i++) {
        const struct dlp_rule *src = &rules->v[i];
        struct crule *cr = &d->rules[d->n++];
        int ec;
        PCRE2_SIZE off;
        cr->name = xstrdup(src->name);
        cr->re = pcre2_compile((PCRE2_SPTR)src->regex, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
        if (!cr->re) {
            if (err)
                *err = compile_error(src->name, ec, off);
            goto error;
        }
        struct rx r = {.p = (const unsigned char *)src->regex, .n = strlen(src->regex)};
        struct node top;
        parse_alt(&r, &top);
        if (r.fail || r.i != r.n || !top.has) {
            /* No literal to key on: whole-input search; JIT it, it runs a lot. */
            pcre2_jit_compile(cr->re, PCRE2_JIT_COMPLETE); /* failure: interpreter */
            continue;
        }
        cr->re_anch = pcre2_compile((PCRE2_SPTR)src->regex, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED,
                                    &ec, &off, NULL);
        if (!cr->re_anch) {
            if (err)
                *err = compile_error(src->name, ec, off);
            goto error;
        }
        pcre2_jit_compile(cr->re_anch, PCRE2_JIT_COMPLETE);
        start_bytes(cr->re, cr->start_ok);
        if (!leading_lookbehind(src->regex, cr->before_bad))
            memset(cr->before_bad, 0, sizeof cr->before_bad);
        size_t total = len_add(top.maxlen, r.look_extra);
        cr->maxback = top.best.maxback;
        cr->window =
            total == LEN_INF || total > WINDOW_UNBOUNDED ? WINDOW_UNBOUNDED : total + LOOK_SLACK;
        size_t mark = d->nanchors;
        bool ok = true;
        for (size_t k = 0; k < top.best.n && ok; k++)
            ok = add_anchor(d, top.best.lit[k], top.best.len[k], r.ci, (uint32_t)i) == 0;
        if (!ok) { /* out of anchor slots: cannot happen with the cap above */
            d->nanchors = mark;
            pcre2_jit_compile(cr->re, PCRE2_JIT_COMPLETE);
            continue;
        }
        cr->prefiltered = true;
        d->nprefiltered++;
    }
    return d;
error:
    dlp_free(d);
    return NULL;
}

void dlp_free(struct dlp *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->rules[i].name);
        pcre2_code_free(d->rules[i].re);
        pcre2_code_free(d->rules[i].re_anch);
    }
    pcre2_match_context_free(d->mctx);
    free(d->rules);
    free(d->anchors);
    free(d);
}

size_t dlp_count(const struct dlp *d)
{
    return d->n;
}

size_t dlp_count_prefiltered(const struct dlp *d)
{
    return d->nprefiltered;
}

/* Per-call state, so one scanner serves many threads. NEXT_START[r] is the
 * first start position rule r has not been tried at: literals close to
 * each other never retry the same start. Clean input never reaches PCRE2,
 * so the match data is made at the first attempt and NEXT_START is cleared
 * only when an attempt dirtied it: a header scan then allocates nothing. */
struct scratch {
    pcre2_match_data *md;
    size_t *next_start; /* NULL until a rule is first tried */
    size_t small[256];
    bool dirty; /* NEXT_START holds something */
    bool limit_hit;
    size_t lit_from; /* a literal found at or past this offset sets LIT_SEEN */
    bool lit_seen;
};

static void scratch_init(const struct dlp *d, struct scratch *s)
{
    (void)d;
    s->md = NULL;
    s->next_start = NULL;
    s->dirty = false;
    s->limit_hit = false;
    s->lit_from = SIZE_MAX;
    s->lit_seen = false;
}

static size_t *scratch_next_start(const struct dlp *d, struct scratch *s)
{
    if (!s->next_start) {
        if (d->n <= ARRAY_SIZE(s->small)) {
            s->next_start = s->small;
            memset(s->small, 0, d->n * sizeof(size_t));
        } else {
            s->next_start = xcalloc(d->n, sizeof(size_t));
        }
    }
    return s->next_start;
}

static pcre2_match_data *scratch_md(struct scratch *s)
{
    if (!s->md) {
        s->md = pcre2_match_data_create(1, NULL);
        if (!s->md) {
            fprintf(stderr, "dlp: out of memory\n");
            abort();
        }
    }
    return s->md;
}

static void scratch_free(struct scratch *s)
{
    pcre2_match_data_free(s->md); /* NULL is fine */
    if (s->next_start != s->small)
        free(s->next_start); /* NULL is fine */
}

static int report(const struct dlp *d, struct scratch *s, size_t rule, const char *where,
                  struct dlp_match *m)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    m->rule = d->rules[rule].name;
    m->where = where;
    m->offset = ov[0];
    m->length = ov[1] >= ov[0] ? ov[1] - ov[0] : 0;
    return 1;
}

static void note_error(struct scratch *s, int rc)
{
    if (rc != PCRE2_ERROR_NOMATCH)
        s->limit_hit = true; /* match/depth/JIT-stack limits: pathological input */
}

static bool lit_eq(const unsigned char *p, const struct anchor *a)
{
    /* Inline loops: literals are short, and a libc call per candidate shows. */
    if (!a->ci) {
        for (size_t i = 0; i < a->len; i++)
            if (p[i] != a->lit[i])
                return false;
        return true;
    }
    for (size_t i = 0; i < a->len; i++)
        if (lower(p[i]) != lower(a->lit[i]))
            return false;
    return true;
}

/* Run rule RI at the starts from which a match could contain the literal at POS. */
static int try_rule(const struct dlp *d, struct scratch *s, size_t ri, const unsigned char *p,
                    size_t len, size_t pos, const char *where, struct dlp_match *m)
{
    const struct crule *cr = &d->rules[ri];
    size_t *next_start = scratch_next_start(d, s);
    size_t lo = pos > cr->maxback ? pos - cr->maxback : 0;
    if (lo < next_start[ri])
        lo = next_start[ri];
    s->dirty = true;
    for (size_t st = lo; st <= pos; st++) {
        if (!bit_get(cr->start_ok, p[st]) || (st > 0 && bit_get(cr->before_bad, p[st - 1])))
            continue;
        size_t end = cr->window < len - st ? st + cr->window : len;
        int rc = pcre2_match(cr->re_anch, p, end, st, 0, scratch_md(s), d->mctx);
        if (rc >= 0)
            return report(d, s, ri, where, m);
        note_error(s, rc);
    }
    if (pos + 1 > next_start[ri])
        next_start[ri] = pos + 1;
    return 0;
}

static int scan_core(const struct dlp *d, struct scratch *s, const char *data, size_t len,
                     const char *where, struct dlp_match *m)
{
    const unsigned char *p = (const unsigned char *)data;
    if (s->dirty) {
        memset(s->next_start, 0, d->n * sizeof(size_t));
        s->dirty = false;
    }
    if (len >= 2 && d->nanchors) {
        const uint64_t *bm = d->bitmap;
        size_t i = 0;
#define PAIR_HIT(j)                                                                                \
    ((bm[(p[i + (j)] | (unsigned)p[i + (j) + 1] << 8) >> 6] >> (p[i + (j)] & 63)) & 1)
        /* Eight positions per turn, one branch: clean text rarely hits. */
        for (;;) {
            while (i + 9 <= len && !(PAIR_HIT(0) | PAIR_HIT(1) | PAIR_HIT(2) | PAIR_HIT(3) |
                                     PAIR_HIT(4) | PAIR_HIT(5) | PAIR_HIT(6) | PAIR_HIT(7)))
                i += 8;
            size_t stop = i + 8 < len - 1 ? i + 8 : len - 1;
            for (; i < stop; i++) {
                if (!PAIR_HIT(0))
                    continue;
                unsigned v = p[i] | (unsigned)p[i + 1] << 8;
                for (unsigned e = d->head[v]; e; e = d->anchors[e - 1].next) {
                    const struct anchor *a = &d->anchors[e - 1];
                    if (i < a->k)
                        continue;
                    size_t pos = i - a->k;
                    if (a->len > len - pos || !lit_eq(p + pos, a))
                        continue;
                    if (pos >= s->lit_from)
                        s->lit_seen = true;
                    if (try_rule(d, s, a->rule, p, len, pos, where, m))
                        return 1;
                }
            }
            if (i >= len - 1)
                break;
        }
#undef PAIR_HIT
    }
    for (size_t ri = 0; d->nprefiltered < d->n && ri < d->n; ri++) {
        if (d->rules[ri].prefiltered)
            continue;
        int rc = pcre2_match(d->rules[ri].re, p, len, 0, 0, scratch_md(s), d->mctx);
        if (rc >= 0)
            return report(d, s, ri, where, m);
        note_error(s, rc);
    }
    return 0;
}

int dlp_scan(const struct dlp *d, const char *data, size_t len, struct dlp_match *m)
{
    struct scratch s;
    scratch_init(d, &s);
    int rc = scan_core(d, &s, data, len, "data", m);
    if (rc == 0 && s.limit_hit)
        rc = DLP_ERR_LIMIT;
    scratch_free(&s);
    return rc;
}

/* ---- decoded views of a URL ----------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode IN into OUT (room for N bytes); PLUS turns '+' into ' '
 * (query values). Returns the decoded length. */
static size_t pct_decode(const char *in, size_t n, char *out, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int h, l;
        if (c == '%' && i + 2 < n && (h = hexval((unsigned char)in[i + 1])) >= 0 &&
            (l = hexval((unsigned char)in[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = plus && c == '+' ? ' ' : (char)c;
        }
    }
    return o;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode IN as base64 or base64url (padding optional) into OUT. Returns the
 * decoded length, or -1 when IN is not such a value. */
static long b64_decode(const char *in, size_t n, char *out)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n < ENCODED_MIN || n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

static long hex_decode(const char *in, size_t n, char *out)
{
    if (n < ENCODED_MIN || n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int h = hexval((unsigned char)in[i]), l = hexval((unsigned char)in[i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i / 2] = (char)(h << 4 | l);
    }
    return (long)(n / 2);
}

/* Scan a component's base64 and hex readings. TMP has room for N bytes. */
static int scan_encoded(const struct dlp *d, struct scratch *s, const char *v, size_t n, char *tmp,
                        const char *b64_where, const char *hex_where, size_t offset, size_t enclen,
                        struct dlp_match *m)
{
    long k = b64_decode(v, n, tmp);
    if (k > 0 && scan_core(d, s, tmp, (size_t)k, b64_where, m))
        goto hit;
    k = hex_decode(v, n, tmp);
    if (k > 0 && scan_core(d, s, tmp, (size_t)k, hex_where, m))
        goto hit;
    return 0;
hit:
    m->offset = offset;
    m->length = enclen;
    return 1;
}

static int scan_url_views(const struct dlp *d, struct scratch *s, const char *url, size_t len,
                          char *b1, char *b2, struct dlp_match *m)
{
    if (scan_core(d, s, url, len, "url", m))
        return 1;
    /* The whole URL decoded, again while it keeps changing (%2541 -> %41 -> A). */
    const char *cur = url;
    size_t curlen = len;
    for (int round = 0; round < URL_DECODE_ROUNDS && memchr(cur, '%', curlen); round++) {
        char *dst = cur == b1 ? b2 : b1;
        size_t n = pct_decode(cur, curlen, dst, false);
        if (n == curlen && memcmp(dst, cur, n) == 0)
            break;
        if (scan_core(d, s, dst, n, "url-decoded", m)) {
            m->offset = 0;
            m->length = len;
            return 1;
        }
        cur = dst;
        curlen = n;
    }
    size_t qend = len;
    const char *hash = memchr(url, '#', len);
    if (hash)
        qend = (size_t)(hash - url);
    const char *q = memchr(url, '?', qend);
    size_t pend = q ? (size_t)(q - url) : qend;
    /* Query values, each alone and decoded, then their encoded readings. */
    for (size_t i = q ? pend + 1 : qend; i < qend;) {
        size_t j = i;
        while (j < qend && url[j] != '&' && url[j] != ';')
            j++;
        const char *eq = memchr(url + i, '=', j - i);
        size_t vs = eq ? (size_t)(eq - url) + 1 : i;
        if (j > vs) {
            size_t n = pct_decode(url + vs, j - vs, b1, true);
            if (scan_core(d, s, b1, n, "query-value", m)) {
                m->offset = vs;
                m->length = j - vs;
                return 1;
            }
            if (scan_encoded(d, s, b1, n, b2, "query-base64", "query-hex", vs, j - vs, m))
                return 1;
        }
        i = j + 1;
    }
    /* Path segments: their encoded readings (plain ones were in the URL). */
    size_t ps = 0;
    const char *sep = len >= 3 ? memmem(url, pend, "://", 3) : NULL;
    if (sep) {
        ps = (size_t)(sep - url) + 3;
        while (ps < pend && url[ps] != '/')
            ps++;
    }
    for (size_t i = ps; i < pend;) {
        size_t j = i + 1;
        while (j < pend && url[j] != '/')
            j++;
        size_t a = url[i] == '/' ? i + 1 : i;
        if (j > a) {
            size_t n = pct_decode(url + a, j - a, b1, false);
            if (scan_encoded(d, s, b1, n, b2, "path-base64", "path-hex", a, j - a, m))
                return 1;
        }
        i = j;
    }
    return 0;
}

int dlp_scan_url(const struct dlp *d, const char *url, size_t len, struct dlp_match *m)
{
    struct scratch s;
    char small1[1024], small2[1024]; /* most URLs: no allocation */
    char *b1 = len < sizeof small1 ? small1 : xmalloc(len + 1);
    char *b2 = len < sizeof small2 ? small2 : xmalloc(len + 1);
    scratch_init(d, &s);
    int rc = scan_url_views(d, &s, url, len, b1, b2, m);
    if (rc == 0 && s.limit_hit)
        rc = DLP_ERR_LIMIT;
    scratch_free(&s);
    if (b1 != small1)
        free(b1);
    if (b2 != small2)
        free(b2);
    return rc;
}

int dlp_scan_header(const struct dlp *d, const char *name, size_t name_len, const char *value,
                    size_t value_len, struct dlp_match *m)
{
    struct scratch s;
    /* Headers are short: their copies live on the stack. */
    char line_small[512], tmp_small[512];
    size_t line_len = name_len + 2 + value_len + 1;
    char *line = line_len <= sizeof line_small ? line_small : xmalloc(line_len);
    char *tmp = value_len + 1 <= sizeof tmp_small ? tmp_small : xmalloc(value_len + 1);
    int rc = 0;
    memcpy(line, name, name_len);
    memcpy(line + name_len, ": ", 2);
    memcpy(line + name_len + 2, value, value_len);
    scratch_init(d, &s);
    /* VALUE alone is scanned for the rules its context in the line hides
     * (anchors, lookbehinds). Its literals are the line's past the name, so
     * when the line scan met none there and every rule is prefiltered, no
     * rule can even be tried on it: that scan is known clean, and skipped. */
    s.lit_from = name_len + 2;
    if (scan_core(d, &s, line, name_len + 2 + value_len, "header", m)) {
        m->offset = m->offset >= name_len + 2 ? m->offset - name_len - 2 : 0;
        rc = 1;
    } else if ((s.lit_seen || d->nprefiltered < d->n) &&
               scan_core(d, &s, value, value_len, "header", m)) {
        rc = 1;
    } else {
        /* "Basic dXNlcjpnaHBf..." and bare base64 values: their decoded form. */
        size_t vs = 0;
        while (vs < value_len && value[vs] != ' ')
            vs++;
        vs = vs < value_len ? vs + 1 : 0;
        long k = b64_decode(value + vs, value_len - vs, tmp);
        if (k > 0 && scan_core(d, &s, tmp, (size_t)k, "header-base64", m)) {
            m->offset = vs;
            m->length = value_len - vs;
            rc = 1;
        }
    }
    if (rc == 0 && s.limit_hit)
        rc = DLP_ERR_LIMIT;
    scratch_free(&s);
    if (line != line_small)
        free(line);
    if (tmp != tmp_small)
        free(tmp);
    return rc;
}

char *dlp_redact_url(const char *url)
{
    size_t sl = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    bool scheme = sl > 0 && strncmp(url + sl, "://", 3) == 0;
    const char *auth = scheme ? url + sl + 3 : url;
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@') /* userinfo may itself be the secret */
            host = auth + i + 1;
    size_t hlen = (size_t)(auth + alen - host);
    if (scheme)
        return xasprintf("%.*s://%.*s", (int)sl, url, (int)hlen, host);
    return xstrndup(host, hlen);
}

void dlp_body_init(struct dlp_body *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit ? limit : DLP_BODY_LIMIT_DEFAULT;
}

int dlp_body_append(struct dlp_body *b, const void *data, size_t len)
{
    size_t room = b->limit - b->len;
    size_t take = len < room ? len : room;
    if (take) {
        if (b->len + take > b->cap) {
            size_t cap = b->cap ? b->cap : 16384;
            while (cap < b->len + take)
                cap *= 2;
            if (cap > b->limit)
                cap = b->limit;
            b->data = xrealloc(b->data, cap);
            b->cap = cap;
        }
        memcpy(b->data + b->len, data, take);
        b->len += take;
    }
    if (take < len)
        b->overflow = true;
    return b->overflow ? -1 : 0;
}

void dlp_body_free(struct dlp_body *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
