/* route_perf_migrations.c: GET /api/perf/async-migrations, the migration info array alone. */
#include <stdlib.h>

#include "encode.h"
#include "migrations.h"
#include "router.h"

static void perf_migrations(struct responder *r, const struct http_request *req,
                            struct http_response *resp)
{
    (void)req;
    struct migration_set *set = NULL;
    char *err = NULL;
    if (migrations_get(r, &set, &err) != 0) {
        http_response_error(resp, 500, err);
        free(err);
        return;
    }
    /* No database or no table yet means no migration has been registered: [] rather than an error. */
    int running = 0;
    http_response_json(resp, 200, migrations_to_json(r, set, &running));
    migration_set_release(set);
}

const struct route route_perf_migrations_entry = {
    .path = "/api/perf/async-migrations",
    .handler = perf_migrations,
};
