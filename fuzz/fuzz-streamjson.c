/* fuzz-streamjson: the stream-json timeline parser over arbitrary lines, and every entry's render
 * at a width the input picks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/streamjson.h"

/* A rendered line must fit its width and hold no control characters. */
static void check_line(const char *s, int width)
{
    if (streamjson_width(s) > width)
        abort();
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the width (1..128) and the glyph set; the rest is the stream. */
    if (size == 0)
        return 0;
    int width = (data[0] & 0x7f) + 1;
    unsigned flags = data[0] & 0x80 ? STREAMJSON_R_ASCII : 0;
    const char *p = (const char *)data + 1;
    const char *end = (const char *)data + size;
    struct streamjson sj;
    streamjson_init(&sj);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct streamjson_list l = {0};
        size_t got = streamjson_feed(&sj, p, n, &l);
        if (got != l.n)
            abort();
        /* Only a blank line may give nothing. */
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
            i++;
        if (got == 0 && i < n)
            abort();
        for (size_t k = 0; k < l.n; k++) {
            if (!l.v[k].text)
                abort();
            struct strv lines = {0};
            size_t nlines = streamjson_render(&l.v[k], width, flags, &lines);
            if (nlines == 0 || nlines != lines.n)
                abort();
            for (size_t j = 0; j < lines.n; j++)
                check_line(lines.v[j], width);
            strv_free(&lines);
        }
        streamjson_list_free(&l);
        p += n + (nl ? 1 : 0);
    }
    return 0;
}
