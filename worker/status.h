/* status.h: `meshscope-worker status`, the operators' view of the migrations from the database file. */
#ifndef MESHSCOPE_STATUS_H
#define MESHSCOPE_STATUS_H

/* `meshscope-worker status --db PATH [--json]`; returns the exit code. */
int status_main(int argc, char **argv);

#endif
