/* gst-klingo1 benchmark: run a command and report what it cost
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   runstat [-o FILE] CMD [ARGS...]
 *
 * Runs CMD (its stdout/stderr are left alone) and writes one line of this
 * form to FILE (default: stderr), for the benchmark script to parse:
 *
 *   runstat start_ns=S wall_ms=W maxrss_kb=R rchar=C read_bytes=B
 *           threads_peak=T exit=E
 *
 * start_ns is CLOCK_MONOTONIC just before the fork (to compare with times
 * logged by another process, e.g. reqlog.py); wall_ms runs from there to the
 * exit; maxrss_kb is the peak resident set (wait4's ru_maxrss, what
 * /usr/bin/time %M says); rchar/read_bytes are /proc/PID/io, read while the
 * process is a zombie (waitid WNOWAIT), so every read it made is counted;
 * threads_peak is the largest "Threads:" seen in /proc/PID/status, sampled
 * every 2 ms.  The exit status of CMD is also runstat's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int sampling = 1;
static pid_t child;
static int threads_peak;

static long long
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
read_status_field (pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t flen = strlen (field);
  FILE *f;
  int value = -1;

  snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f)) {
    if (strncmp (line, field, flen) == 0 && line[flen] == ':') {
      value = atoi (line + flen + 1);
      break;
    }
  }
  fclose (f);
  return value;
}

static void *
sampler (void *data)
{
  struct timespec ts = { 0, 2 * 1000 * 1000 };

  (void) data;
  while (sampling) {
    int t = read_status_field (child, "Threads");
    if (t > threads_peak)
      threads_peak = t;
    nanosleep (&ts, NULL);
  }
  return NULL;
}

static long long
read_io_field (pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t flen = strlen (field);
  FILE *f;
  long long value = -1;

  snprintf (path, sizeof path, "/proc/%d/io", (int) pid);
  f = fopen (path, "r");
  if (f == NULL)
    return -1;
  while (fgets (line, sizeof line, f)) {
    if (strncmp (line, field, flen) == 0 && line[flen] == ':') {
      value = atoll (line + flen + 1);
      break;
    }
  }
  fclose (f);
  return value;
}

int
main (int argc, char **argv)
{
  long long start, end, rchar, read_bytes;
  struct rusage ru;
  siginfo_t info;
  pthread_t thread;
  int status, code;
  FILE *out = stderr;

  if (argc > 2 && strcmp (argv[1], "-o") == 0) {
    out = fopen (argv[2], "we");   /* not inherited */
    if (out == NULL) {
      perror (argv[2]);
      return 2;
    }
    argv += 2;
    argc -= 2;
  }
  if (argc < 2) {
    fprintf (stderr, "usage: runstat [-o FILE] CMD [ARGS...]\n");
    return 2;
  }
  start = now_ns ();
  child = fork ();
  if (child < 0) {
    perror ("fork");
    return 2;
  }
  if (child == 0) {
    execvp (argv[1], argv + 1);
    perror (argv[1]);
    _exit (127);
  }
  /* A stop signal for runstat goes to the command too. */
  signal (SIGINT, SIG_IGN);
  pthread_create (&thread, NULL, sampler, NULL);

  memset (&info, 0, sizeof info);
  while (waitid (P_PID, child, &info, WEXITED | WNOWAIT) < 0
      && errno == EINTR);
  end = now_ns ();
  sampling = 0;
  pthread_join (thread, NULL);
  /* a zombie still has its I/O accounting (threads included) */
  rchar = read_io_field (child, "rchar");
  read_bytes = read_io_field (child, "read_bytes");

  while (wait4 (child, &status, 0, &ru) < 0 && errno == EINTR);
  code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
  fprintf (out, "runstat start_ns=%lld wall_ms=%.1f maxrss_kb=%ld "
      "rchar=%lld read_bytes=%lld threads_peak=%d exit=%d\n", start,
      (end - start) / 1e6, ru.ru_maxrss, rchar, read_bytes, threads_peak,
      code);
  if (out != stderr)
    fclose (out);
  return code;
}
