/*
 * Stand-in libxentoollog.so.1: a stdio logger with the public
 * xentoollog_logger interface.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <xentoollog.h>

struct xentoollog_logger_stdiostream {
    xentoollog_logger vtable;
    FILE *f;
    xentoollog_level min_level;
    unsigned flags;
};

static const char *const level_names[] = {
    [XTL_NONE] = "none", [XTL_DEBUG] = "debug", [XTL_VERBOSE] = "verbose",
    [XTL_DETAIL] = "detail", [XTL_PROGRESS] = "progress",
    [XTL_INFO] = "info", [XTL_NOTICE] = "notice", [XTL_WARN] = "warning",
    [XTL_ERROR] = "error", [XTL_CRITICAL] = "critical",
};

const char *xtl_level_to_string(xentoollog_level level)
{
    if (level < 0 || level >= XTL_NUM_LEVELS) {
        return "unknown";
    }
    return level_names[level];
}

static void stdio_vmessage(xentoollog_logger *l, xentoollog_level level,
                           int errnoval, const char *context,
                           const char *format, va_list al)
{
    xentoollog_logger_stdiostream *s = (xentoollog_logger_stdiostream *)l;

    if (level < s->min_level) {
        return;
    }
    fprintf(s->f, "%s%s%s: ", context ? context : "", context ? ": " : "",
            xtl_level_to_string(level));
    vfprintf(s->f, format, al);
    if (errnoval >= 0) {
        fprintf(s->f, ": errno %d", errnoval);
    }
    fputc('\n', s->f);
    fflush(s->f);
}

static void stdio_progress(xentoollog_logger *l, const char *context,
                           const char *doing_what, int percent,
                           unsigned long done, unsigned long total)
{
    xtl_log(l, XTL_PROGRESS, -1, context, "%s: %d%% (%lu/%lu)",
            doing_what, percent, done, total);
}

static void stdio_destroy(xentoollog_logger *l)
{
    free(l);
}

xentoollog_logger_stdiostream *
xtl_createlogger_stdiostream(FILE *f, xentoollog_level min_level,
                             unsigned flags)
{
    xentoollog_logger_stdiostream *s = calloc(1, sizeof(*s));

    if (!s) {
        return NULL;
    }
    s->vtable.vmessage = stdio_vmessage;
    s->vtable.progress = stdio_progress;
    s->vtable.destroy = stdio_destroy;
    s->f = f;
    s->min_level = min_level;
    s->flags = flags;
    return s;
}

void xtl_stdiostream_set_minlevel(xentoollog_logger_stdiostream *s,
                                  xentoollog_level min_level)
{
    s->min_level = min_level;
}

void xtl_stdiostream_adjust_flags(xentoollog_logger_stdiostream *s,
                                  unsigned set_flags, unsigned clear_flags)
{
    s->flags = (s->flags | set_flags) & ~clear_flags;
}

void xtl_logger_destroy(xentoollog_logger *logger)
{
    if (logger) {
        logger->destroy(logger);
    }
}

void xtl_logv(xentoollog_logger *logger, xentoollog_level level,
              int errnoval, const char *context, const char *format,
              va_list al)
{
    if (logger) {
        logger->vmessage(logger, level, errnoval, context, format, al);
    }
}

void xtl_log(xentoollog_logger *logger, xentoollog_level level,
             int errnoval, const char *context, const char *format, ...)
{
    va_list al;

    va_start(al, format);
    xtl_logv(logger, level, errnoval, context, format, al);
    va_end(al);
}

void xtl_progress(xentoollog_logger *logger, const char *context,
                  const char *doing_what, unsigned long done,
                  unsigned long total)
{
    int percent = total ? (int)(done * 100 / total) : 0;

    if (logger && logger->progress) {
        logger->progress(logger, context, doing_what, percent, done, total);
    }
}
