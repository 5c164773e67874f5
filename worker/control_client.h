/* control_client.h: `meshscope-worker ctl`, the operators' client of the control socket. */
#ifndef MESHSCOPE_CONTROL_CLIENT_H
#define MESHSCOPE_CONTROL_CLIENT_H

/* Where ctl and the worker's --control-socket meet when neither is told (MESHSCOPE_CONTROL_SOCKET overrides). */
#define CONTROL_DEFAULT_SOCKET "/run/meshscope/worker/control.sock"

/* `meshscope-worker ctl [--socket PATH] [--json] COMMAND...`; exit 0 accepted, 1 refused, 2 usage or no connection. */
int control_client_main(int argc, char **argv);

#endif
