/* backend: picks the vtable for a manifest's backend. */
#include "backend/backend.h"

const struct backend_ops *backend_for(enum backend_kind k)
{
    switch (k) {
    case BACKEND_LOCAL:
        return &backend_local;
    case BACKEND_DOCKER:
        return &backend_docker;
    case BACKEND_SMOLVM:
        return &backend_smolvm;
    default:
        return NULL;
    }
}
