/* fuzz-manifest: the manifest loader and plan builder over arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/manifest.h"
#include "core/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag_list d = {0};
    struct manifest *m = manifest_load_buffer("fuzz.yaml", (const char *)data, size, &d);
    if (m) {
        struct plan *p = plan_build(m);
        cJSON_Delete(plan_to_json(p));
        plan_free(p);
        manifest_free(m);
    }
    diag_sort(&d);
    diag_free(&d);
    return 0;
}
