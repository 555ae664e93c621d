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
 * with the pipe to the syslog forwarder it starts for the verifier's lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

extern char **environ;

static const char *const KEPT[] = {
    "PAM_TYPE", "PAM_USER", "PAM_SERVICE", "PAM_RHOST", "PAM_RUSER", "PAM_TTY",
    "SSH_AUTH_INFO_0", "AIRGRANT_STATE", "AIRGRANT_DEBUG",
};
#define KEPT_COUNT (sizeof KEPT / sizeof KEPT[0])
static const char RUNTIME[] = "airgrant-verifier-runtime";

/*
 * The verifier's syslog lines (docs/verifier.md, "Syslog"): Node has no
 * client for /dev/log's datagram socket, and forking the verifier's runtime
 * costs a login milliseconds, so this small static process forks a copy of
 * itself before it starts the runtime, and that copy passes the lines on with
 * libc's syslog(3). The verifier writes each line, `<PRI>` first, into a pipe
 * whose write end it finds in AIRGRANT_SYSLOG_FD; the copy sends each as it
 * comes, tagged airgrant-verifier[PID] with the verifier's pid, and ends when
 * the verifier exits and the pipe with it. It holds none of this process's
 * files but the pipe; it may block in its send while a syslog daemon reads
 * nothing, which the login never waits for.
 */
static void forward_lines(int in, pid_t verifier) {
  char ident[48];
  snprintf(ident, sizeof ident, "airgrant-verifier[%ld]", (long)verifier);
  openlog(ident, 0, LOG_AUTHPRIV);
  FILE *lines = fdopen(in, "r");
  char line[2048];
  while (lines != NULL && fgets(line, sizeof line, lines) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    /* Only the two priorities the verifier writes; anything else is not a line of its. */
    int priority;
    if (strncmp(line, "<84>", 4) == 0) priority = LOG_WARNING;
    else if (strncmp(line, "<85>", 4) == 0) priority = LOG_NOTICE;
    else continue;
    syslog(LOG_AUTHPRIV | priority, "%s", line + 4);
  }
  _exit(0);
}

/* The pipe's write end, or -1: the verifier then logs nothing to syslog, and the login goes on. */
static int start_syslog_forwarder(void) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t verifier = getpid();
  pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (child == 0) {
    if (dup2(fds[0], 3) < 0) _exit(127);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
      for (int fd = 4; fd < 1024; fd++) close(fd);
    }
    forward_lines(3, verifier);
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
  int syslog_pipe = start_syslog_forwarder();
  if (syslog_pipe >= 0) {
    snprintf(syslog_fd, sizeof syslog_fd, "AIRGRANT_SYSLOG_FD=%d", syslog_pipe);
    env[n++] = syslog_fd;
  }
  env[n] = NULL;
  execve(path, argv, env);
  fprintf(stderr, "error: internal: cannot start %s: %s\n", path, strerror(errno));
  return 3;
}
