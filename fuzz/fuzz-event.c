/* fuzz-event: the event line parser over arbitrary bytes, and its round trip back to a line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    cJSON *ev = event_parse_line((const char *)data, size, &err);
    if (!ev) {
        if (!err) /* every rejection must say why */
            abort();
        return 0;
    }
    /* Whatever parsed must serialise to one line that parses to the same event.
     * Escaping can grow a line up to sixfold (a raw control byte becomes
     * \u00XX), so a re-serialised line past the parser's bound is exempt. */
    char *line = event_to_line(ev);
    size_t len = strlen(line);
    if (len == 0 || memchr(line, '\n', len) != line + len - 1)
        abort();
    if (len <= EVENT_LINE_MAX) {
        /* Compare as text: exact, and blind to cJSON_Compare's first-match
         * lookup of repeated keys in nested objects. */
        cJSON *back = event_parse_line(line, len, &err);
        if (!back)
            abort();
        char *again = event_to_line(back);
        if (strcmp(line, again) != 0)
            abort();
        free(again);
        cJSON_Delete(back);
    }
    free(line);
    cJSON_Delete(ev);
    return 0;
}
