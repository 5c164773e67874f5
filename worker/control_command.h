/* control_command.h: one line of the control protocol parsed into a command. */
#ifndef MESHSCOPE_CONTROL_COMMAND_H
#define MESHSCOPE_CONTROL_COMMAND_H

/* Longest command line accepted, without its newline. */
#define CONTROL_LINE_MAX 4096

enum control_verb { CONTROL_STATUS, CONTROL_PAUSE, CONTROL_RESUME, CONTROL_SET };

/* Pointers into the parsed line's own copy; free with control_command_free. */
struct control_command {
    enum control_verb verb;
    char *job;    /* a job name or "all"; NULL for status */
    char *key;    /* set only */
    char *value;  /* set only; NULL for `set JOB adaptive` */
    char *reason; /* pause only; NULL when none given */
    char *buffer;
};

/*
 * Grammar: `status`, `pause JOB|all [REASON...]`, `resume JOB|all`,
 * `set JOB KEY [VALUE]`, words separated by spaces or tabs; a trailing CR is
 * ignored. Refuses an empty line, an unknown verb, missing or extra words,
 * and control characters, each with a message that says what was expected.
 */
int control_command_parse(const char *line, struct control_command *cmd, char **errp);
void control_command_free(struct control_command *cmd);

#endif
