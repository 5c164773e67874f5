/* observer_metrics.h: the per-observer series of /api/metrics. */
#ifndef MESHSCOPE_OBSERVER_METRICS_H
#define MESHSCOPE_OBSERVER_METRICS_H

#include <stdio.h>

#include "responder.h"

/* Writes the series for observers heard in the last 7 days; a read error is logged and adds none. */
void observer_metrics_write(FILE *out, struct responder *r);

#endif
