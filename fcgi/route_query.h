/* route_query.h: a route's prepared query as one answer: present, absent (no database or table yet), or failed. */
#ifndef MESHSCOPE_ROUTE_QUERY_H
#define MESHSCOPE_ROUTE_QUERY_H

#include "responder.h"

/* 0 with *st prepared; 1 when the database or the query's table does not exist yet; -1 with *errp. */
static inline int route_query_open(struct responder *r, const struct reader_query *q,
                                   sqlite3_stmt **st, char **errp)
{
    enum reader_presence presence;
    if (reader_db_prepare(&r->reader, q, st, &presence, errp) != 0)
        return -1;
    return presence == READER_PRESENT ? 0 : 1;
}

#endif
