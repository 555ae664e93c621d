/*
 * The installed airgrant-verifier: starts the verifier's runtime, the file
 * beside this one, with an environment of its own choosing.
 *
 * pam_exec and sshd run the verifier as root with the PAM environment, which
 * users can sometimes set (pam_env with user_readenv). Before a line of the
 * verifier runs, the dynamic loader acts on LD_PRELOAD, Node on NODE_OPTIONS
 * and NODE_COMPILE_CACHE, OpenSSL on OPENSSL_CONF. This program is linked
 * statically, so no loader reads the environment it is given, and it passes on
 * only the variables the verifier reads (docs/verifier.md, "Environment").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char *const KEPT[] = {
    "PAM_TYPE", "PAM_USER", "PAM_SERVICE", "PAM_RHOST", "PAM_RUSER", "PAM_TTY",
    "SSH_AUTH_INFO_0", "AIRGRANT_STATE", "AIRGRANT_DEBUG",
};
#define KEPT_COUNT (sizeof KEPT / sizeof KEPT[0])
static const char RUNTIME[] = "airgrant-verifier-runtime";

int main(int argc, char **argv) {
  (void)argc;
  char *env[KEPT_COUNT + 2];
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
  env[n] = NULL;

  char path[PATH_MAX];
  ssize_t got = readlink("/proc/self/exe", path, sizeof path - sizeof RUNTIME);
  char *slash = got > 0 && (size_t)got < sizeof path - sizeof RUNTIME ? memrchr(path, '/', (size_t)got) : NULL;
  if (slash == NULL) {
    fputs("error: internal: cannot tell where airgrant-verifier is installed (/proc/self/exe)\n", stderr);
    return 3;
  }
  memcpy(slash + 1, RUNTIME, sizeof RUNTIME);
  execve(path, argv, env);
  fprintf(stderr, "error: internal: cannot start %s: %s\n", path, strerror(errno));
  return 3;
}
