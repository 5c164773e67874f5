/* control_command.c: parses `status`, `pause`, `resume` and `set` lines; values are checked where they are applied. */
#include "control_command.h"

#include <string.h>

#include "util.h"

/* Splits off the next word of *rest (NUL-terminating it); NULL at the end. */
static char *next_word(char **rest)
{
    char *p = *rest;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0') {
        *rest = p;
        return NULL;
    }
    char *word = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    if (*p != '\0')
        *p++ = '\0';
    *rest = p;
    return word;
}

static char *rest_of_line(char *rest)
{
    while (*rest == ' ' || *rest == '\t')
        rest++;
    size_t len = strlen(rest);
    while (len > 0 && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
        rest[--len] = '\0';
    return len > 0 ? rest : NULL;
}

static int has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return 1;
    return 0;
}

static int parse_words(char *rest, struct control_command *cmd, char **errp)
{
    char *verb = next_word(&rest);
    if (verb == NULL)
        return set_error(errp, "empty command (try: status, pause JOB|all [REASON], resume"
                               " JOB|all, set JOB KEY VALUE)");
    if (strcmp(verb, "status") == 0) {
        cmd->verb = CONTROL_STATUS;
        if (next_word(&rest) != NULL)
            return set_error(errp, "status takes no arguments");
        return 0;
    }
    if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
        cmd->verb = verb[0] == 'p' ? CONTROL_PAUSE : CONTROL_RESUME;
        cmd->job = next_word(&rest);
        if (cmd->job == NULL)
            return set_error(errp, "%s needs a job name or 'all'", verb);
        if (cmd->verb == CONTROL_PAUSE)
            cmd->reason = rest_of_line(rest);
        else if (next_word(&rest) != NULL)
            return set_error(errp, "resume takes one job name or 'all'");
        return 0;
    }
    if (strcmp(verb, "set") == 0) {
        cmd->verb = CONTROL_SET;
        cmd->job = next_word(&rest);
        cmd->key = cmd->job ? next_word(&rest) : NULL;
        if (cmd->key == NULL)
            return set_error(errp, "usage: set JOB KEY VALUE (keys: target-batch-ms, yield-ms,"
                                   " batch-size, adaptive, max-rows-per-sec)");
        cmd->value = next_word(&rest);
        if (next_word(&rest) != NULL)
            return set_error(errp, "set takes one value");
        return 0;
    }
    return set_error(errp, "unknown command '%s' (try: status, pause, resume, set)", verb);
}

int control_command_parse(const char *line, struct control_command *cmd, char **errp)
{
    *cmd = (struct control_command){0};
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > CONTROL_LINE_MAX)
        return set_error(errp, "line too long (over %d bytes)", CONTROL_LINE_MAX);
    cmd->buffer = xmalloc(len + 1);
    memcpy(cmd->buffer, line, len);
    cmd->buffer[len] = '\0';
    int rc = has_control_chars(cmd->buffer)
                 ? set_error(errp, "control characters are not allowed in a command")
                 : parse_words(cmd->buffer, cmd, errp);
    if (rc != 0)
        control_command_free(cmd);
    return rc;
}

void control_command_free(struct control_command *cmd)
{
    free(cmd->buffer);
    *cmd = (struct control_command){0};
}
