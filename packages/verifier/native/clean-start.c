/*
 * The installed airgrant-verifier: starts the verifier's runtime, the file
 * beside this one, with an environment of its own choosing.
 *
 * pam_exec and sshd run the verifier as root with the PAM environment, which
 * users can sometimes set (pam_env with user_readenv). Before a line of the
 * verifier runs, the dynamic loader acts on LD_PRELOAD, Node on NODE_OPTIONS
 * and NODE_COMPILE_CACHE, OpenSSL on OPENSSL_CONF. This program is linked
 * statically, so no loader reads the environment it is given, and it passes on
 * only the variables the verifier reads (docs/verifier.md, "Environment"),
 * with the pipe to the logger it starts for the verifier's syslog lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static const char *const KEPT[] = {
    "PAM_TYPE", "PAM_USER", "PAM_SERVICE", "PAM_RHOST", "PAM_RUSER", "PAM_TTY",
    "SSH_AUTH_INFO_0", "AIRGRANT_STATE", "AIRGRANT_DEBUG",
};
#define KEPT_COUNT (sizeof KEPT / sizeof KEPT[0])
static const char RUNTIME[] = "airgrant-verifier-runtime";

/*
 * The verifier's syslog lines (docs/verifier.md, "Syslog") go through
 * util-linux logger, started here: forking this small static process costs a
 * login a fraction of a millisecond where forking the verifier's runtime
 * costs it milliseconds, and logger starts while the runtime does. logger
 * reads the lines, each with its <PRI>, from a pipe whose write end the
 * verifier finds in AIRGRANT_SYSLOG_FD, and ends when the verifier exits and
 * the pipe with it; no line, no message. logger gets no user data on its
 * command line, an empty environment, and none of this process's files.
 * Returns the write end, or -1 when there is none (the verifier then logs
 * nothing to syslog, and the login goes on).
 */
static int start_logger(void) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (child == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(fds[0], 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 1024; fd++) close(fd);
    }
    char id[32];
    snprintf(id, sizeof id, "--id=%ld", (long)getppid());
    char *const args[] = {"logger", "-t", "airgrant-verifier", "-p", "authpriv.notice", "--prio-prefix", id, NULL};
    char *const none[] = {NULL};
    execve("/usr/bin/logger", args, none);
    _exit(127);
  }
  close(fds[0]);
  return fds[1];
}

int main(int argc, char **argv) {
  (void)argc;
  char *env[KEPT_COUNT + 3];
  size_t n = 0;
  for (size_t k = 0; k < KEPT_COUNT; k++) {
    size_t length = strlen(KEPT[k]);
    char *last = NULL;
    /* pam_exec appends the PAM items after the PAM environment: the last is PAM's own. */
    for (char **e = environ; *e != NULL; e++) {
      if (strncmp(*e, KEPT[k], length) == 0 && (*e)[length] == '=') last = *e;
    }
    if (last != NULL) env[n++] = last;
  }
  env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

  char path[PATH_MAX];
  ssize_t got = readlink("/proc/self/exe", path, sizeof path - sizeof RUNTIME);
  char *slash = got > 0 && (size_t)got < sizeof path - sizeof RUNTIME ? memrchr(path, '/', (size_t)got) : NULL;
  if (slash == NULL) {
    fputs("error: internal: cannot tell where airgrant-verifier is installed (/proc/self/exe)\n", stderr);
    return 3;
  }
  memcpy(slash + 1, RUNTIME, sizeof RUNTIME);
  char syslog_fd[40];
  int logger = start_logger();
  if (logger >= 0) {
    snprintf(syslog_fd, sizeof syslog_fd, "AIRGRANT_SYSLOG_FD=%d", logger);
    env[n++] = syslog_fd;
  }
  env[n] = NULL;
  execve(path, argv, env);
  fprintf(stderr, "error: internal: cannot start %s: %s\n", path, strerror(errno));
  return 3;
}
